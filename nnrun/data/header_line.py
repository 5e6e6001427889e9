"""A header line in the input of a run trained WITHOUT a header (``dataset.json``: ``header: false``).

``predict`` detects an input's header as training does (``csv.detect_header``: names over numbers). A text
column defeats that guess (``label<TAB>message`` over ``ham<TAB>hello`` is text over text), so the header line
of a text run's input was predicted as if it were a row. Here the first line counts as a header too when it is
evidently one: its cells are the run's column names (``col0``, … or the feature names), or, with the target
column present by position, its target cell is no class the run knows while the next rows' are.

Decision: such a line is SKIPPED with a note (stderr), not refused. Reason: a header detected by
``detect_header`` (a numeric headerless run such as pima) has always been skipped, so skipping keeps the two
kinds of runs alike; the note names the line, so nothing is left out silently. No TensorFlow here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

#: Bytes read from the input's start to look at its first lines.
_SAMPLE_BYTES = 65536


def header_options(source: Path, fmt: str, opts: Any, meta: dict, warn: Callable[[str], None]) -> Any:
    """The reading options for a CSV/TSV predict input of a headerless run: ``header=True`` when its first line
    is a header (see the module), with a note through ``warn``; else ``opts`` unchanged (also for other runs,
    other formats, unreadable starts: the reader reports those)."""
    if meta.get("header", True) or fmt not in ("csv", "tsv") or opts.header is not None:
        return opts
    from nnrun.data.readers.csv import blank_comments, checked_rows, first_rows, layout
    from nnrun.errors import DataError

    try:
        text = blank_comments(_start(source), opts.comment)
        shape = layout(text, str(source), fmt, opts)
        rows = [row for _, row in checked_rows(first_rows(text, 6), shape.delimiter, opts.quotechar, str(source))]
    except (DataError, OSError, EOFError, ValueError, zlib.error):  # a damaged input: the reader reports it
        return opts
    name = f"{source}:{shape.lead + 1}"
    if shape.header:
        warn(f"{name} read as a header line (names over numbers): the run was trained without a header")
        return opts
    if not rows or not is_header(rows[0], rows[1:], meta):
        return opts
    warn(f"{name} read as a header line and not predicted ({', '.join(map(repr, rows[0][:4]))}): the run was "
         "trained without a header, and this line holds column names, not data")
    return replace(opts, header=True)


def is_header(first: list[str], rest: list[list[str]], meta: dict) -> bool:
    """Whether ``first`` (a headerless run's input line, split into cells) is a header: the run's column or
    feature names, or a target cell (by position) that is no known class while the next rows' are."""
    cells = [c.strip() for c in first]
    if cells in (list(meta.get("columns", [])), list(meta.get("feature_names", []))):
        return True
    classes = {str(c) for c in meta.get("classes") or []}
    t = meta.get("target_index")
    if not classes or t is None or len(cells) != len(meta.get("columns", [])):
        return False
    known = [len(r) > t and r[t].strip() in classes for r in rest]
    return cells[t] not in classes and bool(known) and all(known)


def _start(source: Path) -> str:
    """The decoded start of the input (gzip looked through by the readers' ``open_binary``; a cut last character
    replaced)."""
    from nnrun.data.readers.common import open_binary

    with open_binary(source, str(source)) as f:
        raw = f.read(_SAMPLE_BYTES)
    return raw.decode("utf-8-sig", errors="replace")
