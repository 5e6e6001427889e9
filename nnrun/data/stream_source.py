"""The rows of a streamed dataset, a chunk at a time, encoded with the learnt spec: training, validation or test
rows (by the hash split, or from ``data.validation`` / ``data.test``), and a bounded sample of them for the
checks and reports that need rows in memory. Used by streaming training (``training.stream_data``) and by a
later ``evaluate`` of a streamed run (``evaluation.examples``). No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nnrun.data import features as ft
from nnrun.data.stream_read import TEST, TRAIN, VALIDATION, hash_roles, iter_chunks
from nnrun.data.stream_spec import plan_for
from nnrun.errors import DataError, NnrunError

#: Rows of a subset held in memory for a report (the training-time report, ``evaluate`` of a streamed run).
EVAL_ROWS = 100_000
#: role -> the ``data:`` key of a file that holds those rows instead of the hash split.
_ROLE_KEYS = {VALIDATION: "validation", TEST: "test"}


class StreamSource:
    """The shards of a streamed run and how their rows become model inputs and targets.

    Attributes:
        shards: the training data's shards. opts: reading options. learnt: the learning pass's ``Learnt``.
        split: (validation fraction, test fraction, seed). encoding: the target encoding.
        extra: role -> shards of ``data.validation`` / ``data.test``. sample_idx: the sample's (train, val) rows.
        skip_bad: leave out the bad rows the learning pass left out (``--skip-bad-rows``; ``bad_rows``), found
            again by the same rules from the learnt spec in every read.
    """

    def __init__(self, shards: Any, opts: Any, learnt: Any, split: tuple, encoding: str, extra: dict) -> None:
        self.shards, self.opts, self.learnt, self.split, self.encoding = shards, opts, learnt, split, encoding
        self.extra = extra
        self.plan = plan_for({c["name"]: c["kind"] for c in learnt.spec["columns"]})
        self.sample_idx = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.skip_bad = False
        self.failure: NnrunError | None = None

    def encoded(self, role: int, order: list[int] | None = None) -> Iterator[tuple[Any, np.ndarray, Any]]:
        """The rows of one role, a chunk at a time: (model inputs, encoded targets, raw targets).

        Args:
            role: TRAIN, VALIDATION or TEST (from ``data.validation`` / ``data.test`` when given, else the hash
                split).
            order: the shards' order (indices into the shards' paths); default their sorted order.
        """
        from dataclasses import replace

        shards, by_hash = self.shards, True
        if _ROLE_KEYS.get(role) in self.extra:
            shards, by_hash = self.extra[_ROLE_KEYS[role]], False
        if order is not None:
            shards = replace(shards, paths=tuple(shards.paths[i] for i in order))
        try:
            for chunk in iter_chunks(shards, self.opts, self.plan):
                frame = self._rows(chunk, shards.key(shards.paths[chunk.shard]),
                                   role if by_hash else None)
                if frame is not None and len(frame):
                    yield self._encode(frame, chunk.where)
        except NnrunError as exc:
            self._record(exc, shards)
            raise

    def _record(self, exc: NnrunError, shards: Any) -> None:
        """Keep the first error a read raised, saying what happened to the shards (``failure``)."""
        if self.failure is None:
            gone = any(not p.is_file() for p in shards.paths)
            what = "a shard disappeared during training; restore it" if gone else \
                "while training read the shards; fix the shard"
            self.failure = type(exc)(f"{exc.message} ({what})", exc.hint)

    def _rows(self, chunk: Any, shard: str, role: int | None) -> Any:
        frame = chunk.frame
        if chunk.problems and not self.skip_bad:
            raise DataError(chunk.problems[0])
        drop = ft.drop_mask(frame, self.learnt.features, _Policies(self.learnt.spec))
        frame = frame[~drop] if drop.any() else frame
        if self.skip_bad:
            from nnrun.data.bad_rows import find_bad_rows

            spec = self.learnt.spec
            bad, _ = find_bad_rows(frame, {c["name"]: c["kind"] for c in spec["columns"]},
                                   {c["name"] for c in spec["columns"] if c["missing"] == "error"},
                                   self.learnt.target, set(spec["na_values"]), chunk.where)
            frame = frame[~bad] if bad.any() else frame
        if role is None:
            return frame
        val, test, seed = self.split
        return frame[hash_roles(seed, shard, frame.index.to_numpy(), val, test) == role]

    def _encode(self, frame: Any, where: Any) -> tuple[Any, np.ndarray, Any]:
        from nnrun.data.dataset import target_values
        from nnrun.data.labels import encode_targets

        y_raw = target_values(frame[self.learnt.target], where, self.learnt.target)
        y = encode_targets(y_raw, self.encoding, self.learnt.classes, self.shards.name,
                           lambda i: where(frame.index[i]))
        x, _, _ = ft.transform(frame, self.learnt.spec, where)
        return x, y, y_raw

    def check_extra(self) -> dict:
        """Read every row of ``data.validation`` / ``data.test`` once (columns, cells, labels checked, as the
        training rows were). Returns role -> rows."""
        counts = {}
        for role, shards in self.extra.items():
            keep = self.shards
            self.shards = shards
            try:
                from nnrun.data.shards import same_columns

                n = 0
                for chunk in iter_chunks(shards, self.opts, self.plan):
                    if n == 0:
                        same_columns((keep.name, self.learnt.columns), (shards.name, list(chunk.frame.columns)))
                    n += ft.nrows(self._encode(self._rows(chunk, "", None), chunk.where)[0])
            finally:
                self.shards = keep
            counts[role] = n
        return counts

    def sample(self, rows: int) -> Any:
        """A Table of the first ``rows`` training rows then the first ``rows`` validation rows (shard order),
        encoded; ``sample_idx`` set to their positions."""
        from nnrun.data.dataset import typed_labels
        from nnrun.data.table import Table

        x, y = first_rows(self, TRAIN, rows)
        has_val = self.split[0] > 0 or "validation" in self.extra
        vx, vy = first_rows(self, VALIDATION, rows) if has_val else (None, np.zeros(0, dtype=object))
        self.sample_idx = (np.arange(len(y)), np.arange(len(y), len(y) + len(vy)))
        if len(vy):
            x, y = ft.concat([x, vx]), typed_labels(np.concatenate([y.astype(object), vy.astype(object)]))
        learnt = self.learnt
        return Table(y=y, feature_names=learnt.features, target_name=learnt.target, source=self.shards.name,
                     columns=learnt.columns, target_index=learnt.columns.index(learnt.target), header=learnt.header,
                     delimiter=learnt.delimiter, fmt=self.shards.fmt, spec=learnt.spec, dropped=learnt.dropped,
                     inputs=x, options=self.opts)


def from_run(meta: dict, cfg: Any, warn: Any = None) -> StreamSource:
    """The StreamSource of a streamed run, from its ``dataset.json`` and config (``evaluate`` of the run); with
    ``warn``, the shards are checked against the run's record (``shard_changes.check_unchanged``).

    Raises:
        DataError: the shards are gone, or (with ``warn``) a shard the run trained on is under a new name.
    """
    from nnrun.config.checks import target_encoding
    from nnrun.data.readers import ReadOptions
    from nnrun.data.shards import Shards, find_shards
    from nnrun.data.stream_spec import Learnt

    def shards_of(name: str) -> Shards:
        found = find_shards(name, None, cfg.data.format)
        if found is None:
            from pathlib import Path

            from nnrun.data.formats import format_of

            if not Path(name).is_file():
                raise DataError(f"{name}: no such data file (the run's data)")
            found = Shards(name, (Path(name),), format_of(name, cfg.data.format))
        return found

    learnt = Learnt(meta["features"], meta["classes"], list(meta["feature_names"]), meta["target_name"],
                    list(meta["columns"]), meta["header"], meta["delimiter"],
                    [meta["num_train"], meta["num_validation"], meta["num_test"]])
    extra = {role: shards_of(info["path"]) for role, info in (meta.get("files") or {}).items()}
    t = cfg.training
    split = (0.0 if "validation" in extra else t.validation_split, 0.0 if "test" in extra else t.test_split, cfg.seed)
    source = StreamSource(shards_of(meta["source"]), ReadOptions.from_run(meta, cfg.data), learnt, split,
                          target_encoding(cfg), extra)
    source.skip_bad = bool(meta.get("skip_bad_rows"))
    if warn is not None:
        from nnrun.data.shard_changes import check_unchanged

        check_unchanged(meta, source, warn)
    return source


def first_rows(source: StreamSource, role: int, rows: int) -> tuple[Any, np.ndarray]:
    """The first ``rows`` rows of a role, in shard order: (model inputs, raw targets)."""
    parts_x, parts_y, n = [], [], 0
    for x, _, y_raw in source.encoded(role):
        take = min(rows - n, len(y_raw))
        parts_x.append(ft.take(x, slice(0, take)))
        parts_y.append(y_raw[:take].astype(object))
        n += take
        if n >= rows:
            break
    if not parts_x:
        return None, np.zeros(0, dtype=object)
    from nnrun.data.dataset import typed_labels

    return ft.concat(parts_x), typed_labels(np.concatenate(parts_y))


class _Policies:
    """The ``data:`` options ``features.drop_mask`` reads, from a learnt spec."""

    def __init__(self, spec: dict) -> None:
        self.missing = {c["name"]: c["missing"] for c in spec["columns"]}
        self.na_values = spec["na_values"]
