"""A finished run loaded back for evaluate, explain and predict: its config and dataset description, its data
re-read and encoded as training saw it, and the examples a later evaluation or explanation uses.

Heavy libraries (NumPy, pandas) are imported inside the functions, so that importing ``nnrun.api`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.config.load import LoadedConfig, load_config
from nnrun.errors import ConfigError, DataError, RunError, UsageError

Warn = Callable[[str], None]

#: Keys of dataset.json that predict and evaluate rely on.
META_KEYS = ("task", "target_encoding", "classes", "feature_names", "target_name", "columns", "target_index",
             "header", "source", "features")


def load_run(run_dir: Path | str, need_model: bool = True) -> tuple[Path, LoadedConfig, dict]:
    """A finished run's directory, config and dataset description (``dataset.json``; a run trained before its
    reading options were recorded there gets its config's as ``reading``).

    Raises:
        UsageError: not a run directory. RunError: its config.yaml or dataset.json is missing or damaged.
    """
    run = rundir.check_run_dir(Path(run_dir), need_model)
    try:
        loaded = load_config(run / rundir.CONFIG)
    except ConfigError as exc:
        raise RunError(f"{run}: the run's {rundir.CONFIG} is missing or damaged: {exc.message}") from None
    meta = rundir.read_json(run / rundir.DATASET)
    if not isinstance(meta, dict) or any(k not in meta for k in META_KEYS):
        raise RunError(f"{run / rundir.DATASET}: damaged (expected keys {', '.join(META_KEYS)}); train the run again")
    if "reading" not in meta:
        from nnrun.data.readers import ReadOptions

        meta = {**meta, "reading": ReadOptions.from_config(loaded.config.data).to_dict()}
    return run, loaded, meta


def rebuild(cfg: Any, meta: dict, warn: Warn) -> Any:
    """The run's examples as training saw them: the data file encoded with the run's feature spec, then the
    validation/test files (row indices as in ``split.json``).

    Raises:
        DataError: the files are gone or unreadable.
    """
    import numpy as np

    from nnrun.config.checks import text_input
    from nnrun.data.dataset import read_like, read_table
    from nnrun.data.features import transform

    if meta["source"] == "inline":
        table = read_table(cfg.data)
    else:
        table = read_table(cfg.data, path_override=meta["source"], text=text_input(cfg),
                           skip_bad=bool(meta.get("skip_bad_rows")))  # the rows training left out, left out again
        if table.sha256 != meta["sha256"]:
            warn(f"{meta['source']} changed since training; the split refers to the old file")
    table.spec = meta["features"]
    if table.raw is not None:
        table.inputs, _, _ = transform(table.raw.frame, table.spec, table.raw.where)
    parts = [table] + [read_like(info["path"], meta, cfg.data) for role in ("validation", "test")
                       if (info := (meta.get("files") or {}).get(role))]
    for part in parts:  # one-hot rows (NPZ) to class indices, as training did
        if part.y.ndim == 2:
            part.y = np.argmax(part.y, axis=1).astype(np.int64)
    for extra in parts[1:]:
        table.append(extra)
    return table


def examples(run: Path, cfg: Any, meta: dict, data: Path | str | None, warn: Warn, training: bool = True,
             every: bool = False) -> Any:
    """The examples a later evaluation or explanation uses, as an ``EvalData``: the ``data`` file read like the
    training file, else the run's test split, else its validation split, else (with ``training``) its
    training rows (indices from ``split.json``). ``every``: a streamed run's rows are all read from its shards
    at evaluation (a report); else its first ``EVAL_ROWS`` (explain).

    Raises:
        UsageError: no ``data``, no test or validation split, and ``training`` is False.
        DataError: the file is unusable, or the training file has fewer rows than when the run was trained.
    """
    import numpy as np

    from nnrun.data.dataset import read_like
    from nnrun.data.features import take
    from nnrun.evaluation.evaluate import EvalData

    if data is not None:  # a file, or a folder or glob of shards read as one file (as data.validation/test)
        from nnrun.data.shards import find_shards

        table = read_like(find_shards(str(data), None) or data, meta, cfg.data)
        return EvalData(table.x, table.y, "file", table.source, table.where_row)
    if meta.get("streaming"):  # rows split by hash and read from the shards (data/stream_source.py)
        return streamed_examples(cfg, meta, warn, training, every)
    split = rundir.read_json(run / rundir.SPLIT)
    subset = "test" if split.get("test") else "validation" if split.get("validation") else "training"
    if subset == "training" and not training:
        raise UsageError(f"{run}: the run has no test or validation split; give --data FILE (the training "
                         "file's columns, target included)")
    table = rebuild(cfg, meta, warn)
    idx = np.asarray(split[subset if subset != "training" else "train"], dtype=np.int64)
    if idx.size and idx.max() >= len(table.y):
        raise DataError(f"{table.source}: has {len(table.y)} rows, fewer than when the run was trained")
    return EvalData(take(table.x, idx), table.y[idx], subset, table.source, lambda i: table.where_row(int(idx[i])))


def streamed_examples(cfg: Any, meta: dict, warn: Warn, training: bool = True, every: bool = False) -> Any:
    """A streamed run's test rows, else its validation rows, else (with ``training``) its training rows: with
    ``every``, all of them (``evaluation.streamed.StreamedRows``, read at evaluation), else the first
    ``stream_source.EVAL_ROWS`` of them in shard order (a note says when there are more).

    Raises:
        UsageError: no test or validation rows, and ``training`` is False. DataError: the shards are gone.
    """
    from nnrun.data.stream_read import TEST, TRAIN, VALIDATION
    from nnrun.data.stream_source import EVAL_ROWS, first_rows, from_run
    from nnrun.evaluation.evaluate import EvalData

    subset, role, total = next((s, r, meta[k]) for s, r, k in (("test", TEST, "num_test"), ("validation", VALIDATION,
                               "num_validation"), ("training", TRAIN, "num_train")) if meta[k] or s == "training")
    if subset == "training" and not training:
        raise UsageError(f"{meta['source']}: the run has no test or validation rows; give --data FILE")
    if every:
        import numpy as np

        from nnrun.evaluation.streamed import StreamedRows

        return EvalData(StreamedRows(from_run(meta, cfg, warn), role, total), np.zeros(0, dtype=object), subset,
                        meta["source"])
    x, y = first_rows(from_run(meta, cfg, warn), role, EVAL_ROWS)
    if total > EVAL_ROWS:
        warn(f"a streamed run: evaluating the first {EVAL_ROWS} of its {total} {subset} rows (shard order)")
    return EvalData(x, y, subset, meta["source"])


def training_means(run: Path, loaded: LoadedConfig, meta: dict, warn: Warn) -> Any:
    """The numeric columns' means on the run's training split (the integrated-gradients baseline when the
    spec has no normalization statistics), float64 (num_numeric,); a streamed run: its first
    ``stream_source.EVAL_ROWS`` training rows.

    Raises:
        DataError: the training data is gone or unreadable.
    """
    import numpy as np

    from nnrun.data.features import take

    if meta.get("streaming"):  # split by hash: the first EVAL_ROWS training rows in shard order
        from nnrun.data.stream_read import TRAIN
        from nnrun.data.stream_source import EVAL_ROWS, first_rows, from_run

        x, _ = first_rows(from_run(meta, loaded.config, warn), TRAIN, EVAL_ROWS)
    else:
        table = rebuild(loaded.config, meta, warn)
        x = take(table.x, np.asarray(rundir.read_json(run / rundir.SPLIT)["train"], dtype=np.int64))
    return np.asarray(x["numeric"] if isinstance(x, dict) else x, dtype=np.float64).mean(axis=0)
