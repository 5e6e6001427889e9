"""Predictions to CSV, JSON Lines, Parquet or JSON, column-wise, to a file (atomically) or stdout.

Every batch is written as columns (pyarrow, pandas): the kept input columns, ``prediction``, then
``prob_<class>`` per class for classifiers (regressors: ``prediction``, or ``prediction_<i>`` per output).
CSV and JSON Lines give probabilities with 6 decimals; Parquet keeps them as float64 and writes one row
group per batch. JSON is one document: a list of ``{…kept, "prediction": …, "probabilities": {class: p}}``.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.errors import DataError, UsageError

FORMATS = ("csv", "jsonl", "parquet", "json")
_EXT = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}


def output_format(fmt: str | None, output: str) -> str:
    """The output format: ``--format``, else from ``--output``'s extension, else csv.

    Raises:
        UsageError: Parquet to stdout.
    """
    if fmt is None:
        fmt = _EXT.get(Path(output).suffix.lower(), "csv") if output != "-" else "csv"
    if fmt == "parquet" and output == "-":
        raise UsageError("--format parquet needs --output FILE (Parquet is a binary file format, not for stdout)")
    return fmt


def fixed6(p: np.ndarray) -> np.ndarray:
    """Numbers as ``%.6f`` text, shape (n,) bytes; vectorised for probabilities in [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0 or not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        return np.char.mod("%.6f", p).astype("S")
    q = np.rint(p * 1e6).astype(np.int64)
    out = np.empty((len(q), 8), np.uint8)
    out[:, 0] = 48 + q // 1_000_000
    out[:, 1] = 46  # "."
    for k in range(6):
        out[:, 2 + k] = 48 + (q // 10 ** (5 - k)) % 10
    return out.view("S8").ravel()


def _text_array(values: np.ndarray) -> Any:
    """A NumPy array of equal-width ASCII bytes (``S8``) as a pyarrow string array, without a copy per cell."""
    import pyarrow as pa

    width = values.dtype.itemsize
    if values.size and (values.view(np.uint8).reshape(-1, width) == 0).any():  # shorter texts: pyarrow's path
        return pa.array(values).cast(pa.string())
    offsets = np.arange(0, (len(values) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(values.tobytes()))


def _shortest(values: np.ndarray) -> np.ndarray:
    """float32 values as the float64 nearest their shortest decimal text (0.1234567, not 0.12345670163…)."""
    return np.asarray(values, dtype=np.float32).astype("U32").astype(np.float64)


class PredictionWriter:
    """Writes prediction batches, to stdout or atomically to a file.

    A file appears only when ``close(ok=True)`` is called: a failed run never leaves half an output file,
    and an older file of that name stays as it was.

    Args:
        target: a path, or ``-`` for stdout (not for Parquet).
        fmt: csv, jsonl, parquet or json.
        meta: the run's ``dataset.json`` (task and classes).

    Raises:
        UsageError: the target is a directory or in a missing directory.
    """

    def __init__(self, target: str, fmt: str, meta: dict) -> None:
        self.fmt, self.count, self.started, self.schema, self.parquet = fmt, 0, False, None, None
        self.classes = list(meta["classes"]) if meta["task"] == "classification" else None
        if target == "-":
            sys.stdout.flush()
            self.path, self.tmp, self.fh = None, None, getattr(sys.stdout, "buffer", None) or _TextSink(sys.stdout)
            return
        path = Path(target)
        if path.is_dir():
            raise UsageError(f"--output {target}: is a directory; give a file name")
        if not path.parent.exists():
            raise UsageError(f"--output {target}: directory {path.parent} does not exist")
        self.path = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.tmp, self.fh = Path(tmp), os.fdopen(fd, "wb")

    # ------------------------------------------------------------------------------------------ columns
    def _names(self, width: int, kept: list[str]) -> list[str]:
        if self.classes is not None:
            names = ["prediction", *(f"prob_{c}" for c in self.classes)]
        else:
            names = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        clash = [c for c in kept if c in names]
        if clash:
            raise UsageError(f"--keep: input column {clash[0]!r} has the name of an output column; rename it in "
                             "the input or leave it out of --keep")
        return names

    def write(self, preds: Any, rows: Any = None) -> None:
        """Write one batch.

        Args:
            preds: ``nnrun.inference.predictor.Predictions`` for n rows.
            rows: the kept input columns of those rows (a DataFrame with n rows), or None.
        """
        kept = [str(c) for c in rows.columns] if rows is not None else []
        width = 1 if self.classes is not None else int(np.asarray(preds.values).reshape(len(preds), -1).shape[1])
        names = self._names(width, kept)
        getattr(self, f"_{self.fmt}")(preds, rows, kept, names)
        self.count += len(preds)
        self.started = True

    def _arrow(self, preds: Any, rows: Any, text: bool) -> Any:
        """The batch as a pyarrow Table (probabilities as ``%.6f`` text when ``text``)."""
        import pyarrow as pa

        cols: dict[str, Any] = {}
        if rows is not None:
            kept = pa.Table.from_pandas(rows, preserve_index=False)
            cols.update(zip(kept.column_names, kept.columns, strict=True))
        if self.classes is not None:
            cols["prediction"] = pa.array(preds.values)
            for j, c in enumerate(self.classes):
                p = preds.probabilities[:, j]
                cols[f"prob_{c}"] = _text_array(fixed6(p)) if text else pa.array(p)
        else:
            values = np.asarray(preds.values, dtype=np.float32).reshape(len(preds), -1)
            for i in range(values.shape[1]):
                cols["prediction" if values.shape[1] == 1 else f"prediction_{i}"] = pa.array(values[:, i])
        return pa.table(cols)

    def _csv(self, preds: Any, rows: Any, kept: list[str], names: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        if not self.started:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow([*kept, *names])
            self.fh.write(line.getvalue().encode())
        table = self._arrow(preds, rows, text=True)
        quote = any(  # quote (every text cell) only when some cell needs it: a comma, a quote, a line break
            (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and not name.startswith("prob_")
            and pc.any(pc.match_substring_regex(col, r'[,"\r\n]')).as_py()
            for name, col in zip(table.column_names, table.columns, strict=True)
        )
        if quote:  # pyarrow then quotes every text cell: probabilities go as numbers so that they stay unquoted
            for j, c in enumerate(self.classes or []):
                i = table.schema.get_field_index(f"prob_{c}")
                table = table.set_column(i, f"prob_{c}", pa.array(np.round(preds.probabilities[:, j], 6)))
        sink = pa.BufferOutputStream()
        options = pcsv.WriteOptions(include_header=False, quoting_style="needed" if quote else "none")
        pcsv.write_csv(table, sink, options)
        self.fh.write(sink.getvalue().to_pybytes())

    def _parquet(self, preds: Any, rows: Any, kept: list[str], names: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = self._arrow(preds, rows, text=False)
        if self.parquet is None:
            self.schema = table.schema
            self.parquet = pq.ParquetWriter(self.fh, self.schema)
        elif table.schema != self.schema:
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise DataError(f"--keep: a kept column changes type between chunks of the input ({exc}); keep "
                                "columns of one type, or write CSV or JSON Lines") from None
        self.parquet.write_table(table)

    def _frame(self, preds: Any, rows: Any, nested: bool) -> Any:
        """The batch as a DataFrame for pandas' JSON writer (probabilities rounded to 6 decimals)."""
        import pandas as pd

        cols: dict[str, Any] = {c: rows[c].to_numpy() for c in rows.columns} if rows is not None else {}
        if self.classes is not None:
            cols["prediction"] = preds.values
            if not nested:
                for j, c in enumerate(self.classes):
                    cols[f"prob_{c}"] = np.round(preds.probabilities[:, j], 6)
        else:
            values = np.asarray(preds.values, dtype=np.float32).reshape(len(preds), -1)
            if values.shape[1] == 1:
                cols["prediction"] = _shortest(values[:, 0])
            elif not nested:
                for i in range(values.shape[1]):
                    cols[f"prediction_{i}"] = _shortest(values[:, i])
        return pd.DataFrame(cols, index=pd.RangeIndex(len(preds)))

    def _jsonl(self, preds: Any, rows: Any, kept: list[str], names: list[str]) -> None:
        if len(preds):
            text = self._frame(preds, rows, nested=False).to_json(orient="records", lines=True, force_ascii=False)
            self.fh.write(text.encode() if text.endswith("\n") else (text + "\n").encode())

    def _json(self, preds: Any, rows: Any, kept: list[str], names: list[str]) -> None:
        import pandas as pd

        if not len(preds):
            return
        frame = self._frame(preds, rows, nested=True)
        lines = frame.to_json(orient="records", lines=True, force_ascii=False).splitlines() if frame.shape[1] else \
            ["{}"] * len(preds)
        if self.classes is not None:
            probs = pd.DataFrame(np.round(preds.probabilities, 6), columns=[str(c) for c in self.classes])
            extra = probs.to_json(orient="records", lines=True, force_ascii=False).splitlines()
            lines = [f'{a[:-1]},"probabilities":{b}}}' for a, b in zip(lines, extra, strict=True)]
        elif np.asarray(preds.values).reshape(len(preds), -1).shape[1] > 1:
            values = pd.DataFrame(_shortest(np.asarray(preds.values).reshape(len(preds), -1)))
            lists = values.to_json(orient="values")[2:-2].split("],[")
            lines = [f'{a[:-1]}{"," if len(a) > 2 else ""}"prediction":[{b}]}}'
                     for a, b in zip(lines, lists, strict=True)]
        sep = "[\n  " if not self.count else ",\n  "
        self.fh.write((sep + ",\n  ".join(lines)).encode())

    # ------------------------------------------------------------------------------------------- close
    def close(self, ok: bool) -> None:
        """Finish the output; with ``ok`` False a file target is discarded (the old file stays)."""
        try:
            if ok:
                self._finish()
            self.fh.flush()
        finally:
            if self.path is not None:
                if self.parquet is not None and not ok:
                    try:
                        self.parquet.close()
                    except Exception:  # noqa: BLE001 (the file is removed below anyway)
                        pass
                self.fh.close()
                if ok:
                    os.chmod(self.tmp, 0o644)
                    os.replace(self.tmp, self.path)
                else:
                    self.tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        if self.fmt == "csv" and not self.started:
            names = self._names(1, [])
            self.fh.write((",".join(names) + "\n").encode())
        elif self.fmt == "json":
            self.fh.write(b"[]\n" if not self.count else b"\n]\n")
        elif self.fmt == "parquet":
            if self.parquet is None:
                import pyarrow.parquet as pq

                from nnrun.inference.predictor import Predictions

                empty = Predictions(np.zeros(0, dtype=object if self.classes else np.float32),
                                    np.zeros((0, len(self.classes or []))), self.classes)
                self.parquet = pq.ParquetWriter(self.fh, self._arrow(empty, None, text=False).schema)
            self.parquet.close()


class _TextSink:
    """Bytes to a text stream (a stdout without ``.buffer``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
