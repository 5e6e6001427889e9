"""Tables and arrays to features and targets: reading, label maps, stratified splits.

Shapes: features ``x`` are float32 ``(num_samples, num_features)``; raw targets ``y`` are ``(num_samples,)``.
No TensorFlow here: the arrays go to ``model.fit`` as NumPy.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.data.sources import (  # noqa: F401 (re-exported: detect_header, sniff_delimiter for callers and tests)
    NA_VALUES,
    RawTable,
    _is_number,
    decode,
    detect_header,
    format_of,
    json_lines,
    read_arrays,
    read_bytes,
    read_csv,
    read_raw,
    resolve_path,
    sniff_delimiter,
)
from nnrun.errors import DataError, UsageError

_INT = re.compile(r"^[+-]?[0-9]+$")
_KNOWN_SUFFIXES = ("csv", "tsv", "tab", "txt", "data", "parquet", "pq", "jsonl", "ndjson", "npz", "npy", "gz")


@dataclass
class Table:
    """Examples read from a file or from inline config arrays.

    Attributes:
        y: raw target values, shape (num_samples,): strings or numbers as in the source (or one-hot rows,
            shape (num_samples, num_classes), from NPZ arrays).
        feature_names: one name per feature column (header names, or ``col<i>`` without a header).
        target_name: name of the target column.
        source: the file path as resolved, or ``inline``.
        sha256: SHA-256 of the file's bytes (None for inline data).
        columns: all column names of the file in order, target included.
        target_index: position of the target among ``columns``.
        header: whether the file had a header row. delimiter: the CSV field separator (None otherwise).
        fmt: csv, tsv, parquet, jsonl, npz, npy or inline.
        raw: the file's columns before encoding (tables; None for arrays and inline data).
        kinds: ``numeric``/``categorical`` per feature column (tables).
        spec: the feature spec that made ``x`` (``nnrun.features``).
        dropped: rows left out because a ``missing: drop`` column was empty there.
    """

    y: np.ndarray
    feature_names: list[str]
    target_name: str
    source: str
    sha256: str | None = None
    columns: list[str] = field(default_factory=list)
    target_index: int = -1
    header: bool = False
    delimiter: str | None = ","
    fmt: str = "csv"
    raw: Any = None
    kinds: dict[str, str] | None = None
    spec: dict | None = None
    dropped: int = 0
    inputs: Any = None

    def append(self, other: Table) -> int:
        """Add another file's encoded examples after this table's (a validation or test file); returns the
        index of its first row. Labels of different types (``1`` and ``"1"``) are kept as objects."""
        from nnrun.data.features import concat

        start = len(self.y)
        self.inputs = concat([self.x, other.x])
        same = self.y.dtype == other.y.dtype
        self.y = np.concatenate([self.y, other.y] if same else [self.y.astype(object), other.y.astype(object)])
        return start

    def where_row(self, i: int) -> str:
        """``file:line`` (or ``file: row N``) of the table's i-th example, for messages."""
        if self.raw is not None and i < len(self.raw.frame):
            return self.raw.where(self.raw.frame.index[i])
        return f"{self.source}: row {i + 1}"

    @property
    def x(self) -> Any:
        """Model inputs: float32 ``(num_samples, num_features)`` (any rank for arrays), or a dict with
        categorical inputs (see ``nnrun.features``). Encoded on first use with a spec fitted on every row
        unless ``encode`` ran first with the training rows."""
        if self.inputs is None:
            self.encode(np.arange(len(self.y)), None)
        return self.inputs

    def encode(self, train_idx: np.ndarray, data_cfg: Any) -> dict:
        """Fit the feature spec on rows ``train_idx`` (fill values, vocabularies, normalization) and encode
        every row with it. Returns the spec."""
        from nnrun.data import features

        if self.raw is None:  # arrays / inline: numbers already
            if self.spec is None:
                self.spec = _array_spec(self.inputs, self.feature_names, data_cfg, train_idx)
            return self.spec
        cfg = data_cfg if data_cfg is not None else _DefaultData()
        self.spec = features.fit(self.raw.frame.iloc[train_idx], self.feature_names, self.kinds, cfg, self.source)
        self.inputs, _, _ = features.transform(self.raw.frame, self.spec, self.raw.where)
        return self.spec


class _DefaultData:
    """The ``data:`` options that matter to encoding, at their defaults (for a Table read without a config)."""

    categorical = None
    missing = "error"
    fill_value = None
    normalize = False
    na_values = None


def _array_spec(x: np.ndarray, names: list[str], data_cfg: Any, train_idx: np.ndarray) -> dict:
    """The spec of numeric arrays (NPZ/NPY, inline): the input shape and, with ``normalize``, per-channel
    mean and variance of the training rows (over every axis but the last)."""
    from nnrun.data.features import plain_spec

    spec = plain_spec(x.shape[-1], names)
    spec["shape"] = list(x.shape[1:])
    if len(train_idx):
        spec["range"] = [float(x[train_idx].min()), float(x[train_idx].max())]
    if data_cfg is not None and data_cfg.normalize:
        xt = x[train_idx].astype(np.float64)
        axes = tuple(range(xt.ndim - 1))
        spec.update(normalize=True, mean=xt.mean(axis=axes).tolist(), variance=xt.var(axis=axes).tolist())
    return spec


# ------------------------------------------------------------------------------------------ reading
def read_table(data_cfg, config_path: Path | None = None, path_override: Path | str | None = None,
               text: bool = False) -> Table:
    """Read the examples described by a ``data:`` config section (not yet encoded: see ``Table.encode``).

    Args:
        data_cfg: the DataConfig.
        config_path: the config file, for resolving relative data paths.
        path_override: read this file instead of ``data_cfg.path`` (same columns).
        text: the model starts with ``TextVectorization``: the one feature column holds texts.

    Returns:
        The Table; rows with a missing value in a ``missing: drop`` column are left out (``Table.dropped``).

    Raises:
        DataError: unreadable files, bad values (file:line named), missing values without a policy,
            a missing target column.
    """

    if path_override is None and data_cfg.path is None:
        return _inline_table(data_cfg)
    path = Path(path_override) if path_override is not None else \
        resolve_path(data_cfg.path, config_path, allow_dir=True)
    if path_override is not None and not path.exists():
        raise DataError(f"{path}: no such data file")
    if path.is_dir():
        return _folder_table(path, data_cfg, text)
    fmt = format_of(path, data_cfg.format)
    if fmt in ("npz", "npy"):
        target_path = resolve_path(data_cfg.target_path, config_path) if data_cfg.target_path else None
        x, y, sha = read_arrays(path, fmt, target_path)
        names = [f"x{j}" for j in range(x.shape[-1])]
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        y = _typed(y) if y.ndim == 1 else y.astype(np.float32)
        return Table(y=y, feature_names=names, target_name="y", source=str(path), sha256=sha,
                     columns=[*names, "y"], target_index=len(names), header=False, delimiter=None, fmt=fmt, inputs=x)
    raw = read_raw(path, fmt, data_cfg.header, data_cfg.delimiter, data_cfg.comment, data_cfg.target,
                   data_cfg.quotechar)
    return _table_from_raw(raw, data_cfg, text, fmt)


def _table_from_raw(raw: RawTable, data_cfg: Any, text: bool, fmt: str) -> Table:
    from nnrun.data import features

    path = raw.source
    columns = list(raw.frame.columns)
    if len(columns) < 2:
        extra = " Set data.delimiter if the file uses another separator" if raw.delimiter else ""
        raise DataError(f"{path}: found 1 column{f' (delimiter {raw.delimiter!r})' if raw.delimiter else ''}; "
                        f"expected features and a target column.{extra}")
    feats, target = features.select(columns, raw.header, data_cfg, str(path))
    kinds = features.kinds(raw.frame, feats, data_cfg, raw.where, text=text)
    dropped = features.drop_mask(raw.frame, feats, data_cfg)
    if dropped.all():
        raise DataError(f"{path}: every row has a missing value in a column with missing: drop")
    if dropped.any():
        raw.frame = raw.frame[~dropped]
    y = _target_values(raw.frame[target], raw, target)
    _check_missing(raw, feats, kinds, data_cfg)
    return Table(
        y=y, feature_names=feats, target_name=target, source=str(path), sha256=raw.sha256, columns=columns,
        target_index=columns.index(target), header=raw.header, delimiter=raw.delimiter, fmt=fmt, raw=raw,
        kinds=kinds, dropped=int(dropped.sum()),
    )


def _folder_table(path: Path, data_cfg: Any, text: bool) -> Table:
    """A folder with one subfolder per class: images (arrays) or .txt texts (a table of text and label)."""
    from nnrun.data.sources import folder_digest, folder_format, read_image_folder, read_text_folder

    fmt = data_cfg.format if data_cfg.format in ("images", "texts") else folder_format(path)
    if fmt == "images":
        x, labels, files = read_image_folder(path, data_cfg.image_size, data_cfg.color_mode)
        return Table(y=labels, feature_names=["image"], target_name="label", source=str(path),
                     sha256=folder_digest(path), columns=["image", "label"], target_index=1, header=False,
                     delimiter=None, fmt="images", inputs=x)
    if not text:
        raise DataError(f"{path}: a folder of texts needs a model that starts with a TextVectorization layer")
    frame = read_text_folder(path)
    raw = RawTable(frame, str(path), folder_digest(path), "texts", True, None, 0, "file", names=frame.attrs["files"])
    return _table_from_raw(raw, data_cfg, True, "texts")


def _check_missing(raw: RawTable, feats: list[str], kinds: dict[str, str], data_cfg: Any) -> None:
    """Missing values in columns whose policy is ``error``: the column and the first rows, before any split."""
    from nnrun.data import features

    na = features.na_set(data_cfg)
    for col in feats:
        if features.policy(data_cfg, col) != "error" or kinds[col] == "text":
            continue
        mask = features.parse_numeric(raw.frame[col], na)[1] if kinds[col] == "numeric" else \
            features.parse_category(raw.frame[col], na)[1]
        rows = np.flatnonzero(mask)
        if rows.size:
            lines = ", ".join(raw.where(raw.frame.index[i]).rsplit(":", 1)[-1].strip() for i in rows[:5])
            more = f" and {rows.size - 5} more" if rows.size > 5 else ""
            raise DataError(
                f"{raw.where(raw.frame.index[rows[0]])}: column {col!r}: missing value "
                f"({raw.frame[col].iloc[rows[0]]!r}) in {rows.size} row(s): {lines}{more}; set data.missing "
                f"(drop, mean, median, most_frequent, constant; for all columns or as {{{col}: median}}) or fix "
                "the rows"
            )


def read_like(path: Path | str, meta: dict, data_cfg: Any = None) -> Table:
    """Read another file with the training file's columns (a validation/test file, ``evaluate --data``) and
    encode it with the run's feature spec.

    With a header (in the training file and this one) columns are matched by name, in any order;
    without one, by position.

    Raises:
        DataError: missing columns (the target named when it is the one missing), bad values, missing
            values without a fill.
    """
    from nnrun.data import features

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    trained = meta.get("format") if meta.get("format") not in (None, "inline", "images", "texts") else "csv"
    fmt = format_of(path, None) if path.suffix.lower().lstrip(".") in _KNOWN_SUFFIXES else trained
    spec = meta["features"]
    if fmt in ("npz", "npy"):
        tp = getattr(data_cfg, "target_path", None)
        x, y, sha = read_arrays(path, fmt, Path(tp) if tp else None)
        if list(x.shape[1:]) != spec.get("shape", list(x.shape[1:])):
            raise DataError(f"{path}: x has examples of shape {tuple(x.shape[1:])}; the model takes "
                            f"{tuple(spec['shape'])}")
        y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        y = _typed(y) if y.ndim == 1 else y.astype(np.float32)
        return Table(y=y, feature_names=meta["feature_names"], target_name="y", source=str(path), sha256=sha,
                     fmt=fmt, inputs=x, spec=spec)
    comment = getattr(data_cfg, "comment", None)
    delimiter = getattr(data_cfg, "delimiter", None) if fmt == meta.get("format") else None
    raw = read_raw(path, fmt, None, delimiter, comment, quotechar=getattr(data_cfg, "quotechar", '"')
                   if data_cfg is not None else meta.get("quotechar", '"'))
    columns = list(raw.frame.columns)
    feats, target = meta["feature_names"], meta["target_name"]
    if raw.header and meta.get("header"):
        missing = [c for c in [*feats, target] if c not in columns]
        if missing:
            what = "the target column" if missing == [target] else "columns"
            verb = "is" if len(missing) == 1 else "are"
            raise DataError(f"{path}: {what} {', '.join(map(repr, missing))} {verb} missing; the file needs the "
                            f"training file's columns, target included: {', '.join(meta['columns'])}")
    else:
        if len(columns) != len(meta["columns"]):
            if len(columns) == len(feats):
                raise DataError(f"{path}: has {len(columns)} columns, the features only; it needs the target "
                                f"column too ({len(meta['columns'])} columns, target at index {meta['target_index']})")
            raise DataError(f"{path}: expected {len(meta['columns'])} columns (features and target), got "
                            f"{len(columns)}")
        raw.frame.columns = list(meta["columns"])
    drop = [c["name"] for c in spec["columns"] if c["missing"] == "drop"]
    if drop:  # as in training: rows with a missing value in a `missing: drop` column are left out
        raw.frame = raw.frame[~features.missing_rows(raw.frame, drop, set(spec["na_values"]))]
        if raw.frame.empty:
            raise DataError(f"{path}: every row has a missing value in a column with missing: drop")
    y = _target_values(raw.frame[target], raw, target)
    x, _, _ = features.transform(raw.frame, spec, raw.where)
    return Table(y=y, feature_names=list(feats), target_name=target, source=str(path), sha256=raw.sha256,
                 columns=columns, target_index=meta["target_index"], header=raw.header, delimiter=raw.delimiter,
                 fmt=fmt, raw=raw, spec=spec, inputs=x)


def _target_values(raw_col, raw: RawTable, column: str) -> np.ndarray:
    """Target cells to labels or numbers, refusing missing and non-finite values (line named)."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_integer_dtype, is_string_dtype

    if is_integer_dtype(raw_col.dtype) and not is_bool_dtype(raw_col.dtype):  # integer labels (CSV fast path)
        values = raw_col.to_numpy(dtype=np.int64)
        if (np.abs(values) < 2**53).all():
            return values
    if is_string_dtype(raw_col.dtype) and raw_col.dtype != object:  # CSV text: str or missing, vectorised
        y_raw = raw_col.fillna("").str.strip()
    else:
        y_raw = raw_col.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else
                            ("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))).str.strip()
    lowered = y_raw.str.lower()
    bad = y_raw.isin(NA_VALUES) | lowered.isin(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan",
                                                "+nan", "-nan"])
    numbers = np.array(pd.to_numeric(y_raw, errors="coerce"), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        bad |= ~np.isnan(numbers) & ~np.isfinite(numbers.astype(np.float32))  # beyond float32's ±3.4e38
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad))[0])
        raise DataError(f"{raw.where(raw_col.index[i])}: target column {column!r}: expected a label or "
                        f"a finite number, got {y_raw.iloc[i]!r}; remove or fix the row")
    return _typed(y_raw.to_numpy(), numbers)


def _typed(values: np.ndarray, numbers: np.ndarray | None = None) -> np.ndarray:
    """Label strings that are all integers become int64, all numbers float64; else they stay strings.

    Args:
        numbers: ``values`` already parsed by ``pandas.to_numeric`` (NaN where not a number), if at hand.
    """
    import pandas as pd

    series = pd.Series(values, dtype=object).astype(str)
    if numbers is None:
        numbers = np.array(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
    if not np.isnan(numbers).any():  # every label a number (vectorised; the loop below is for the rest)
        ints = series.str.fullmatch(_INT.pattern).all() and (np.abs(numbers) < 2**53).all()
        return numbers.astype(np.int64) if ints else numbers
    texts = series.tolist()
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
        inputs=np.asarray(rows, dtype=np.float32), y=y, feature_names=names, target_name="y", source="inline",
        columns=names + ["y"], target_index=n_feat, delimiter=None, fmt="inline",
    )


# ------------------------------------------------------------------------------------------- labels
def class_list(y: np.ndarray) -> list:
    """Distinct labels, sorted (numerically for numbers), as plain JSON-able Python values.

    Class index i is ``classes[i]``: labels 1..3 give classes [1, 2, 3] and indices 0..2 (no phantom class 0).
    """
    values = np.unique(y)
    return [v.item() if hasattr(v, "item") else v for v in values]


def encode_labels(y: np.ndarray, classes: list, name: str, where: Any = None) -> np.ndarray:
    """Map raw labels to class indices, shape (num_samples,) int32.

    Args:
        where: row index -> ``file:line`` for messages (default ``<name>: row <i+1>``).

    Raises:
        DataError: a label not among ``classes`` (it is reported, never silently mapped).
    """
    import pandas as pd

    out = np.asarray(pd.Index(classes).get_indexer(np.asarray(y)), dtype=np.int32) if len(classes) else \
        np.full(len(y), -1, dtype=np.int32)
    slow = np.flatnonzero(out < 0)  # labels matched only as text ("1" for 1) or not at all
    if not slow.size:
        return out
    index = {c: i for i, c in enumerate(classes)}
    index.update({str(c): i for i, c in enumerate(classes)})
    for i in slow:
        v = y[i]
        key = v.item() if hasattr(v, "item") else v
        if key not in index and isinstance(key, float) and key.is_integer():
            key = int(key)
        if key not in index:
            at = where(i) if where is not None else f"{name}: row {i + 1}"
            raise DataError(f"{at}: label {key!r} was not seen in training; known classes: "
                            + ", ".join(map(str, classes)))
        out[i] = index[key]
    return out


def encode_targets(y: np.ndarray, encoding: str, classes: list | None, name: str, where: Any = None) -> np.ndarray:
    """Targets in the form the loss needs (``where``: as ``encode_labels``).

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
    idx = encode_labels(y, classes, name, where)
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


def split_three(y: np.ndarray, validation: float, test: float, seed: int,
                stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test indices: the test rows first (``test`` of all examples), then the validation
    rows (``validation`` of all examples) from the rest; both shuffled with ``seed`` and stratified by label
    for classification. With ``test`` 0 this is exactly ``split_indices(y, validation, seed, stratify)``.

    Returns:
        (train_idx, val_idx, test_idx): sorted int64 arrays that partition ``range(len(y))``.
    """
    rest, test_idx = split_indices(y, test, seed, stratify)
    if validation <= 0:
        return rest, np.zeros(0, dtype=np.int64), test_idx
    sub_train, sub_val = split_indices(y[rest], min(validation / (1.0 - test), 0.999), seed, stratify)
    return rest[sub_train], rest[sub_val], test_idx


# ------------------------------------------------------------------------------------ predict input
#: Tables are predicted in chunks of about this many rows (memory stays flat however long the file is).
PREDICT_CHUNK_ROWS = 65_536


def _choose_features(columns: list[str], header: bool, meta: dict, name: str) -> list[str]:
    """Which input columns are the model's features: by header name when the input's header has them all,
    else by position (a training target column at its position is dropped, with a note, never shifted into
    the features)."""
    n_feat = len(meta["feature_names"])
    if header and set(meta["feature_names"]) <= set(columns):  # by name (also col0.. of a headerless run)
        return list(meta["feature_names"])
    missing = [f for f in meta["feature_names"] if f not in columns]
    if header and meta.get("header") and len(missing) < n_feat:  # names some features: by name or not at all
        raise DataError(f"{name}: missing feature column(s) {', '.join(map(repr, missing[:12]))}"
                        f"{', …' if len(missing) > 12 else ''}; the model takes: "
                        f"{', '.join(meta['feature_names'][:12])}{', …' if n_feat > 12 else ''}")
    if len(columns) == n_feat:
        return list(columns)
    if len(columns) == n_feat + 1 and len(meta["columns"]) == n_feat + 1:
        t = meta["target_index"]
        print(f"note: {name} has {len(columns)} columns and the model takes {n_feat}, by position: column {t} "
              f"({columns[t]!r}, where the training file had its target {meta['target_name']!r}) is ignored",
              file=sys.stderr)
        return [c for i, c in enumerate(columns) if i != t]
    raise DataError(
        f"{name}: expected {n_feat} features, got {len(columns)} "
        f"(the model takes: {', '.join(meta['feature_names'][:12])}{', …' if n_feat > 12 else ''})"
    )


def kept_columns(columns: list[str], keep: str | None) -> list[str]:
    """The input columns ``--keep`` asks for (``*`` for all), checked against the input's columns.

    Raises:
        UsageError: an unknown column.
    """
    if not keep:
        return []
    if keep.strip() == "*":
        return list(columns)
    wanted = list(dict.fromkeys(c.strip() for c in keep.split(",") if c.strip()))
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise UsageError(f"--keep: no input column {missing[0]!r}; columns are: {', '.join(columns)}")
    return wanted


def predict_batches(source: str, meta: dict, keep: str | None = None, chunk_rows: int | None = None,
                    skip_bad: bool = False, fmt: str | None = None, strict_keep: bool = True):
    """Rows to predict, in batches: a CSV/TSV, JSON Lines, Parquet, JSON or NPZ file, or ``-`` (stdin).

    Tables (CSV/TSV, JSON Lines, Parquet; from stdin too) are read about ``chunk_rows`` rows at a time
    (``nnrun.chunks``), so memory stays flat as the file grows. A table may include the training target
    column (dropped by name or position, never shifted into the features). JSON is ``[[...], ...]``, one row
    ``[...]``, ``{"x": [[...], ...]}`` or ``[{"feature": value, ...}, ...]``, read whole.

    Args:
        source: path, or ``-``.
        meta: the run's dataset description (``dataset.json``).
        keep: input columns to pass through (``--keep``: comma-separated names, or ``*``), None for none.
        chunk_rows: rows per chunk (default ``PREDICT_CHUNK_ROWS``).
        skip_bad: leave out rows that cannot be encoded or have the wrong number of fields (reported)
            instead of stopping at the first.
        fmt: the input format; None = from the extension (stdin: JSON when it starts with ``[`` or with a
            whole JSON document, JSON Lines when its first line is a JSON object, else CSV).
        strict_keep: ``keep`` on an input without column names (JSON, NPZ) is an error; False ignores it.

    Returns:
        (fmt, batches): the input format and an iterator of ``(x, rows, problems)``: model inputs for the
        good rows (float32 ``(n, num_features)``, or a dict with categorical inputs: see ``nnrun.features``),
        the kept columns of the good rows (a DataFrame in the order asked for, or None) and one message per
        bad row (``file:line: column 'c': …``).

    Raises:
        DataError: unreadable input, wrong column count ("expected 8 features, got 7"), bad values (line
            named); possibly while iterating. UsageError: an unknown ``--keep`` column, ``--keep`` on JSON.
    """
    from nnrun.data.chunks import iter_frames, joined
    from nnrun.data.features import plain_spec

    spec = meta.get("features") or plain_spec(len(meta["feature_names"]), meta["feature_names"])
    chunk_rows = chunk_rows or PREDICT_CHUNK_ROWS
    name = "<stdin>" if source == "-" else source
    stream = None
    if source == "-":
        stdin = sys.stdin.buffer
        head = stdin.read(65536)
        stream = joined(head, stdin)
        if spec.get("text") and fmt in (None, "lines") and (fmt == "lines" or _sniff_stdin(head) == "csv"):
            return "lines", _text_batches(stream.read(), chunk_rows, keep, name)  # one text per line
        if fmt is None:
            fmt = _sniff_stdin(head)
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{source}: no such input file")
        if path.is_dir():
            return "images", _image_batches(path, spec, chunk_rows, skip_bad)
        if not path.is_file():
            raise DataError(f"{source}: not a regular file; expected a CSV, JSON Lines, Parquet, JSON or NPZ file")
        if spec.get("text") and fmt in (None, "lines") and path.suffix.lower() == ".txt":
            return "lines", _text_batches(path, chunk_rows, keep)
        fmt = fmt or ("json" if path.suffix.lower() == ".json" else format_of(path, None))
        if fmt == "csv" and _starts_json(path):
            fmt = "json"
    if fmt in ("json", "npz", "npy"):
        if keep and strict_keep:
            raise UsageError(f"--keep needs a table input (CSV, TSV, JSON Lines, Parquet): {fmt.upper()} rows have "
                             "no column names")
        if fmt != "json":
            if stream is not None:
                raise UsageError(f"--input -: {fmt} input must be a file")
            return fmt, iter([(_predict_arrays(path, fmt, spec), None, [])])
        text = decode(stream.read() if stream is not None else read_bytes(path, "JSON file"), name)
        frame = _json_frame(text, name, meta)
        x, ok, problems = features_transform(frame, spec, lambda i: f"{name}: row {int(i) + 1}", skip_bad)
        return "json", iter([(x, None, problems)])
    if fmt not in ("csv", "tsv", "jsonl", "parquet"):
        raise UsageError(f"--input-format: unknown format {fmt!r}")
    chosen: dict[str, list[str]] = {}

    def plan(columns: list[str], header: bool) -> tuple[list[str], list[str]]:
        feats = _choose_features(columns, header, meta, name)
        kept = kept_columns(columns, keep)
        numeric = set(spec["numeric"])
        numbers = [f for m, f in zip(meta["feature_names"], feats, strict=True) if m in numeric and f not in kept]
        chosen.update(feats=feats, kept=kept)
        return numbers, [c for c in dict.fromkeys([*feats, *kept]) if c not in numbers]

    if meta.get("quotechar", '"') is None and fmt in ("csv", "tsv"):
        # no quoting (raw sentences with stray quotes): the whole input is read as the training file was
        raw = read_csv(decode(stream.read() if stream is not None else read_bytes(path), name), name, None,
                       "\t" if fmt == "tsv" else meta.get("delimiter"), quotechar=None)
        frame, header, delimiter = raw
        info = RawTable(frame, name, None, fmt, header, delimiter, frame.attrs.get("first_line", 1))
        plan(list(frame.columns), header)
        frames = iter([(frame, [])])
    else:
        info, frames = iter_frames(stream if stream is not None else path, fmt, chunk_rows, name=name, plan=plan)

    def batches():
        for frame, problems in frames:
            feats, kept = chosen["feats"], chosen["kept"]
            inputs = frame
            if feats != list(meta["feature_names"]):
                import pandas as pd

                inputs = pd.DataFrame({m: frame[f] for m, f in zip(meta["feature_names"], feats, strict=True)},
                                      index=frame.index, copy=False)
            x, ok, bad = features_transform(inputs, spec, info.where, skip_bad or bool(problems))
            if problems:  # rows with the wrong number of fields (reader) and bad cells (transform), in file order
                bad = sorted(problems + bad, key=lambda m: _line_of(m, name))
                if not skip_bad:
                    raise DataError(bad[0])
            rows = None
            if kept:
                rows = frame[kept] if ok.all() else frame[kept][ok]
            yield x, rows, bad

    return fmt, batches()


def _image_batches(path: Path, spec: dict, chunk_rows: int, skip_bad: bool):
    """A folder of image files as predict input: pixels resized to the training images' size, and a ``file``
    column for the output."""
    import pandas as pd

    from nnrun.data.rawinputs import image_batches

    shape = spec.get("shape") or [len(spec["numeric"])]
    low, high = spec.get("range") or (None, None)
    warned = False
    for x, files, problems in image_batches(path, shape, chunk_rows, skip_bad):
        if high is not None and x.size and not warned and float(x.max()) > 2 * max(high, 1.0):
            print(f"warning: {path}: pixel values go up to {float(x.max()):g} but the training images went up to "
                  f"{high:g}; the model sees the files' values as they are (rescale the files, or train on "
                  "images stored the same way)", file=sys.stderr)
            warned = True
        yield x, pd.DataFrame({"file": files}), problems


def _text_batches(path: Path | bytes, chunk_rows: int, keep: str | None, name: str | None = None):
    """A text file, one text per line, as predict input for a text model (``--keep text,line`` copies them)."""
    import pandas as pd

    from nnrun.data.rawinputs import text_lines

    for texts, lines in text_lines(path, chunk_rows, name):
        rows = None
        if keep:
            table = pd.DataFrame({"line": lines, "text": texts.reshape(-1)})
            rows = table[kept_columns(list(table.columns), keep)]
        yield texts, rows, []


def _line_of(message: str, name: str) -> int:
    """The line number in a ``file:LINE: …`` message (0 if none)."""
    head = message[len(name) + 1:].split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def features_transform(frame, spec: dict, where, skip_bad: bool):
    """``nnrun.data.features.transform`` (imported on first use)."""
    from nnrun.data.features import transform

    return transform(frame, spec, where, skip_bad=skip_bad)


def _sniff_stdin(head: bytes) -> str:
    """stdin's format from its first bytes: ``[`` JSON; ``{`` JSON Lines when the first line is a whole JSON
    object and more follows, else JSON; anything else CSV."""
    start = head.lstrip()[:1]
    if start == b"[":
        return "json"
    if start == b"{":
        first, _, rest = head.lstrip().partition(b"\n")
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl" if rest.strip() else "json"
    return "csv"


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
    return concat(xs), (rows if keep and fmt not in ("json", "npz", "npy") else None), fmt


def _starts_json(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(64).lstrip()[:1] in (b"[", b"{")


def _predict_arrays(path: Path, fmt: str, spec: dict) -> np.ndarray:
    raw = read_bytes(path, f"{fmt.upper()} file")
    try:
        loaded = np.load(io.BytesIO(raw), allow_pickle=False)
        if fmt == "npz" or not isinstance(loaded, np.ndarray):
            with loaded as doc:
                x = np.asarray(doc["x"])
        else:
            x = loaded
    except Exception as exc:  # ValueError, OSError, KeyError, zipfile.BadZipFile …
        raise DataError(f"{path}: cannot load the arrays (an NPZ needs an array x): {exc}") from None
    shape = spec.get("shape") or [len(spec["numeric"])]
    if list(x.shape[1:]) != list(shape):
        raise DataError(f"{path}: examples of shape {tuple(x.shape[1:])}; the model takes {tuple(shape)}")
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: x holds NaN or infinite values")
    return x


def _json_frame(text: str, name: str, meta: dict):
    """A JSON document of rows (lists in feature order, or objects keyed by feature name) as a DataFrame."""
    import pandas as pd

    names = list(meta["feature_names"])
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(doc, dict):
        if "x" not in doc:
            if set(names) <= set(doc):
                doc = [doc]
            else:
                raise DataError(f"{name}: expected a list of rows, or an object with key \"x\"")
        else:
            doc = doc["x"]
    if not isinstance(doc, list) or not doc:
        raise DataError(f"{name}: expected a non-empty list of rows")
    if not isinstance(doc[0], (list, dict)):
        doc = [doc]
    rows = []
    for i, row in enumerate(doc):
        if isinstance(row, dict):
            missing = [f for f in names if f not in row]
            if missing:
                raise DataError(f"{name}: row {i + 1}: missing feature {missing[0]!r}; the model takes: "
                                f"{', '.join(names)}")
            row = [row[f] for f in names]
        if not isinstance(row, list):
            raise DataError(f"{name}: row {i + 1}: expected a list of {len(names)} values or an object keyed by "
                            f"feature name, got {type(row).__name__}")
        if len(row) != len(names):
            raise DataError(f"{name}: row {i + 1}: expected {len(names)} features, got {len(row)}")
        for j, v in enumerate(row):
            if isinstance(v, (list, dict)) or isinstance(v, bool):
                raise DataError(f"{name}: row {i + 1}, feature {j}: expected a number or a string, got "
                                f"{json.dumps(v)}")
        rows.append(row)
    return pd.DataFrame(rows, columns=names, dtype=object)
