"""Warnings about feature columns that train without error but teach the model the wrong thing (issue 18):
an id-like text column one-hot encoded (the model memorises rows), and extreme outliers that set a
normalised column's mean and variance. Checked on the training rows, after the feature spec is learnt."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrun.data.features import na_set, parse_category, parse_numeric

#: A categorical column with more distinct values than this share of its training rows looks like an id.
ID_RATIO = 0.5
#: Fewer training rows than this: too few to tell an id column from a small vocabulary.
MIN_ROWS = 20
#: A value further than this many robust standard deviations (1.4826 × MAD) from the median is extreme.
OUTLIER_SDS = 10.0


def column_warnings(table: Any, train_idx: np.ndarray, data_cfg: Any) -> list[str]:
    """One line per id-like categorical column and per normalised column whose mean extreme values move.

    Args:
        table: the read Table (its raw frame and feature spec, after ``encode``). train_idx: the training rows.
        data_cfg: the ``data:`` section.
    """
    spec, raw = table.spec, table.raw
    if raw is None or spec is None or len(train_idx) < MIN_ROWS:
        return []
    frame, na = raw.frame.iloc[train_idx], na_set(data_cfg)
    lines = [_id_like(c, frame[c["name"]], na, table.source) for c in spec.get("categorical") or []]
    if spec.get("normalize"):
        lines += [_outliers(name, frame[name], na, raw.where) for name in spec.get("numeric") or []]
    return [line for line in lines if line]


def _id_like(column: dict, series: Any, na: set[str], source: str) -> str | None:
    values, missing = parse_category(series, na)
    present = values[~missing]
    distinct = len(set(present.tolist()))
    if not present.size or distinct / present.size <= ID_RATIO:
        return None
    name = column["name"]
    return (f"{source}: column {name!r} has {distinct} distinct values in {present.size} training rows "
            f"({distinct / present.size:.0%}): it looks like an id or free text, and {column['encoding']} "
            f"encoding it lets the model memorise rows; leave it out with data.drop: [{name}]")


def _outliers(name: str, series: Any, na: set[str], where: Any) -> str | None:
    values, _, _ = parse_numeric(series, na)
    ok = np.isfinite(values)
    present = values[ok]
    if present.size < MIN_ROWS:
        return None
    median = float(np.median(present))
    sd = 1.4826 * float(np.median(np.abs(present - median)))
    if sd == 0:  # mostly one value (a flag, a count of zeros): no robust scale to judge by
        return None
    far = np.abs(present - median) > OUTLIER_SDS * sd
    if not far.any():
        return None
    mean, rest = float(present.mean()), float(present[~far].mean())
    if abs(mean - rest) <= sd:  # the extreme values barely move the mean: normalisation is fine
        return None
    first = int(np.flatnonzero(ok)[np.flatnonzero(far)[0]])
    return (f"column {name!r}: {int(far.sum())} value(s) more than {OUTLIER_SDS:g} robust SDs from the median "
            f"{median:g} (the first, {present[far][0]:g}, at {where(series.index[first])}) move the normalisation "
            f"mean from {rest:g} to {mean:g}; check those rows, or drop or clip them")
