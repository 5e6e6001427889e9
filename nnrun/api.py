"""The workflows behind the commands: validate, train, evaluate, predict.

Each function takes paths and plain values, returns plain data (dicts) and raises NnrunError subclasses;
the CLI only parses arguments and renders. TensorFlow is imported inside train/evaluate/predict only.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnrun import __version__, rundir
from nnrun.checks import data_problems, target_encoding
from nnrun.config import LoadedConfig, dump_resolved, load_config
from nnrun.errors import ConfigError, DataError, RunError

# nnrun.data (NumPy, pandas) is imported inside the functions that read data, so that `nnrun validate`
# stays fast.

Warn = Callable[[str], None]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def validate(config_path: Path | str, overrides: tuple[str, ...] = ()) -> LoadedConfig:
    """Check a config (schema, Keras names, cross-checks) without importing TensorFlow.

    Raises:
        ConfigError: every problem found, located.
    """
    return load_config(config_path, overrides)


def _prepare(loaded: LoadedConfig, warn: Warn) -> dict:
    """Read the data, check it against the config, encode targets and split. No TensorFlow."""
    from nnrun.data import class_list, encode_targets, read_table, split_indices

    cfg = loaded.config
    table = read_table(cfg.data, loaded.path)
    encoding = target_encoding(cfg)
    classes = class_list(table.y) if encoding != "regression" else None
    if encoding == "regression" and table.y.dtype == object:
        raise DataError(
            f"{table.source}: the target column {table.target_name!r} holds text ({table.y[0]!r}) but "
            f"{cfg.model.loss.type} is a regression loss; use a classification loss"
        )
    problems = data_problems(cfg, classes)
    if problems:
        raise ConfigError("\n".join(loaded.error(p, m).message for p, m in problems))
    y = encode_targets(table.y, encoding, classes, table.source)
    train_idx, val_idx = split_indices(
        table.y, cfg.training.validation_split, cfg.seed, stratify=encoding != "regression"
    )
    if cfg.training.validation_split > 0 and len(val_idx) == 0:
        warn(f"validation_split {cfg.training.validation_split} of {len(table.y)} examples is empty; no validation")
    if len(train_idx) == 0:
        raise DataError(f"{table.source}: no training examples left after the validation split")
    if cfg.training.batch_size > len(train_idx):
        warn(
            f"batch_size {cfg.training.batch_size} > the {len(train_idx)} training examples: each epoch is "
            "a single gradient update"
        )
    meta = {
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
        "source": str(Path(table.source).resolve()) if table.source != "inline" else "inline",
        "sha256": table.sha256,
        "num_examples": int(len(table.y)),
        "num_train": int(len(train_idx)),
        "num_validation": int(len(val_idx)),
    }
    return {"table": table, "y": y, "train_idx": train_idx, "val_idx": val_idx, "meta": meta}


def train(
    config_path: Path | str,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Warn = lambda m: None,
) -> dict:
    """Train the model a config describes and write a new run directory.

    Args:
        config_path: the YAML config.
        overrides: ``--set key.path=value`` strings.
        runs_dir: parent of the run directory (``runs/<name>``, then ``<name>-2``, …).
        progress: called after each epoch with (epoch, epochs, logs).
        warn: called with each warning line.

    Returns:
        ``{"run_dir", "status", "metrics", "epochs", "train_seconds", "params"}``.

    Raises:
        ConfigError, DataError: before any file is written.
        RunError: training diverged (run marked failed) or files could not be written.
    """
    loaded = load_config(config_path, overrides)
    cfg = loaded.config
    prep = _prepare(loaded, warn)
    table, meta = prep["table"], prep["meta"]
    x, y, tr, va = table.x, prep["y"], prep["train_idx"], prep["val_idx"]

    from nnrun.backend import keras as _keras
    from nnrun.builder import build_model, count_params
    from nnrun.training import fit

    keras = _keras()
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(loaded, (x.shape[1],))

    run_dir = rundir.create(Path(runs_dir), cfg.name)
    config_text = dump_resolved(cfg)
    run_info = {
        "status": "running",
        "nnrun_version": __version__,
        "tensorflow_version": _tf_version(),
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join(["nnrun", *sys.argv[1:]]) if sys.argv else "nnrun",
        "config_file": str(loaded.path) if loaded.path else None,
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
        "seed": cfg.seed,
        "data_file": meta["source"],
        "data_sha256": table.sha256,
        "started": _now(),
        "ended": None,
        "error": None,
        "pid": os.getpid(),
        "host": platform.node(),
    }
    rundir.write_json(run_dir / rundir.RUN, run_info)
    rundir.write_text(run_dir / rundir.CONFIG, config_text)
    rundir.write_json(run_dir / rundir.DATASET, meta)
    rundir.write_json(run_dir / rundir.SPLIT, {"train": tr.tolist(), "validation": va.tolist()})

    def finish(status: str, error: str | None = None) -> None:
        run_info.update(status=status, ended=_now(), error=error)
        rundir.write_json(run_dir / rundir.RUN, run_info)

    try:
        result = fit(model, x[tr], y[tr], (x[va], y[va]) if len(va) else None, cfg.training, progress, seed=cfg.seed)
    except KeyboardInterrupt:
        finish("interrupted", "interrupted by the user")
        raise
    except Exception as exc:
        finish("failed", f"{type(exc).__name__}: {exc}")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"training failed: {first}") from exc

    rundir.write_text(run_dir / rundir.HISTORY, _history_csv(result.history))
    rundir.write_text(run_dir / rundir.SUMMARY, _summary(model))
    metrics = {k: v[-1] for k, v in result.history.items()}
    metrics.update(epochs=result.epochs_run, train_seconds=round(result.seconds, 3))
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    if result.diverged:
        message = (
            f"the loss became NaN/infinite at epoch {result.epochs_run}; training stopped and no model was saved. "
            "Lower the learning rate or normalize the features"
        )
        finish("failed", message)
        raise RunError(f"{run_dir}: {message}")
    rundir.save_model(model, run_dir / rundir.MODEL)
    finish("completed")
    trainable, frozen = count_params(model)
    return {
        "run_dir": str(run_dir),
        "status": "completed",
        "metrics": {k: v for k, v in metrics.items() if k not in ("epochs", "train_seconds")},
        "epochs": result.epochs_run,
        "train_seconds": round(result.seconds, 3),
        "params": {"trainable": trainable, "non_trainable": frozen},
    }


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__


def _history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def _summary(model: Any) -> str:
    """Keras' model summary (its Total includes optimizer state), then nnrun's own parameter count."""
    from nnrun.builder import count_params

    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line), line_length=100)
    trainable, frozen = count_params(model)
    lines.append(f"Model parameters (weights and biases): {trainable + frozen:,} "
                 f"(trainable {trainable:,}, non-trainable {frozen:,})")
    return "\n".join(lines) + "\n"


def _load_run(run_dir: Path | str, need_model: bool = True) -> tuple[Path, LoadedConfig, dict]:
    run = rundir.check_run_dir(Path(run_dir), need_model)
    loaded = load_config(run / rundir.CONFIG)
    meta = rundir.read_json(run / rundir.DATASET)
    return run, loaded, meta


def evaluate(run_dir: Path | str, data: Path | str | None = None, warn: Warn = lambda m: None) -> dict:
    """Evaluate a run's model and write ``evaluation.json`` in the run directory.

    Args:
        run_dir: a directory made by ``train``.
        data: a file with the training file's columns (target included); default: the run's validation
            split, or its training data when it had none.

    Returns:
        ``{"run_dir", "data", "subset", "num_examples", "metrics"}`` with metrics under Keras' names.

    Raises:
        UsageError: not a run directory. DataError: unusable data. RunError: the model cannot be loaded.
    """
    import numpy as np

    from nnrun.data import encode_targets, read_table

    run, loaded, meta = _load_run(run_dir)
    cfg = loaded.config
    if data is not None:
        table = read_table(cfg.data, path_override=data)
        subset = "file"
    elif meta["source"] == "inline":
        table = read_table(cfg.data)
        subset = None
    else:
        table = read_table(cfg.data, path_override=meta["source"])
        if table.sha256 != meta["sha256"]:
            warn(f"{meta['source']} changed since training; the split refers to the old file")
        subset = None
    if table.x.shape[1] != len(meta["feature_names"]):
        raise DataError(
            f"{table.source}: expected {len(meta['feature_names'])} features, got {table.x.shape[1]}"
        )
    x = table.x
    y = encode_targets(table.y, meta["target_encoding"], meta["classes"], table.source)
    if subset is None:
        split = rundir.read_json(run / rundir.SPLIT)
        idx = np.asarray(split["validation"] or split["train"], dtype=np.int64)
        if idx.size and idx.max() >= len(x):
            raise DataError(f"{table.source}: has {len(x)} rows, fewer than when the run was trained")
        subset = "validation" if split["validation"] else "training"
        x, y = x[idx], y[idx]
    from nnrun.inference import load_model

    model = load_model(run)
    values = model.evaluate(x, y, batch_size=cfg.training.batch_size, verbose=0, return_dict=True)
    result = {
        "run_dir": str(run),
        "data": table.source,
        "subset": subset,
        "num_examples": int(len(x)),
        "metrics": {k: float(v) for k, v in values.items()},
        "evaluated": _now(),
    }
    rundir.write_json(run / rundir.EVALUATION, result)
    return result


def predict(run_dir: Path | str, source: str) -> tuple[list[dict], list[dict] | None, dict, str]:
    """Predict rows from a CSV/JSON file (or ``-`` for stdin) with a run's model.

    Returns:
        (records, input_rows, meta, input_format): one record per row (see
        ``inference.predict_records``), the raw input rows for CSV input, the run's dataset description.

    Raises:
        UsageError, DataError, RunError: as for ``evaluate``.
    """
    from nnrun.data import read_predict_input

    run, _, meta = _load_run(run_dir)
    x, rows, fmt = read_predict_input(source, meta)
    from nnrun.inference import load_model, predict_records

    model = load_model(run)
    return predict_records(model, x, meta), rows, meta, fmt
