"""CSV/TSV: the checks every CSV read runs, and the whole read (training, ``evaluate --data``).

The whole read parses a clean numeric file straight to float64 with pandas' C parser (the fast path); any
file where something is unusual is read again as strings (the careful path), so that later checks cite the
line. The chunked read (``predict``) is in ``csv_chunks``; both take the file's layout (delimiter, header,
column names) from ``layout`` and word their messages with ``field_count_message`` and ``check_names``, so
a bad file gives the same message on every path.

No TensorFlow here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun.data.readers.common import NA_VALUES, RawTable, decode, gunzip, read_bytes
from nnrun.errors import DataError

DELIMITERS = ",;\t|"


@dataclass
class Layout:
    """Where a CSV file's rows start and how to split them.

    Attributes:
        delimiter: the field separator. header: the first non-blank line names the columns.
        columns: the column names (``col0``, ``col1``, … without a header), checked by ``check_names``.
        lead: blank (or comment) lines before the first non-blank line.
    """

    delimiter: str
    header: bool
    columns: list[str]
    lead: int = 0


def head_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of ``text`` (``str.splitlines`` rules) without splitting the whole file."""
    end = 0
    for _ in range(count * 4):  # splitlines also breaks at \r and Unicode separators: take some spare lines
        end = text.find("\n", end) + 1
        if end == 0:
            return text.splitlines()[:count]
    return text[:end].splitlines()[:count]


def first_rows(text: str, count: int) -> list[str]:
    """The first ``count`` non-blank lines (a sample for the header and delimiter guesses)."""
    lines = head_lines(text, count * 8)
    rows = [ln for ln in lines if ln.strip()][:count]
    if len(rows) < count and len(lines) == count * 8:  # mostly blank lines so far: look further
        rows = [ln for ln in text.splitlines() if ln.strip()][:count]
    return rows


def sniff_delimiter(text: str) -> str:
    """Guess the field separator among ``, ; tab |`` from the first lines (csv.Sniffer); default ','."""
    sample = "\n".join(head_lines(text, 20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def is_number(cell: str) -> bool:
    """Whether ``float(cell)`` parses (``" 1"``, ``1e3``, ``nan`` do)."""
    try:
        float(cell)
        return True
    except ValueError:
        return False


def detect_header(rows: list[list[str]]) -> bool:
    """Guess whether the first row is a header: every cell of it is a non-number (a name), and some
    column holds numbers in the rows below. ``5.1,3.5,1.4,0.2,Iris-setosa`` is data; ``width,height,kind``
    over numeric rows is a header. Set ``data.header`` when the guess is wrong.

    Args:
        rows: the first rows of the file, split into cells.
    """
    first = rows[0] if rows else []
    if len(first) > 1 and not first[-1].strip():  # a trailing delimiter (Excel): its empty column is no evidence
        first = first[:-1]
    if not first or any(is_number(c) or c.strip() in NA_VALUES for c in first):
        return False
    rest = rows[1:]
    if not rest:  # a single row of names: a header with no data (reported as such)
        return True
    return any(
        all(is_number(r[j]) for r in rest if j < len(r) and r[j].strip()) and any(j < len(r) for r in rest)
        for j in range(len(rows[0]))
    )


def blank_comments(text: str, comment: str | None) -> str:
    """Empty every line that starts (after spaces) with ``comment``, keeping line numbers."""
    if not comment:
        return text
    return "\n".join("" if ln.lstrip().startswith(comment) else ln for ln in text.split("\n"))


def reader(source: Any, delimiter: str, quotechar: str | None) -> Any:
    """The csv module's reader with nnrun's dialect (spaces after a delimiter skipped; no quoting without a
    ``quotechar``)."""
    return csv.reader(source, delimiter=delimiter, skipinitialspace=True, quotechar=quotechar or '"',
                      quoting=csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE)


def checked_rows(lines: Any, delimiter: str, quotechar: str | None, name: str,
                 first_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """``(file line, record)`` for each CSV record of ``lines`` (the line a record starts on), the csv module's
    errors (a field over its 131,072-character limit, a NUL byte) as data errors naming that line, worded as
    the chunked reader words them.

    Raises:
        DataError: ``file:LINE: unreadable CSV: <the csv module's message>``.
    """
    records = reader(lines, delimiter, quotechar)
    start = 0
    while True:
        try:
            row = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{name}:{first_line + start}: unreadable CSV: {exc}") from None
        yield first_line + start, row
        start = records.line_num


def check_names(names: list[str], name: str, line: int) -> list[str]:
    """Header names, stripped; refused when two are equal or one is empty.

    Args:
        names: the header row's cells. name: the file in messages. line: the header's file line.

    Raises:
        DataError: ``file:LINE: duplicate column names in the header: …`` or ``… header column N has no name``.
    """
    names = [c.strip() for c in names]
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:  # pandas would rename them a, a.1, …
        raise DataError(f"{name}:{line}: duplicate column names in the header: {', '.join(dup)}; rename them")
    empty = [i for i, c in enumerate(names) if not c]
    if empty:
        trailing = " (the line ends with the delimiter: remove the trailing delimiters)" \
            if empty == [len(names) - 1] else ""
        raise DataError(f"{name}:{line}: header column {empty[0] + 1} has no name{trailing}; name every column")
    return names


def field_count_message(name: str, line: int, expected: int, got: int) -> str:
    """The one message for a row with the wrong number of fields."""
    return (f"{name}:{line}: expected {expected} fields like the first line, got {got}; every row needs the same "
            "number of columns")


def layout(text: str, name: str, fmt: str, opts: Any) -> Layout:
    """A CSV file's delimiter, header and column names from the start of its text.

    Args:
        text: the decoded start of the file, comment lines already blanked (``blank_comments``).
        name: the file in messages. fmt: csv or tsv. opts: the ``ReadOptions``.

    Raises:
        DataError: no rows at all; bad header names (``check_names``, the header's line named).
    """
    stripped = text.lstrip("\r\n \t")
    lead = text[: len(text) - len(stripped)].count("\n")
    delimiter = opts.delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(stripped))
    sample = [row for _, row in checked_rows(first_rows(stripped, 21), delimiter, opts.quotechar, name, lead + 1)]
    if not sample:
        raise DataError(f"{name}: the file holds no data rows")
    header = opts.header if opts.header is not None else detect_header(sample)
    columns = check_names(sample[0], name, lead + 1) if header else [f"col{i}" for i in range(len(sample[0]))]
    return Layout(delimiter, header, columns, lead)


# ------------------------------------------------------------------------------------------ whole read
def read_whole(path: Path, fmt: str, opts: Any, skip_bad: bool = False) -> RawTable:
    """Read a whole CSV/TSV file (gzip looked through, a BOM dropped, comment lines skipped).

    A clean numeric CSV (every column but ``opts.target`` a number) is parsed straight to float64 by pandas'
    C parser; anything unusual is read again as strings, so that later checks can cite the line.

    Returns:
        The RawTable (see ``readers.read_whole``); with ``skip_bad``, records with the wrong number of fields
        are left out (``RawTable.left_out``) rather than refused.

    Raises:
        DataError: unreadable or empty file, bad header names, ragged rows (line named; not with ``skip_bad``).
    """
    raw = read_bytes(path, f"{fmt.upper()} file")
    sha = hashlib.sha256(raw).hexdigest()
    name = str(path)
    raw = gunzip(raw, name)
    text = blank_comments(decode(raw, name), opts.comment)
    shape = layout(text, name, fmt, opts)
    fast = None
    if opts.quotechar == '"':
        from nnrun.data.readers.csv_fast import fast_frame

        fast = fast_frame(text, shape, opts.target, raw if not opts.comment else None)
    frame = fast if fast is not None else read_text(text, name, shape, opts.quotechar, skip_bad)
    first = frame.attrs["first_line"]
    left_out = [(line - first, message) for line, message in frame.attrs.get("left_out", [])]
    return RawTable(frame, name, sha, fmt, shape.header, shape.delimiter, first, left_out=left_out)


def read_text(text: str, name: str, shape: Layout, quotechar: str | None = '"', skip_bad: bool = False) -> Any:
    """The careful path: CSV text to a DataFrame of strings, rows labelled ``file line - first_line``.

    Args:
        text: the whole file's text (comments blanked). shape: its ``layout``.
        skip_bad: blank out records with the wrong number of fields (line numbers kept) instead of refusing.

    Returns:
        A DataFrame with string column names; ``frame.attrs["first_line"]`` is the file line of label 0, and
        ``frame.attrs["left_out"]`` lists ``(file line, message)`` of each record left out (``skip_bad``).

    Raises:
        DataError: a row whose field count differs from the first row's (not with ``skip_bad``), unparsable
            text, no data rows.
    """
    import pandas as pd

    text = text.lstrip("\r\n \t")
    ragged = ragged_records(text, name, shape, quotechar)
    if ragged and not skip_bad:
        line, _, got = ragged[0]
        raise DataError(field_count_message(name, line, len(shape.columns), got))
    if ragged:
        text = _blank_lines(text, [(first, last) for first, last, _ in ragged], shape.lead + 1)
    first_line = shape.lead + (2 if shape.header else 1)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=shape.delimiter, header=0 if shape.header else None, skipinitialspace=True,
            skip_blank_lines=False,  # blank lines are dropped below, keeping row labels = file line offsets
            dtype=str, keep_default_na=False, engine="c", quotechar=quotechar or '"',
            quoting=csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE,
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}{_parser_message(str(exc), shape.lead)}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file holds no data rows") from None
    blank = frame.isna().all(axis=1) | frame.fillna("").apply(lambda c: c.str.strip() == "").all(axis=1)
    frame = frame[~blank]
    _check_short_rows(frame, name, first_line)
    frame.attrs["first_line"] = first_line
    frame.columns = list(shape.columns) if shape.header else [f"col{i}" for i in range(frame.shape[1])]
    frame.attrs["left_out"] = [(line, field_count_message(name, line, len(shape.columns), got))
                               for line, _, got in ragged]
    if frame.shape[0] == 0:
        raise DataError(f"{name}: the file has a header but no data rows")
    return frame


def ragged_records(text: str, name: str, shape: Layout, quotechar: str | None = '"') -> list[tuple[int, int, int]]:
    """The records whose number of fields differs from the first row's (pandas fills missing trailing fields
    silently, so the careful path counts them with the csv module).

    Args:
        text: the file's text from its first non-blank line on. shape: its ``layout``.

    Returns:
        ``(first file line, last file line, fields)`` of each such record, in file order (a quoted cell may
        span lines; the last line runs up to the next record).
    """
    expected = len(shape.columns)
    out: list[tuple[int, int, int]] = []
    pending: tuple[int, int] | None = None
    for line, row in checked_rows(io.StringIO(text), shape.delimiter, quotechar, name, shape.lead + 1):
        if pending is not None:
            out.append((pending[0], line - 1, pending[1]))
            pending = None
        if row and any(cell.strip() for cell in row) and len(row) != expected:
            pending = (line, len(row))
    if pending is not None:
        out.append((pending[0], shape.lead + text.count("\n") + 1, pending[1]))
    return out


def _blank_lines(text: str, spans: list[tuple[int, int]], first_line: int) -> str:
    """``text`` with the file lines of each ``(first, last)`` span emptied (line numbers kept)."""
    lines = text.split("\n")
    for first, last in spans:
        for i in range(first - first_line, last - first_line + 1):
            lines[i] = ""
    return "\n".join(lines)


def _check_short_rows(frame: Any, name: str, first_line: int) -> None:
    """A row with fewer fields than the first (pandas fills them with NaN; empty fields are "")."""
    import numpy as np

    short = frame.isna().any(axis=1)
    if short.any():
        i = int(np.flatnonzero(short.to_numpy())[0])
        got = int(frame.iloc[i].notna().sum())
        raise DataError(field_count_message(name, first_line + int(frame.index[i]), frame.shape[1], got))


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_message(msg: str, lead: int = 0) -> str:
    """pandas' "Error tokenizing data. C error: Expected 5 fields in line 7, saw 6" as ``:7: …``."""
    m = _FIELDS.search(msg)
    if m:
        expected, line, saw = m.groups()
        return field_count_message("", int(line) + lead, int(expected), int(saw))
    return f": {msg.strip().splitlines()[-1] if msg.strip() else 'unreadable CSV'}"


def read_chunks(source: Any, fmt: str, opts: Any, chunk_rows: int, name: str, plan: Any) -> tuple[RawTable, Any]:
    """The chunked read (``csv_chunks.read_chunks``): see ``readers.read_chunks``."""
    from nnrun.data.readers.csv_chunks import read_chunks as chunked

    return chunked(source, fmt, opts, chunk_rows, name, plan)
