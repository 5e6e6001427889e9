"""The learning pass of streaming training: one read of every row of the shards, a chunk at a time, that
learns what the in-memory path learns from the whole table — the feature kinds, the class list, missing-value
fills, Normalization mean/variance and StringLookup vocabularies — into the SAME feature spec (``spec.fit``'s
document), so that ``predict``, ``evaluate`` and resume read a streamed run like any other.

Every row is checked here, before the first epoch (the same checks and messages as the whole read: a bad cell in
the last shard stops the run with its ``shard:line``). Means and variances are merged chunk by chunk with Chan et
al.'s parallel update (exact up to float rounding); the statistics are taken over the float32 values the model
receives, as ``spec.fit`` takes them. No TensorFlow here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrun.data import features as ft
from nnrun.data.dataset import target_values, typed_labels
from nnrun.data.readers import ReadOptions
from nnrun.data.shards import Shards
from nnrun.data.stream_read import TRAIN, Chunk, first_problem, hash_roles, iter_chunks, read_layout
from nnrun.data.table import select
from nnrun.errors import DataError


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of a stream of numbers (Chan, Golub & LeVeque's update)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        """Merge a batch of values (float64, shape (k,))."""
        if values.size:
            self.merge(int(values.size), float(values.mean()), float(((values - values.mean()) ** 2).sum()))

    def merge(self, n: int, mean: float, m2: float) -> None:
        """Merge another stream's (count, mean, m2)."""
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    @property
    def variance(self) -> float:
        """The population variance (``np.var``'s, ddof 0)."""
        return self.m2 / self.n if self.n else 0.0


@dataclass
class Column:
    """What the pass keeps of one feature column's training rows."""

    kind: str | None = None  # numeric/categorical, from the chunks with values in this column
    first_text: tuple[str, Any] | None = None  # where and what the first text cell was (kind conflicts)
    raw: Moments = field(default_factory=Moments)  # present values (the mean fill)
    model: Moments = field(default_factory=Moments)  # present values as float32 (normalization)
    missing: int = 0
    counts: Counter = field(default_factory=Counter)  # value -> count (categorical; most_frequent)
    values: list = field(default_factory=list)  # present values (median only)


@dataclass
class Learnt:
    """The outcome of the learning pass.

    Attributes:
        spec: the feature spec (``spec.fit``'s document). classes: sorted labels (None for regression).
        features, target: the feature columns and the target column. columns: the first shard's columns.
        header, delimiter: the first shard's. rows: rows per role (train, validation, test) of the hash split.
        dropped: rows left out (missing: drop). skipped: messages of rows the reader left out (``skip_bad``).
        label_counts: label (as text) -> rows, all roles. text_targets: a target cell was not a number.
    """

    spec: dict
    classes: list | None
    features: list[str]
    target: str
    columns: list[str]
    header: bool
    delimiter: str | None
    rows: list[int]
    dropped: int = 0
    skipped: list[str] = field(default_factory=list)
    label_counts: Counter = field(default_factory=Counter)
    text_targets: bool = False


def plan_for(kinds: dict[str, str]) -> Any:
    """The chunked readers' plan: numeric features as numbers (the CSV fast path), the rest as text."""
    numbers = [c for c, k in kinds.items() if k == "numeric"]

    def plan(columns: list[str], header: bool) -> tuple[list[str], list[str]]:
        return [c for c in columns if c in numbers], [c for c in columns if c not in numbers]

    return plan


def learn(shards: Shards, data_cfg: Any, opts: ReadOptions, split: tuple[float, float, int],
          classify: bool, skip_bad: bool = False) -> Learnt:
    """Read every row of the shards once and learn the feature spec on the training rows of the hash split.

    Args:
        shards: the shards. data_cfg: the ``data:`` section. opts: the reading options.
        split: (validation fraction, test fraction, seed) of ``stream_read.hash_roles``.
        classify: a classification loss (the class list is learnt).
        skip_bad: leave out bad rows: the reader's (a wrong field count) and ``bad_rows.find_bad_rows``'
            (counted; every later read of the shards leaves out the same rows: ``StreamSource.skip_bad``).

    Returns:
        The Learnt spec, classes and row counts.

    Raises:
        DataError: any bad cell of any shard (shard:line named), columns differing between shards, a column
            with numbers in one shard and text in another, no training rows.
    """
    if getattr(data_cfg, "reshape", None):
        raise DataError(f"{shards.name}: data.reshape is not supported when streaming; set data.streaming: false")
    info, head = read_layout(shards, opts)
    feats, target = select(list(info.frame.columns), info.header, data_cfg, shards.name)
    kinds = ft.kinds(head, feats, data_cfg, info.where, skip_bad=skip_bad)
    state = _Pass(data_cfg, feats, target, split)
    state.skip_bad = skip_bad
    for chunk in iter_chunks(shards, opts, plan_for(kinds)):
        first_problem(chunk, skip_bad, state.skipped)
        state.add(chunk, shards.key(shards.paths[chunk.shard]))
    if state.rows[TRAIN] == 0:
        raise DataError(f"{shards.name}: no training examples left after the validation/test split")
    spec = state.spec(shards.name)
    classes = None
    if classify:
        from nnrun.data.labels import class_list

        classes = class_list(typed_labels(np.array(sorted(state.labels), dtype=object)))
    return Learnt(spec, classes, feats, target, list(info.frame.columns), info.header, info.delimiter, state.rows,
                  state.dropped, state.skipped, state.labels, state.text_targets)


class _Pass:
    """The running state of the learning pass (one ``add`` per chunk)."""

    def __init__(self, data_cfg: Any, feats: list[str], target: str, split: tuple[float, float, int]) -> None:
        self.cfg, self.feats, self.target, self.split = data_cfg, feats, target, split
        self.na = ft.na_set(data_cfg)
        self.columns = {c: Column() for c in feats}
        self.rows = [0, 0, 0]
        self.dropped = 0
        self.skipped: list[str] = []
        self.labels: Counter = Counter()
        self.text_targets = False
        self.skip_bad = False

    def add(self, chunk: Chunk, shard: str) -> None:
        """One chunk: kinds checked against earlier chunks, rows dropped, target and missing cells checked
        (as the whole read checks them), the training rows' values accumulated."""
        frame, where = chunk.frame, chunk.where
        if not len(frame):
            return
        self._kinds(frame, where)
        drop = ft.drop_mask(frame, self.feats, self.cfg)
        if drop.any():
            self.dropped += int(drop.sum())
            frame = frame[~drop]
            if not len(frame):
                return
        if self.skip_bad:
            frame = self._good(frame, where)
            if not len(frame):
                return
        y = target_values(frame[self.target], where, self.target)
        self.text_targets |= y.dtype == object
        values, counts = np.unique(y.astype(str), return_counts=True)
        self.labels.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
        kinds = {c: self.columns[c].kind or "numeric" for c in self.feats}
        ft.check_missing(frame, self.feats, kinds, self.cfg, where)
        val, test, seed = self.split
        roles = hash_roles(seed, shard, frame.index.to_numpy(), val, test)
        self.rows = [r + int((roles == k).sum()) for k, r in enumerate(self.rows)]
        train = frame[roles == TRAIN]
        for col in self.feats:
            self._accumulate(col, train[col])

    def _good(self, frame: Any, where: Any) -> Any:
        """The chunk's rows less its bad ones (``bad_rows.find_bad_rows``; their messages kept in ``skipped``)."""
        from nnrun.data.bad_rows import find_bad_rows, no_fill_columns

        kinds = {c: self.columns[c].kind or "numeric" for c in self.feats}
        bad, messages = find_bad_rows(frame, kinds, no_fill_columns(self.feats, self.cfg), self.target, self.na,
                                      where)
        self.skipped.extend(messages)
        return frame[~bad] if bad.any() else frame

    def _kinds(self, frame: Any, where: Any) -> None:
        """This chunk's kinds (``features.kinds``: a mixed column raises) against the earlier chunks'."""
        kinds = ft.kinds(frame, self.feats, self.cfg, where, skip_bad=self.skip_bad)
        for col, kind in kinds.items():
            state = self.columns[col]
            present = ~ft.missing_rows(frame, [col], self.na)
            if not present.any():
                continue
            if kind == "categorical" and state.first_text is None:
                i = int(np.flatnonzero(present)[0])
                state.first_text = (where(frame.index[i]), frame[col].iloc[i])
            if state.kind is None:
                state.kind = kind
            elif state.kind != kind and not self.skip_bad:  # skip_bad: text cells of a numeric column are bad
                at, cell = state.first_text
                raise DataError(ft.bad_cell_message(at, col, cell))

    def _accumulate(self, col: str, series: Any) -> None:
        state = self.columns[col]
        pol = ft.policy(self.cfg, col)
        if (state.kind or "numeric") == "numeric":
            values, missing, _ = ft.parse_numeric(series, self.na)
            present = values[~missing & ~np.isnan(values)]
            state.raw.add(present)
            state.model.add(present.astype(np.float32).astype(np.float64))
            state.missing += int(missing.sum())
            if pol == "most_frequent":
                uniq, counts = np.unique(present, return_counts=True)
                state.counts.update(dict(zip(uniq.tolist(), counts.tolist(), strict=True)))
            elif pol == "median":
                state.values.append(present)
        else:
            values, missing = ft.parse_category(series, self.na)
            uniq, counts = np.unique(values[~missing].astype(str), return_counts=True)
            state.counts.update(dict(zip(uniq.tolist(), counts.tolist(), strict=True)))

    def spec(self, source: str) -> dict:
        """The feature spec, as ``spec.fit`` writes it."""
        from nnrun.data.stream_fill import categorical_entry, numeric_entry

        columns, cats = [], []
        for col in self.feats:
            state = self.columns[col]
            kind = state.kind or "numeric"
            entry: dict[str, Any] = {"name": col, "kind": kind, "missing": ft.policy(self.cfg, col), "fill": None}
            if kind == "numeric":
                numeric_entry(entry, state, self.cfg, source)
            else:
                cats.append(categorical_entry(entry, state, self.cfg, source, len(cats)))
            columns.append(entry)
        numeric = [c["name"] for c in columns if c["kind"] == "numeric"]
        out = {"columns": columns, "numeric": numeric, "categorical": cats, "text": None,
               "na_values": sorted(self.na), "normalize": bool(self.cfg.normalize), "mean": None, "variance": None}
        if self.cfg.normalize and numeric:
            stats = [self._model_moments(c) for c in columns if c["kind"] == "numeric"]
            out["mean"] = [m.mean for m in stats]
            out["variance"] = [m.variance for m in stats]
        return out

    def _model_moments(self, entry: dict) -> Moments:
        """The moments of the column as the model receives it: present values and the fill for missing ones."""
        state = self.columns[entry["name"]]
        out = Moments(state.model.n, state.model.mean, state.model.m2)
        if entry["fill"] is not None and state.missing:
            out.merge(state.missing, float(np.float32(entry["fill"])), 0.0)
        return out
