"""Learning the feature spec on the training rows (``fit``): fill values, vocabularies, normalization
statistics, the example shape. ``features.transform`` applies it. No TensorFlow here."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrun.data.features import EMBEDDING_DIM, fill_constant, na_set, parse_category, parse_numeric, policy, transform
from nnrun.errors import DataError


def fit(frame: Any, features: list[str], kind: dict[str, str], data_cfg: Any, source: str) -> dict:
    """Learn the feature spec on the training rows: fill values, vocabularies, normalization statistics.

    Args:
        frame: the training rows (raw columns), shape (num_train_rows, num_columns).
        features: the feature columns. kind: ``numeric``/``categorical``/``text`` per feature.
        data_cfg: the ``data:`` section (missing, fill_value, categorical, normalize, reshape, na_values).
        source: the file, for messages.

    Returns:
        The spec (JSON-able): ``{"columns": [{"name", "kind", "missing", "fill"}], "numeric": [...],
        "categorical": [{"name", "input", "vocabulary", "encoding", "output_dim"}], "na_values": [...],
        "normalize": bool, "mean": [...], "variance": [...]}``.

    Raises:
        DataError: a fill that cannot be learnt (a column with no values in the training split, mean of a
            categorical column), a reshape that does not fit.
    """
    na = na_set(data_cfg)
    columns, cats = [], []
    for col in features:
        entry: dict[str, Any] = {"name": col, "kind": kind[col], "missing": policy(data_cfg, col), "fill": None}
        if kind[col] == "numeric":
            _numeric_fill(entry, frame[col], na, data_cfg, source)
        elif kind[col] != "text":
            cats.append(_categorical(entry, frame[col], na, data_cfg, source, len(cats)))
        columns.append(entry)
    out = {
        "columns": columns,
        "numeric": [c["name"] for c in columns if c["kind"] == "numeric"],
        "categorical": cats,
        "text": next((c["name"] for c in columns if c["kind"] == "text"), None),
        "na_values": sorted(na),
        "normalize": bool(data_cfg.normalize),
        "mean": None,
        "variance": None,
    }
    return _shape_and_statistics(out, frame, data_cfg, source)


def _numeric_fill(entry: dict, series: Any, na: set[str], data_cfg: Any, source: str) -> None:
    """The fill of a numeric column (mean, median, most_frequent, constant), set on ``entry``."""
    col, pol = entry["name"], entry["missing"]
    values, missing, _ = parse_numeric(series, na)
    present = values[~missing & ~np.isnan(values)]
    if pol in ("mean", "median", "most_frequent") and present.size == 0:
        raise DataError(f"{source}: column {col!r}: no values in the training split to learn a {pol} from")
    if pol == "mean":
        entry["fill"] = float(present.mean())
    elif pol == "median":
        entry["fill"] = float(np.median(present))
    elif pol == "most_frequent":
        uniq, counts = np.unique(present, return_counts=True)
        entry["fill"] = float(uniq[np.argmax(counts)])  # ties: the smallest, as scikit-learn's SimpleImputer
    elif pol == "constant":
        numeric_constant(entry, data_cfg, col, source)


def numeric_constant(entry: dict, data_cfg: Any, col: str, source: str) -> None:
    """``missing: constant`` of numeric column ``col``: its ``fill_value`` as a float on ``entry`` (the in-memory
    and the streamed spec both use it).

    Raises:
        DataError: the fill_value is not a number.
    """
    value = fill_constant(data_cfg, col)
    if value is None:
        entry["missing"] = "error"  # a fill_value mapping without this column: its missing cells are errors
        return
    try:
        entry["fill"] = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{source}: column {col!r} is numeric but fill_value is {value!r}; give a "
                        "number") from None


def _categorical(entry: dict, series: Any, na: set[str], data_cfg: Any, source: str, index: int) -> dict:
    """The fill (set on ``entry``) and the vocabulary and encoding of a categorical column."""
    col, pol = entry["name"], entry["missing"]
    values, missing = parse_category(series, na)
    if pol in ("mean", "median"):
        if isinstance(data_cfg.missing, dict):
            raise DataError(f"{source}: column {col!r} is categorical: missing: {pol} needs numbers; use "
                            "most_frequent or constant")
        pol = entry["missing"] = "most_frequent"
    present = values[~missing]
    if pol == "most_frequent":
        if present.size == 0:
            raise DataError(f"{source}: column {col!r}: no values in the training split")
        uniq, counts = np.unique(present.astype(str), return_counts=True)
        entry["fill"] = str(uniq[np.argmax(counts)])
    elif pol == "constant" and fill_constant(data_cfg, col) is not None:
        entry["fill"] = str(fill_constant(data_cfg, col))
    elif pol == "constant":
        entry["missing"] = "error"
    vocab = sorted(set(present.tolist()) | ({entry["fill"]} if entry["fill"] is not None else set()))
    declared = data_cfg.categorical if isinstance(data_cfg.categorical, dict) else {}
    spec = declared.get(col)
    encoding = spec.encoding if spec is not None else "one_hot"
    return {"name": col, "input": f"cat_{index}", "vocabulary": vocab, "encoding": encoding,
            "output_dim": (spec.output_dim or EMBEDDING_DIM) if encoding == "embedding" else None}


def _shape_and_statistics(out: dict, frame: Any, data_cfg: Any, source: str) -> dict:
    """``data.reshape`` (checked) and, with it or ``normalize``, the pixel range and mean/variance."""
    reshape = getattr(data_cfg, "reshape", None)
    if reshape:
        if out["categorical"] or out["text"]:
            raise DataError(f"{source}: data.reshape needs numeric feature columns only")
        if int(np.prod(reshape)) != len(out["numeric"]):
            raise DataError(f"{source}: data.reshape {list(reshape)} holds {int(np.prod(reshape))} values per example "
                            f"but there are {len(out['numeric'])} feature columns")
        out["shape"] = out["reshape"] = list(reshape)
    if not (reshape or (data_cfg.normalize and out["numeric"])):
        return out
    x, _, _ = transform(frame, out, lambda label: source)  # once, for the pixel range and the statistics
    num = (x["numeric"] if isinstance(x, dict) else x).astype(np.float64)
    if reshape:
        out["range"] = [float(num.min()), float(num.max())] if num.size else None
    if data_cfg.normalize and out["numeric"]:
        axes = tuple(range(num.ndim - 1))  # per feature; per channel for reshaped images
        out["mean"] = num.mean(axis=axes).tolist()
        out["variance"] = num.var(axis=axes).tolist()
    return out
