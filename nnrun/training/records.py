"""What a training run records about itself: run.json's facts, history.csv, summary.txt, metrics.json, and the
checks and config of a resumed run.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import platform
import sys
from pathlib import Path
from typing import Any

from nnrun import __version__, rundir
from nnrun.config.load import LoadedConfig, dump_resolved, load_config
from nnrun.errors import ConfigError, RunError


def now() -> str:
    """The current UTC time, ISO 8601 to the second (run.json's ``started``/``ended``)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_info(loaded: LoadedConfig, meta: dict, table: Any) -> dict:
    """run.json of a run that starts now: versions, platform, command, config and data hashes, status running.

    Args:
        loaded: the loaded config. meta: the dataset.json document. table: the data table (its SHA-256).
    """
    from nnrun.backend import backend_name
    from nnrun.backend import keras as _keras

    cfg = loaded.config
    return {
        "status": "running",
        "nnrun_version": __version__,
        "backend": backend_name(),
        "tensorflow_version": _version("tensorflow"),
        **({"jax_version": _version("jax")} if backend_name() == "jax" else {}),
        "keras_version": _keras().__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join(["nnrun", *sys.argv[1:]]) if sys.argv else "nnrun",
        "config_file": str(loaded.path) if loaded.path else None,
        "config_file_sha256": hashlib.sha256(loaded.path.read_bytes()).hexdigest() if loaded.path else None,
        "resolved_config_sha256": hashlib.sha256(dump_resolved(cfg).encode()).hexdigest(),
        "seed": cfg.seed,
        "data_file": meta["source"],
        "data_sha256": table.sha256,
        "started": now(),
        "ended": None,
        "error": None,
        "pid": os.getpid(),
        "host": platform.node(),
    }


def _version(package: str) -> str | None:
    """An installed package's version, read from its metadata (importing TensorFlow costs seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def write_training(run_dir: Path, model: Any, result: Any, measured: dict | None = None) -> dict:
    """Write history.csv, summary.txt and metrics.json of a finished ``fit``.

    Args:
        run_dir: the directory. model: the trained model. result: the FitResult.
        measured: the model's metrics on the training rows measured after training (``train_loss``, …),
            written next to the history's running values.

    Returns:
        metrics.json's document (see ``fit_metrics``).
    """
    rundir.write_text(run_dir / rundir.HISTORY, history_csv(result.history))
    rundir.write_text(run_dir / rundir.SUMMARY, model_summary(model))
    metrics = {**fit_metrics(result), **(measured or {})}
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    return metrics


def fit_metrics(result: Any) -> dict:
    """The last epoch's metrics (the best epoch's when its weights were restored), plus epochs,
    train_seconds, monitor, best_epoch, best_value, restored_best_weights and stopped_early."""
    metrics = {k: v[-1] for k, v in result.history.items()}
    if result.restored_best and result.best_epoch:
        metrics = {k: v[result.best_epoch - 1] for k, v in result.history.items()}
    metrics.update(
        epochs=result.epochs_run, train_seconds=round(result.seconds, 3), monitor=result.monitor,
        best_epoch=result.best_epoch, best_value=result.best_value, restored_best_weights=result.restored_best,
        stopped_early=result.stopped_early,
    )
    return metrics


def history_csv(history: dict[str, list[float]]) -> str:
    """history.csv: an ``epoch`` column (from 1) then one column per metric, values as ``repr`` floats."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def model_summary(model: Any) -> str:
    """Keras' model summary (its Total includes optimizer state), then nnrun's own parameter count."""
    from nnrun.training.build import count_params

    lines: list[str] = []
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # Keras renders with rich at the terminal's width; the file must not be cut
    try:
        model.summary(print_fn=lambda line, **_: lines.append(line), line_length=100)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    trainable, frozen = count_params(model)
    lines.append(f"Model parameters (weights and biases): {trainable + frozen:,} "
                 f"(trainable {trainable:,}, non-trainable {frozen:,})")
    return "\n".join(lines) + "\n"


def check_resumable(run_dir: Path | str) -> Path:
    """A run directory that can be resumed: a run, not still training.

    Raises:
        UsageError: not a run directory. RunError: its process is still running.
    """
    run_dir = rundir.check_run_dir(Path(run_dir), need_model=False)
    if rundir.status(run_dir) == "running":
        pid = rundir.read_json(run_dir / rundir.RUN).get("pid")
        raise RunError(f"{run_dir}: is still training (process {pid}); stop it first (Ctrl-C or kill -TERM), "
                       "then resume")
    return run_dir


def resume_config(run_dir: Path, config_path: Path | str | None, overrides: tuple[str, ...]) -> LoadedConfig:
    """The run's own config plus ``--set`` overrides; refuse any change but ``training.epochs``.

    Args:
        run_dir: the run directory. config_path: a config that must equal the run's (data facts aside), or
            None. overrides: ``--set`` strings.

    Raises:
        ConfigError: the given config differs, or an override changes more than ``training.epochs``.
    """
    from nnrun.config.load import config_diff
    from nnrun.training.prepare import with_data_facts

    original = load_config(run_dir / rundir.CONFIG)
    if config_path is not None:
        given = load_config(config_path)
        facts = rundir.read_json(run_dir / rundir.DATASET)
        changed = config_diff(original.config, with_data_facts(given.config, facts))
        if changed:
            lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed)
            raise ConfigError(
                f"{config_path}: differs from the config of {run_dir}: {lines}",
                hint="resume with the run's own config (omit CONFIG), or train a new run",
            )
    loaded = load_config(run_dir / rundir.CONFIG, overrides)
    changed = [d for d in config_diff(original.config, loaded.config) if d[0] != "training.epochs"]
    if changed:
        lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed)
        raise ConfigError(f"--set: only training.epochs can change when resuming; changed: {lines}",
                          hint="train a new run to change anything else")
    return loaded
