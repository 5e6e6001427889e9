"""The CLI's one error translation point (httpie's ``raw_main`` shape): what a command raises becomes a message
on stderr (and, with ``--json``, one error document on stdout) and an exit code from ``ExitStatus``."""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from typing import Any

import click

from nnrun.backend import debug_enabled
from nnrun.errors import ExitStatus, NnrunError, error_document


def exit_status(exc: BaseException, as_json: bool = False) -> ExitStatus:
    """The one translation point (httpie's ``raw_main`` shape): report ``exc`` on stderr, return its exit code.

    An ``NnrunError`` prints as ``error: …`` lines (``  hint: …`` lines as they are) and exits with its kind's
    code; Ctrl-C exits 130; a closed stdout (``nnrun predict … | head``) stops quietly with exit 0, as Unix
    tools do; an OS error on a path names the path (exit 1); anything else is a bug, reported in one line (with
    ``--debug`` it is re-raised, traceback and all). With ``as_json`` (the command had ``--json``), stdout
    also gets one document ``{"error": {"kind", "message", "file", "line", "exit_code"}}`` (``error_document``).

    Args:
        exc: the exception a command raised (not Click's own exits and usage errors).
        as_json: the command was given ``--json``.

    Returns:
        The process exit code.

    Raises:
        Exception: ``exc`` itself when it is a bug and ``--debug`` is on.
    """
    if isinstance(exc, BrokenPipeError):  # stdout closed early: point it at /dev/null so the exit is quiet
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return ExitStatus.OK
    if isinstance(exc, NnrunError):
        if debug_enabled():
            traceback.print_exception(exc)
        kind, message, code = type(exc).__name__, str(exc), exc.exit_code
    elif isinstance(exc, KeyboardInterrupt):
        kind, message, code = "Interrupted", "interrupted", ExitStatus.INTERRUPTED
    elif isinstance(exc, OSError) and exc.filename:  # a path nnrun could not read or write
        if debug_enabled():
            raise exc
        kind, code = "RunError", ExitStatus.RUNTIME
        message = (f"{exc.filename}: {exc.strerror or exc}; nnrun needs to read or write this path"
                   "\n  hint: check its permissions and the free disk space")
    else:
        if debug_enabled():
            raise exc
        kind, code = "InternalError", ExitStatus.RUNTIME
        message = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)"
    for line in message.splitlines():
        click.echo(f"error: {line}" if not line.startswith("  hint:") else line, err=True)
    if as_json and kind != "GateFailed":  # a failed gate's results are already the JSON document
        click.echo(json.dumps(error_document(kind, message, code)))
    return code


def wants_json(args: list[str]) -> bool:
    """Whether the command line (the group's arguments) gives ``--json`` (before a ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


class NnrunGroup(click.Group):
    """The ``nnrun`` group: every command's errors go through ``exit_status``; Click's own pass through (with
    ``--json``, their error document too)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Remember whether the command has and was given ``--json``, for errors raised before it is read."""
        command = next((self.commands[a] for a in args if a in self.commands), None)
        has_json = command is not None and any(p.name == "as_json" for p in command.params)
        ctx.meta["nnrun.json"] = has_json and wants_json(list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; translate what it raises into a message and an exit code."""
        as_json = bool(ctx.meta.get("nnrun.json"))
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if as_json:
                click.echo(json.dumps(error_document("UsageError", exc.format_message(), exc.exit_code)))
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            ctx.exit(exit_status(exc, as_json))
