"""``nnrun cv``: k-fold cross-validation of a config (stratified for classification).

The examples (less the test split, when one is configured) are cut into K folds with scikit-learn's
``StratifiedKFold`` (classification) or ``KFold`` (regression), shuffled with the config's seed. Fold i trains
a fresh model on the other K-1 folds (the feature spec — fills, vocabularies, normalization — learnt on those
rows only) and evaluates it on fold i. The run directory holds ``cv.json`` (per-fold metrics, their mean and
standard deviation), ``metrics.json`` (the means, for ``nnrun runs``/``compare``), ``split.json`` (each
fold's row indices) and one ``fold_<i>/`` per fold with its model, history and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.config.load import LoadedConfig, dump_resolved, load_config
from nnrun.errors import ConfigError, DataError, Interrupted, RunError

CV_JSON = "cv.json"
MAX_FOLDS = 100


def fold_indices(y: Any, k: int, seed: int, stratify: bool) -> list[tuple[Any, Any]]:
    """K (train, validation) index pairs over ``range(len(y))``.

    Args:
        y: labels (classification) or values, shape (num_samples,).
        k: number of folds, 2..num_samples.
        stratify: keep each class's share in every fold (scikit-learn ``StratifiedKFold``), else ``KFold``.

    Returns:
        K pairs of sorted int arrays; the validation arrays partition the rows.

    Raises:
        DataError: fewer examples than folds, or a class with fewer members than folds (stratified).
    """
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if k > n:
        raise DataError(f"--folds {k}: the data has only {n} examples; use at most {n} folds")
    if stratify:
        labels = np.array([str(v) for v in y])
        values, counts = np.unique(labels, return_counts=True)
        if counts.min() < 2:
            small = str(values[np.argmin(counts)])
            raise DataError(f"--folds {k}: class {small!r} has a single example; stratified cross-validation needs "
                            "at least 2 per class (and at least K for K folds)")
        if counts.min() < k:
            small = str(values[np.argmin(counts)])
            raise DataError(f"--folds {k}: class {small!r} has only {counts.min()} examples, fewer than the folds; "
                            f"use --folds {max(2, int(counts.min()))} or fewer")
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed % 2**32)
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(n), labels)]
    splitter = KFold(n_splits=k, shuffle=True, random_state=seed % 2**32)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(n))]


def cross_validate(
    config_path: Path | str,
    folds: int,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Callable[[str], None] = lambda m: None,
    on_fold: Callable[[int, int], None] | None = None,
) -> dict:
    """Train and evaluate the config's model on K folds; write a ``<name>-cv`` run directory.

    Args:
        folds: K, at least 2.
        progress: per-epoch callback (epoch, epochs, logs), as for ``train``.
        on_fold: called with (fold, K) before each fold trains.

    Returns:
        The ``cv.json`` document: ``folds`` (per fold: sizes, epochs, ``metrics``), ``mean``, ``std``
        (population standard deviation, as ``numpy.std``), ``k``, ``stratified``, ``run_dir``.

    Raises:
        ConfigError, DataError: before any file is written (a validation file or split in the config is
            replaced by the folds; it is refused only when it is a file, which cannot be folded).
        RunError: a fold diverged. Interrupted: Ctrl-C/SIGTERM (finished folds stay in the run).
    """
    from nnrun.training import fit as training
    from nnrun.training.run import _check_monitor, _prepare, _run_info, _sample_weights

    if folds < 2:
        raise ConfigError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if folds > MAX_FOLDS:
        raise ConfigError(f"--folds {folds}: at most {MAX_FOLDS} folds")
    loaded = load_config(config_path, overrides)
    if loaded.config.data.validation is not None:
        raise loaded.error(("data", "validation"), "cv makes its own validation folds; remove data.validation "
                           "(or use nnrun train)")
    t = loaded.config.training.model_copy(update={"validation_split": 0.0})
    cfg = loaded.config.model_copy(update={"training": t})
    cv_loaded = LoadedConfig(cfg, loaded.source, loaded.path)
    prep = _prepare(cv_loaded, warn)
    table, meta, rows = prep["table"], prep["meta"], prep["train_idx"]
    stratify = meta["task"] == "classification"
    pairs = [(rows[a], rows[b]) for a, b in fold_indices(table.y[rows], folds, cfg.seed, stratify)]
    monitor = training.default_monitor(cfg.training, True)
    _check_monitor(cv_loaded, monitor, True)

    from nnrun.backend import keras as _keras
    from nnrun.data.features import take
    from nnrun.evaluation.evaluate import evaluate as evaluate_model
    from nnrun.training.build import adapt_preprocessing, build_model, input_shape
    from nnrun.training.run import _history_csv

    keras = _keras()
    training.STOP_REQUESTED.clear()
    run_dir = rundir.create(Path(runs_dir), f"{cfg.name}-cv")
    info = _run_info(cv_loaded, meta, table, keras)
    info.update(command_kind="cv", folds=folds)
    rundir.write_json(run_dir / rundir.RUN, info)
    rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(cfg))
    rundir.write_indices(run_dir / rundir.SPLIT, {"folds": [b for _, b in pairs], "test": prep["test_idx"]})
    results: list[dict] = []

    def finish(status: str, error: str | None = None) -> dict:
        doc = _summary(results, folds, stratify, run_dir, cfg.seed)
        rundir.write_json(run_dir / CV_JSON, doc)
        if status == "completed":  # the folds' means, so that `nnrun runs` and `nnrun compare` show the run
            rundir.write_json(run_dir / rundir.METRICS, {k: v for k, v in doc["mean"].items() if k != "best_epoch"})
        info.update(status=status, error=error)
        rundir.write_json(run_dir / rundir.RUN, info)
        return doc

    for i, (tr, va) in enumerate(pairs, 1):
        if on_fold is not None:
            on_fold(i, folds)
        spec = table.encode(tr, cfg.data)
        fold_meta = dict(meta, features=spec, num_train=int(len(tr)), num_validation=int(len(va)))
        x, y = table.x, prep["y"]
        keras.utils.set_random_seed(cfg.seed)
        model = build_model(cv_loaded, input_shape(spec), spec)
        adapt_preprocessing(cv_loaded, model, take(x, tr))
        fold_dir = run_dir / f"fold_{i}"
        fold_dir.mkdir()
        weights = _sample_weights(cv_loaded, {**prep, "train_idx": tr}, warn)
        try:
            result = training.fit(model, take(x, tr), y[tr], (take(x, va), y[va]), cfg.training, progress,
                                  seed=cfg.seed, run_dir=fold_dir, sample_weight=weights)
        except KeyboardInterrupt:
            finish("interrupted", f"interrupted in fold {i}")
            raise
        for name in (training.LAST, training.BEST, training.CHECKPOINT):
            (fold_dir / name).unlink(missing_ok=True)
        rundir.write_text(fold_dir / rundir.HISTORY, _history_csv(result.history))
        if result.diverged:
            finish("failed", f"fold {i}: the loss became NaN/infinite")
            raise RunError(f"{run_dir}: fold {i}: the loss became NaN/infinite at epoch {result.epochs_run}; "
                           "lower the learning rate or normalize the features")
        if result.interrupted:
            finish("interrupted", f"stopped by the user in fold {i}")
            raise Interrupted(f"{run_dir}: interrupted in fold {i} of {folds}; finished folds are in cv.json")
        rundir.write_json(fold_dir / rundir.DATASET, fold_meta)
        rundir.save_model(model, fold_dir / rundir.MODEL)
        doc = evaluate_model(fold_dir, model, take(x, va), table.y[va], fold_meta, subset="validation",
                             source=meta["source"], batch_size=cfg.training.batch_size, plots=False)
        metrics = {f"val_{k}": v for k, v in doc["metrics"].items()}
        metrics.update(epochs=result.epochs_run, best_epoch=result.best_epoch)
        results.append({"fold": i, "train": int(len(tr)), "validation": int(len(va)), "metrics": metrics})
        rundir.write_json(run_dir / CV_JSON, _summary(results, folds, stratify, run_dir, cfg.seed))
    return finish("completed")


def _summary(results: list[dict], k: int, stratified: bool, run_dir: Path, seed: int) -> dict:
    import numpy as np

    names = [n for n in (results[0]["metrics"] if results else {}) if all(
        isinstance(r["metrics"].get(n), (int, float)) for r in results)]
    values = {n: np.array([float(r["metrics"][n]) for r in results]) for n in names}
    return {
        "run_dir": str(run_dir),
        "k": k,
        "stratified": stratified,
        "seed": seed,
        "folds_done": len(results),
        "folds": results,
        "mean": {n: float(v.mean()) for n, v in values.items()},
        "std": {n: float(v.std()) for n, v in values.items()},
    }
