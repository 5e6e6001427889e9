"""Predictions to CSV or JSON text, and writing output to a file (atomically) or stdout."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path

from nnrun.errors import UsageError


def kept_columns(columns: list[str], keep: str | None) -> list[str]:
    """The input columns ``--keep`` asks for (``*`` for all), checked against the input's columns.

    Raises:
        UsageError: an unknown column.
    """
    if not keep:
        return []
    if keep.strip() == "*":
        return columns
    wanted = [c.strip() for c in keep.split(",") if c.strip()]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise UsageError(f"--keep: no input column {missing[0]!r}; columns are: {', '.join(columns)}")
    return wanted


class PredictionWriter:
    """Writes prediction batches as CSV or JSON, to stdout or atomically to a file.

    CSV columns: the kept input columns, ``prediction``, then ``prob_<class>`` per class for classifiers.
    JSON: a list of objects with the same content (``probabilities`` as a mapping). A file appears only
    when ``close(ok=True)`` is called: a failed run never leaves half an output file.
    """

    def __init__(self, target: str, fmt: str, meta: dict, keep: str | None) -> None:
        self.fmt, self.keep, self.kept, self.count = fmt, keep, None, 0
        self.classes = meta.get("classes") if meta["task"] == "classification" else None
        if target == "-":
            self.path, self.tmp, self.fh = None, None, sys.stdout
            return
        path = Path(target)
        if path.is_dir():
            raise UsageError(f"--output {target}: is a directory; give a file name")
        if not path.parent.exists():
            raise UsageError(f"--output {target}: directory {path.parent} does not exist")
        self.path = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.tmp, self.fh = Path(tmp), os.fdopen(fd, "w", encoding="utf-8", newline="")

    def write(self, records: list[dict], rows: list[dict] | None) -> None:
        """Write one batch (``rows``: the input rows, needed for ``--keep``)."""
        if self.kept is None:
            if self.keep and rows is None:
                raise UsageError("--keep needs CSV input (JSON rows have no column names)")
            self.kept = kept_columns(list(rows[0]) if rows else [], self.keep)
            self._begin()
        if self.fmt == "json":
            for i, rec in enumerate(records):
                item = {c: rows[i][c] for c in self.kept} if self.kept else {}
                item.update(rec)
                self.fh.write(("[\n" if self.count == 0 else ",\n") + "  " + json.dumps(item))
                self.count += 1
            return
        import pandas as pd

        table = pd.DataFrame({c: [r[c] for r in rows] for c in self.kept}) if self.kept else pd.DataFrame()
        preds = [rec["prediction"] for rec in records]
        table["prediction"] = [f"{p:.6g}" for p in preds] if preds and isinstance(preds[0], float) else preds
        for c in self.classes or []:
            table[f"prob_{c}"] = [rec["probabilities"][str(c)] for rec in records]
        table.to_csv(self.fh, header=False, index=False, float_format="%.6f", lineterminator="\n")
        self.count += len(records)

    def _begin(self) -> None:
        if self.fmt == "csv":
            csv.writer(self.fh, lineterminator="\n").writerow(
                [*self.kept, "prediction", *(f"prob_{c}" for c in self.classes or [])]
            )

    def close(self, ok: bool) -> None:
        """Finish the output; with ``ok`` False a file target is discarded (the old file stays)."""
        if self.kept is None and ok:
            self.kept = []
            self._begin()
        if self.fmt == "json" and ok:
            self.fh.write("[]\n" if self.count == 0 else "\n]\n")
        self.fh.flush()
        if self.path is None:
            return
        self.fh.close()
        if ok:
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
