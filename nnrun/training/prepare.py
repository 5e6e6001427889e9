"""The first step of training: the data read, checked against the config, split and encoded.

``prepare`` gives a typed ``Prepared`` (no TensorFlow): the table, the encoded targets, the split's row indices,
the run's ``dataset.json`` document and the class weights. ``Prepared.fold`` re-encodes it for one
cross-validation fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun.config.checks import data_problems, target_encoding, text_input
from nnrun.config.load import LoadedConfig
from nnrun.errors import ConfigError, DataError, NnrunError

Warn = Callable[[str], None]


@dataclass
class Prepared:
    """The data one model trains on, ready for ``run.train_one``.

    Attributes:
        loaded: the loaded config (``loaded.config`` is the Config).
        table: the ``data.table.Table``: raw columns, model inputs ``table.x``, raw targets ``table.y``, source.
        y: encoded targets, first axis num_examples (see ``data.table.encode_targets``).
        train_idx, val_idx, test_idx: row indices of the splits (int arrays; validation/test may be empty).
        meta: the run's dataset.json document (task, classes, feature spec under ``features``, counts, files).
        sample_weight: per-training-example weights from ``training.class_weight``, shape (len(train_idx),),
            or None.
    """

    loaded: LoadedConfig
    table: Any
    y: Any
    train_idx: Any
    val_idx: Any
    test_idx: Any
    meta: dict
    sample_weight: Any = None

    @property
    def config(self) -> Any:
        """The Config."""
        return self.loaded.config

    @property
    def has_validation(self) -> bool:
        """Whether there are validation rows (``val_`` metrics are logged)."""
        return len(self.val_idx) > 0

    def read_failure(self) -> NnrunError | None:
        """The error reading the rows raised during ``fit``, if any (streaming reads them as it trains)."""
        return None

    def fit_data(self) -> Any:
        """The arrays ``fit.fit`` trains on: training rows, validation pair (None when empty), weights, seed."""
        from nnrun.data.features import take
        from nnrun.training.pipeline import FitData

        x, tr, va = self.table.x, self.train_idx, self.val_idx
        validation = (take(x, va), self.y[va]) if len(va) else None
        return FitData(take(x, tr), self.y[tr], validation, self.sample_weight, self.config.seed)

    def eval_data(self, subset: str, idx: Any) -> Any:
        """The ``EvalData`` of the training-time report: the rows ``idx`` (of ``subset``) of the table."""
        from nnrun.data.features import take
        from nnrun.evaluation.evaluate import EvalData

        return EvalData(take(self.table.x, idx), self.table.y[idx], subset, self.meta["source"])

    def fold(self, train_idx: Any, val_idx: Any) -> Prepared:
        """This data with one cross-validation fold as its split: the feature spec learnt again on the fold's
        training rows (every row re-encoded with it), class weights from those rows, no test rows.

        Args:
            train_idx: the fold's training rows. val_idx: its validation rows (int arrays).

        Returns:
            A new Prepared sharing the table (re-encoded in place: use one fold at a time).
        """
        import numpy as np

        spec = self.table.encode(train_idx, self.config.data)
        meta = dict(self.meta, features=spec, num_train=int(len(train_idx)), num_validation=int(len(val_idx)))
        weights = _sample_weights(self.loaded, self.table, meta, train_idx)
        return Prepared(self.loaded, self.table, self.y, train_idx, val_idx, np.zeros(0, np.int64), meta, weights)


def prepare(loaded: LoadedConfig, warn: Warn, skip_bad: bool = False) -> Prepared:
    """Read the data, check it against the config, split it (validation/test: fractions or files), learn the
    feature spec on the training rows and encode every row with it. No TensorFlow.

    Args:
        loaded: the loaded config (its ``data:``, ``training:`` splits and ``seed``).
        warn: called with each warning line (rows left out, empty splits, a batch larger than the data).
        skip_bad: leave out bad rows (``data.bad_rows``), warned about and counted (``skipped_rows``).

    Returns:
        The Prepared data, with per-example weights when ``training.class_weight`` is set.

    Raises:
        DataError: unreadable or unusable data. ConfigError: the data does not fit the config (classes, head,
            loss, class weights).
    """
    from nnrun.data.bad_rows import skipped_warning
    from nnrun.data.column_checks import column_warnings
    from nnrun.data.dataset import read_table
    from nnrun.data.labels import encode_targets
    from nnrun.data.splits import split_three
    from nnrun.training.stream import streamed_source
    from nnrun.training.target_checks import loss_target_warning

    cfg = loaded.config
    shards = streamed_source(loaded, warn)
    if shards is not None:  # data.streaming: read from disk each epoch (training/stream.py)
        from nnrun.training.stream import prepare_streamed

        return prepare_streamed(loaded, shards, warn, skip_bad)
    table = read_table(cfg.data, loaded.path, text=text_input(cfg), skip_bad=skip_bad)
    for line in skipped_warning(table.source, table.skipped):
        warn(line)
    if table.dropped:
        warn(f"{table.source}: {table.dropped} row(s) with a missing value left out (missing: drop)")
    encoding = target_encoding(cfg)
    mismatch = loss_target_warning(cfg, table.y, encoding)
    if mismatch:
        warn(f"{table.source}: {mismatch}")
    classes = _check_targets(loaded, table, encoding)
    t = cfg.training
    tr, va, te = split_three(table.y, t.validation_split, t.test_split, cfg.seed, stratify=encoding != "regression")
    if t.validation_split > 0 and len(va) == 0:
        warn(f"validation_split {t.validation_split} of {len(table.y)} examples is empty; no validation")
    if t.test_split > 0 and len(te) == 0:
        warn(f"test_split {t.test_split} of {len(table.y)} examples is empty; no test set")
    if len(tr) == 0:
        raise DataError(f"{table.source}: no training examples left after the validation/test split")
    spec = table.encode(tr, cfg.data)
    for line in column_warnings(table, tr, cfg.data):
        warn(line)
    meta = dataset_meta(cfg, table, encoding, classes, spec)
    files, appended = _append_files(loaded, table, meta, encoding)
    va, te = appended.get("validation", va), appended.get("test", te)
    if cfg.training.batch_size > len(tr):
        warn(
            f"batch_size {cfg.training.batch_size} > the {len(tr)} training examples: each epoch is "
            "a single gradient update"
        )
    y = encode_targets(table.y, encoding, classes, table.source)
    meta.update(num_examples=int(len(table.y)), num_train=int(len(tr)), num_validation=int(len(va)),
                num_test=int(len(te)), files=files)
    meta.update({"skipped_rows": len(table.skipped), "skip_bad_rows": True} if skip_bad else {})
    return Prepared(loaded, table, y, tr, va, te, meta, _sample_weights(loaded, table, meta, tr))


def _check_targets(loaded: LoadedConfig, table: Any, encoding: str) -> list | None:
    """One-hot targets to class indices, then the targets checked against the loss and the head.

    Returns:
        The sorted class labels, or None for regression.

    Raises:
        DataError: text targets with a regression loss. ConfigError: the classes do not fit the head/loss.
    """
    from nnrun.data.labels import class_list

    cfg = loaded.config
    _onehot_targets(loaded, table, encoding)
    classes = class_list(table.y) if encoding != "regression" else None
    if encoding == "regression" and table.y.dtype == object:
        raise DataError(
            f"{table.source}: the target column {table.target_name!r} holds text ({table.y[0]!r}) but "
            f"{cfg.model.loss.type} is a regression loss; use a classification loss"
        )
    problems = data_problems(cfg, classes, _rarest(table) if classes and len(classes) > 2 else "")
    if problems:
        raise ConfigError("\n".join(loaded.error(p, m).message for p, m in problems))
    return classes


def _append_files(loaded: LoadedConfig, table: Any, meta: dict, encoding: str) -> tuple[dict, dict]:
    """Read ``data.validation``/``data.test`` files like the training file and append their rows to ``table``.

    Returns:
        (dataset.json's ``files``: role -> path, sha256, rows; role -> the appended rows' indices).

    Raises:
        DataError: a file that cannot be read like the training file, or a label the training rows lack.
    """
    import numpy as np

    cfg, classes = loaded.config, meta["classes"]
    files, appended = {}, {}
    for role in ("validation", "test"):
        ref = getattr(cfg.data, role)
        if ref is not None:
            from nnrun.data.dataset import read_like
            from nnrun.data.readers.common import resolve_path
            from nnrun.data.shards import find_shards

            shards = find_shards(ref.path, loaded.path)  # a folder or glob of shards, read as one file
            path = Path(shards.name) if shards else resolve_path(ref.path, loaded.path)
            extra = read_like(shards or path, meta, cfg.data)
            _onehot_targets(loaded, extra, encoding)
            if classes is not None:  # a label the training rows do not have: named in this file
                from nnrun.data.labels import encode_labels

                encode_labels(extra.y, classes, extra.source, extra.where_row)
            start = table.append(extra)
            appended[role] = np.arange(start, start + len(extra.y))
            files[role] = {"path": str(path.resolve()), "sha256": extra.sha256, "rows": int(len(extra.y))}
    return files, appended


def dataset_meta(cfg: Any, table: Any, encoding: str, classes: list | None, spec: dict) -> dict:
    """The run's dataset.json: how the data was read and encoded (predict and evaluate read it back)."""
    return {
        "task": "regression" if encoding == "regression" else "classification",
        "target_encoding": encoding,
        "classes": classes,
        "from_logits": bool(cfg.model.loss.kwargs.get("from_logits", False)),
        "feature_names": table.feature_names,
        "target_name": table.target_name,
        "columns": table.columns,
        "target_index": table.target_index,
        "header": table.header,
        "delimiter": table.delimiter,
        "format": table.fmt,
        "quotechar": getattr(cfg.data, "quotechar", '"'),
        "reading": table.read_options(),
        "source": str(Path(table.source).resolve()) if table.source != "inline" else "inline",
        "sha256": table.sha256,
        "dropped_rows": table.dropped,
        "features": spec,
    }


def _onehot_targets(loaded: LoadedConfig, table: Any, encoding: str) -> None:
    """One-hot target rows (NPZ ``y`` of shape (num_samples, num_classes)) become class indices 0..K-1; they
    need ``categorical_crossentropy`` (a sparse or binary loss would read them wrongly)."""
    import numpy as np

    if table.y.ndim != 2:
        return
    if encoding != "categorical":
        raise loaded.error(("model", "loss"), f"the targets are one-hot rows of {table.y.shape[1]} classes but "
                           f"{loaded.config.model.loss.type} expects "
                           f"{'class indices' if encoding == 'sparse' else 'single values'}; "
                           "use categorical_crossentropy (or give y as class indices)")
    if not np.isin(table.y, (0, 1)).all() or not (table.y.sum(axis=1) == 1).all():
        raise DataError(f"{table.source}: y has shape {table.y.shape} but its rows are not one-hot (one 1, rest 0)")
    table.y = np.argmax(table.y, axis=1).astype(np.int64)


def _rarest(table: Any) -> str:
    """Where the rarest label first occurs, for class-count messages: ``; the rarest, 'abc' (1 row), first
    occurs at data.csv:12``."""
    import numpy as np

    values, first, counts = np.unique(table.y.astype(str), return_index=True, return_counts=True)
    i = int(np.argmin(counts))
    rows = "row" if counts[i] == 1 else "rows"
    return f"; the rarest, {str(values[i])!r} ({counts[i]} {rows}), first occurs at {table.where_row(int(first[i]))}"


def _sample_weights(loaded: LoadedConfig, table: Any, meta: dict, train_idx: Any) -> Any:
    """Per-example weights from ``training.class_weight``, shape (num_train,), or None.

    ``balanced`` gives class c the weight n_samples / (n_classes * count_c) (scikit-learn's formula,
    sklearn.utils.class_weight.compute_class_weight), computed on the training split.
    """
    import numpy as np

    spec = loaded.config.training.class_weight
    if spec is None:
        return None
    if meta["task"] != "classification":
        raise loaded.error(("training", "class_weight"), "class weights need a classification loss")
    classes = meta["classes"]
    from nnrun.data.labels import encode_labels

    idx = encode_labels(table.y[train_idx], classes, meta["source"])
    counts = np.bincount(idx, minlength=len(classes)).astype(np.float64)
    if spec == "balanced":
        per_class = np.where(counts > 0, len(idx) / (len(classes) * np.maximum(counts, 1)), 0.0)
    else:
        keys = {str(k): float(v) for k, v in spec.items()}
        unknown = [k for k in keys if k not in {str(c) for c in classes}]
        if unknown:
            raise loaded.error(("training", "class_weight", unknown[0]),
                               f"no class {unknown[0]!r}; classes are: {', '.join(map(str, classes))}")
        per_class = np.array([keys.get(str(c), 1.0) for c in classes])
    return per_class[idx].astype(np.float32)


def with_data_facts(cfg: Any, meta: dict) -> Any:
    """The config with what reading the data decided: absolute path, header, delimiter (so the run's
    config.yaml trains the same way from any working directory).

    Args:
        cfg: the Config. meta: the run's dataset.json document (``source``, ``format``, ``files``, …).

    Returns:
        A copy of ``cfg`` (``cfg`` itself for inline data).
    """
    if cfg.data.path is None:
        return cfg
    facts = {"path": meta["source"]}
    if meta.get("format") in ("csv", "tsv"):
        facts.update(header=meta["header"], delimiter=meta["delimiter"])
    for role, info in (meta.get("files") or {}).items():
        facts[role] = getattr(cfg.data, role).model_copy(update={"path": info["path"]})
    if meta.get("streaming"):  # a resumed run streams again, whatever the memory budget says then
        facts["streaming"] = True
    data = cfg.data.model_copy(update=facts)
    return cfg.model_copy(update={"data": data})
