"""Every error nnrun raises on purpose, and the exit codes they map to.

Exit codes (documented in README), as ``ExitStatus``:
    0    OK           success
    1    RUNTIME      runtime failure (training diverged, a file could not be written, a run is broken)
    2    USAGE        usage, config or input-data error: fix the command line, the config or the data file
                      (``CONFIG`` is the same code)
    3    GATE         a quality gate failed
    130  INTERRUPTED  stopped by Ctrl-C or SIGTERM (128 + SIGINT)

The CLI translates these errors in one place (``nnrun.cli_errors.NnrunGroup``): the message on stderr, the exit
code from ``exit_code``, and a traceback only with ``--debug``.
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitStatus(IntEnum):
    """The process exit codes of ``nnrun`` (httpie's ``ExitStatus`` shape)."""

    OK = 0
    RUNTIME = 1
    USAGE = 2
    CONFIG = 2  # an alias of USAGE: a config error is fixed like a usage error
    GATE = 3
    INTERRUPTED = 130


# Module-level names kept for code and tests written before ExitStatus (tests/test_gates.py uses EXIT_GATE).
EXIT_OK = ExitStatus.OK
EXIT_RUNTIME = ExitStatus.RUNTIME
EXIT_USAGE = ExitStatus.USAGE
EXIT_GATE = ExitStatus.GATE
EXIT_INTERRUPTED = ExitStatus.INTERRUPTED


class NnrunError(Exception):
    """Base of every error nnrun reports to users without a traceback.

    Args:
        message: one or more lines, each complete ("where: what was found, what was expected").
        hint: an optional line saying how to fix it.
    """

    exit_code: ExitStatus = ExitStatus.RUNTIME

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

    exit_code = ExitStatus.CONFIG


class DataError(NnrunError):
    """A data or input file cannot be used (missing, unreadable, wrong shape or type). Exit code 2."""

    exit_code = ExitStatus.USAGE


class UsageError(NnrunError):
    """The command line is wrong (a missing run directory, an unknown option value). Exit code 2."""

    exit_code = ExitStatus.USAGE


class RunError(NnrunError):
    """Training or I/O failed at run time (diverged loss, unwritable directory). Exit code 1."""

    exit_code = ExitStatus.RUNTIME


class GateFailed(NnrunError):
    """One or more quality gates failed. Exit code 3."""

    exit_code = ExitStatus.GATE


class Interrupted(NnrunError):
    """Training stopped on Ctrl-C/SIGTERM after saving a checkpoint. Exit code 130 (128 + SIGINT)."""

    exit_code = ExitStatus.INTERRUPTED


def error_document(kind: str, message: str, code: int) -> dict:
    """``--json``'s document for a failure: ``{"error": {"kind", "message", "file", "line", "exit_code"}}``.

    Args:
        kind: the error's class name (``ConfigError``, ``DataError``, ``UsageError``, ``RunError``, …).
        message: the whole message (hint lines included). code: the exit code.

    ``file`` and ``line`` come from the first line's ``file:line[:column]:`` prefix (or ``path:``), else null.

    Example:
        >>> error_document("ConfigError", "a.yaml:3:7: model.loss: missing", 2)["error"]["line"]
        3
    """
    first = message.splitlines()[0] if message else ""
    located = re.match(r"(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::\d+)?: ", first)
    where = located or re.match(r"(?P<file>[^\s:-][^:\s]*): ", first)
    return {"error": {"kind": kind, "message": message, "file": where["file"] if where else None,
                      "line": int(located["line"]) if located else None, "exit_code": int(code)}}
