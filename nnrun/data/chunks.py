"""Tables read a chunk at a time (``nnrun predict``): CSV/TSV, JSON Lines and Parquet, from a file or stdin.

Memory stays flat as the file grows: a chunk is about ``chunk_rows`` rows. CSV is cut into blocks of whole
lines (never inside a quoted field) and each block is parsed on its own:

- the fast path: pyarrow's CSV reader parses the columns the caller wants as numbers straight to float64
  (and the others as text); it refuses a line with the wrong number of fields;
- the careful path, for a block where anything is unusual (a non-number, an empty cell, a blank line, a
  short or long row, quotes around line breaks): every cell as text, the field count checked per record, so
  that later messages cite the file line. A row with the wrong number of fields is left out and reported.

Row labels of the frames are ``file line - 1`` (CSV, JSON Lines) or ``row - 1`` (Parquet), as
``RawTable.where`` expects. No TensorFlow here.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from nnrun.data.sources import RawTable, blank_comments, decode, detect_header, json_lines, sniff_delimiter
from nnrun.errors import DataError

#: ``plan(columns, header) -> (number_columns, text_columns)``: which file columns to read, and how.
Plan = Callable[[list[str], bool], tuple[list[str], list[str]]]
#: What the iterators yield: a DataFrame of the rows read (labelled by line) and messages for skipped rows.
Chunk = tuple[Any, list[str]]

_SAMPLE = 65536


def _all_text(columns: list[str], header: bool) -> tuple[list[str], list[str]]:
    return [], list(columns)


def iter_frames(source: Path | IO[bytes], fmt: str, chunk_rows: int, name: str | None = None,
                plan: Plan | None = None, header: bool | None = None,
                delimiter: str | None = None, comment: str | None = None) -> tuple[RawTable, Iterator[Chunk]]:
    """Read a CSV/TSV, JSON Lines or Parquet table about ``chunk_rows`` rows at a time.

    Args:
        source: a file path, or a binary stream (stdin).
        fmt: csv, tsv, jsonl or parquet.
        name: the name in messages (default: the path).
        plan: which columns to read as numbers and which as text, given the file's columns and whether it
            has a header (called once, before the first chunk; its errors come from the iterator). Default:
            every column as text. CSV number columns that hold anything but numbers fall back to text for
            that chunk; Parquet and JSON Lines keep their own types.
        header, delimiter, comment: as ``data.header``, ``data.delimiter``, ``data.comment`` (None: detected).

    Returns:
        (info, chunks): a RawTable describing the file (``frame`` empty, with the columns; ``where`` names
        a row's line) and an iterator of ``(frame, problems)``.

    Raises:
        DataError: unreadable input, not UTF-8, bad JSON (line named); possibly while iterating. CSV rows with
            the wrong number of fields are not errors here: they are left out and reported in the chunk's
            messages (the caller decides whether to stop).
    """
    import pandas as pd

    plan = plan or _all_text
    if isinstance(source, Path):
        name = name or str(source)
        if not source.exists():
            raise DataError(f"{name}: no such input file")
        if not source.is_file():
            raise DataError(f"{name}: not a regular file")
    name = name or "<stdin>"
    if fmt == "parquet":
        return _parquet_chunks(source, name, chunk_rows, plan)
    fh = _open(source)
    head = fh.read(_SAMPLE)
    if fmt == "jsonl":
        info = RawTable(pd.DataFrame(), name, None, fmt, True, None, 1, "line")
        return info, _jsonl_chunks(fh, head, name, chunk_rows, plan, owned=isinstance(source, Path))
    cut = head.rfind(b"\n") + 1
    sample_text = decode(head[:cut] or head, name)
    if comment:
        sample_text = blank_comments(sample_text, comment)
    delimiter = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(sample_text))
    lines = [ln for ln in sample_text.splitlines() if ln.strip()][:21]
    sample = list(csv.reader(lines, delimiter=delimiter, skipinitialspace=True))
    if header is None:
        header = detect_header(sample)
    columns = [c.strip() for c in sample[0]] if header else [f"col{i}" for i in range(len(sample[0]))]
    if header:
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise DataError(f"{name}:1: duplicate column names in the header: {', '.join(dup)}; rename them")
    info = RawTable(pd.DataFrame(columns=columns), name, None, fmt, header, delimiter, 1, "line")
    reader = _CsvBlocks(fh, head, name, columns, header, delimiter, comment, chunk_rows)
    reader.owned = isinstance(source, Path)
    return info, reader.chunks(plan)


def joined(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    """A binary stream that reads ``head`` and then ``rest`` (stdin after a peek at its first bytes)."""

    class Joined(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buf: Any) -> int:
            nonlocal head
            if head:
                n = min(len(buf), len(head))
                buf[:n], head = head[:n], head[n:]
                return n
            data = rest.read(len(buf))
            buf[: len(data)] = data
            return len(data)

    return io.BufferedReader(Joined(), buffer_size=1 << 20)


def _open(source: Path | IO[bytes]) -> IO[bytes]:
    if not isinstance(source, Path):
        return source
    with source.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(source, "rb") if gz else source.open("rb")


class _CsvBlocks:
    """A CSV byte stream cut into blocks of whole records, each parsed to a DataFrame (see the module doc)."""

    def __init__(self, fh: IO[bytes], head: bytes, name: str, columns: list[str], header: bool, delimiter: str,
                 comment: str | None, chunk_rows: int) -> None:
        self.fh, self.head, self.name, self.columns = fh, head, name, columns
        self.owned = False
        self.header, self.delimiter, self.comment = header, delimiter, comment
        line_bytes = max(1, len(head) // max(1, head.count(b"\n"))) if head else 64
        self.block_bytes = max(1, chunk_rows) * line_bytes

    def chunks(self, plan: Plan) -> Iterator[Chunk]:
        try:
            numbers, text = plan(self.columns, self.header)
            wanted = [c for c in self.columns if c in set(numbers) | set(text)]
            for block, line in self._blocks():
                frame, problems = self._fast(block, line, numbers, wanted)
                if frame is None:
                    frame, problems = self._careful(block, line, numbers, wanted)
                if len(frame) or problems:
                    yield frame, problems
        finally:
            if self.owned:
                self.fh.close()

    def _blocks(self) -> Iterator[tuple[bytes, int]]:
        """Blocks of whole records and the file line of each block's first line (header skipped)."""
        buf, line = self.head, 1
        if buf.startswith(b"\xef\xbb\xbf"):
            buf = buf[3:]
        while True:  # leading blank lines, then the header line
            nl = buf.find(b"\n")
            if nl < 0:
                more = self.fh.read(_SAMPLE)
                if more:
                    buf += more
                    continue
                nl = len(buf)
            if buf[:nl].strip():
                break
            buf, line = buf[nl + 1:], line + 1
        if self.header:
            nl = buf.find(b"\n")
            buf, line = (buf[nl + 1:], line + 1) if nl >= 0 else (b"", line + 1)
        eof = False
        while True:
            while not eof and len(buf) < self.block_bytes:
                more = self.fh.read(max(self.block_bytes - len(buf), _SAMPLE))
                eof = not more
                buf += more
            if eof:
                if buf.strip():
                    yield (buf if buf.endswith(b"\n") else buf + b"\n"), line
                return
            cut = _record_end(buf, self.block_bytes)
            if cut is None:  # inside a quoted field, or one long line: read on
                more = self.fh.read(max(self.block_bytes, _SAMPLE))
                eof = not more
                buf += more
                continue
            block, buf = buf[:cut], buf[cut:]
            yield block, line
            line += block.count(b"\n")

    def _fast(self, block: bytes, line: int, numbers: list[str], wanted: list[str]) -> Chunk | tuple[None, list]:
        """pyarrow's CSV reader on a clean block: number columns as float64, the others as text; None when
        the block is not clean (any parse error, a wrong field count, an empty or non-finite number, a blank
        line, quotes around a line break)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.csv as pcsv

        n_lines = block.count(b"\n")
        if not numbers or (self.comment and self.comment.encode() in block):
            return None, []
        types = {c: (pa.float64() if c in numbers else pa.string()) for c in wanted}
        try:
            table = pcsv.read_csv(
                io.BytesIO(block),
                read_options=pcsv.ReadOptions(column_names=self.columns, use_threads=False,
                                              block_size=len(block) + 1),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter),
                convert_options=pcsv.ConvertOptions(column_types=types, include_columns=wanted,
                                                    strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, ValueError):
            return None, []
        if table.num_rows != n_lines or any(table[c].null_count for c in numbers):
            return None, []
        frame = table.to_pandas()
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.isfinite(frame[numbers].to_numpy(dtype=np.float64).astype(np.float32)).all():
                return None, []
        frame.index = pd.RangeIndex(line - 1, line - 1 + n_lines)
        return frame, []

    def _careful(self, block: bytes, line: int, numbers: list[str], wanted: list[str]) -> Chunk:
        """Every cell as text; the field count of each record checked (csv module), blank lines skipped."""
        import pandas as pd

        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = line + block[: exc.start].count(b"\n")
            raise DataError(f"{self.name}:{at}: not UTF-8 text (byte {exc.start} of the line's block); save the "
                            "file as UTF-8") from None
        if self.comment:
            text = blank_comments(text, self.comment)
        width = len(self.columns)
        pick = [self.columns.index(c) for c in wanted]
        rows, labels, problems = [], [], []
        reader = csv.reader(io.StringIO(text), delimiter=self.delimiter, skipinitialspace=True)
        start = 0
        try:
            for record in reader:
                at, start = line + start, reader.line_num
                if not record or not any(cell.strip() for cell in record):
                    continue
                if len(record) != width:
                    problems.append(f"{self.name}:{at}: expected {width} fields like the first line, got "
                                    f"{len(record)}; every row needs the same number of columns")
                    continue
                rows.append([record[j] for j in pick])
                labels.append(at - 1)
        except csv.Error as exc:
            raise DataError(f"{self.name}:{line + start}: unreadable CSV: {exc}") from None
        frame = pd.DataFrame(rows, columns=wanted, index=labels, dtype=object)
        return frame, problems


def _record_end(buf: bytes, size: int) -> int | None:
    """The end (after the newline) of the last whole record within the first ``size`` bytes of ``buf`` (or
    beyond, up to the first newline after it), never inside a quoted field; None: no such newline yet."""
    cut = buf.rfind(b"\n", 0, size) + 1 or buf.find(b"\n", size) + 1
    if cut == 0:
        return None
    while b'"' in buf[:cut] and buf.count(b'"', 0, cut) % 2:
        cut = buf.find(b"\n", cut) + 1
        if cut == 0:
            return None
    return cut


def _jsonl_chunks(fh: IO[bytes], head: bytes, name: str, chunk_rows: int, plan: Plan,
                  owned: bool) -> Iterator[Chunk]:
    """JSON Lines ``chunk_rows`` lines at a time; each chunk's columns as ``plan`` picks them (the plan gets
    the columns of the first chunk)."""
    import pandas as pd

    wanted = None
    lines: list[bytes] = []
    first = 0

    def chunk(lines: list[bytes], first: int) -> Any:
        nonlocal wanted
        text = decode(b"\n".join(lines), name) if any(ln.strip() for ln in lines) else ""
        if not text.strip():
            return pd.DataFrame()
        frame = json_lines(text, name, first_line=1 + first).rename(index=lambda k: k + first)
        if wanted is None:
            numbers, text_cols = plan(list(frame.columns), True)
            wanted = [c for c in frame.columns if c in set(numbers) | set(text_cols)]
        for c in wanted:
            if c not in frame.columns:
                frame[c] = None
        return frame[wanted]

    stream = joined(head[3:] if head.startswith(b"\xef\xbb\xbf") else head, fh)
    try:
        for i, line in enumerate(stream):
            lines.append(line.rstrip(b"\r\n"))
            if len(lines) >= chunk_rows:
                frame = chunk(lines, first)
                if len(frame):
                    yield frame, []
                lines, first = [], i + 1
        if lines:
            frame = chunk(lines, first)
            if len(frame):
                yield frame, []
    finally:
        if owned:
            fh.close()


def _parquet_chunks(source: Path | IO[bytes], name: str, chunk_rows: int, plan: Plan) -> tuple[RawTable, Iterator]:
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source if isinstance(source, Path) else io.BytesIO(source.read()))
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own text
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{name}: not a readable Parquet file: {first}") from None
    names = list(pf.schema_arrow.names)
    columns = [str(c).strip() for c in names]

    def chunks() -> Iterator[Chunk]:
        numbers, text = plan(columns, True)
        wanted = [n for n, c in zip(names, columns, strict=True) if c in set(numbers) | set(text)]
        start = 0
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
            frame = batch.to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame, []

    return RawTable(pd.DataFrame(columns=columns), name, None, "parquet", True, None, 1, "row"), chunks()
