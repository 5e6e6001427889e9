"""Predictions to CSV or JSON text, and writing output to a file (atomically) or stdout."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from nnrun import rundir
from nnrun.errors import UsageError


def _kept_columns(rows: list[dict] | None, keep: str | None) -> list[str]:
    if not keep:
        return []
    if rows is None:
        raise UsageError("--keep needs CSV input (JSON rows have no column names)")
    columns = list(rows[0]) if rows else []
    if keep.strip() == "*":
        return columns
    wanted = [c.strip() for c in keep.split(",") if c.strip()]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise UsageError(f"--keep: no input column {missing[0]!r}; columns are: {', '.join(columns)}")
    return wanted


def predictions(records: list[dict], rows: list[dict] | None, meta: dict, fmt: str, keep: str | None) -> str:
    """Render prediction records.

    CSV columns: the kept input columns, ``prediction``, then ``prob_<class>`` per class for classifiers.
    JSON: a list of objects with the same content (``probabilities`` as a mapping).
    """
    kept = _kept_columns(rows, keep)
    if fmt == "json":
        out = []
        for i, rec in enumerate(records):
            item = {c: rows[i][c] for c in kept} if kept else {}
            item.update(rec)
            out.append(item)
        return json.dumps(out, indent=2) + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    classes = meta.get("classes") if meta["task"] == "classification" else None
    writer.writerow([*kept, "prediction", *(f"prob_{c}" for c in classes or [])])
    for i, rec in enumerate(records):
        probs = [f"{rec['probabilities'][str(c)]:.6f}" for c in classes] if classes else []
        pred = rec["prediction"]
        writer.writerow([*(rows[i][c] for c in kept), f"{pred:.6g}" if isinstance(pred, float) else pred, *probs])
    return buf.getvalue()


def write_output(target: str, text: str) -> None:
    """Write ``text`` to stdout (``-``) or atomically to a file."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(target)
    if path.is_dir():
        raise UsageError(f"--output {target}: is a directory; give a file name")
    if not path.parent.exists():
        raise UsageError(f"--output {target}: directory {path.parent} does not exist")
    rundir.write_text(path, text)
