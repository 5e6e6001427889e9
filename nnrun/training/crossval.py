"""``nnrun cv``: k-fold cross-validation of a config (stratified for classification).

The examples (less the test split, when one is configured) are cut into K folds with scikit-learn's
``StratifiedKFold`` (classification) or ``KFold`` (regression), shuffled with the config's seed. Fold i trains
a fresh model on the other K-1 folds (the feature spec — fills, vocabularies, normalization — learnt on those
rows only) and evaluates it on fold i. The run directory holds ``cv.json`` (per-fold metrics, their mean and
standard deviation), ``metrics.json`` (the means, for ``nnrun runs``/``compare``), ``split.json`` (each
fold's row indices) and one ``fold_<i>/`` per fold with its model, history and evaluation.

Each fold is trained by ``run.train_one``, as ``nnrun train`` trains a model (monitor checks, dry run, reload
check): fold 1's model is checked before the run directory is made, so a config error writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.backend import select
from nnrun.config.load import LoadedConfig, dump_resolved
from nnrun.errors import ConfigError, DataError, Interrupted, NnrunError
from nnrun.training import records
from nnrun.training.cluster import refuse_multi_worker
from nnrun.training.prepare import Prepared, prepare, with_data_facts
from nnrun.training.run import Trained, evaluate_trained, train_one, writing_guard

MAX_FOLDS = 100


def _ignore(message: str) -> None:
    """The default warning sink: drop the line."""


@dataclass
class CvHooks:
    """The callbacks of a cross-validation.

    Attributes:
        progress: per-epoch callback (epoch, epochs, logs), as for ``train``.
        warn: called with each warning line.
        on_fold: called with (fold, K) before each fold trains.
    """

    progress: Callable[[int, int, dict], None] | None = None
    warn: Callable[[str], None] = _ignore
    on_fold: Callable[[int, int], None] | None = None


def check_folds(folds: int) -> None:
    """K must be 2..MAX_FOLDS.

    Raises:
        ConfigError: otherwise.
    """
    if folds < 2:
        raise ConfigError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if folds > MAX_FOLDS:
        raise ConfigError(f"--folds {folds}: at most {MAX_FOLDS} folds")


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


def cross_validate(loaded: LoadedConfig, folds: int, runs_dir: Path, hooks: CvHooks) -> dict:
    """Train and evaluate the config's model on K folds; write a ``<name>-cv`` run directory.

    Args:
        loaded: the loaded config (a ``validation_split`` is ignored: the folds replace it).
        folds: K, 2..MAX_FOLDS (see ``check_folds``).
        runs_dir: parent of the run directory.
        hooks: progress, warnings and the per-fold callback.

    Returns:
        The ``cv.json`` document: ``folds`` (per fold: sizes, epochs, ``metrics``), ``mean``, ``std``
        (population standard deviation, as ``numpy.std``), ``k``, ``stratified``, ``run_dir``.

    Raises:
        ConfigError, DataError: before any file is written (a validation file in the config is refused: it
            cannot be folded; fold 1's model passes train's checks before the run directory is made).
        RunError: a fold failed or diverged. Interrupted: Ctrl-C/SIGTERM (finished folds stay in the run).
    """
    if loaded.config.data.validation is not None:
        raise loaded.error(("data", "validation"), "cv makes its own validation folds; remove data.validation "
                           "(or use nnrun train)")
    refuse_multi_worker(loaded, "nnrun cv")
    select(loaded.config.backend)  # before Keras is imported (the backend is process-global)
    t = loaded.config.training.model_copy(update={"validation_split": 0.0})
    cfg = loaded.config.model_copy(update={"training": t})
    prep = prepare(LoadedConfig(cfg, loaded.source, loaded.path), hooks.warn)
    rows, stratify = prep.train_idx, prep.meta["task"] == "classification"
    pairs = [(rows[a], rows[b]) for a, b in fold_indices(prep.table.y[rows], folds, cfg.seed, stratify)]
    cv_run = CvRun(prep, Path(runs_dir), pairs, stratify)
    try:
        for i, pair in enumerate(pairs, 1):
            if hooks.on_fold is not None:
                hooks.on_fold(i, folds)
            cv_run.add(i, *_train_fold(cv_run, i, pair, hooks))
        return cv_run.finish("completed")
    finally:
        if cv_run.lock is not None:
            cv_run.lock.release()


def _train_fold(cv_run: CvRun, i: int, pair: tuple[Any, Any], hooks: CvHooks) -> tuple[Prepared, Trained, dict]:
    """Encode fold ``i`` (its feature spec learnt on its training rows), train it with ``train_one`` and evaluate
    it on its validation rows; its checkpoint files are removed (a cross-validation does not resume).

    Returns:
        (the fold's Prepared, the Trained model, the evaluation document).
    """
    target: FoldRun | None = None
    try:
        fold = cv_run.prep.fold(*pair)
        target = FoldRun(cv_run, i, fold.meta)
        trained = train_one(fold, target, hooks.progress)
        with writing_guard(target):
            _, doc = evaluate_trained(fold, trained, plots=False)
        return fold, trained, doc
    except KeyboardInterrupt:
        cv_run.finish_if_running("interrupted", f"interrupted in fold {i}")
        raise
    except NnrunError as exc:
        cv_run.finish_if_running("failed", f"fold {i}: {exc.message}")
        raise
    finally:
        if target is not None and target.run_dir is not None:
            for name in (rundir.LAST_MODEL, rundir.BEST_MODEL, rundir.CHECKPOINT):
                (target.run_dir / name).unlink(missing_ok=True)


class CvRun:
    """The ``<name>-cv`` run directory, made when fold 1's model has passed its checks."""

    def __init__(self, prep: Prepared, runs_dir: Path, pairs: list[tuple[Any, Any]], stratify: bool) -> None:
        self.prep, self.runs_dir, self.pairs, self.stratify = prep, runs_dir, pairs, stratify
        self.run_dir: Path | None = None
        self.info: dict = {}
        self.results: list[dict] = []
        self.status = "running"
        self.lock: rundir.RunLock | None = None

    def open(self) -> Path:
        """Create the run directory (once) with run.json, config.yaml and split.json."""
        if self.run_dir is None:
            prep, cfg = self.prep, self.prep.config
            self.run_dir = run_dir = rundir.create(self.runs_dir, f"{cfg.name}-cv")
            self.lock = rundir.RunLock(run_dir).acquire()  # held until cross_validate returns
            self.info = records.run_info(prep.loaded, prep.meta, prep.table)
            self.info.update(command_kind="cv", folds=len(self.pairs))
            rundir.write_json(run_dir / rundir.RUN, self.info)
            rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(with_data_facts(cfg, prep.meta)))
            rundir.write_indices(run_dir / rundir.SPLIT, {"folds": [b for _, b in self.pairs], "test": prep.test_idx})
        return self.run_dir

    def add(self, i: int, fold: Prepared, trained: Trained, doc: dict) -> None:
        """Record fold ``i``'s sizes, epochs and validation metrics (``doc``: its evaluation); rewrite cv.json."""
        metrics = {f"val_{k}": v for k, v in doc["metrics"].items()}
        metrics.update(epochs=trained.result.epochs_run, best_epoch=trained.result.best_epoch)
        self.results.append({"fold": i, "train": int(len(fold.train_idx)), "validation": int(len(fold.val_idx)),
                             "metrics": metrics})
        rundir.write_json(self.open() / rundir.CV, self.summary())

    def summary(self) -> dict:
        """The cv.json document of the folds so far."""
        return _summary(self.results, len(self.pairs), self.stratify, self.open(), self.prep.config.seed)

    def finish(self, status: str, error: str | None = None) -> dict:
        """Write cv.json (and, completed, metrics.json: the folds' means) and the status; returns cv.json."""
        doc = self.summary()
        rundir.write_json(self.open() / rundir.CV, doc)
        if status == "completed":  # the folds' means, so that `nnrun runs` and `nnrun compare` show the run
            rundir.write_json(self.open() / rundir.METRICS, {k: v for k, v in doc["mean"].items() if k != "best_epoch"})
        self.info.update(status=status, error=error)
        rundir.write_json(self.open() / rundir.RUN, self.info)
        self.status = status
        return doc

    def finish_if_running(self, status: str, error: str) -> None:
        """Record a failure or interruption unless none is due: no directory yet, or a status recorded."""
        if self.run_dir is not None and self.status == "running":
            self.finish(status, error)


class FoldRun:
    """The ``fold_<i>/`` directory of one fold: a ``train_one`` target whose outcome goes to the cv run."""

    def __init__(self, cv_run: CvRun, fold: int, meta: dict) -> None:
        self.cv_run, self.fold, self.meta = cv_run, fold, meta
        self.run_dir: Path | None = None
        self.finished = False

    def restore(self) -> tuple[Any, Any]:
        """Folds never resume: build a fresh model."""
        return None, None

    def open(self, preprocessing: list[str]) -> Path:
        """Create the cv run (fold 1) and this fold's directory with its dataset.json."""
        self.run_dir = self.cv_run.open() / f"{rundir.FOLD_PREFIX}{self.fold}"
        self.run_dir.mkdir()
        rundir.write_json(self.run_dir / rundir.DATASET, self.meta)
        return self.run_dir

    def finish(self, status: str, error: str | None = None) -> None:
        """A failure or interruption is the cv run's (``completed`` waits for the last fold)."""
        self.finished = status != "running"
        if status == "interrupted":
            self.cv_run.finish_if_running(status, f"interrupted in fold {self.fold}")
        elif status != "completed":
            self.cv_run.finish_if_running(status, f"fold {self.fold}: {error}")

    def interrupted(self, result: Any) -> NnrunError:
        """Record the stop; the error says where the finished folds are."""
        self.cv_run.finish_if_running("interrupted", f"stopped by the user in fold {self.fold}")
        self.finished = True
        return Interrupted(f"{self.cv_run.run_dir}: interrupted in fold {self.fold} of {len(self.cv_run.pairs)}; "
                           "finished folds are in cv.json")


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
