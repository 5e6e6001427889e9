"""The whole read's fast path: a clean numeric CSV straight to float64 with pandas' C parser.

Reading speed is benchmarked (``bench/probe_read.py``): this path parses the file's bytes once, with no
per-cell Python work. It gives up (returns None) whenever anything is unusual; the careful path
(``csv.read_text``) then reads the file again and reports the first problem with its line.
"""

from __future__ import annotations

import io
import re
from typing import Any

_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def fast_frame(text: str, shape: Any, target: int | str | None, payload: bytes | None = None) -> Any:
    """A clean numeric table through pandas' C parser: features as float64, the target as int64 (integer
    labels) or strings.

    Args:
        text: the file's text (comments blanked). shape: its ``csv.Layout``.
        target: the target column (name or index); None: no fast path.
        payload: the file's UTF-8 bytes (parsed directly: faster than the decoded text), if they are what
            pandas should parse (no comment lines blanked).

    Returns:
        The DataFrame (``attrs["first_line"]`` set), or None whenever anything is unusual (a non-number, a
        missing value, ragged rows, leading blank lines).
    """
    import numpy as np
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    if target is None or not text[:1].strip() or _BLANK_LINE.search(text, 0, end):
        return None  # blank (or blanked comment) lines: the careful path keeps line numbers right
    names = shape.columns
    if len(names) < 2:
        return None
    if isinstance(target, str):
        if target not in names:
            return None
        t = names.index(target)
    elif -len(names) <= target < len(names):
        t = target % len(names)
    else:
        return None
    if payload is None or payload.startswith(b"\xef\xbb\xbf"):
        payload = text.encode("utf-8")
    try:  # no NA filtering: an empty or "NA" cell makes its column text, and the careful path takes over
        frame = pd.read_csv(io.BytesIO(payload), sep=shape.delimiter, header=0 if shape.header else None,
                            names=range(len(names)), keep_default_na=False, na_filter=False, engine="c")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.empty or frame[t].isna().any() or is_bool_dtype(frame[t].dtype):
        return None  # a short row leaves NaN; True/False labels go the careful way
    if not pd.api.types.is_integer_dtype(frame[t].dtype):  # labels as text (integer labels stay int64)
        frame[t] = frame[t].astype(str)
        if (frame[t].str.strip() == "").any():
            return None
    feats = [c for c in frame.columns if c != t]
    if not all(is_numeric_dtype(frame[c].dtype) and not is_bool_dtype(frame[c].dtype) for c in feats):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(frame[feats].to_numpy(dtype=np.float32)).all()
    if not finite:
        return None  # NaN (a short row), infinities, or beyond float32
    for c in feats:
        if frame[c].dtype != np.float64:
            frame[c] = frame[c].astype(np.float64)
    frame.columns = list(names)
    frame.attrs["first_line"] = 2 if shape.header else 1
    return frame
