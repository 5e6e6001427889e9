"""``nnrun tune``: a hyperparameter search on Optuna, every trial one ordinary nnrun training.

    check the config and its search: section (exit 2 before anything is written)
    -> runs/<name>-tune/ with study.db (Optuna's SQLite store; --resume reopens it)
    -> J processes (--jobs) each: ask Optuna for values -> run.train(config + --set values) into trial_<n>/
       -> report the metric per epoch (the pruner may stop the trial between epochs) -> tell Optuna the value
    -> trials.csv, best.yaml, tune.json, plots (see ``tune_report``)

Optuna's own ``study.optimize(n_jobs=...)`` runs trials in threads; TensorFlow/Keras state and nnrun's stop
flag are per process, so parallel trials run in processes (``multiprocessing`` spawn) on the one SQLite store.
The trial loop uses Optuna's ask/tell interface so that a failed trial is recorded with nnrun's message, a
pruned one stops through nnrun's clean stop (checkpoint, run marked interrupted), and the count of trials
leaves out those killed mid-way (their values are enqueued again on ``--resume``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.config.load import LoadedConfig, load_config
from nnrun.config.search import Search, check_search, override
from nnrun.errors import Interrupted, NnrunError, UsageError
from nnrun.training.cluster import refuse_multi_worker
from nnrun.training.tune_study import (
    CUT,
    STUDY_DB,
    counted,
    distributions,
    open_study,
    pruner_for,
    retry_cut_trials,
    sampler_for,
    storage_url,
)

TUNE_SUFFIX = "-tune"
TRIAL_PREFIX = "trial_"


@dataclass
class TuneOptions:
    """What a ``tune`` call asks for besides the config.

    Attributes:
        trials: --trials (None: the config's). timeout: seconds after which no new trial starts (None: no
        limit). jobs: trials at once, each in its own process. plots: write plots (trials' and the search's).
        progress: makes the per-epoch progress callback of trial n (main process only), or None.
        announce: called with one line per finished trial; must be a module-level function (it is sent to
        the worker processes).
    """

    trials: int | None = None
    timeout: float | None = None
    jobs: int = 1
    plots: bool = True
    progress: Callable[[int], Callable[[int, int, dict], None] | None] | None = None
    announce: Callable[[str], None] | None = None


@dataclass
class Worker:
    """What one process needs to run trials (picklable: sent to spawned processes).

    Attributes:
        config_path: the config. overrides: the user's --set strings. tune_dir: the search's directory.
        trials: the number of trials wanted. deadline: time.time() after which no trial starts (None: none).
        plots: trials write their plots. announce: see TuneOptions.
    """

    config_path: str
    overrides: tuple[str, ...]
    tune_dir: str
    trials: int
    deadline: float | None = None
    plots: bool = True
    announce: Callable[[str], None] | None = None
    progress: Any = field(default=None, repr=False)  # main process only


def tune(config_path: Path, overrides: tuple[str, ...], runs_dir: Path, options: TuneOptions,
         resume: Path | None = None) -> dict:
    """Run (or continue) the search the config's ``search:`` section describes.

    Args:
        config_path: the YAML config with a search: section. overrides: --set strings (fixed for every trial).
        runs_dir: parent of ``<name>-tune``. options: trials, timeout, jobs, plots, progress.
        resume: an earlier search's directory: its study continues (finished trials are kept).

    Returns:
        The tune.json document (see ``tune_report.summary``) plus ``gates`` (the best trial's).

    Raises:
        ConfigError: the config or its search section is invalid (nothing written). UsageError: --resume of a
        directory without study.db, or --jobs < 1. RunError: no trial completed. Interrupted: Ctrl-C.
    """
    from nnrun.training import tune_report

    loaded = load_config(config_path, overrides)
    search = check_search(loaded, options.trials)
    refuse_multi_worker(loaded, "nnrun tune")
    if options.jobs < 1:
        raise UsageError(f"--jobs {options.jobs}: expected 1 or more")
    tune_dir = _open_dir(loaded, runs_dir, resume)
    study = open_study(loaded, search, tune_dir)
    if resume is not None:
        retry_cut_trials(study, tune_dir)
    deadline = time.time() + options.timeout if options.timeout else None
    worker = Worker(str(Path(config_path).resolve()), overrides, str(tune_dir), search.trials, deadline,
                    options.plots, options.announce, options.progress)
    _run_workers(worker, options.jobs)
    return tune_report.write_results(study, loaded, search, tune_dir, options.plots)


def _open_dir(loaded: LoadedConfig, runs_dir: Path, resume: Path | None) -> Path:
    """A new ``<name>-tune`` directory, or the resumed one (which must hold study.db)."""
    if resume is None:
        return rundir.create(runs_dir, loaded.config.name + TUNE_SUFFIX)
    if not (resume / STUDY_DB).is_file():
        raise UsageError(f"{resume}: not a tune directory (no {STUDY_DB}); give the directory `nnrun tune` made")
    return resume


def _run_workers(worker: Worker, jobs: int) -> None:
    """Run the trial loop in this process and in ``jobs - 1`` spawned ones; wait for them all."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no TensorFlow state shared
    remote = Worker(**{**worker.__dict__, "progress": None})
    procs = [context.Process(target=_child, args=(remote,), daemon=True) for _ in range(jobs - 1)]
    for proc in procs:
        proc.start()
    try:
        run_trials(worker)
    finally:
        for proc in procs:
            proc.join()


def resume_command(worker: Worker) -> str:
    """The command that continues this search (same config and --set values)."""
    import shlex

    sets = "".join(f" --set {shlex.quote(item)}" for item in worker.overrides)
    return f"nnrun tune {shlex.quote(worker.config_path)}{sets} --resume {shlex.quote(worker.tune_dir)}"


def _child(worker: Worker) -> None:
    """A spawned process's trial loop: a stop (Ctrl-C reaches the whole process group) ends it quietly, the
    trial it ran recorded; the main process reports the interruption."""
    try:
        run_trials(worker)
    except (KeyboardInterrupt, Interrupted):
        pass


def run_trials(worker: Worker) -> None:
    """The trial loop of one process: until the study has ``worker.trials`` counted trials or the deadline.

    Raises:
        Interrupted: Ctrl-C/SIGTERM (the trial running is marked failed and drawn again on --resume).
    """
    import optuna

    from nnrun.training.fit import STOP_REQUESTED

    loaded = load_config(worker.config_path, worker.overrides)
    search = check_search(loaded, worker.trials)
    tune_dir = Path(worker.tune_dir)
    study = optuna.load_study(study_name=loaded.config.name, storage=storage_url(tune_dir),
                              sampler=sampler_for(loaded, search), pruner=pruner_for(loaded, search))
    space = distributions(search)
    while counted(study) < worker.trials and (worker.deadline is None or time.time() < worker.deadline):
        if STOP_REQUESTED.is_set():
            raise Interrupted(f"{tune_dir}: search interrupted", hint=f"continue with: {resume_command(worker)}")
        trial = study.ask(space)
        state = run_trial(trial, worker, search)
        if worker.announce is not None:
            worker.announce(_trial_line(study, trial.number, state, search))


def run_trial(trial: Any, worker: Worker, search: Search) -> str:
    """Train trial ``trial.number`` into ``trial_<n>/`` and tell Optuna its outcome.

    Returns:
        The trial's final state name (COMPLETE, PRUNED or FAIL).
    """
    from optuna.trial import TrialState

    from nnrun.training import run
    from nnrun.training.fit import STOP_REQUESTED

    params = {p.key: trial.params[p.key] for p in search.params}
    sets = worker.overrides + (f"name={TRIAL_PREFIX}{trial.number}",) + tuple(
        override(p, params[p.key]) for p in search.params)
    reporter = Reporter(trial, search.metric, worker.progress(trial.number) if worker.progress else None)
    started = time.perf_counter()
    try:
        loaded = load_config(worker.config_path, sets)
        result = run.train(loaded, Path(worker.tune_dir), run.Options(progress=reporter, plots=worker.plots))
    except Interrupted as exc:
        if not reporter.pruned:
            _cut(trial, exc.message)
            raise Interrupted(f"{worker.tune_dir}: search interrupted during trial {trial.number}",
                              hint=f"continue with: {resume_command(worker)}") from None
        STOP_REQUESTED.clear()
        _attrs(trial, {"epochs": reporter.epochs, "seconds": round(time.perf_counter() - started, 3),
                       "run_dir": _trial_dir(worker, trial.number)})
        _tell(trial, state=TrialState.PRUNED)
        return "PRUNED"
    except KeyboardInterrupt:
        _cut(trial, "interrupted by the user")
        raise
    except NnrunError as exc:
        _attrs(trial, {"error": exc.message.splitlines()[0], "seconds": round(time.perf_counter() - started, 3),
                       "epochs": reporter.epochs, "run_dir": _trial_dir(worker, trial.number)})
        _tell(trial, state=TrialState.FAIL)
        return "FAIL"
    finally:
        reporter.close()
    value = metric_value(result, search.metric)
    _attrs(trial, {"run_dir": result["run_dir"], "epochs": result["epochs"], "seconds": result["train_seconds"],
                   "gates": result["gates"]})
    if value is None or not math.isfinite(value):
        trial.set_user_attr("error", f"{search.metric} is {value}")
        _tell(trial, state=TrialState.FAIL)
        return "FAIL"
    _tell(trial, value)
    return "COMPLETE"


class Reporter:
    """The progress callback of one trial: shows the epoch, reports the metric to Optuna and, when the pruner
    says so, asks nnrun's training to stop cleanly after this epoch (``STOP_REQUESTED``).

    Attributes:
        pruned: the pruner stopped the trial. epochs: epochs finished.
    """

    def __init__(self, trial: Any, metric: str, shown: Callable[[int, int, dict], None] | None) -> None:
        self.trial, self.metric, self.shown = trial, metric, shown
        self.pruned, self.epochs = False, 0

    def __call__(self, epoch: int, epochs: int, logs: dict) -> None:
        from nnrun.training.fit import STOP_REQUESTED

        self.epochs = epoch
        if self.shown is not None:
            self.shown(epoch, epochs, logs)
        value = logs.get(self.metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.trial.report(float(value), epoch)
            if epoch < epochs and self.trial.should_prune():
                self.pruned = True
                STOP_REQUESTED.set()  # the epoch ends, a checkpoint is saved, the run is marked interrupted

    def close(self) -> None:
        """Close the progress display."""
        if self.shown is not None and hasattr(self.shown, "close"):
            self.shown.close()


def _tell(trial: Any, value: float | None = None, state: Any = None) -> None:
    """Tell Optuna a trial's outcome. GridSampler calls ``study.stop()`` from ``tell`` once the grid is
    exhausted, which raises outside ``study.optimize``; the outcome is stored before that (Optuna stores it in a
    ``finally``), and the trial count ends this loop, so that error is dropped."""
    try:
        trial.study.tell(trial, value, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def _trial_dir(worker: Worker, number: int) -> str | None:
    """The run directory trial ``number`` made, if it made one."""
    path = Path(worker.tune_dir) / f"{TRIAL_PREFIX}{number}"
    return str(path) if path.is_dir() else None


def _attrs(trial: Any, attrs: dict) -> None:
    """Set the trial's user attributes that are not None."""
    for key, value in attrs.items():
        if value is not None:
            trial.set_user_attr(key, value)


def _cut(trial: Any, message: str) -> None:
    """Record a trial stopped by the user: failed, not counted, drawn again on --resume."""
    from optuna.trial import TrialState

    trial.set_user_attr(CUT, True)
    trial.set_user_attr("error", message)
    _tell(trial, state=TrialState.FAIL)


def metric_value(result: dict, metric: str) -> float | None:
    """The trial's value of ``metric`` as a gate reads it: the evaluation's figures (``val_`` prefixed on the
    validation split), then Keras' final metrics and the run-level numbers."""
    evaluation = result["evaluation"]
    prefix = "val_" if evaluation["subset"] == "validation" else ""
    values = {prefix + k: v for k, v in evaluation["metrics"].items()}
    values.update(result["metrics"])
    values.update({k: result[k] for k in ("epochs", "train_seconds", "best_epoch") if result.get(k) is not None})
    value = values.get(metric)
    return float(value) if isinstance(value, (int, float)) else None


def _trial_line(study: Any, number: int, state: str, search: Search) -> str:
    """``trial 3 COMPLETE val_accuracy=0.9667 (best 0.9667, 4/10)``."""
    trial = study.get_trials(deepcopy=False)[number]
    shown = f" {search.metric}={trial.value:.4f}" if trial.value is not None else ""
    error = f": {trial.user_attrs['error']}" if trial.user_attrs.get("error") else ""
    try:
        best = f" (best {study.best_value:.4f}"
    except ValueError:
        best = " (no best yet"
    return f"trial {number} {state}{shown}{error}{best}, {counted(study)}/{search.trials})"
