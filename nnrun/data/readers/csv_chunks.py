"""CSV/TSV read a chunk at a time (``predict``), from a file or stdin, over the same checks as the whole read.

The file's layout (delimiter, header, names) comes from ``csv.layout`` on its first 64 KiB, comment lines
blanked, exactly as the whole read takes it from the whole text. The rest is cut into blocks of whole lines
(never inside a quoted field) and each block is parsed on its own:

- the fast path: pyarrow's CSV reader parses the columns the caller wants as numbers straight to float64
  (and the others as text); it refuses a line with the wrong number of fields;
- the careful path, for a block where anything is unusual (a non-number, an empty cell, a blank or comment
  line, a short or long row, quotes around line breaks): every cell as text, the field count checked per
  record (``csv.field_count_message``), so that later messages cite the file line. A row with the wrong number
  of fields is left out and reported.

Row labels of the frames are ``file line - 1``, as ``RawTable.where`` expects. No TensorFlow here.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nnrun.data.readers.common import RawTable, decode, open_binary, refuse_binary
from nnrun.data.readers.csv import blank_comments, field_count_message, layout, reader
from nnrun.errors import DataError

_SAMPLE = 65536


def read_chunks(source: Path | IO[bytes], fmt: str, opts: Any, chunk_rows: int, name: str,
                plan: Any) -> tuple[RawTable, Iterator]:
    """A CSV/TSV table about ``chunk_rows`` rows at a time: see ``readers.read_chunks``."""
    import pandas as pd

    fh = open_binary(source, name) if isinstance(source, Path) else source
    head = fh.read(_SAMPLE)
    refuse_binary(head, name)  # before the sample is cut at a line end, as the whole read checks its start
    cut = head.rfind(b"\n") + 1 if len(head) == _SAMPLE else len(head)
    sample_text = blank_comments(decode(head[:cut] or head, name), opts.comment)
    shape = layout(sample_text, name, fmt, opts)
    info = RawTable(pd.DataFrame(columns=shape.columns), name, None, fmt, shape.header, shape.delimiter, 1, "line")
    blocks = _CsvBlocks(fh, head, name, shape, opts, chunk_rows)
    blocks.owned = isinstance(source, Path)
    return info, blocks.chunks(plan)


class _CsvBlocks:
    """A CSV byte stream cut into blocks of whole records, each parsed to a DataFrame (see the module doc)."""

    def __init__(self, fh: IO[bytes], head: bytes, name: str, shape: Any, opts: Any, chunk_rows: int) -> None:
        self.fh, self.head, self.name, self.shape = fh, head, name, shape
        self.comment, self.quotechar = opts.comment, opts.quotechar
        self.columns = shape.columns
        self.owned = False
        line_bytes = max(1, len(head) // max(1, head.count(b"\n"))) if head else 64
        self.block_bytes = max(1, chunk_rows) * line_bytes

    def chunks(self, plan: Any) -> Iterator[tuple[Any, list[str]]]:
        try:
            numbers, text = plan(self.columns, self.shape.header)
            wanted = [c for c in self.columns if c in set(numbers) | set(text)]
            for block, line in self._blocks():
                frame, problems = self._fast(block, line, numbers, wanted)
                if frame is None:
                    frame, problems = self._careful(block, line, wanted)
                if len(frame) or problems:
                    yield frame, problems
        finally:
            if self.owned:
                self.fh.close()

    def _blank(self, line: bytes) -> bool:
        """A blank line, or a comment line (blanked by the whole read too)."""
        stripped = line.strip()
        return not stripped or bool(self.comment and stripped.startswith(self.comment.encode()))

    def _blocks(self) -> Iterator[tuple[bytes, int]]:
        """Blocks of whole records and the file line of each block's first line (header skipped)."""
        buf, line = self.head, 1
        if buf.startswith(b"\xef\xbb\xbf"):
            buf = buf[3:]
        while True:  # leading blank (and comment) lines, then the header line
            nl = buf.find(b"\n")
            if nl < 0:
                more = self.fh.read(_SAMPLE)
                if more:
                    buf += more
                    continue
                nl = len(buf)
            if not self._blank(buf[:nl]):
                break
            buf, line = buf[nl + 1:], line + 1
        if self.shape.header:
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
            cut = _record_end(buf, self.block_bytes, (self.quotechar or '"').encode())
            if cut is None:  # inside a quoted field, or one long line: read on
                more = self.fh.read(max(self.block_bytes, _SAMPLE))
                eof = not more
                buf += more
                continue
            block, buf = buf[:cut], buf[cut:]
            yield block, line
            line += block.count(b"\n")

    def _fast(self, block: bytes, line: int, numbers: list[str], wanted: list[str]) -> tuple[Any, list]:
        """pyarrow's CSV reader on a clean block: number columns as float64, the others as text; None when
        the block is not clean (any parse error, a wrong field count, an empty or non-finite number, a blank
        line, a comment, quotes around a line break)."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.csv as pcsv

        n_lines = block.count(b"\n")
        if not numbers or self.quotechar != '"' or (self.comment and self.comment.encode() in block):
            return None, []
        types = {c: (pa.float64() if c in numbers else pa.string()) for c in wanted}
        try:
            table = pcsv.read_csv(
                io.BytesIO(block),
                read_options=pcsv.ReadOptions(column_names=self.columns, use_threads=False,
                                              block_size=len(block) + 1),
                parse_options=pcsv.ParseOptions(delimiter=self.shape.delimiter),
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

    def _careful(self, block: bytes, line: int, wanted: list[str]) -> tuple[Any, list[str]]:
        """Every cell as text; the field count of each record checked (csv module), blank lines skipped."""
        import pandas as pd

        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = line + block[: exc.start].count(b"\n")
            raise DataError(f"{self.name}:{at}: not UTF-8 text (byte {exc.start} of the line's block); save the "
                            "file as UTF-8") from None
        text = blank_comments(text, self.comment)
        width = len(self.columns)
        pick = [self.columns.index(c) for c in wanted]
        rows, labels, problems = [], [], []
        records = reader(io.StringIO(text), self.shape.delimiter, self.quotechar)
        start = 0
        try:
            for record in records:
                at, start = line + start, records.line_num
                if not record or not any(cell.strip() for cell in record):
                    continue
                if len(record) != width:
                    problems.append(field_count_message(self.name, at, width, len(record)))
                    continue
                rows.append([record[j] for j in pick])
                labels.append(at - 1)
        except Exception as exc:  # csv.Error
            raise DataError(f"{self.name}:{line + start}: unreadable CSV: {exc}") from None
        return pd.DataFrame(rows, columns=wanted, index=labels, dtype=object), problems


def _record_end(buf: bytes, size: int, quote: bytes = b'"') -> int | None:
    """The end (after the newline) of the last whole record within the first ``size`` bytes of ``buf`` (or
    beyond, up to the first newline after it), never inside a quoted field; None: no such newline yet."""
    cut = buf.rfind(b"\n", 0, size) + 1 or buf.find(b"\n", size) + 1
    if cut == 0:
        return None
    while quote in buf[:cut] and buf.count(quote, 0, cut) % 2:
        cut = buf.find(b"\n", cut) + 1
        if cut == 0:
            return None
    return cut
