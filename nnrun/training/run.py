"""One way to train a model: ``train_one`` checks, builds (or restores), dry-runs, fits, saves and reload-checks
one model into a directory. ``train`` (a new run), ``resume`` (an interrupted run) and every fold of
``crossval.cross_validate`` use it; they differ only in their ``Target``: where the model's files go and how
its outcome is recorded.

    train:  prepare -> gate names -> train_one(NewRun) -> evaluate -> gates -> completed
    resume: run's config -> prepare -> gate names -> train_one(ResumedRun) -> evaluate -> gates -> completed
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nnrun import rundir
from nnrun.backend import select
from nnrun.config.load import LoadedConfig
from nnrun.errors import NnrunError, RunError
from nnrun.evaluation import plot_jobs
from nnrun.evaluation.gates import check_gates
from nnrun.training import records
from nnrun.training.checks import check_monitors, check_reload, dry_run, train_gates
from nnrun.training.prepare import Prepared, Warn, prepare
from nnrun.training.targets import NewRun, ResumedRun, RunTarget

if TYPE_CHECKING:
    from nnrun.training.checkpoint import ResumeState
    from nnrun.training.fit import FitResult

#: progress(epoch, epochs, logs): called after each epoch (epoch counts from 1).
Progress = Callable[[int, int, dict], None]


def _ignore(message: str) -> None:
    """The default warning sink: drop the line."""


@dataclass
class Options:
    """What a ``train`` or ``resume`` call asks for besides the config.

    Attributes:
        progress: called after each epoch with (epoch, epochs, logs), or None.
        warn: called with each warning line.
        gates: ``--gate`` strings, checked with the config's ``gates:`` after training.
        plots: write the report's PNG plots.
        info: called with each informational line (the devices training uses).
        skip_bad: leave out bad rows of the data (``--skip-bad-rows``; a resumed run keeps its own choice).
    """

    progress: Progress | None = None
    warn: Warn = _ignore
    gates: tuple[str, ...] = ()
    plots: bool = True
    info: Warn = _ignore
    skip_bad: bool = False


@dataclass
class Trained:
    """One trained and saved model.

    Attributes:
        model: the Keras model (best epoch's weights when EarlyStopping restored them).
        result: the FitResult. metrics: metrics.json's document. run_dir: the directory it was saved in.
        measured: the saved model's metrics on the training rows after training (``train_loss``, …).
    """

    model: Any
    result: FitResult
    metrics: dict
    run_dir: Path
    measured: dict = field(default_factory=dict)


class Target(Protocol):
    """Where ``train_one`` writes one model, and how the model's outcome is recorded.

    Attributes:
        run_dir: the directory, once ``open`` made it ready (None before).
        finished: ``finish`` recorded a final status.
    """

    run_dir: Path | None
    finished: bool

    def restore(self) -> tuple[Any, ResumeState | None]:
        """A checkpoint's model and state to continue from, or (None, None) to build a fresh model."""

    def open(self, preprocessing: list[str]) -> Path:
        """Make the directory ready (after the model passed its checks: nothing is written before).
        ``preprocessing``: what adapting the model's preprocessing layers learnt (empty on resume)."""

    def finish(self, status: str, error: str | None = None) -> None:
        """Record ``completed``, ``failed`` or ``interrupted`` (with the error line)."""

    def interrupted(self, result: FitResult) -> NnrunError:
        """Record a stop on request after ``result.epochs_run`` epochs; the error to raise."""


def train(loaded: LoadedConfig, runs_dir: Path, options: Options) -> dict:
    """Train the model ``loaded`` describes into a new run directory ``runs_dir/<name>``.

    Args:
        loaded: the loaded config. runs_dir: parent of the run directory. options: progress, warnings, gates.

    Returns:
        The outcome (see ``outcome``).

    Raises:
        ConfigError, DataError: before any file is written.
        RunError: training diverged (run marked failed) or files could not be written.
        Interrupted: stopped by Ctrl-C/SIGTERM after a checkpoint (exit 130).
    """
    from nnrun.training import cluster, devices

    select(loaded.config.backend)
    where = devices.placement(loaded.config.training)  # first: a cluster must form before TensorFlow runs ops
    prep = prepare(loaded, options.warn, options.skip_bad)
    gate_list = train_gates(loaded, options.gates, prep.has_validation)
    with cluster.worker_runs_dir(where, runs_dir) as runs_dir:  # not the chief: a temporary directory
        target = NewRun(prep, runs_dir)
        try:
            trained = train_one(prep, target, options.progress, options.info)
            return cluster.as_worker(where, finish_run(prep, target, trained, gate_list, options.plots))
        finally:
            target.release()


def resume(run_dir: Path, config_path: Path | str | None, overrides: tuple[str, ...], options: Options) -> dict:
    """Continue an interrupted (or, with more ``training.epochs``, a completed) run from its last checkpoint.

    Args:
        run_dir: the run directory. config_path: optional; it must then equal the run's config.
        overrides: ``--set`` strings; only ``training.epochs`` may change. options: as for ``train``.

    Returns:
        The outcome (see ``outcome``).

    Raises:
        UsageError: another process is writing the run (its lock is held). RunError: no usable checkpoint.
        ConfigError: a changed config, nothing left to train.
        DataError: the data changed since the run started. Others: as ``train``.
    """
    from nnrun.training import cluster, devices

    run_dir = rundir.check_run_dir(Path(run_dir), need_model=False)
    where = devices.placement(records.resume_config(run_dir, config_path, overrides).config.training)
    # one writer: a second resume is refused (exit 2); a worker other than the chief resumes a copy
    with cluster.worker_copy(where, run_dir) as run_dir, rundir.RunLock(run_dir, "resume training there"):
        run_dir = records.check_resumable(run_dir)
        loaded = records.resume_config(run_dir, config_path, overrides)
        select(loaded.config.backend)
        saved = run_dir / rundir.DATASET
        skip_bad = options.skip_bad or (saved.is_file() and bool(rundir.read_json(saved).get("skip_bad_rows")))
        prep = prepare(loaded, options.warn, skip_bad)
        gate_list = train_gates(loaded, options.gates, prep.has_validation)
        target = ResumedRun(prep, run_dir, overrides)
        trained = train_one(prep, target, options.progress, options.info)
        return cluster.as_worker(where, finish_run(prep, target, trained, gate_list, options.plots))


def train_one(prep: Prepared, target: Target, progress: Progress | None = None, info: Warn = _ignore) -> Trained:
    """Train one model on ``prep`` into ``target``: the one way nnrun trains a model.

    Steps: the monitored metrics must be logged; seeds; the model restored from the target's checkpoint, or
    built, its preprocessing adapted on the training rows and dry-run on one batch; the directory opened;
    ``fit``; history, summary and metrics written; a diverged or interrupted fit recorded and raised; the model
    saved and (with vocabularies) loaded back and compared.

    Args:
        prep: the prepared data (its config, split and class weights).
        target: where the files go and how the outcome is recorded.
        progress: called after each epoch with (epoch, epochs, logs), or None.
        info: called with informational lines (``training.distribute``'s devices and replicas).

    Returns:
        The Trained model (the target is not yet marked completed: evaluation follows).

    Raises:
        ConfigError: an unknown monitor, or a model that cannot run on the data (nothing written yet).
        RunError: training failed or diverged; the model does not load back. Interrupted: stopped on request.
    """
    from nnrun.training import devices, precision
    from nnrun.training import fit as fitting

    select(prep.config.backend)  # cv and tune too; a process already on another backend is refused
    check_monitors(prep)
    where = devices.placement(prep.config.training)  # before TensorFlow first uses its devices (logical CPUs)
    seed_everything(prep.config)
    # a strategy's variables are made where the model is built or loaded; layers take the dtype policy there
    with where.scope(), precision.policy(prep.config.training, info):
        model, state = target.restore()
        adapted: list[str] = []
        if model is None:
            model, adapted = build_checked(prep)
    devices.single_step(model, where, info)
    run_dir = target.open(adapted)
    if where.distributed:
        info(where.describe())
        if isinstance(getattr(target, "info", None), dict):
            target.info["distribute"] = where.record()  # run.json (written when the run finishes)
    with fitting_guard(target, prep.read_failure):
        if where.strategy == "multi_worker":
            model, result = fit_multi_worker(model, prep, target, progress, state, where)
        else:
            result = fitting.fit(model, prep.fit_data(), prep.config.training, progress, run_dir, state)
    if not (result.diverged or result.interrupted):  # drawn by the plot worker while this goes on
        plot_jobs.learning_curves(run_dir, result.history, result.best_epoch)
    with writing_guard(target):
        measured = {} if result.diverged or result.interrupted else measure_training(prep, model)
        metrics = records.write_training(run_dir, model, result, measured)
        if result.diverged:
            message = (f"the loss became NaN/infinite at epoch {result.epochs_run}; training stopped and no model "
                       "was saved. Lower the learning rate or normalize the features")
            target.finish("failed", message)
            raise RunError(f"{run_dir}: {message}")
        if result.interrupted:
            raise target.interrupted(result)
        rundir.save_model(model, run_dir / rundir.MODEL)
        if prep.meta["features"].get("text") or prep.meta["features"].get("categorical"):
            check_reload(run_dir, model, prep, target)
    return Trained(model, result, metrics, run_dir, measured)


def fit_multi_worker(model: Any, prep: Prepared, target: Target, progress: Progress | None,  # 6: train_one's
                     state: ResumeState | None, where: Any) -> tuple[Any, FitResult]:
    """``distributed.fit`` (progress on the chief only; a watchdog timeout marks the run failed), then the
    model detached from the strategy for saving and evaluating on this worker alone.

    Returns:
        (the trained model outside the strategy, the FitResult).
    """
    from nnrun.training import distributed

    where.watchdog.watch_run(target.run_dir if where.chief else None)  # a timeout marks the chief's run failed
    result = distributed.fit(model, prep.fit_data(), prep.config.training, progress if where.chief else None,
                             target.run_dir, state, where)
    where.watchdog.stop()
    return distributed.detach(model), result


def finish_run(prep: Prepared, target: RunTarget, trained: Trained, gate_list: list, plots: bool) -> dict:
    """Evaluate a trained run, check its gates and mark it completed.

    Args:
        prep: the prepared data. target: the run's target. trained: what ``train_one`` returned.
        gate_list: parsed gates (see ``train_gates``). plots: write the report's PNG plots.

    Returns:
        The outcome (see ``outcome``).
    """
    with writing_guard(target):
        subset, doc = evaluate_trained(prep, trained, plots)
        prefix = "val_" if subset == "validation" else ""
        values = {**{prefix + k: v for k, v in doc["metrics"].items()}, **trained.metrics}
        gate_results = check_gates(trained.run_dir, gate_list, values)
        target.info = rundir.with_evaluation(target.info, doc)
        target.finish("completed")
    return outcome(trained, subset, doc, gate_results)


def outcome(trained: Trained, subset: str, doc: dict, gate_results: list[dict]) -> dict:
    """The result of ``train``/``resume``: ``{"run_dir", "status", "metrics", "epochs", "best_epoch",
    "monitor", "stopped_early", "train_seconds", "params", "evaluation", "gates"}``."""
    from nnrun.training.build import count_params

    result = trained.result
    trainable, frozen = count_params(trained.model)
    return {
        "run_dir": str(trained.run_dir),
        "status": "completed",
        "metrics": {k: v for k, v in trained.metrics.items()
                    if isinstance(v, float) and (k in result.history or k in trained.measured)},
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        "stopped_early": result.stopped_early,
        "train_seconds": round(result.seconds, 3),
        "params": {"trainable": trainable, "non_trainable": frozen},
        "evaluation": {"subset": subset, "metrics": doc["metrics"], "warnings": doc["report"].get("warnings", [])},
        "gates": gate_results,
    }


def measure_training(prep: Prepared, model: Any) -> dict:
    """The trained model's loss and metrics on the training rows, measured in one pass after training (the
    history's values are running averages over an epoch, with Dropout active): ``{"train_loss", ...}``."""
    from nnrun.data.features import take
    from nnrun.evaluation.evaluate import metrics_of_predictions
    from nnrun.inference.predictor import inference_batch, keras_inputs

    x = take(prep.table.x, prep.train_idx)
    # predict + the compiled metrics of its output: the same values as model.evaluate, and the predict
    # function Keras traces here is the one the report's evaluation reuses (no test function traced)
    y_pred = model.predict(keras_inputs(x), batch_size=inference_batch(x, prep.config.training.batch_size), verbose=0)
    values = metrics_of_predictions(model, prep.y[prep.train_idx], y_pred, prep.sample_weight)
    return {f"train_{k}": float(v) for k, v in values.items() if isinstance(v, (int, float)) or hasattr(v, "dtype")}


def evaluate_trained(prep: Prepared, trained: Trained, plots: bool) -> tuple[str, dict]:
    """Evaluate a trained model on the validation rows (the training rows when there are none); writes
    evaluation.json, report.md and (with ``plots``) the plots into its directory.

    Returns:
        (the subset evaluated: ``validation`` or ``training``, the evaluation document).
    """
    from nnrun.evaluation.evaluate import EvalOptions, evaluate_model

    subset, idx = ("validation", prep.val_idx) if prep.has_validation else ("training", prep.train_idx)
    data = prep.eval_data(subset, idx)
    doc = evaluate_model(trained.run_dir, trained.model, prep.meta, data,
                         EvalOptions(prep.config.training.batch_size, plots))
    return subset, doc


@contextmanager
def fitting_guard(target: Target, read_failure: Callable[[], NnrunError | None] = lambda: None) -> Iterator[None]:
    """Around ``fit``: an interruption or failure is recorded on the target; a failure becomes a RunError, or,
    when reading the rows failed (``read_failure``: a streamed shard gone or bad; TensorFlow reports only
    "Graph execution error"), that error itself, with how to continue."""
    try:
        yield
    except KeyboardInterrupt:
        target.finish("interrupted", "interrupted by the user (the last checkpoint is kept)")
        raise
    except Exception as exc:
        cause = read_failure()
        if cause is not None:
            run = target.run_dir
            then = "" if run is None else f", then `nnrun train --resume {run}`" \
                if (run / rundir.CHECKPOINT).is_file() else f", then train again (no checkpoint in {run} yet)"
            error = type(cause)(cause.message + then, cause.hint)
            target.finish("failed", error.message)
            raise error from None
        target.finish("failed", f"{type(exc).__name__}: {exc}")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"training failed: {first}") from exc


@contextmanager
def writing_guard(target: Target) -> Iterator[None]:
    """Around writing the results: an interruption or failure is recorded on the target (unless a status was
    already recorded); an unexpected error becomes a RunError naming the directory."""
    try:
        yield
    except KeyboardInterrupt:
        target.finish("interrupted", "interrupted by the user while writing the results; a checkpoint is saved")
        raise
    except NnrunError as exc:
        if not target.finished:
            target.finish("failed", exc.message)
        raise
    except Exception as exc:
        target.finish("failed", f"{type(exc).__name__}: {exc}")
        raise RunError(f"{target.run_dir}: writing the results failed: {type(exc).__name__}: {exc}") from exc


def seed_everything(cfg: Any) -> None:
    """Seed Python, NumPy and TensorFlow with ``cfg.seed``; with ``training.deterministic``, deterministic ops
    (TensorFlow; XLA on CPU is deterministic)."""
    from nnrun.backend import backend_name, set_random_seed

    set_random_seed(cfg.seed)
    if cfg.training.deterministic and backend_name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def build_checked(prep: Prepared) -> tuple[Any, list[str]]:
    """Build the config's model, adapt its preprocessing layers on the training rows and dry-run it.

    Returns:
        (the compiled model, what adapting learnt: one line per adapted layer).

    Raises:
        ConfigError: the model cannot be built or cannot run on this data.
    """
    from nnrun.data.features import take
    from nnrun.training.arrays import check_backend_model
    from nnrun.training.build import adapt_preprocessing, build_model, input_shape

    features, x_train = prep.meta["features"], take(prep.table.x, prep.train_idx)
    check_backend_model(prep.loaded, features)
    model = build_model(prep.loaded, input_shape(features), features)
    adapted = adapt_preprocessing(prep.loaded, model, x_train)
    dry_run(prep.loaded, model, x_train, prep.y[prep.train_idx])
    return model, adapted


