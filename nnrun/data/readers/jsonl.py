"""JSON Lines (one object per line): a whole read and a chunked read over the same line parser
(``json_lines``), so bad JSON, non-objects and nested values are reported alike, line named.
Rows are labelled ``file line - 1``. No TensorFlow here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nnrun.data.readers.common import RawTable, decode, gunzip, joined, open_binary, read_bytes, unique_names
from nnrun.errors import DataError


class DuplicateKey(ValueError):
    """A JSON object with one key twice (Python's json keeps the last silently)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``json.loads``' object hook: the object, refusing a key given twice (``DuplicateKey``)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return obj


def json_lines(text: str, name: str, first_line: int = 1) -> Any:
    """JSON Lines text (one object per line) to a DataFrame labelled by line offset.

    Args:
        text: the lines. name: the file in messages. first_line: the file line of ``text``'s first line.

    Returns:
        A DataFrame, one column per key (string names), index = file line - ``first_line`` + (first_line - 1).

    Raises:
        DataError: invalid JSON, a line that is not an object, a key twice in one object, or nested values;
            the line named.
    """
    import pandas as pd

    records, labels = [], []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=unique_keys)
        except DuplicateKey as exc:
            raise DataError(f"{name}:{first_line + i}: the key {exc.key!r} appears twice in one object; keep one "
                            "(JSON readers disagree on which one wins)") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}:{first_line + i}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            raise DataError(f"{name}:{first_line + i}: invalid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise DataError(f"{name}:{first_line + i}: expected a JSON object {{\"column\": value, …}} per line, "
                            f"got {type(obj).__name__}")
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                raise DataError(f"{name}:{first_line + i}: {key!r}: expected a number, string or null, "
                                f"got {type(value).__name__}")
        records.append(obj)
        labels.append(i)
    if not records:
        raise DataError(f"{name}: the file holds no rows")
    frame = pd.DataFrame.from_records(records, index=labels)
    frame.columns = [str(c).strip() for c in frame.columns]
    unique_names(list(frame.columns), name)
    return frame


def read_whole(path: Path, fmt: str, opts: Any) -> RawTable:
    """A whole JSON Lines file, gzip looked through (see ``readers.read_whole``; ``opts`` does not apply)."""
    raw = read_bytes(path, "JSONL file")
    sha = hashlib.sha256(raw).hexdigest()
    name = str(path)
    return RawTable(json_lines(decode(gunzip(raw, name), name), name), name, sha, fmt, True, None, 1, "line")


def read_chunks(source: Path | IO[bytes], fmt: str, opts: Any, chunk_rows: int, name: str,
                plan: Any) -> tuple[RawTable, Iterator]:
    """JSON Lines ``chunk_rows`` lines at a time; each chunk's columns as ``plan`` picks them (the plan gets
    the columns of the first chunk). See ``readers.read_chunks``."""
    import pandas as pd

    fh = open_binary(source, name) if isinstance(source, Path) else source
    info = RawTable(pd.DataFrame(), name, None, fmt, True, None, 1, "line")
    return info, _chunks(fh, name, chunk_rows, plan, owned=isinstance(source, Path))


def _chunks(fh: IO[bytes], name: str, chunk_rows: int, plan: Any, owned: bool) -> Iterator[tuple[Any, list]]:
    import pandas as pd

    wanted = None

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

    head = fh.read(3)
    stream = joined(b"" if head == b"\xef\xbb\xbf" else head, fh)
    lines: list[bytes] = []
    first = 0
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
