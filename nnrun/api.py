"""The workflows behind the commands: validate, train, evaluate, predict.

Each function takes paths and plain values, returns plain data (dicts) and raises NnrunError subclasses;
the CLI only parses arguments and renders. TensorFlow is imported inside train/evaluate/predict only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from nnrun import rundir
from nnrun.config import LoadedConfig, load_config
from nnrun.errors import ConfigError, DataError, RunError

# nnrun.data (NumPy, pandas) is imported inside the functions that read data, so that `nnrun validate`
# stays fast.

Warn = Callable[[str], None]


def validate(config_path: Path | str, overrides: tuple[str, ...] = ()) -> LoadedConfig:
    """Check a config (schema, Keras names, cross-checks) without importing TensorFlow.

    Raises:
        ConfigError: every problem found, located.
    """
    return load_config(config_path, overrides)

def train(
    config_path: Path | str | None,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Warn = lambda m: None,
    resume: Path | str | None = None,
    gates: tuple[str, ...] = (),
    plots: bool = True,
) -> dict:
    """Train the model a config describes and write a new run directory, or resume an interrupted run.

    See ``nnrun.trainer.train_run`` for the arguments, return value and errors.
    """
    from nnrun.trainer import train_run

    return train_run(config_path, overrides, runs_dir, progress, warn, resume, gates, plots)


#: Keys of dataset.json that predict and evaluate rely on.
_META_KEYS = ("task", "target_encoding", "classes", "feature_names", "target_name", "columns", "target_index",
              "header", "source")


def _load_run(run_dir: Path | str, need_model: bool = True) -> tuple[Path, LoadedConfig, dict]:
    """A finished run's config and dataset description.

    Raises:
        UsageError: not a run directory. RunError: its config.yaml or dataset.json is missing or damaged.
    """
    run = rundir.check_run_dir(Path(run_dir), need_model)
    try:
        loaded = load_config(run / rundir.CONFIG)
    except ConfigError as exc:
        raise RunError(f"{run}: the run's {rundir.CONFIG} is missing or damaged: {exc.message}") from None
    meta = rundir.read_json(run / rundir.DATASET)
    if not isinstance(meta, dict) or any(k not in meta for k in _META_KEYS):
        raise RunError(f"{run / rundir.DATASET}: damaged (expected keys {', '.join(_META_KEYS)}); train the run again")
    return run, loaded, meta


def evaluate(
    run_dir: Path | str,
    data: Path | str | None = None,
    warn: Warn = lambda m: None,
    plots: bool = True,
    gates: tuple[str, ...] = (),
) -> dict:
    """Evaluate a run's model; write ``evaluation.json``, ``report.md`` and plots in the run directory.

    Args:
        run_dir: a directory made by ``train``.
        data: a file with the training file's columns (target included); default: the run's validation
            split, or its training data when it had none.
        plots: write PNG plots.
        gates: ``--gate`` strings (``val_accuracy>=0.9``); a ``val_`` gate reads the same metric on the
            validation split. The config's ``gates:`` are checked too.

    Returns:
        The evaluation document (``metrics``, ``report``, ``subset``, …) plus ``gates`` results.

    Raises:
        UsageError: not a run directory. DataError: unusable data. RunError: the model cannot be loaded.
        ConfigError: a malformed gate.
    """
    import numpy as np

    from nnrun.config import config_gates
    from nnrun.data import read_labelled, read_table
    from nnrun.gates import parse_gates

    run, loaded, meta = _load_run(run_dir)
    cfg = loaded.config
    gate_list = config_gates(loaded) + parse_gates(gates, "--gate")
    if data is not None:
        table = read_labelled(data, meta)
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
        raise DataError(f"{table.source}: expected {len(meta['feature_names'])} features, got {table.x.shape[1]}")
    x, y_raw = table.x, table.y
    if subset is None:
        split = rundir.read_json(run / rundir.SPLIT)
        idx = np.asarray(split["validation"] or split["train"], dtype=np.int64)
        if idx.size and idx.max() >= len(x):
            raise DataError(f"{table.source}: has {len(x)} rows, fewer than when the run was trained")
        subset = "validation" if split["validation"] else "training"
        x, y_raw = x[idx], y_raw[idx]
    from nnrun.evaluation import evaluate as evaluate_model
    from nnrun.inference import load_model

    doc = evaluate_model(run, load_model(run), x, y_raw, meta, subset=subset, source=table.source,
                         batch_size=cfg.training.batch_size, plots=plots)
    values = dict(doc["metrics"])  # a val_X gate (written for train) reads X on the data evaluated here
    values.update({f"val_{k}": v for k, v in doc["metrics"].items()})
    if (run / rundir.METRICS).exists():  # run-level numbers (epochs, best_epoch, …) for config gates
        trained = rundir.read_json(run / rundir.METRICS)
        values.update({k: trained[k] for k in ("epochs", "train_seconds", "best_epoch") if k in trained})
    from nnrun.trainer import check_gates

    doc["gates"] = check_gates(run, gate_list, values)
    return doc


def predict(
    run_dir: Path | str, source: str, keep: bool = False, threshold: float = 0.5
) -> tuple[dict, str, Iterator[tuple[list[dict], list[dict] | None]]]:
    """Predict rows from a CSV/JSON file (or ``-`` for stdin) with a run's model, batch by batch.

    Large CSV files are read in chunks, so memory stays flat however long the file is.

    Args:
        keep: also yield the input rows (for ``--keep``).
        threshold: binary classifiers predict the second class when its probability is >= threshold.

    Returns:
        (meta, input_format, batches): the run's dataset description, ``csv``/``json``, and an iterator of
        (records, input_rows) per batch (records as in ``inference.predict_records``).

    Raises:
        UsageError, DataError, RunError: as for ``evaluate`` (data errors may come while iterating).
    """
    from nnrun.data import predict_batches

    run, _, meta = _load_run(run_dir)
    fmt, batches = predict_batches(source, meta, keep=keep)
    from nnrun.inference import load_model, predict_records

    model = load_model(run)

    def predicted() -> Iterator[tuple[list[dict], list[dict] | None]]:
        for x, rows in batches:
            yield predict_records(model, x, meta, threshold=threshold), rows

    return meta, fmt, predicted()
