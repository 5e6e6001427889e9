"""Streaming training: data bigger than memory, read from its shards on disk every epoch.

``streamed_source`` decides (``data.streaming``: true, false, or auto = the files exceed ``data.memory_budget``);
``prepare_streamed`` runs the learning pass (``data.stream_spec.learn``: every row checked, the feature spec and
classes learnt exactly as in memory) and gives a ``StreamedPrepared``: the same ``Prepared`` that ``train_one``
takes, whose ``fit_data`` streams (``stream_data.StreamFitData``) and whose in-memory table holds only a bounded
sample (``EVAL_ROWS`` training and validation rows: building, the dry run, the reload check and the measured
training metrics; the report reads every validation row from the shards: ``eval_data``). Rows are split by a seeded
hash of (shard, row) — not stratified.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from nnrun.config.load import LoadedConfig
from nnrun.config.schema import SIZE_PATTERN
from nnrun.errors import ConfigError, DataError
from nnrun.training.prepare import Prepared, Warn

_UNITS = {"": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
          "TIB": 2**40}


def memory_budget(value: int | str | None) -> int:
    """``data.memory_budget`` in bytes ('8GB', '512MiB', a number); None: a quarter of the machine's memory."""
    if value is None:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
        except (ValueError, OSError, AttributeError):
            return 2 * 2**30
    if isinstance(value, int):
        return value
    number, unit = re.match(SIZE_PATTERN, value).groups()  # the schema let only such text through
    return int(float(number) * _UNITS[(unit or "").upper()])


def streamed_source(loaded: LoadedConfig, warn: Warn) -> Any:
    """The shards to stream, or None to read the data into memory.

    ``data.streaming: true`` streams any table file or shards; ``auto`` streams when they are larger on disk
    than ``data.memory_budget``; ``false`` never streams.

    Raises:
        ConfigError: streaming asked for data that cannot stream (inline, arrays, folders of images or texts).
    """
    from nnrun.data.formats import TABLE_FORMATS, format_of
    from nnrun.data.readers.common import resolve_path
    from nnrun.data.shards import Shards, find_shards, is_glob

    data = loaded.config.data
    mode = getattr(data, "streaming", False)
    if mode is False or data.path is None:
        if mode is True:
            raise loaded.error(("data", "streaming"), "streaming needs data.path (a table file or shards)")
        return None
    shards = find_shards(data.path, loaded.path, data.format)
    if shards is None and not is_glob(data.path):
        path = resolve_path(data.path, loaded.path, allow_dir=True)
        fmt = format_of(path, data.format)
        if path.is_dir() or fmt not in TABLE_FORMATS:
            if mode is True:
                raise loaded.error(("data", "streaming"), f"{path}: only tables (CSV, Parquet, JSON Lines) stream")
            return None
        shards = Shards(str(path), (path,), fmt)
    if mode == "auto" and shards.size() <= memory_budget(data.memory_budget):
        return None
    if loaded.config.backend == "jax":  # (true is refused by config.backend_checks; this is auto deciding)
        raise loaded.error(("data", "streaming"), f"auto: the data ({_size_text(shards.size())} on disk) exceeds "
                           f"data.memory_budget ({_size_text(memory_budget(data.memory_budget))}), so it would "
                           "stream, and streaming feeds model.fit through tf.data, which needs TensorFlow: it "
                           "cannot run on backend: jax", hint="use backend: tensorflow, or read the data into "
                           "memory with a larger data.memory_budget (or data.streaming: false)")
    return shards


def _size_text(n: int) -> str:
    """Bytes as text: ``1.5 GiB``, ``300 KiB``, ``12 bytes``."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _refuse(loaded: LoadedConfig) -> None:
    """What streaming does not do (yet): cross-checked before the learning pass reads anything."""
    from nnrun.config.checks import text_input
    from nnrun.training.cluster import refuse_multi_worker

    refuse_multi_worker(loaded, "streamed data (data.streaming)")
    cfg = loaded.config
    if text_input(cfg):
        raise loaded.error(("data", "streaming"), "a TextVectorization model does not stream; set data.streaming: "
                           "false")
    if cfg.training.class_weight is not None:
        raise loaded.error(("training", "class_weight"), "class weights are not supported when streaming; remove "
                           "them or set data.streaming: false")


def prepare_streamed(loaded: LoadedConfig, shards: Any, warn: Warn, skip_bad: bool = False) -> Prepared:
    """The learning pass over every row, then a Prepared that streams (see the module doc).

    Args:
        loaded: the loaded config. shards: from ``streamed_source``. warn: the warning sink.
        skip_bad: leave out bad rows (warned about, counted), the same ones in every epoch (``--skip-bad-rows``).

    Raises:
        DataError: any bad row (shard:line named), before training. ConfigError: classes that do not fit the head.
    """
    from nnrun.config.checks import target_encoding
    from nnrun.data.readers import ReadOptions
    from nnrun.data.stream_source import StreamSource
    from nnrun.data.stream_spec import learn

    _refuse(loaded)
    cfg = loaded.config
    encoding = target_encoding(cfg)
    extra = _extra_shards(loaded)
    split = (0.0 if "validation" in extra else cfg.training.validation_split,
             0.0 if "test" in extra else cfg.training.test_split, cfg.seed)
    opts = ReadOptions.from_config(cfg.data)
    learnt = learn(shards, cfg.data, opts, split, encoding != "regression", skip_bad)
    if learnt.skipped:
        from nnrun.data.bad_rows import skipped_warning

        for line in skipped_warning(shards.name, learnt.skipped):
            warn(line)
    if learnt.dropped:
        warn(f"{shards.name}: {learnt.dropped} row(s) with a missing value left out (missing: drop)")
    _check_targets(loaded, learnt, encoding)
    source = StreamSource(shards, opts, learnt, split, encoding, extra)
    source.skip_bad = skip_bad
    counts = source.check_extra()  # validation/test shards: every row checked too, before training
    return _prepared(loaded, source, encoding, counts, warn)


def split_rule(cfg: Any, extra: dict) -> str:
    """How a streamed run's rows were split, in words (split.json, dataset.json): the hashed roles and the roles
    read from their own files (``data.validation`` / ``data.test``)."""
    hashed = ["training"] + [role for role, share in (("validation", cfg.training.validation_split),
                                                      ("test", cfg.training.test_split))
                             if share > 0 and role not in extra]
    rule = "every row of data.path is a training row" if hashed == ["training"] else \
        f"hash of (shard, row) of data.path: {', '.join(hashed)}"
    return "; ".join([rule, *(f"{role}: data.{role}" for role in extra)])


def _extra_shards(loaded: LoadedConfig) -> dict:
    """``data.validation`` / ``data.test`` as shards (a single file is one shard)."""
    from nnrun.data.formats import format_of
    from nnrun.data.readers.common import resolve_path
    from nnrun.data.shards import Shards, find_shards

    out = {}
    for role in ("validation", "test"):
        ref = getattr(loaded.config.data, role)
        if ref is not None:
            found = find_shards(ref.path, loaded.path, loaded.config.data.format)
            if found is None:
                path = resolve_path(ref.path, loaded.path)
                found = Shards(str(path), (path,), format_of(path, loaded.config.data.format))
            out[role] = found
    return out


def _check_targets(loaded: LoadedConfig, learnt: Any, encoding: str) -> None:
    """Text targets with a regression loss; the class count against the head and the loss."""
    from nnrun.config.checks import data_problems

    cfg = loaded.config
    if encoding == "regression" and learnt.text_targets:
        raise DataError(f"the target column {learnt.target!r} holds text but {cfg.model.loss.type} is a regression "
                        "loss; use a classification loss")
    rarest = ""
    if learnt.classes and len(learnt.classes) > 2:
        label, rows = min(learnt.label_counts.items(), key=lambda kv: kv[1])
        rarest = f"; the rarest, {label!r} ({rows} {'row' if rows == 1 else 'rows'})"
    problems = data_problems(cfg, learnt.classes, rarest)
    if problems:
        raise ConfigError("\n".join(loaded.error(p, m).message for p, m in problems))


def _prepared(loaded: LoadedConfig, source: Any, encoding: str, counts: dict, warn: Warn) -> Prepared:
    """The StreamedPrepared: dataset.json as the in-memory path writes it, plus ``streaming``."""
    from nnrun.data.labels import encode_targets
    from nnrun.data.shard_changes import shard_shas
    from nnrun.data.shards import digest
    from nnrun.data.stream_source import EVAL_ROWS
    from nnrun.training.prepare import dataset_meta

    cfg, learnt = loaded.config, source.learnt
    table = source.sample(EVAL_ROWS)
    shas = shard_shas(source.shards)  # each shard's, so that evaluate can name a shard that changed
    table.sha256 = digest(source.shards, list(shas.values()))
    meta = dataset_meta(cfg, table, encoding, learnt.classes, learnt.spec)
    n_train = learnt.rows[0]
    n_val = counts.get("validation", learnt.rows[1])
    n_test = counts.get("test", learnt.rows[2])
    if cfg.training.validation_split > 0 and n_val == 0:
        warn(f"validation_split {cfg.training.validation_split} of the streamed rows is empty; no validation")
    files = {role: {"path": s.name, "sha256": digest(s), "rows": counts[role]} for role, s in source.extra.items()}
    meta.update(num_examples=int(sum(learnt.rows)), num_train=int(n_train), num_validation=int(n_val),
                num_test=int(n_test), files=files, skipped_rows=len(learnt.skipped),
                streaming={"shards": [source.shards.key(p) for p in source.shards.paths],
                           "split": split_rule(cfg, source.extra),
                           "shuffle_buffer": cfg.data.shuffle_buffer, "sample_rows": EVAL_ROWS, "shard_sha256": shas})
    if source.skip_bad:
        meta["skip_bad_rows"] = True
    y = encode_targets(table.y, encoding, learnt.classes, table.source)
    tr, va = source.sample_idx
    prep = StreamedPrepared(loaded, table, y, tr, va, np.zeros(0, np.int64), meta)
    prep.source = source
    return prep


class StreamedPrepared(Prepared):
    """A Prepared whose training and validation rows stream from disk (``fit_data``); ``table`` holds a sample
    (the first ``EVAL_ROWS`` training and validation rows) for building and checks; the report streams."""

    source: Any = None

    @property
    def has_validation(self) -> bool:
        """Whether there are validation rows (streamed: counted by the learning pass)."""
        return self.meta["num_validation"] > 0

    def read_failure(self) -> Any:
        """The first nnrun error a shard read raised inside ``tf.data`` (``StreamSource.failure``)."""
        return self.source.failure

    def fit_data(self) -> Any:
        """The streaming FitData (``stream_data.StreamFitData``)."""
        from nnrun.data.features import take
        from nnrun.training.stream_data import StreamFitData

        example = (take(self.table.x, slice(0, 1)), self.y[:1])
        return StreamFitData(self.source, self.config, (self.meta["num_train"], self.meta["num_validation"]), example)

    def eval_data(self, subset: str, idx: Any) -> Any:
        """The training-time report's rows: every validation (or training) row, read from the shards
        (``evaluation.streamed.StreamedRows``), not the sample."""
        from nnrun.data.stream_read import TRAIN, VALIDATION
        from nnrun.evaluation.evaluate import EvalData
        from nnrun.evaluation.streamed import StreamedRows

        role, key = (VALIDATION, "num_validation") if subset == "validation" else (TRAIN, "num_train")
        rows = StreamedRows(self.source, role, self.meta[key])
        return EvalData(rows, np.zeros(0, dtype=object), subset, self.meta["source"])

    def fold(self, train_idx: Any, val_idx: Any) -> Prepared:
        """Cross-validation needs the rows in memory."""
        raise DataError(f"{self.meta['source']}: nnrun cv does not stream; set data.streaming: false")

