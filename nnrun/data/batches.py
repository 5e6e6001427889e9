"""Rows to predict, in batches: tables read a chunk at a time (the same readers and checks as training),
a JSON document, NPZ/NPY arrays, a folder of images, or a text file of one text per line.

No TensorFlow here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nnrun.data import table as _table
from nnrun.data.formats import ARRAY_FORMATS, TABLE_FORMATS, predict_format, sniff_stdin
from nnrun.data.readers import ReadOptions, read_chunks
from nnrun.data.readers.common import decode, joined, read_bytes
from nnrun.data.table import kept_columns, match_columns
from nnrun.errors import DataError, UsageError

#: What the batch iterators yield: model inputs, the kept input columns (or None), messages for bad rows.
Batch = tuple[Any, Any, list[str]]


@dataclass
class _Request:
    """What a predict needs besides the input: the run, the spec, ``--keep``, and how to read; ``feats`` and
    ``kept`` are the input's columns once ``plan`` has seen its header."""

    meta: dict
    spec: dict
    keep: str | None
    chunk_rows: int
    skip_bad: bool
    warn: Callable[[str], None]
    feats: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def plan(self, columns: list[str], header: bool, name: str) -> tuple[list[str], list[str]]:
        """The readers' plan: the file's feature columns (``match_columns``) numbers or text, kept columns text."""
        self.feats = match_columns(columns, header, self.meta, name, warn=self.warn)
        self.kept = kept_columns(columns, self.keep)
        numeric = set(self.spec["numeric"])
        numbers = [f for m, f in zip(self.meta["feature_names"], self.feats, strict=True)
                   if m in numeric and f not in self.kept]
        return numbers, [c for c in dict.fromkeys([*self.feats, *self.kept]) if c not in numbers]


def predict_batches(source: str, meta: dict, keep: str | None = None, chunk_rows: int | None = None,
                    skip_bad: bool = False, fmt: str | None = None, strict_keep: bool = True,  # noqa: PLR0913
                    warn: Callable[[str], None] = lambda m: None) -> tuple[str, Iterator[Batch]]:
    """Rows to predict, in batches: a CSV/TSV, JSON Lines, Parquet, JSON or NPZ file, or ``-`` (stdin).

    (8 parameters: each is a predict option of its own; callers pass them by name.)
    Tables (CSV/TSV, JSON Lines, Parquet; from stdin too) are read about ``chunk_rows`` rows at a time
    (``readers.read_chunks``) with the run's reading options (``ReadOptions.from_run``: comment, quotechar,
    delimiter), so memory stays flat as the file grows. A table may include the training target column
    (dropped by name or position, never shifted into the features: ``table.match_columns``). JSON is
    ``[[...], ...]``, one row ``[...]``, ``{"x": [[...], ...]}`` or ``[{"feature": value, ...}, ...]``.

    Args:
        source: path, or ``-``.
        meta: the run's dataset description (``dataset.json``).
        keep: input columns to pass through (``--keep``: comma-separated names, or ``*``), None for none.
        chunk_rows: rows per chunk (default ``table.PREDICT_CHUNK_ROWS``).
        skip_bad: leave out rows that cannot be encoded or have the wrong number of fields (reported)
            instead of stopping at the first.
        fmt: the input format; None = from the extension (stdin: ``formats.sniff_stdin``).
        strict_keep: ``keep`` on an input without column names (JSON, NPZ) is an error; False ignores it.
        warn: a sink for notes and warnings (a column matched by position, pixel values out of range).

    Returns:
        (fmt, batches): the input format and an iterator of ``(x, rows, problems)``: model inputs for the
        good rows (float32 ``(n, num_features)``, or a dict with categorical inputs: see ``nnrun.data.features``),
        the kept columns of the good rows (a DataFrame in the order asked for, or None) and one message per
        bad row (``file:line: column 'c': …``).

    Raises:
        DataError: unreadable input, wrong column count ("expected 8 features, got 7"), bad values (line
            named); possibly while iterating. UsageError: an unknown ``--keep`` column, ``--keep`` on JSON.
    """
    from nnrun.data.features import plain_spec

    spec = meta.get("features") or plain_spec(len(meta["feature_names"]), meta["feature_names"])
    req = _Request(meta, spec, keep, chunk_rows or _table.PREDICT_CHUNK_ROWS, skip_bad, warn)
    name = "<stdin>" if source == "-" else source
    stream, fmt, special = _open_input(source, fmt, req)
    if special is not None:
        return special
    if fmt in ("json", *ARRAY_FORMATS):
        if keep and strict_keep:
            raise UsageError(f"--keep needs a table input (CSV, TSV, JSON Lines, Parquet): {fmt.upper()} rows have "
                             "no column names")
        return fmt, _document_batches(stream, name, fmt, meta, spec, skip_bad)
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"--input-format: unknown format {fmt!r}")
    opts = ReadOptions.from_run(meta)
    opts = ReadOptions(delimiter=opts.delimiter if fmt == meta.get("format") else None, comment=opts.comment,
                       quotechar=opts.quotechar)
    if isinstance(stream, Path):  # a headerless run: a header line the guess misses is not predicted as a row
        from nnrun.data.header_line import header_options

        opts = header_options(stream, fmt, opts, meta, warn)
    return fmt, _table_batches(stream, name, fmt, opts, req)


def _open_input(source: str, fmt: str | None, req: _Request) -> tuple[Any, str, Any]:
    """The input as a path or a stream (stdin), its format, and the batches of inputs that are not tables
    (a folder of images, a text file of one text per line), else None."""
    spec = req.spec
    if source == "-":
        head = sys.stdin.buffer.read(65536)
        stream: Path | IO[bytes] = joined(head, sys.stdin.buffer)
        if spec.get("text") and fmt in (None, "lines") and (fmt == "lines" or sniff_stdin(head) == "csv"):
            lines = _text_batches(stream.read(), req.chunk_rows, req.keep, "<stdin>")  # one text per line
            return stream, "lines", ("lines", lines)
        return stream, fmt or sniff_stdin(head), None
    stream = Path(source)
    if not stream.exists():
        from nnrun.data.shards import is_glob

        if is_glob(source):
            raise DataError(f"{source}: no such input file; predict takes one file and does not expand globs "
                            "(predict each file, or join them)")
        raise DataError(f"{source}: no such input file")
    if stream.is_dir():
        return stream, "images", ("images", _image_batches(stream, spec, req.chunk_rows, req.skip_bad, req.warn))
    if not stream.is_file():
        raise DataError(f"{source}: not a regular file; expected a CSV, JSON Lines, Parquet, JSON or NPZ file")
    if spec.get("text") and fmt in (None, "lines") and stream.suffix.lower() == ".txt":
        return stream, "lines", ("lines", _text_batches(stream, req.chunk_rows, req.keep))
    return stream, fmt or predict_format(stream), None


def _table_batches(stream: Path | IO[bytes], name: str, fmt: str, opts: ReadOptions,
                   req: _Request) -> Iterator[Batch]:
    """A table's batches: each chunk encoded with the run's spec; bad rows stop the read or are reported."""
    import pandas as pd

    if opts.quotechar is None and fmt in ("csv", "tsv"):
        info, frames = _unquoted(stream, name, fmt, opts, req)
    else:
        info, frames = read_chunks(stream, fmt, opts, req.chunk_rows, name=name,
                                   plan=lambda columns, header: req.plan(columns, header, name))
    names = list(req.meta["feature_names"])
    for frame, problems in frames:
        inputs = frame
        if req.feats != names:
            inputs = pd.DataFrame({m: frame[f] for m, f in zip(names, req.feats, strict=True)},
                                  index=frame.index, copy=False)
        x, ok, bad = features_transform(inputs, req.spec, info.where, req.skip_bad or bool(problems))
        if problems:  # rows with the wrong number of fields (reader) and bad cells (transform), in file order
            bad = sorted(problems + bad, key=lambda m: _line_of(m, name))
            if not req.skip_bad:
                raise DataError(bad[0])
        rows = None
        if req.kept:
            rows = frame[req.kept] if ok.all() else frame[req.kept][ok]
        yield x, rows, bad


def _unquoted(stream: Path | IO[bytes], name: str, fmt: str, opts: ReadOptions, req: _Request) -> tuple[Any, Any]:
    """No quoting (raw sentences with stray quotes): the whole input is read as the training file was."""
    from nnrun.data.readers.common import RawTable
    from nnrun.data.readers.csv import blank_comments, layout, read_text

    raw = stream.read() if not isinstance(stream, Path) else read_bytes(stream)
    text = blank_comments(decode(raw, name), opts.comment)
    if opts.delimiter is None and fmt == "csv" and req.meta.get("delimiter"):  # as the training file was split
        opts = ReadOptions(delimiter=req.meta["delimiter"], comment=opts.comment, quotechar=None)
    shape = layout(text, name, fmt, opts)
    frame = read_text(text, name, shape, None)
    req.plan(list(frame.columns), shape.header, name)
    info = RawTable(frame, name, None, fmt, shape.header, shape.delimiter, frame.attrs["first_line"])
    return info, iter([(frame, [])])


def _document_batches(stream: Path | IO[bytes], name: str, fmt: str, meta: dict, spec: dict,
                      skip_bad: bool) -> Iterator[Batch]:
    """A JSON document of rows, or NPZ/NPY arrays: one batch, read whole."""
    if fmt != "json":
        from nnrun.data.readers.arrays import check_shape, load_arrays

        if not isinstance(stream, Path):
            raise UsageError(f"--input -: {fmt} input must be a file")
        x, _, _ = load_arrays(stream, fmt, need_y=False)
        check_shape(x, spec.get("shape") or [len(spec["numeric"])], name)
        return iter([(x, None, [])])
    from nnrun.data.readers.jsondoc import parse_json

    text = decode(stream.read() if not isinstance(stream, Path) else read_bytes(stream, "JSON file"), name)
    x, problems = document_inputs(parse_json(text, name), name, meta, skip_bad)
    return iter([(x, None, problems)])


def document_inputs(doc: Any, name: str, meta: dict, skip_bad: bool = False) -> tuple[Any, list[str]]:
    """Parsed JSON rows as model inputs, with the run's feature spec (fills, categories, texts): the ONE path
    of ``nnrun predict`` on a JSON file and of ``nnrun serve``'s ``POST /predict``.

    Args:
        doc: rows as ``readers.jsondoc.rows_frame`` takes them (lists in feature order, or objects).
        name: the input in messages (``name: row N: …``). meta: the run's ``dataset.json``.
        skip_bad: leave out rows that cannot be encoded and return their messages, instead of raising.

    Returns:
        (x, problems): model inputs for the good rows (see ``nnrun.data.features``) and one message per bad row.

    Raises:
        DataError: not rows, a row of the wrong length, a bad or missing value (the first, without ``skip_bad``).
    """
    from nnrun.data.features import plain_spec
    from nnrun.data.readers.jsondoc import rows_frame

    spec = meta.get("features") or plain_spec(len(meta["feature_names"]), meta["feature_names"])
    frame = rows_frame(doc, name, meta["feature_names"])
    x, _, problems = features_transform(frame, spec, lambda i: f"{name}: row {int(i) + 1}", skip_bad)
    return x, problems


def _image_batches(path: Path, spec: dict, chunk_rows: int, skip_bad: bool,
                   warn: Callable[[str], None]) -> Iterator[Batch]:
    """A folder of image files as predict input: pixels resized to the training images' size, and a ``file``
    column for the output."""
    import pandas as pd

    from nnrun.data.readers.folders import image_batches

    shape = spec.get("shape") or [len(spec["numeric"])]
    low, high = spec.get("range") or (None, None)
    warned = False
    for x, files, problems in image_batches(path, shape, chunk_rows, skip_bad):
        if high is not None and x.size and not warned and float(x.max()) > 2 * max(high, 1.0):
            warn(f"{path}: pixel values go up to {float(x.max()):g} but the training images went up to "
                 f"{high:g}; the model sees the files' values as they are (rescale the files, or train on "
                 "images stored the same way)")
            warned = True
        yield x, pd.DataFrame({"file": files}), problems


def _text_batches(path: Path | bytes, chunk_rows: int, keep: str | None, name: str | None = None) -> Iterator[Batch]:
    """A text file, one text per line, as predict input for a text model (``--keep text,line`` copies them)."""
    import pandas as pd

    from nnrun.data.readers.folders import text_lines

    for texts, lines in text_lines(path, chunk_rows, name):
        rows = None
        if keep:
            frame = pd.DataFrame({"line": lines, "text": texts.reshape(-1)})
            rows = frame[kept_columns(list(frame.columns), keep)]
        yield texts, rows, []


def _line_of(message: str, name: str) -> int:
    """The line number in a ``file:LINE: …`` message (0 if none)."""
    head = message[len(name) + 1:].split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def features_transform(frame: Any, spec: dict, where: Callable[[Any], str], skip_bad: bool) -> tuple[Any, Any, list]:
    """``nnrun.data.features.transform`` (imported on first use)."""
    from nnrun.data.features import transform

    return transform(frame, spec, where, skip_bad=skip_bad)


def read_predict_input(source: str, meta: dict, keep: bool = True) -> tuple[Any, list[dict] | None, str]:
    """All rows of a predict input at once (small inputs, tests): ``(x, rows as dicts or None, format)``.

    Raises:
        DataError: as ``predict_batches`` (the first bad row).
    """
    from nnrun.data.features import concat

    fmt, batches = predict_batches(source, meta, keep="*" if keep else None, strict_keep=False)
    xs, rows = [], []
    for x, frame, _ in batches:
        xs.append(x)
        if frame is not None:
            rows.extend(frame.to_dict("records"))
    return concat(xs), (rows if keep and fmt not in ("json", *ARRAY_FORMATS) else None), fmt

