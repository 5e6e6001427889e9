"""The Table (examples read from a file, before and after encoding) and the ONE rule that matches a file's
columns to the training columns (``evaluate --data`` and ``predict``).

Shapes: features ``x`` are float32 ``(num_samples, num_features)``; raw targets ``y`` are ``(num_samples,)``.
No TensorFlow here: the arrays go to ``model.fit`` as NumPy.

Reading lives in ``nnrun.data.dataset`` (``read_table``, ``read_like``) and ``nnrun.data.batches``
(``predict_batches``); labels in ``nnrun.data.labels``; splits in ``nnrun.data.splits``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrun.data.readers import ReadOptions
from nnrun.errors import DataError, UsageError

#: Tables are predicted in chunks of about this many rows (memory stays flat however long the file is).
PREDICT_CHUNK_ROWS = 65_536

#: Names that moved out of this module -> their module (imported on first use: no import cycle).




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
        spec: the feature spec that made ``x`` (``nnrun.data.features``).
        dropped: rows left out because a ``missing: drop`` column was empty there.
        inputs: the encoded model inputs (see ``x``). options: the ``ReadOptions`` the file was read with.
        skipped: one message per bad row left out (``read_table(skip_bad=True)``).
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
    options: ReadOptions | None = None
    skipped: list[str] = field(default_factory=list)

    def read_options(self) -> dict:
        """The reading options this table was read with (``dataset.json``'s ``reading``, so that ``predict``
        and ``evaluate --data`` read alike): format, header, delimiter, comment, quotechar, na_values."""
        return (self.options or ReadOptions()).to_dict()

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
        categorical inputs (see ``nnrun.data.features``). Encoded on first use with a spec fitted on every row
        unless ``encode`` ran first with the training rows."""
        if self.inputs is None:
            self.encode(np.arange(len(self.y)), None)
        return self.inputs

    def encode(self, train_idx: np.ndarray, data_cfg: Any) -> dict:
        """Fit the feature spec on rows ``train_idx`` (fill values, vocabularies, normalization) and encode
        every row with it. Returns the spec."""
        from nnrun.data import features
        from nnrun.data.spec import fit

        if self.raw is None:  # arrays / inline: numbers already
            if self.spec is None:
                self.spec = _array_spec(self.inputs, self.feature_names, data_cfg, train_idx)
            return self.spec
        cfg = data_cfg if data_cfg is not None else _DefaultData()
        self.spec = fit(self.raw.frame.iloc[train_idx], self.feature_names, self.kinds, cfg, self.source)
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


def resolve_column(col: int | str, columns: list[str], header: bool, name: str, key: str) -> str:
    """A column given by name or 0-based index (negative from the end) as its name.

    Raises:
        DataError: unknown name (with a suggestion), a name without a header row, an index out of range.
    """
    if isinstance(col, str):
        if col in columns:
            return col
        if not header:
            raise DataError(f"{name}: {key} is the column name {col!r}, but the file has no header row; give the "
                            f"column index (0..{len(columns) - 1}) or set data.header: true")
        from nnrun.config.registry import suggest

        raise DataError(f"{name}: {key}: no column named {col!r}{suggest(col, columns)}; columns are: "
                        f"{', '.join(columns)}")
    if not -len(columns) <= col < len(columns):
        raise DataError(f"{name}: {key}: column index {col} is out of range; the file has {len(columns)} columns "
                        f"(0..{len(columns) - 1}, or -1 for the last)")
    return columns[col]


def select(columns: list[str], header: bool, data_cfg: Any, name: str) -> tuple[list[str], str]:
    """The feature columns and the target column a ``data:`` section picks from a file's columns.

    Returns:
        (feature names in order, target name).

    Raises:
        DataError: unknown columns, or no feature column left.
    """
    target = resolve_column(data_cfg.target, columns, header, name, "data.target")
    drop = {resolve_column(c, columns, header, name, f"data.drop[{i}]") for i, c in enumerate(data_cfg.drop)}
    if data_cfg.features is not None:
        features = [resolve_column(c, columns, header, name, f"data.features[{i}]")
                    for i, c in enumerate(data_cfg.features)]
        if target in features:
            raise DataError(f"{name}: data.features: includes the target column {target!r}")
        dup = sorted({c for c in features if features.count(c) > 1})
        if dup:
            raise DataError(f"{name}: data.features: column {dup[0]!r} is listed twice (by name and by index?)")
    else:
        features = [c for c in columns if c != target and c not in drop]
    for key in ("missing", "fill_value", "categorical"):
        mapping = getattr(data_cfg, key, None)
        if isinstance(mapping, dict):
            unknown = [c for c in mapping if c not in features]
            if unknown:
                from nnrun.config.registry import suggest

                raise DataError(f"{name}: data.{key}: {unknown[0]!r} is not a feature column"
                                f"{suggest(unknown[0], features)}; features are: {', '.join(features)}")
    if not features:
        raise DataError(f"{name}: no feature columns left (columns: {', '.join(columns)}; target {target!r}; "
                        f"dropped: {', '.join(sorted(drop)) or 'none'})")
    return features, target


def match_columns(columns: list[str], header: bool, meta: dict, name: str, with_target: bool = False,
                  warn: Callable[[str], None] = lambda m: None) -> list[str]:
    """The ONE rule that matches a file's columns to the training columns (``evaluate --data``, ``predict``).

    By name when the file has a header naming every training column needed (any order, extra columns
    ignored); else by position: the file must have the training file's columns (``with_target``), or the
    features only, or the features with the training target column at its position (dropped, with a note
    through ``warn``, never shifted into the features).

    Args:
        columns: the file's column names (``col0``, … without a header). header: the file has a header.
        meta: the run's ``dataset.json``. name: the file in messages.
        with_target: the target column is needed too (evaluate); it comes last in the result.
        warn: a sink for notes.

    Returns:
        The file's column for each training feature in training order (then the target's, ``with_target``).

    Raises:
        DataError: named columns missing; the wrong number of columns.
    """
    feats, target = list(meta["feature_names"]), meta["target_name"]
    wanted = [*feats, target] if with_target else feats
    if header and set(wanted) <= set(columns):  # by name (also col0.. of a headerless run)
        return wanted
    if with_target:
        return _with_target_by_position(columns, header, meta, name)
    return _features_by_position(columns, header, meta, name, warn)


def _with_target_by_position(columns: list[str], header: bool, meta: dict, name: str) -> list[str]:
    feats, target = meta["feature_names"], meta["target_name"]
    if header and meta.get("header"):
        missing = [c for c in [*feats, target] if c not in columns]
        what = "the target column" if missing == [target] else "columns"
        verb = "is" if len(missing) == 1 else "are"
        raise DataError(f"{name}: {what} {', '.join(map(repr, missing))} {verb} missing; the file needs the "
                        f"training file's columns, target included: {', '.join(meta['columns'])}")
    if len(columns) != len(meta["columns"]):
        if len(columns) == len(feats):
            raise DataError(f"{name}: has {len(columns)} columns, the features only; it needs the target "
                            f"column too ({len(meta['columns'])} columns, target at index {meta['target_index']})")
        raise DataError(f"{name}: expected {len(meta['columns'])} columns (features and target), got "
                        f"{len(columns)}", hint=headerless_hint(columns, header, meta, with_target=True))
    by_train = dict(zip(meta["columns"], columns, strict=True))
    return [by_train[c] for c in [*feats, target]]


def _features_by_position(columns: list[str], header: bool, meta: dict, name: str,
                          warn: Callable[[str], None]) -> list[str]:
    n_feat = len(meta["feature_names"])
    missing = [f for f in meta["feature_names"] if f not in columns]
    if header and meta.get("header") and len(missing) < n_feat:  # names some features: by name or not at all
        raise DataError(f"{name}: missing feature column(s) {', '.join(map(repr, missing[:12]))}"
                        f"{', …' if len(missing) > 12 else ''}; the model takes: "
                        f"{', '.join(meta['feature_names'][:12])}{', …' if n_feat > 12 else ''}")
    if len(columns) == n_feat:
        return list(columns)
    if len(columns) == n_feat + 1 and len(meta["columns"]) == n_feat + 1:
        t = meta["target_index"]
        warn(f"{name} has {len(columns)} columns and the model takes {n_feat}, by position: column {t} "
             f"({columns[t]!r}, where the training file had its target {meta['target_name']!r}) is ignored")
        return [c for i, c in enumerate(columns) if i != t]
    raise DataError(
        f"{name}: expected {n_feat} features, got {len(columns)} "
        f"(the model takes: {', '.join(meta['feature_names'][:12])}{', …' if n_feat > 12 else ''})",
        hint=headerless_hint(columns, header, meta, with_target=False),
    )


def headerless_hint(columns: list[str], header: bool, meta: dict, with_target: bool) -> str | None:
    """How to name a file's columns for a run trained on a file without a header (its columns are ``col0``,
    ``col1``, … by position; a Parquet or JSON Lines file names its columns, so ``1`` does not match ``col1``);
    None when the run had a header or the file has none."""
    if not header or meta.get("header") is not False:
        return None
    wanted = [*meta["feature_names"], meta["target_name"]] if with_target else list(meta["feature_names"])
    digits = [c for c in columns if str(c).strip().isdigit() and f"col{str(c).strip()}" in wanted]
    example = f" (the file's {digits[0]!r} is not {'col' + str(digits[0]).strip()!r})" if digits else ""
    shown = ", ".join(wanted[:8]) + (", …" if len(wanted) > 8 else "")
    return (f"the run was trained on a file without a header, so its columns are named by position: {shown}"
            f"{example}; name the file's columns so (extra columns are then ignored), or give exactly "
            f"{len(wanted)} columns in training order")


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
