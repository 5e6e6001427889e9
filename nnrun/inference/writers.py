"""Predictions to CSV, JSON Lines, Parquet or JSON, column-wise, to a file (atomically) or stdout: one small
writer class per format (``WRITERS``), opened by ``open_writer``.

Every batch is written as columns (pyarrow, pandas): the kept input columns, ``prediction``, then
``prob_<class>`` per class for classifiers (regressors: ``prediction``, or ``prediction_<i>`` per output).
CSV and JSON Lines give probabilities with 6 decimals; Parquet keeps them as float64 and writes one row
group per batch. JSON is one document: a list of ``{…kept, "prediction": …, "probabilities": {class: p}}``.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
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


def check_output(output: str, source: str) -> None:
    """Refuse an ``--output`` that would destroy a file nnrun did not create for it: the input itself (also
    through a symlink, a hard link or another spelling of the path), or anything inside a run directory (a
    directory with ``run.json``: its model, config, reports). Checked before anything is read or written.

    Raises:
        UsageError: such a path, or an output directory that cannot be written (exit 2, nothing written).
    """

    if output == "-":
        return
    out = Path(output).resolve()
    if source != "-" and (out == Path(source).resolve() or _same_file(out, Path(source))):
        raise UsageError(f"--output {output}: is the input file ({source}); predictions would replace it",
                         hint="write the predictions to another file")
    for folder in out.parents:
        if (folder / rundir.RUN).is_file():
            raise UsageError(f"--output {output}: is inside the run directory {folder}; predictions would "
                             "mix with (or replace) the run's own files", hint="write them outside the run directory")
    if out.parent.is_dir():  # (a missing one: open_writer says so)
        from nnrun.writable import check_writable

        check_writable(out.parent, f"--output {output}", f"create {out.name} there")


def check_new_output(output: str, force: bool) -> None:
    """Refuse an existing ``--output`` file unless ``force`` (``--force``): nnrun never writes over a file it did
    not create (after ``check_output``: the input and a run's files are refused even with ``force``).

    Raises:
        UsageError: the path exists (exit 2, nothing written).
    """
    if output != "-" and not force and (Path(output).exists() or Path(output).is_symlink()) \
            and not Path(output).is_dir():
        raise UsageError(f"--output {output}: the path exists, and nnrun never writes over a file it did not "
                         "create", hint="choose another path, or add --force to replace it")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


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


def _extra(values: np.ndarray) -> np.ndarray:
    """An extra column as written: numbers by ``_shortest``, text (object arrays) as it is."""
    return values if np.asarray(values).dtype == object else _shortest(values)


def output_names(classes: list | None, width: int, kept: list[str]) -> list[str]:
    """The output columns after the kept input columns: ``prediction`` then ``prob_<class>`` per class for
    classifiers; ``prediction`` (one output) or ``prediction_<i>`` (``width`` outputs) for regressors.

    Raises:
        UsageError: a kept input column has the name of an output column.
    """
    if classes is not None:
        names = ["prediction", *(f"prob_{c}" for c in classes)]
    else:
        names = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
    clash = [c for c in kept if c in names]
    if clash:
        raise UsageError(f"--keep: input column {clash[0]!r} has the name of an output column; rename it in "
                         "the input or leave it out of --keep")
    return names


def arrow_table(preds: Any, rows: Any, classes: list | None, text: bool) -> Any:
    """A batch as a pyarrow Table: kept columns, then the outputs (probabilities as ``%.6f`` text when ``text``)."""
    import pyarrow as pa

    cols: dict[str, Any] = {}
    if rows is not None:
        kept = pa.Table.from_pandas(rows, preserve_index=False)
        cols.update(zip(kept.column_names, kept.columns, strict=True))
    if preds.values is None:  # predict --layer: the activations only
        pass
    elif classes is not None:
        cols["prediction"] = pa.array(preds.values)
        for j, c in enumerate(classes):
            p = preds.probabilities[:, j]
            cols[f"prob_{c}"] = _text_array(fixed6(p)) if text else pa.array(p)
    else:
        values = np.asarray(preds.values, dtype=np.float32).reshape(len(preds), -1)
        for i in range(values.shape[1]):
            cols["prediction" if values.shape[1] == 1 else f"prediction_{i}"] = pa.array(values[:, i])
    cols.update({name: pa.array(_extra(v)) for name, v in preds.extra.items()})
    return pa.table(cols)


def json_frame(preds: Any, rows: Any, classes: list | None, nested: bool) -> Any:
    """A batch as a DataFrame for pandas' JSON writer (probabilities rounded to 6 decimals; with ``nested``
    the probabilities and multi-output values are left out, for the caller to nest)."""
    import pandas as pd

    cols: dict[str, Any] = {c: rows[c].to_numpy() for c in rows.columns} if rows is not None else {}
    if preds.values is None:  # predict --layer: the activations only
        pass
    elif classes is not None:
        cols["prediction"] = preds.values
        if not nested:
            for j, c in enumerate(classes):
                cols[f"prob_{c}"] = np.round(preds.probabilities[:, j], 6)
    else:
        values = np.asarray(preds.values, dtype=np.float32).reshape(len(preds), -1)
        if values.shape[1] == 1:
            cols["prediction"] = _shortest(values[:, 0])
        elif not nested:
            for i in range(values.shape[1]):
                cols[f"prediction_{i}"] = _shortest(values[:, i])
    cols.update({name: _extra(v) for name, v in {**preds.extra, **preds.nested}.items()})
    return pd.DataFrame(cols, index=pd.RangeIndex(len(preds)))


def json_records(preds: Any, rows: Any, classes: list | None) -> list[str]:
    """A batch as JSON objects, one line each: ``{…kept, "prediction": …, "probabilities": {class: p}}``
    (probabilities rounded to 6 decimals; a multi-output regressor's ``prediction`` is a list): what
    ``nnrun predict --format json`` writes and ``nnrun serve`` answers.

    Args:
        preds: ``Predictions`` for n >= 1 rows. rows: the kept input columns (a DataFrame), or None.
        classes: the class labels (None for regressors).
    """
    import pandas as pd

    frame = json_frame(preds, rows, classes, nested=True)
    lines = frame.to_json(orient="records", lines=True, force_ascii=False).splitlines() if frame.shape[1] else \
        ["{}"] * len(preds)
    if classes is not None and preds.probabilities is not None:
        probs = pd.DataFrame(np.round(preds.probabilities, 6), columns=[str(c) for c in classes])
        extra = probs.to_json(orient="records", lines=True, force_ascii=False).splitlines()
        lines = [f'{a[:-1]},"probabilities":{b}}}' for a, b in zip(lines, extra, strict=True)]
    elif preds.values is not None and np.asarray(preds.values).reshape(len(preds), -1).shape[1] > 1:
        values = pd.DataFrame(_shortest(np.asarray(preds.values).reshape(len(preds), -1)))
        lists = values.to_json(orient="values")[2:-2].split("],[")
        lines = [f'{a[:-1]}{"," if len(a) > 2 else ""}"prediction":[{b}]}}'
                 for a, b in zip(lines, lists, strict=True)]
    return lines


class OutputWriter:
    """Writes prediction batches in one format, to stdout or atomically to a file (``rundir.AtomicWrite``).

    A file appears only when ``close(ok=True)`` is called: a failed run never leaves half an output file,
    and an older file of that name stays as it was. Subclasses (one per format) write a batch
    (``write_batch``) and the end of the output (``finish``).

    Args:
        target: a path, or ``-`` for stdout (not for Parquet).
        meta: the run's ``dataset.json`` (task and classes).
        replace: whether an existing file may be replaced (``--force``).

    Raises:
        UsageError: the target is a directory or in a missing directory.
        RunError: the temporary file cannot be created.
    """

    fmt = ""

    def __init__(self, target: str, meta: dict, replace: bool = False) -> None:
        self.count, self.started = 0, False
        self.classes = list(meta["classes"]) if meta["task"] == "classification" else None
        self.file: rundir.AtomicWrite | None = None
        if target == "-":
            sys.stdout.flush()
            self.fh: Any = getattr(sys.stdout, "buffer", None) or _TextSink(sys.stdout)
            return
        path = Path(target)
        if path.is_dir():
            raise UsageError(f"--output {target}: is a directory; give a file name")
        if not path.parent.exists():
            raise UsageError(f"--output {target}: directory {path.parent} does not exist")
        self.file = rundir.AtomicWrite(path, replace=replace)
        self.fh = open(self.file.start(), "wb")  # closed by close()

    def write(self, preds: Any, rows: Any = None) -> None:
        """Write one batch.

        Args:
            preds: ``nnrun.inference.predictor.Predictions`` for n rows.
            rows: the kept input columns of those rows (a DataFrame with n rows), or None.

        Raises:
            UsageError: a kept column has an output column's name.
        """
        kept = [str(c) for c in rows.columns] if rows is not None else []
        names = []
        if preds.values is not None:
            width = 1 if self.classes is not None else \
                int(np.asarray(preds.values).reshape(len(preds), -1).shape[1])
            names = output_names(self.classes, width, kept)
        clash = [c for c in kept if c in preds.extra]
        if clash:
            raise UsageError(f"--keep: input column {clash[0]!r} has the name of an output column; rename it in "
                             "the input or leave it out of --keep")
        self.write_batch(preds, rows, [*kept, *names, *preds.extra])
        self.count += len(preds)
        self.started = True

    def write_batch(self, preds: Any, rows: Any, header: list[str]) -> None:
        """Write one batch's bytes; ``header`` is every column name (kept ones first)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Write the end of the output (after the last batch; nothing by default)."""

    def close(self, ok: bool) -> None:
        """Finish the output; with ``ok`` False a file target is discarded (the old file stays)."""
        try:
            if ok:
                self.finish()
            self.fh.flush()
        finally:
            if self.file is not None:
                self.abandon(ok)
                self.fh.close()
                if ok:
                    self.file.commit()
                else:
                    self.file.discard()

    def abandon(self, ok: bool) -> None:
        """Release a format's own resources before the file closes (nothing by default)."""


class CsvWriter(OutputWriter):
    """CSV with a header line; probabilities as ``%.6f``; text cells quoted only when one needs it."""

    fmt = "csv"

    def write_batch(self, preds: Any, rows: Any, header: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        if not self.started:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow(header)
            self.fh.write(line.getvalue().encode())
        table = arrow_table(preds, rows, self.classes, text=True)
        quote = any(  # quote (every text cell) only when some cell needs it: a comma, a quote, a line break
            (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and not name.startswith("prob_")
            and pc.any(pc.match_substring_regex(col, r'[,"\r\n]')).as_py()
            for name, col in zip(table.column_names, table.columns, strict=True)
        )
        if quote and preds.probabilities is not None:  # pyarrow then quotes every text cell: probabilities go
            for j, c in enumerate(self.classes or []):  # as numbers so that they stay unquoted
                i = table.schema.get_field_index(f"prob_{c}")
                table = table.set_column(i, f"prob_{c}", pa.array(np.round(preds.probabilities[:, j], 6)))
        sink = pa.BufferOutputStream()
        options = pcsv.WriteOptions(include_header=False, quoting_style="needed" if quote else "none")
        pcsv.write_csv(table, sink, options)
        self.fh.write(sink.getvalue().to_pybytes())

    def finish(self) -> None:
        if not self.started:
            self.fh.write((",".join(output_names(self.classes, 1, [])) + "\n").encode())


class JsonlWriter(OutputWriter):
    """JSON Lines: one object per row, probabilities as ``prob_<class>`` keys rounded to 6 decimals."""

    fmt = "jsonl"

    def write_batch(self, preds: Any, rows: Any, header: list[str]) -> None:
        if len(preds):
            frame = json_frame(preds, rows, self.classes, nested=False)
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            self.fh.write(text.encode() if text.endswith("\n") else (text + "\n").encode())


class JsonWriter(OutputWriter):
    """One JSON list of ``{…kept, "prediction": …, "probabilities": {class: p}}`` objects."""

    fmt = "json"

    def write_batch(self, preds: Any, rows: Any, header: list[str]) -> None:
        if not len(preds):
            return
        lines = json_records(preds, rows, self.classes)
        sep = "[\n  " if not self.count else ",\n  "
        self.fh.write((sep + ",\n  ".join(lines)).encode())

    def finish(self) -> None:
        self.fh.write(b"[]\n" if not self.count else b"\n]\n")


class ParquetWriter(OutputWriter):
    """Parquet: one row group per batch, probabilities as float64; the schema is the first batch's."""

    fmt = "parquet"

    def __init__(self, target: str, meta: dict, replace: bool = False) -> None:
        super().__init__(target, meta, replace)
        self.schema: Any = None
        self.parquet: Any = None

    def write_batch(self, preds: Any, rows: Any, header: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = arrow_table(preds, rows, self.classes, text=False)
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

    def finish(self) -> None:
        if self.parquet is None:
            import pyarrow.parquet as pq

            from nnrun.inference.predictor import Predictions

            empty = Predictions(np.zeros(0, dtype=object if self.classes else np.float32),
                                np.zeros((0, len(self.classes or []))), self.classes)
            self.parquet = pq.ParquetWriter(self.fh, arrow_table(empty, None, self.classes, text=False).schema)
        self.parquet.close()

    def abandon(self, ok: bool) -> None:
        if self.parquet is not None and not ok:
            try:
                self.parquet.close()
            except Exception:  # noqa: BLE001 (the file is removed anyway)
                pass


#: Output format -> its writer class.
WRITERS: dict[str, type[OutputWriter]] = {w.fmt: w for w in (CsvWriter, JsonlWriter, ParquetWriter, JsonWriter)}


def open_writer(target: str, fmt: str, meta: dict, replace: bool = False) -> OutputWriter:
    """The writer of ``fmt`` (csv, jsonl, parquet, json) for ``target`` (a path, or ``-`` for stdout);
    ``replace`` (``--force``): it may replace an existing file, else the commit fails if one appeared.

    Raises:
        UsageError: the target is a directory or in a missing directory.
        RunError: the temporary file cannot be created.
    """
    return WRITERS[fmt](target, meta, replace)


class _TextSink:
    """Bytes to a text stream (a stdout without ``.buffer``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
