"""The errors nnrun raises on purpose, each with its exit code.

Exit codes (documented in README):
    0  success
    1  runtime failure (training diverged, a file could not be written, a run is broken)
    2  usage, config or input-data error: fix the command line, the config or the data file
    3  a quality gate failed (reserved for gates)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130


class NnrunError(Exception):
    """Base of every error nnrun reports to users without a traceback.

    Args:
        message: one or more lines, each complete ("where: what was found, what was expected").
        hint: an optional line saying how to fix it.
    """

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(NnrunError):
    """The config (file or ``--set``) is invalid. Exit code 2.

    Messages have the form ``file:line:column: key.path: what was found, what was expected``.
    """

    exit_code = EXIT_USAGE


class DataError(NnrunError):
    """A data or input file cannot be used (missing, unreadable, wrong shape or type). Exit code 2."""

    exit_code = EXIT_USAGE


class UsageError(NnrunError):
    """The command line is wrong (a missing run directory, an unknown option value). Exit code 2."""

    exit_code = EXIT_USAGE


class RunError(NnrunError):
    """Training or I/O failed at run time (diverged loss, unwritable directory). Exit code 1."""

    exit_code = EXIT_RUNTIME


class Interrupted(NnrunError):
    """Training stopped on Ctrl-C/SIGTERM after saving a checkpoint. Exit code 130 (128 + SIGINT)."""

    exit_code = EXIT_INTERRUPTED
