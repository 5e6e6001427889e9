"""Parquet (pyarrow): a whole read and a chunked read over the same checks (readable file, unique names,
no nested values). Rows are labelled ``row - 1`` (messages cite ``file: row N``). No TensorFlow here."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nnrun.data.readers.common import RawTable, gunzip, read_bytes, unique_names
from nnrun.errors import DataError


def _unreadable(name: str, exc: BaseException) -> DataError:
    """pyarrow's own first line, without the name of the buffer or path it read (the same words whether the
    whole read opened a buffer or the chunked read a path)."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    first = re.sub(r"^Could not open Parquet input source '[^']*': ", "", first)
    return DataError(f"{name}: not a readable Parquet file: {first}")


def _check_values(frame: Any, name: str) -> None:
    """Refuse nested values (lists, structs, bytes): they are not features."""
    import numpy as np

    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        kinds = {type(v).__name__ for v in frame[col].head(1000).tolist()
                 if isinstance(v, (list, dict, bytes, np.ndarray))}
        if kinds:
            raise DataError(f"{name}: column {col!r}: holds nested values ({', '.join(sorted(kinds))}); expected "
                            "numbers or strings")


def read_whole(path: Path, fmt: str, opts: Any) -> RawTable:
    """A whole Parquet file (see ``readers.read_whole``; ``opts`` does not apply).

    Raises:
        DataError: unreadable, repeated names, nested values, no rows.
    """
    import pandas as pd

    raw = read_bytes(path, "PARQUET file")
    name = str(path)
    try:
        frame = pd.read_parquet(io.BytesIO(gunzip(raw, name)), engine="pyarrow")
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own text
        raise _unreadable(name, exc) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    unique_names(list(frame.columns), name)
    if frame.empty:
        raise DataError(f"{name}: the file holds no rows")
    _check_values(frame, name)
    return RawTable(frame.reset_index(drop=True), name, hashlib.sha256(raw).hexdigest(), fmt, True, None, 1, "row")


def read_chunks(source: Path | IO[bytes], fmt: str, opts: Any, chunk_rows: int, name: str,
                plan: Any) -> tuple[RawTable, Iterator]:
    """A Parquet file a row group batch at a time: see ``readers.read_chunks``."""
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source if isinstance(source, Path) else io.BytesIO(source.read()))
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own text
        raise _unreadable(name, exc) from None
    names = list(pf.schema_arrow.names)
    columns = [str(c).strip() for c in names]
    unique_names(columns, name)

    def chunks() -> Iterator[tuple[Any, list[str]]]:
        numbers, text = plan(columns, True)
        wanted = [n for n, c in zip(names, columns, strict=True) if c in set(numbers) | set(text)]
        start = 0
        batches = pf.iter_batches(batch_size=chunk_rows, columns=wanted)
        while True:
            try:  # a damaged body surfaces only when its row group is read
                batch = next(batches, None)
            except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own text
                raise _unreadable(name, exc) from None
            if batch is None:
                return
            frame = batch.to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            _check_values(frame, name)
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame, []

    return RawTable(pd.DataFrame(columns=columns), name, None, "parquet", True, None, 1, "row"), chunks()
