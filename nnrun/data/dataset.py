"""Reading examples for training and evaluation: a ``data:`` config section (``read_table``) or another file
with the training file's columns (``read_like``: validation/test files, ``evaluate --data``).

Tables go through ``nnrun.data.readers`` (the same readers and checks as ``predict``); cell checks and
their messages come from ``nnrun.data.features``. No TensorFlow here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.data.formats import ARRAY_FORMATS, folder_format, format_of, known_format
from nnrun.data.readers import ReadOptions, read_whole
from nnrun.data.readers.arrays import check_shape, load_arrays
from nnrun.data.readers.common import NA_VALUES, RawTable, resolve_path
from nnrun.data.readers.csv import is_number
from nnrun.data.table import Table, match_columns, select
from nnrun.errors import DataError

_INT = re.compile(r"^[+-]?[0-9]+$")


def read_table(data_cfg: Any, config_path: Path | None = None, path_override: Path | str | None = None,
               text: bool = False, skip_bad: bool = False) -> Table:
    """Read the examples described by a ``data:`` config section (not yet encoded: see ``Table.encode``).

    Args:
        data_cfg: the DataConfig.
        config_path: the config file, for resolving relative data paths.
        path_override: read this file instead of ``data_cfg.path`` (same columns).
        text: the model starts with ``TextVectorization``: the one feature column holds texts.
        skip_bad: leave out bad rows (``bad_rows.find_bad_rows``; ``Table.skipped``) instead of refusing the first.

    Returns:
        The Table: ``y`` of shape (num_samples,) (or one-hot (num_samples, num_classes) from NPZ); rows with a
        missing value in a ``missing: drop`` column are left out (``Table.dropped``).

    Raises:
        DataError: unreadable files, bad values (file:line named), missing values without a policy,
            a missing target column.
    """
    if path_override is None and data_cfg.path is None:
        return _inline_table(data_cfg)
    from nnrun.data.shards import find_shards, read_shards

    shards = find_shards(path_override if path_override is not None else data_cfg.path,
                         config_path if path_override is None else None, data_cfg.format)
    if shards is not None:  # a folder or a glob of table files with the same columns
        opts = ReadOptions.from_config(data_cfg)
        return _table_from_raw(read_shards(shards, opts, skip_bad), data_cfg, text, shards.fmt, opts, skip_bad)
    path = Path(path_override) if path_override is not None else \
        resolve_path(data_cfg.path, config_path, allow_dir=True)
    if path_override is not None and not path.exists():
        raise DataError(f"{path}: no such data file")
    if path.is_dir():
        return _folder_table(path, data_cfg, text)
    fmt = format_of(path, data_cfg.format)
    opts = ReadOptions.from_config(data_cfg)
    if fmt in ARRAY_FORMATS:
        target_path = resolve_path(data_cfg.target_path, config_path) if data_cfg.target_path else None
        x, y, sha = load_arrays(path, fmt, target_path)
        names = [f"x{j}" for j in range(x.shape[-1])]
        return Table(y=_array_targets(y), feature_names=names, target_name="y", source=str(path), sha256=sha,
                     columns=[*names, "y"], target_index=len(names), header=False, delimiter=None, fmt=fmt,
                     inputs=x, options=opts)
    return _table_from_raw(read_whole(path, fmt, opts, skip_bad), data_cfg, text, fmt, opts, skip_bad)


def _array_targets(y: np.ndarray) -> np.ndarray:
    """NPZ/NPY targets: a column (n, 1) as (n,); labels typed (``typed_labels``); one-hot rows as float32."""
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    return typed_labels(y) if y.ndim == 1 else y.astype(np.float32)


def _table_from_raw(raw: RawTable, data_cfg: Any, text: bool, fmt: str, opts: ReadOptions,  # noqa: PLR0913
                    skip_bad: bool = False) -> Table:  # read_table's arguments, passed on
    from nnrun.data import features

    path = raw.source
    columns = list(raw.frame.columns)
    if len(columns) < 2:
        extra = " Set data.delimiter if the file uses another separator" if raw.delimiter else ""
        raise DataError(f"{path}: found 1 column{f' (delimiter {raw.delimiter!r})' if raw.delimiter else ''}; "
                        f"expected features and a target column.{extra}")
    feats, target = select(columns, raw.header, data_cfg, str(path))
    kinds = features.kinds(raw.frame, feats, data_cfg, raw.where, text=text, skip_bad=skip_bad)
    dropped = features.drop_mask(raw.frame, feats, data_cfg)
    if dropped.all():
        raise DataError(f"{path}: every row has a missing value in a column with missing: drop")
    if dropped.any():
        raw.frame = raw.frame[~dropped]
    skipped: list[str] = []
    if skip_bad:
        from nnrun.data.bad_rows import find_bad_rows, no_fill_columns

        bad, cells = find_bad_rows(raw.frame, kinds, no_fill_columns(feats, data_cfg), target,
                                   features.na_set(data_cfg), raw.where)
        # the reader's left-out records and the bad cells' rows, in file order (as one list of skipped rows)
        labelled = [*raw.left_out, *zip(raw.frame.index[bad].astype(int), cells, strict=True)]
        skipped = [message for _, message in sorted(labelled, key=lambda pair: pair[0])]
        if bad.all():
            raise DataError(f"{path}: every row is bad; the first: {skipped[0]}")
        raw.frame = raw.frame[~bad] if bad.any() else raw.frame
    y = target_values(raw.frame[target], raw.where, target)
    features.check_missing(raw.frame, feats, kinds, data_cfg, raw.where)
    return Table(
        y=y, feature_names=feats, target_name=target, source=str(path), sha256=raw.sha256, columns=columns,
        target_index=columns.index(target), header=raw.header, delimiter=raw.delimiter, fmt=fmt, raw=raw,
        kinds=kinds, dropped=int(dropped.sum()), options=opts, skipped=skipped,
    )


def _folder_table(path: Path, data_cfg: Any, text: bool) -> Table:
    """A folder with one subfolder per class: images (arrays) or .txt texts (a table of text and label)."""
    from nnrun.data.readers.folders import folder_digest, read_image_folder, read_text_folder

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
    return _table_from_raw(raw, data_cfg, True, "texts", ReadOptions.from_config(data_cfg))


def read_like(path: Any, meta: dict, data_cfg: Any = None) -> Table:
    """Read another file with the training file's columns (a validation/test file, ``evaluate --data``) and
    encode it with the run's feature spec.

    The file is read with the run's reading options (``ReadOptions.from_run``: comment, quotechar, and the
    delimiter when it has the training file's format); its columns are matched by ``table.match_columns``
    (by name with a header, else by position), target included.

    Args:
        path: the file (a Path or str), or ``shards.Shards`` (read as one table).
        meta: the run's ``dataset.json``. data_cfg: the run's ``data:`` section (old runs).

    Returns:
        The encoded Table (``x`` as the model takes it, ``y`` of shape (num_samples,)).

    Raises:
        DataError: missing columns (the target named when it is the one missing), bad values, missing
            values without a fill.
    """
    from nnrun.data import features
    from nnrun.data.shards import Shards, read_shards

    shards = path if isinstance(path, Shards) else None
    path = Path(shards.name if shards else path)
    if shards is None and not path.exists():
        raise DataError(f"{path}: no such data file")
    trained = meta.get("format") if meta.get("format") not in (None, "inline", "images", "texts") else "csv"
    fmt = shards.fmt if shards else known_format(path) or trained
    spec = meta["features"]
    if fmt in ARRAY_FORMATS:
        tp = getattr(data_cfg, "target_path", None)
        x, y, sha = load_arrays(path, fmt, Path(tp) if tp else None)
        check_shape(x, spec.get("shape"), str(path))
        return Table(y=_array_targets(y), feature_names=meta["feature_names"], target_name="y", source=str(path),
                     sha256=sha, fmt=fmt, inputs=x, spec=spec)
    opts = _like_options(meta, data_cfg, fmt)
    raw = read_shards(shards, opts) if shards else read_whole(path, fmt, opts)
    columns = list(raw.frame.columns)
    feats, target = meta["feature_names"], meta["target_name"]
    chosen = match_columns(columns, raw.header, meta, str(path), with_target=True)
    if chosen != [*feats, target]:
        raw.frame = raw.frame[chosen].set_axis([*feats, target], axis=1)
    drop = [c["name"] for c in spec["columns"] if c["missing"] == "drop"]
    if drop:  # as in training: rows with a missing value in a `missing: drop` column are left out
        raw.frame = raw.frame[~features.missing_rows(raw.frame, drop, set(spec["na_values"]))]
        if raw.frame.empty:
            raise DataError(f"{path}: every row has a missing value in a column with missing: drop")
    y = target_values(raw.frame[target], raw.where, target)
    x, _, _ = features.transform(raw.frame, spec, raw.where)
    return Table(y=y, feature_names=list(feats), target_name=target, source=str(path), sha256=raw.sha256,
                 columns=columns, target_index=meta["target_index"], header=raw.header, delimiter=raw.delimiter,
                 fmt=fmt, raw=raw, spec=spec, inputs=x, options=opts)


def _like_options(meta: dict, data_cfg: Any, fmt: str) -> ReadOptions:
    """The run's reading options for another file: the header detected anew (the file may differ), the
    delimiter only for a file of the training file's format."""
    from dataclasses import replace

    opts = ReadOptions.from_run(meta, data_cfg)
    return replace(opts, format=fmt, header=None, target=None,
                   delimiter=opts.delimiter if fmt == meta.get("format") else None)


def target_values(raw_col: Any, where: Any, column: str) -> np.ndarray:
    """Target cells to labels or numbers (``typed_labels``), refusing missing and non-finite values.

    Args:
        raw_col: the target column as read (a pandas Series, rows labelled). where: label -> ``file:line``.
        column: its name, for messages.

    Raises:
        DataError: a missing or non-finite target (its line named).
    """
    from pandas.api.types import is_bool_dtype, is_integer_dtype

    if is_integer_dtype(raw_col.dtype) and not is_bool_dtype(raw_col.dtype):  # integer labels (CSV fast path)
        values = raw_col.to_numpy(dtype=np.int64)
        if (np.abs(values) < 2**53).all():
            return values
    y_raw, numbers, bad = bad_targets(raw_col)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where(raw_col.index[i])}: {target_problem(column, y_raw.iloc[i])}")
    return typed_labels(y_raw.to_numpy(), numbers)


def target_problem(column: str, cell: Any) -> str:
    """What is wrong with a target cell (missing or not finite), for messages."""
    return f"target column {column!r}: expected a label or a finite number, got {cell!r}; remove or fix the row"


def bad_targets(raw_col: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """Target cells as stripped text, as numbers (NaN: not one), and which are missing or not finite.

    Returns:
        (text Series, float64 numbers, bad mask), each of shape (num_rows,).
    """
    import pandas as pd
    from pandas.api.types import is_string_dtype

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
    return y_raw, numbers, np.asarray(bad)


def typed_labels(values: np.ndarray, numbers: np.ndarray | None = None) -> np.ndarray:
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
    if all(is_number(t) for t in texts):
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
