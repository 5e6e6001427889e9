"""Tables and arrays to features and targets: reading, label maps, stratified splits.

Shapes: features ``x`` are float32 ``(num_samples, num_features)``; raw targets ``y`` are ``(num_samples,)``.
No TensorFlow here: the arrays go to ``model.fit`` as NumPy.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.errors import DataError

DELIMITERS = ",;\t|"
_INT = re.compile(r"^[+-]?[0-9]+$")
_MISSING = {"", "?", "NA", "N/A", "NaN", "nan", "null", "None"}


@dataclass
class Table:
    """Features and raw targets read from a file or from inline config arrays.

    Attributes:
        x: float32 array, shape (num_samples, num_features).
        y: raw target values, shape (num_samples,): strings or numbers as in the source.
        feature_names: one name per feature column (header names, or ``col<i>`` without a header).
        target_name: name of the target column.
        source: the file path as resolved, or ``inline``.
        sha256: SHA-256 of the file's bytes (None for inline data).
        columns: all column names of the file in order, target included (for reading predict input).
        target_index: position of the target among ``columns``.
        header: whether the file had a header row.
        delimiter: the field separator used.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    source: str
    sha256: str | None = None
    columns: list[str] = field(default_factory=list)
    target_index: int = -1
    header: bool = False
    delimiter: str = ","


# ------------------------------------------------------------------------------------------ reading
def resolve_path(path: str, config_path: Path | None) -> Path:
    """Resolve a data path: as given (relative to the working directory), else relative to the config.

    Raises:
        DataError: neither exists; the message lists both places tried.
    """
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute() or config_path is None:
        candidate = p
    else:
        candidate = config_path.parent / p
        if not candidate.exists():
            raise DataError(f"{path}: no such data file (looked in {Path.cwd()} and {config_path.parent})")
    if not candidate.exists():
        raise DataError(f"{path}: no such data file")
    if candidate.is_dir():
        raise DataError(f"{candidate}: is a directory, expected a CSV file")
    if not candidate.is_file():
        raise DataError(f"{candidate}: not a regular file (a device or pipe?); expected a CSV file")
    return candidate


def read_bytes(path: Path | str, what: str = "CSV file") -> bytes:
    """Read a data or input file's bytes.

    Raises:
        DataError: missing, a directory, not a regular file (device, pipe), or unreadable; path named.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a {what}")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (a device or pipe?); expected a {what}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def decode(raw: bytes, name: str) -> str:
    """Decode UTF-8 bytes of a data file, refusing binary and empty files with a clear message."""
    if b"\x00" in raw[:65536]:
        raise DataError(f"{name}: holds NUL bytes: this is a binary file, not CSV text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{name}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text.strip():
        raise DataError(f"{name}: the file is empty")
    return text


def sniff_delimiter(text: str) -> str:
    """Guess the field separator among ``, ; tab |`` from the first lines (csv.Sniffer); default ','."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def detect_header(rows: list[list[str]]) -> bool:
    """Guess whether the first row is a header: every cell of it is a non-number (a name), and some
    column holds numbers in the rows below. ``5.1,3.5,1.4,0.2,Iris-setosa`` is data; ``width,height,kind``
    over numeric rows is a header. Set ``data.header`` when the guess is wrong.
    """
    if not rows or any(_is_number(c) or c.strip() in _MISSING for c in rows[0]):
        return False
    rest = rows[1:]
    if not rest:  # a single row of names: a header with no data (reported as such)
        return True
    return any(
        all(_is_number(r[j]) for r in rest if j < len(r) and r[j].strip()) and any(j < len(r) for r in rest)
        for j in range(len(rows[0]))
    )


def read_csv(text: str, name: str, header: bool | None, delimiter: str | None):
    """Parse CSV text with pandas.

    Returns:
        (frame, header, delimiter): a DataFrame of strings/numbers with string column names, and the
        header and delimiter actually used.

    Raises:
        DataError: a row whose field count differs from the first row's, or unparsable text.
    """
    import pandas as pd

    delimiter = delimiter or sniff_delimiter(text)
    lines = [ln for ln in text.splitlines() if ln.strip()][:21]
    sample = list(csv.reader(lines, delimiter=delimiter))
    if header is None:
        header = detect_header(sample)
    _check_field_counts(text, name, delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=0 if header else None,
            skipinitialspace=True,
            skip_blank_lines=False,  # blank lines are dropped below, keeping row labels = file line offsets
            dtype=str,
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}{_parser_message(str(exc))}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file holds no data rows") from None
    blank = frame.isna().all(axis=1) | frame.fillna("").apply(lambda c: c.str.strip() == "").all(axis=1)
    frame = frame[~blank]
    _check_short_rows(frame, name, 2 if header else 1)
    if header:
        names = [c.strip() for c in sample[0]] if sample else [str(c).strip() for c in frame.columns]
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:  # pandas would rename them a, a.1, …
            raise DataError(f"{name}:1: duplicate column names in the header: {', '.join(dup)}; rename them")
        frame.columns = [str(c).strip() for c in frame.columns]
    else:
        frame.columns = [f"col{i}" for i in range(frame.shape[1])]
    if frame.shape[0] == 0:
        raise DataError(f"{name}: the file has a header but no data rows")
    return frame, header, delimiter


def _check_field_counts(text: str, name: str, delimiter: str) -> None:
    """Refuse a file whose rows have different numbers of fields, naming the first such line. (pandas fills
    missing trailing fields silently, so the careful path counts them with the csv module.)"""
    expected = None
    for lineno, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True), 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if expected is None:
            expected = len(row)
        elif len(row) != expected:
            raise DataError(f"{name}:{lineno}: expected {expected} fields like the first line, got {len(row)}; "
                            "every row needs the same number of columns")


def _check_short_rows(frame, name: str, first_line: int) -> None:
    """A row with fewer fields than the first (pandas fills them with NaN; empty fields are "")."""
    short = frame.isna().any(axis=1)
    if short.any():
        i = int(np.flatnonzero(short.to_numpy())[0])
        got = int(frame.iloc[i].notna().sum())
        raise DataError(f"{name}:{first_line + int(frame.index[i])}: expected {frame.shape[1]} fields like the first "
                        f"line, got {got}; every row needs the same number of columns")


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_message(msg: str) -> str:
    """pandas' "Error tokenizing data. C error: Expected 5 fields in line 7, saw 6" as ``:7: …``."""
    m = _FIELDS.search(msg)
    if m:
        expected, line, saw = m.groups()
        return (f":{line}: expected {expected} fields like the first line, got {saw}; every row needs the same "
                "number of columns")
    return f": {msg.strip().splitlines()[-1] if msg.strip() else 'unreadable CSV'}"


def to_float_matrix(frame, name: str, first_line: int) -> np.ndarray:
    """Convert feature columns to float32, naming the first bad cell.

    Args:
        frame: DataFrame of feature columns (strings).
        name: file name for messages.
        first_line: file line number of the frame's first row (1-based).

    Raises:
        DataError: a non-numeric, missing, NaN or infinite value, naming column and line(s).
    """
    import pandas as pd

    try:  # fast path: every cell parses (float() accepts surrounding spaces); checked for NaN/inf below
        with np.errstate(over="ignore", invalid="ignore"):
            fast = np.asarray(frame.to_numpy(dtype=object), dtype=np.float64)
            if np.isfinite(fast.astype(np.float32)).all() and fast.shape[1] == len(frame.columns):
                return fast.astype(np.float32)
    except (ValueError, TypeError):
        pass  # the column-by-column pass below names the first bad cell

    def line(i: int) -> int:  # row labels count every line after the header, blank ones included
        return first_line + int(frame.index[i])

    cols = []
    for col in frame.columns:
        raw = frame[col]
        num = pd.to_numeric(raw.str.strip() if raw.dtype == object else raw, errors="coerce")
        empty = raw.astype(str).str.strip().isin(["", "?", "NA", "NaN", "nan", "null", "None"])
        bad = num.isna() & ~empty
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{name}:{line(i)}: column {col!r}: expected a number, got {raw.iloc[i]!r}; "
                "non-numeric feature columns are not supported yet: drop the column or encode it as numbers"
            )
        if empty.any() or num.isna().any():
            rows = [line(int(i)) for i in np.flatnonzero((empty | num.isna()).to_numpy())[:5]]
            raise DataError(
                f"{name}:{rows[0]}: column {col!r}: missing value (empty, ?, NA or NaN) at line(s) "
                f"{', '.join(map(str, rows))}; remove or fill these rows"
            )
        values = num.to_numpy(dtype=np.float64)
        with np.errstate(over="ignore"):
            finite = np.isfinite(values.astype(np.float32))  # beyond ±3.4e38 a value overflows float32
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise DataError(f"{name}:{line(i)}: column {col!r}: expected a finite number within float32 range "
                            f"(±3.4e38), got {raw.iloc[i]!r}")
        cols.append(values)
    return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((len(frame), 0), np.float32)


def _target_column(target: int | str, columns: list[str], header: bool, name: str) -> int:
    if isinstance(target, str):
        if not header:
            raise DataError(
                f"{name}: data.target is the column name {target!r}, but the file has no header row; "
                f"give the column index (0..{len(columns) - 1}) or set data.header: true"
            )
        if target not in columns:
            from nnrun.registry import suggest

            raise DataError(
                f"{name}: data.target: no column named {target!r}{suggest(target, columns)}; "
                f"columns are: {', '.join(columns)}"
            )
        return columns.index(target)
    if not -len(columns) <= target < len(columns):
        raise DataError(
            f"{name}: data.target: column index {target} is out of range; the file has {len(columns)} columns "
            f"(0..{len(columns) - 1}, or -1 for the last)"
        )
    return target % len(columns)


def read_table(data_cfg, config_path: Path | None = None, path_override: Path | str | None = None) -> Table:
    """Read the examples described by a ``data:`` config section.

    Args:
        data_cfg: the DataConfig.
        config_path: the config file, for resolving relative data paths.
        path_override: read this file instead of ``data_cfg.path`` (same columns), e.g. ``evaluate --data``.

    Returns:
        The Table.

    Raises:
        DataError: unreadable files, bad values, a missing target column.
    """
    if path_override is None and data_cfg.path is None:
        return _inline_table(data_cfg)
    path = Path(path_override) if path_override is not None else resolve_path(data_cfg.path, config_path)
    if path_override is not None and not path.exists():
        raise DataError(f"{path}: no such data file")
    raw = read_bytes(path)
    text = decode(raw, str(path))
    fast = _fast_table(text, data_cfg)
    if fast is not None:
        x, y, columns, t, header, delimiter = fast
        return Table(
            x=x, y=y, feature_names=[c for i, c in enumerate(columns) if i != t], target_name=columns[t],
            source=str(path), sha256=hashlib.sha256(raw).hexdigest(), columns=columns, target_index=t,
            header=header, delimiter=delimiter,
        )
    frame, header, delimiter = read_csv(text, str(path), data_cfg.header, data_cfg.delimiter)
    columns = list(frame.columns)
    if len(columns) < 2:
        raise DataError(
            f"{path}: found 1 column (delimiter {delimiter!r}); expected features and a target column. "
            "Set data.delimiter if the file uses another separator"
        )
    t = _target_column(data_cfg.target, columns, header, str(path))
    features = [c for i, c in enumerate(columns) if i != t]
    first_line = 2 if header else 1
    x = to_float_matrix(frame[features], str(path), first_line)
    y = _target_values(frame[columns[t]], str(path), columns[t], first_line)
    return Table(
        x=x, y=y, feature_names=features, target_name=columns[t], source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(), columns=columns, target_index=t, header=header,
        delimiter=delimiter,
    )


def _fast_table(text: str, data_cfg) -> tuple | None:
    """Parse a clean numeric table in pandas' C parser (features straight to float64).

    Returns None whenever anything is unusual (a non-number, a missing value, ragged rows, a name problem):
    the careful path then reads the file again and reports the first problem with its line.
    """
    import pandas as pd

    delimiter = data_cfg.delimiter or sniff_delimiter(text)
    lines = [ln for ln in text[:65536].splitlines()[:50] if ln.strip()][:21]
    sample = list(csv.reader(lines, delimiter=delimiter))
    if not sample or len(sample[0]) < 2:
        return None
    header = data_cfg.header if data_cfg.header is not None else detect_header(sample)
    names = [c.strip() for c in sample[0]] if header else [f"col{i}" for i in range(len(sample[0]))]
    if len(set(names)) != len(names):
        return None
    try:
        t = _target_column(data_cfg.target, names, header, "")
    except DataError:
        return None
    dtypes: dict[int, Any] = {i: np.float64 for i in range(len(names)) if i != t}
    dtypes[t] = str
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=0 if header else None, names=range(len(names)),
                            skipinitialspace=True, dtype=dtypes, keep_default_na=False, engine="c")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.empty or frame[t].isna().any():
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        x = frame.drop(columns=[t]).to_numpy(dtype=np.float64).astype(np.float32)
    if not np.isfinite(x).all():
        return None
    y_raw = frame[t].str.strip()
    if (y_raw.isin(_MISSING) | y_raw.str.lower().isin(["inf", "+inf", "-inf", "infinity", "-infinity"])).any():
        return None
    return x, _typed(y_raw.to_numpy()), names, t, header, delimiter


def _target_values(raw, name: str, column: str, first_line: int) -> np.ndarray:
    """Target cells to labels or numbers, refusing missing and non-finite values (line named)."""
    y_raw = raw.str.strip()
    bad = y_raw.isin(_MISSING) | y_raw.str.lower().isin(["inf", "+inf", "-inf", "infinity", "-infinity"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{name}:{first_line + int(raw.index[i])}: target column {column!r}: expected a label or "
                        f"a finite number, got {y_raw.iloc[i]!r}; remove or fix the row")
    return _typed(y_raw.to_numpy())


def read_labelled(path: Path | str, meta: dict) -> Table:
    """Read a labelled file for ``evaluate --data``: the training file's columns, target included.

    With a header (in the training file and this one) columns are matched by name, in any order;
    without one, by position.

    Raises:
        DataError: missing columns (the target named when it is the one missing), or bad values.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    raw = read_bytes(path)
    frame, header, delimiter = read_csv(decode(raw, str(path)), str(path), None, None)
    columns = list(frame.columns)
    features, target = meta["feature_names"], meta["target_name"]
    if header and meta.get("header"):
        missing = [c for c in [*features, target] if c not in columns]
        if missing:
            what = "the target column" if missing == [target] else "columns"
            raise DataError(f"{path}: {what} {', '.join(map(repr, missing))} missing; --data needs the training "
                            f"file's columns, target included: {', '.join(meta['columns'])}")
        t = columns.index(target)
    else:
        if len(columns) == len(features):
            raise DataError(f"{path}: has {len(columns)} columns, the features only; --data needs the target "
                            f"column too ({len(meta['columns'])} columns, target at index {meta['target_index']})")
        if len(columns) != len(meta["columns"]):
            raise DataError(f"{path}: expected {len(meta['columns'])} columns (features and target), "
                            f"got {len(columns)}")
        t = meta["target_index"]
        features = [c for i, c in enumerate(columns) if i != t]
    first_line = 2 if header else 1
    x = to_float_matrix(frame[features], str(path), first_line)
    return Table(
        x=x, y=_target_values(frame[columns[t]], str(path), columns[t], first_line), feature_names=list(features),
        target_name=columns[t], source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(), columns=columns, target_index=t, header=header, delimiter=delimiter,
    )


def _typed(values: np.ndarray) -> np.ndarray:
    """Label strings that are all integers become int64, all numbers float64; else they stay strings."""
    texts = [str(v) for v in values]
    if all(_INT.match(t) for t in texts) and all(abs(int(t)) < 2**53 for t in texts):
        return np.array([int(t) for t in texts], dtype=np.int64)
    if all(_is_number(t) for t in texts):
        return np.array([float(t) for t in texts], dtype=np.float64)
    return np.array(texts, dtype=object)


def _inline_table(data_cfg) -> Table:
    x = data_cfg.x
    rows = [r if isinstance(r, list) else [r] for r in x]
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        first = len(rows[0])
        i = next(i for i, r in enumerate(rows) if len(r) != first)
        raise DataError(f"data.x[{i}]: expected {first} values like data.x[0], got {len(rows[i])}")
    if len(rows) != len(data_cfg.y):
        raise DataError(f"data: x has {len(rows)} rows but y has {len(data_cfg.y)} values; they must match")
    if not rows:
        raise DataError("data.x: expected at least one example, got an empty list")
    if not rows[0]:
        raise DataError("data.x: the examples have no features (empty rows)")
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise DataError(f"data.x[{i}][{j}]: expected a finite number, got {v!r}")
    for i, v in enumerate(data_cfg.y):
        nonfinite = isinstance(v, float) and not math.isfinite(v)
        if isinstance(v, (list, dict)) or v is None or isinstance(v, bool) or nonfinite:
            raise DataError(f"data.y[{i}]: expected a finite number or a label string, got {v!r}")
    n_feat = len(rows[0])
    y = np.array(data_cfg.y, dtype=object)
    if all(isinstance(v, int) for v in data_cfg.y):
        y = y.astype(np.int64)
    elif all(isinstance(v, (int, float)) for v in data_cfg.y):
        y = y.astype(np.float64)
    else:
        y = y.astype(str).astype(object)
    names = [f"x{j}" for j in range(n_feat)]
    return Table(
        x=np.asarray(rows, dtype=np.float32), y=y, feature_names=names, target_name="y", source="inline",
        columns=names + ["y"], target_index=n_feat,
    )


# ------------------------------------------------------------------------------------------- labels
def class_list(y: np.ndarray) -> list:
    """Distinct labels, sorted (numerically for numbers), as plain JSON-able Python values.

    Class index i is ``classes[i]``: labels 1..3 give classes [1, 2, 3] and indices 0..2 (no phantom class 0).
    """
    values = np.unique(y)
    return [v.item() if hasattr(v, "item") else v for v in values]


def encode_labels(y: np.ndarray, classes: list, name: str) -> np.ndarray:
    """Map raw labels to class indices, shape (num_samples,) int32.

    Raises:
        DataError: a label not among ``classes`` (it is reported, never silently mapped).
    """
    index = {c: i for i, c in enumerate(classes)}
    index.update({str(c): i for i, c in enumerate(classes)})
    out = np.empty(len(y), dtype=np.int32)
    for i, v in enumerate(y):
        key = v.item() if hasattr(v, "item") else v
        if key not in index and isinstance(key, float) and key.is_integer():
            key = int(key)
        if key not in index:
            raise DataError(
                f"{name}: row {i + 1}: label {key!r} was not seen in training; known classes: "
                + ", ".join(map(str, classes))
            )
        out[i] = index[key]
    return out


def encode_targets(y: np.ndarray, encoding: str, classes: list | None, name: str) -> np.ndarray:
    """Targets in the form the loss needs.

    Returns:
        ``regression``: float32 (num_samples, 1); ``binary``: float32 (num_samples, 1) of 0/1;
        ``sparse``: int32 (num_samples,); ``categorical``: float32 one-hot (num_samples, num_classes).

    Raises:
        DataError: unknown labels, or non-numeric targets for regression.
    """
    if encoding == "regression":
        try:
            return np.asarray(y, dtype=np.float32).reshape(-1, 1)
        except (ValueError, TypeError):
            bad = next(v for v in y if not _is_number(str(v)))
            raise DataError(
                f"{name}: the target holds text ({bad!r}) but the loss is a regression loss; "
                "use a classification loss such as sparse_categorical_crossentropy"
            ) from None
    idx = encode_labels(y, classes, name)
    if encoding == "binary":
        return idx.astype(np.float32).reshape(-1, 1)
    if encoding == "sparse":
        return idx
    return np.eye(len(classes), dtype=np.float32)[idx]


# ------------------------------------------------------------------------------------------- splits
def split_indices(y: np.ndarray, fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (seeded) train/validation split, stratified by label when ``stratify``.

    Each class contributes ``round(fraction * count)`` examples to validation, so a file sorted by class
    still validates on every class (case 6 in ../shared/cases).

    Returns:
        (train_idx, val_idx): sorted int arrays of row indices.
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    if fraction <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    if not stratify:
        perm = rng.permutation(n)
        k = int(round(fraction * n))
        return np.sort(perm[k:]), np.sort(perm[:k])
    val: list[int] = []
    keys = np.array([str(v) for v in y])
    for label in sorted(set(keys)):
        members = np.flatnonzero(keys == label)
        members = members[rng.permutation(len(members))]
        val.extend(members[: int(round(fraction * len(members)))])
    val_idx = np.sort(np.array(val, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(n), val_idx)
    return train_idx, val_idx


# ------------------------------------------------------------------------------------ predict input
#: Files larger than this are predicted in chunks of ``PREDICT_CHUNK_ROWS`` rows (memory stays flat).
STREAM_MIN_BYTES = 4 * 1024 * 1024
PREDICT_CHUNK_ROWS = 65_536


def _choose_features(columns: list[str], header: bool, meta: dict, name: str) -> list[str]:
    """Which input columns are the model's features: by header name, else by position (a training
    target column at its position is dropped, with a note, never shifted into the features)."""
    n_feat = len(meta["feature_names"])
    if header and meta.get("header") and set(meta["feature_names"]) <= set(columns):
        return list(meta["feature_names"])
    if len(columns) == n_feat:
        return list(columns)
    if len(columns) == n_feat + 1 and len(meta["columns"]) == n_feat + 1:
        t = meta["target_index"]
        print(f"note: {name} has {len(columns)} columns; column {t} (the training target "
              f"{meta['target_name']!r}) is ignored", file=sys.stderr)
        return [c for i, c in enumerate(columns) if i != t]
    raise DataError(
        f"{name}: expected {n_feat} features, got {len(columns)} "
        f"(the model takes: {', '.join(meta['feature_names'][:12])}{', …' if n_feat > 12 else ''})"
    )


def predict_batches(source: str, meta: dict, keep: bool = False, chunk_rows: int = PREDICT_CHUNK_ROWS):
    """Rows to predict, in batches: a CSV or JSON file, or ``-`` for standard input.

    CSV files over ``STREAM_MIN_BYTES`` are read ``chunk_rows`` rows at a time, so memory stays flat as
    the file grows; smaller inputs, JSON and stdin are read whole. CSV may include the training target
    column (dropped by name or position, never shifted); JSON is ``[[...], ...]``, one row ``[...]``,
    ``{"x": [[...], ...]}`` or ``[{"feature": value, ...}, ...]``.

    Args:
        source: path, or ``-``.
        meta: the run's dataset description (``dataset.json``).
        keep: also return each input row as a dict of strings (for ``--keep``).

    Returns:
        (fmt, batches): the input format (``csv``/``json``) and an iterator of ``(x, rows)`` with x float32
        of shape (batch_rows, num_features) and rows the input rows (or None).

    Raises:
        DataError: unreadable input, wrong column count ("expected 8 features, got 7"), bad values (line named).
    """
    if source != "-" and Path(source).is_file() and Path(source).stat().st_size > STREAM_MIN_BYTES:
        with Path(source).open("rb") as fh:
            head = fh.read(65536)
        if head.lstrip()[:1] not in (b"[", b"{") and not source.endswith(".json"):
            return "csv", _stream_csv(Path(source), meta, keep, chunk_rows, head)
    x, rows, fmt = read_predict_input(source, meta, keep)
    return fmt, iter([(x, rows)])


def _stream_csv(path: Path, meta: dict, keep: bool, chunk_rows: int, head: bytes):
    import pandas as pd

    name = str(path)
    sample_text = decode(head[: head.rfind(b"\n") + 1] or head, name)
    delimiter = sniff_delimiter(sample_text)
    lines = [ln for ln in sample_text.splitlines() if ln.strip()][:21]
    sample = list(csv.reader(lines, delimiter=delimiter))
    header = detect_header(sample)
    columns = [c.strip() for c in sample[0]] if header else [f"col{i}" for i in range(len(sample[0]))]
    features = _choose_features(columns, header, meta, name)
    first_line = 2 if header else 1
    reader = pd.read_csv(
        path, sep=delimiter, header=0 if header else None, names=None if header else columns,
        skipinitialspace=True, skip_blank_lines=False, dtype=str, keep_default_na=False, engine="c",
        chunksize=chunk_rows, encoding="utf-8",
    )
    try:
        for chunk in reader:
            if header:
                chunk.columns = columns
            blank = chunk.isna().all(axis=1) | (chunk.fillna("") == "").all(axis=1)
            chunk = chunk[~blank]
            short = chunk.isna().any(axis=1)
            if short.any():
                i = int(chunk.index[np.flatnonzero(short.to_numpy())[0]])
                got = int(chunk.loc[i].notna().sum())
                raise DataError(f"{name}:{first_line + i}: expected {len(columns)} fields like the first line, "
                                f"got {got}; every row needs the same number of columns")
            if len(chunk):
                yield to_float_matrix(chunk[features], name, first_line), chunk.to_dict("records") if keep else None
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}{_parser_message(str(exc))}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (byte {exc.start} of a block); save the file as UTF-8") from None


def read_predict_input(source: str, meta: dict, keep: bool = True) -> tuple[np.ndarray, list[dict] | None, str]:
    """Read rows to predict from a CSV or JSON file, or ``-`` for standard input.

    CSV may include the training target column (it is dropped, by name or position, never shifted);
    JSON is a list of rows (``[[...], ...]``), one row (``[...]``), or ``{"x": [[...], ...]}``.

    Args:
        source: path, or ``-``.
        meta: the run's dataset description (``dataset.json``).

    Returns:
        (x, frame_rows, fmt): float32 features (num_rows, num_features), the input rows as dicts (CSV
        only, for ``--keep``), and the detected format ``csv`` or ``json``.

    Raises:
        DataError: unreadable input, wrong column count ("expected 8 features, got 7"), bad values.
    """
    name = "<stdin>" if source == "-" else source
    if source == "-":
        raw = sys.stdin.buffer.read()
    else:
        if not Path(source).exists():
            raise DataError(f"{source}: no such input file")
        raw = read_bytes(source, "CSV or JSON file")
    text = decode(raw, name)
    n_feat = len(meta["feature_names"])
    if text.lstrip()[:1] in "[{" or name.endswith(".json"):
        return _json_rows(text, name, n_feat, meta["feature_names"]), None, "json"
    frame, header, _ = read_csv(text, name, None, None)
    first_line = 2 if header else 1
    features = _choose_features(list(frame.columns), header, meta, name)
    x = to_float_matrix(frame[features], name, first_line)
    return x, frame.to_dict("records") if keep else None, "csv"


def _json_rows(text: str, name: str, n_feat: int, names: list[str] | None = None) -> np.ndarray:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(doc, dict):
        if "x" not in doc:
            raise DataError(f"{name}: expected a list of rows, or an object with key \"x\"")
        doc = doc["x"]
    if not isinstance(doc, list) or not doc:
        raise DataError(f"{name}: expected a non-empty list of rows")
    if not isinstance(doc[0], (list, dict)):
        doc = [doc]
    for i, row in enumerate(doc):
        if isinstance(row, dict) and names:
            missing = [f for f in names if f not in row]
            if missing:
                raise DataError(f"{name}: row {i + 1}: missing feature {missing[0]!r}; the model takes: "
                                f"{', '.join(names)}")
            doc[i] = row = [row[f] for f in names]
        if not isinstance(row, list):
            raise DataError(f"{name}: row {i + 1}: expected a list of {n_feat} numbers"
                            f"{' or an object keyed by feature name' if names else ''}, got {type(row).__name__}")
        if len(row) != n_feat:
            raise DataError(f"{name}: row {i + 1}: expected {n_feat} features, got {len(row)}")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 3.4e38:
                raise DataError(f"{name}: row {i + 1}, feature {j}: expected a finite number, got {json.dumps(v)}")
    return np.asarray(doc, dtype=np.float32)
