"""nnrun's Keras callbacks, each with its state on ``self``: the epoch log, a stop on a diverging loss,
best-weights tracking, a stop on request (Ctrl-C/SIGTERM), checkpoints and progress; plus EarlyStopping and
ReduceLROnPlateau that resume their counters from a checkpoint.

All of them act at epoch ends. No batch hook: reading every step's loss (as TerminateOnNaN does) costs about
10 % of the training time of a small model, even on Keras' callback thread. A NaN or infinite batch loss makes
the epoch's mean loss NaN or infinite, so divergence is still caught, at the end of that epoch.

``fit.fit`` runs ours first, in the order of ``nnrun_callbacks``, so that the best weights and the checkpoint
see each epoch before EarlyStopping stops training. Importing this module imports Keras.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.backend import keras as _keras
from nnrun.training import checkpoint
from nnrun.training.checkpoint import ResumeState

keras = _keras()

#: progress(epoch, epochs, logs): called after each epoch (epoch counts from 1).
Progress = Callable[[int, int, dict], None]


def default_monitor(training: Any, has_validation: bool) -> str:
    """The metric that picks the best epoch: EarlyStopping's ``monitor``, else ``val_loss`` or ``loss``."""
    if training.early_stopping and training.early_stopping.get("monitor"):
        return str(training.early_stopping["monitor"])
    return "val_loss" if has_validation else "loss"


def monitor_mode(monitor: str, training: Any) -> str:
    """``min`` or ``max``: EarlyStopping's ``mode`` when given, else ``max`` for accuracy-like names."""
    mode = (training.early_stopping or {}).get("mode", "auto")
    if mode in ("min", "max"):
        return mode
    return "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall", "f1", "r2")) else "min"


class EpochLog(keras.callbacks.Callback):
    """The run's history (epochs from before a resume included) and the last epoch's logs, as floats.

    Attributes:
        history: metric name -> one value per epoch (Keras' names: loss, val_loss, …; ``learning_rate``
            when ``with_learning_rate``: the rate each epoch trained with).
        last: the last epoch's logs.
    """

    def __init__(self, history: dict[str, list[float]], with_learning_rate: bool, path: Path | None = None) -> None:
        super().__init__()
        self.history = {k: list(v) for k, v in history.items()}
        self.with_learning_rate = with_learning_rate
        self.last: dict[str, float] = {}
        self.path = path  # history.csv, appended each epoch (``tail -f``; a killed run keeps its curve)

    def on_train_begin(self, logs: dict | None = None) -> None:
        """history.csv starts as the epochs trained so far (a resume continues from its checkpoint's epochs,
        dropping any a killed run appended after it)."""
        if self.path is None:
            return
        if self.history:
            from nnrun.training.records import history_csv

            rundir.write_text(self.path, history_csv(self.history))
        else:  # no epoch yet: no file (an empty one would be a half-written artifact if the run were killed now)
            self.path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.last = {k: float(v) for k, v in (logs or {}).items()}
        if self.with_learning_rate:  # read before ReduceLROnPlateau (a later callback) may lower it
            self.last["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
        for key, value in self.last.items():
            self.history.setdefault(key, []).append(value)
        if self.path is not None:
            self._append()

    def _append(self) -> None:
        """One row per epoch, as Keras' CSVLogger appends (its file handle stays open across epochs and knows
        nothing of resuming, hence our own): the header first when the file is empty. Appending is not the
        atomic writer's replace: the final history.csv is written whole by ``records.write_training``."""
        import csv
        import io

        keys = list(self.history)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if not self.path.exists() or self.path.stat().st_size == 0:
            writer.writerow(["epoch", *keys])
        writer.writerow([len(self.history[keys[0]]), *(repr(self.history[k][-1]) for k in keys)])
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:  # one write: a kill leaves the file with or without the whole row, never half a row
            os.write(fd, text.getvalue().encode("utf-8"))
        finally:
            os.close(fd)


class Divergence(keras.callbacks.Callback):
    """Stops training after an epoch whose mean loss is NaN or infinite (``diverged`` becomes True)."""

    def __init__(self) -> None:
        super().__init__()
        self.diverged = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not math.isfinite(float((logs or {}).get("loss", 0.0))):
            self.diverged = True
            self.model.stop_training = True


class BestWeights(keras.callbacks.Callback):
    """Tracks the best epoch by ``monitor`` and keeps its weights (restored from a checkpoint on resume).

    Attributes:
        epoch: 1-based best epoch, or None. value: its monitor value. weights: its weights.
        changed: the best weights changed since the last checkpoint wrote them.
    """

    def __init__(self, monitor: str, mode: str, state: ResumeState) -> None:
        super().__init__()
        self.monitor = monitor
        self.better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
        self.epoch, self.value, self.weights = state.best_epoch, state.best_value, state.best_weights
        self.changed = state.best_epoch is not None and state.best_weights is not None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        value = None if value is None else float(value)
        if value is not None and math.isfinite(value) and (self.value is None or self.better(value, self.value)):
            self.epoch, self.value, self.weights = epoch + 1, value, self.model.get_weights()
            self.changed = True


class ProgressReport(keras.callbacks.Callback):
    """Calls ``progress(epoch, epochs, logs)`` after each epoch with the epoch log's floats."""

    def __init__(self, progress: Progress, epochs: int, log: EpochLog) -> None:
        super().__init__()
        self.progress, self.epochs, self.log = progress, epochs, log

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.progress(epoch + 1, self.epochs, self.log.last)


class StopOnSignal(keras.callbacks.Callback):
    """Stops training after the epoch in which ``event`` was set (by the CLI's SIGINT/SIGTERM handler);
    ``interrupted`` becomes True. A diverged epoch stops anyway and is not an interruption."""

    def __init__(self, event: threading.Event, divergence: Divergence) -> None:
        super().__init__()
        self.event, self.divergence = event, divergence
        self.interrupted = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.divergence.diverged and self.event.is_set():
            self.interrupted = True
            self.model.stop_training = True


class _ResumableCounters:
    """A mixin for Keras' EarlyStopping and ReduceLROnPlateau: their counters, saved in a checkpoint, are put
    back in ``on_train_begin`` (where Keras resets them)."""

    def __init__(self, saved: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.saved = saved

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        _restore_counters(self, self.saved)


class ResumableEarlyStopping(_ResumableCounters, keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping whose counters (wait, best, stopped_epoch) resume from a checkpoint."""


class ResumableReduceLROnPlateau(_ResumableCounters, keras.callbacks.ReduceLROnPlateau):
    """Keras' ReduceLROnPlateau whose counters (wait, best, cooldown_counter) resume from a checkpoint."""


_COUNTERS = ("wait", "best", "stopped_epoch", "cooldown_counter")


def counters(callback: Any) -> dict:
    """The counters of an EarlyStopping/ReduceLROnPlateau, as JSON-safe values (infinities as strings)."""
    return {k: _plain(getattr(callback, k)) for k in _COUNTERS if hasattr(callback, k)}


def _restore_counters(callback: Any, saved: dict | None) -> None:
    for key, value in (saved or {}).items():
        if value == "inf":
            value = math.inf
        elif value == "-inf":
            value = -math.inf
        setattr(callback, key, value)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


class Checkpointer(keras.callbacks.Callback):
    """Writes a checkpoint every ``interval`` seconds and when training stops on request (see
    ``checkpoint.save``); ``save`` writes one on demand (the end of training).

    Args:
        run_dir: the run directory (None: no checkpoints).
        parts: the callbacks whose state a checkpoint holds (see ``CheckpointParts``).
        interval: seconds between checkpoints (0: every epoch).
        seconds_before: training time before this ``fit`` (a resumed run's), in seconds.
    """

    def __init__(self, run_dir: Path | None, parts: CheckpointParts, interval: float, seconds_before: float) -> None:
        super().__init__()
        self.run_dir, self.parts, self.interval = run_dir, parts, interval
        self.seconds_before = seconds_before
        self.started = time.perf_counter()  # reset by fit.fit when the input pipeline is built
        self.last_save = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.parts.divergence.diverged:
            return
        if self.parts.stop.interrupted or time.monotonic() - self.last_save >= self.interval:
            self.save(epoch + 1)

    def save(self, epoch: int) -> None:
        """Checkpoint the model after ``epoch`` (1-based) epochs."""
        if self.run_dir is None:
            return
        p = self.parts
        record = {
            "epoch": epoch, "history": p.log.history,
            "seconds": round(self.seconds_before + (time.perf_counter() - self.started), 3),
            "best_epoch": p.best.epoch, "best_value": p.best.value, "monitor": p.best.monitor,
            "callbacks": {key: counters(cb) for key, cb in p.resumable.items()},
        }
        checkpoint.save(self.run_dir, self.model, p.best.weights, p.best.changed, record)
        p.best.changed = False
        self.last_save = time.monotonic()


@dataclass
class CheckpointParts:
    """The callbacks a checkpoint reads: epoch log, divergence, stop on signal, best weights, and the resumable
    Keras callbacks by key (``early_stopping``, ``reduce_lr_on_plateau``)."""

    log: EpochLog
    divergence: Divergence
    stop: StopOnSignal
    best: BestWeights
    resumable: dict[str, Any] = field(default_factory=dict)


def nnrun_callbacks(training: Any, has_validation: bool, progress: Progress | None, run_dir: Path | None,
                    state: ResumeState, stop_event: threading.Event) -> tuple[CheckpointParts, Checkpointer, list]:
    """The callbacks of one ``model.fit``, ours first (best/checkpoint see each epoch before EarlyStopping stops).

    Args:
        training: the TrainingConfig (early_stopping, reduce_lr_on_plateau, tensorboard, checkpoint_interval).
        has_validation: validation data is given (the default monitor is then ``val_loss``).
        progress: called after each epoch with (epoch, epochs, logs), or None.
        run_dir: where checkpoints and TensorBoard logs go (None: neither).
        state: what a checkpoint restored (a fresh ResumeState for a new run).
        stop_event: set to stop after the current epoch, with a checkpoint.

    Returns:
        (the parts a checkpoint reads, the Checkpointer, every callback in the order Keras runs them).
    """
    monitor = default_monitor(training, has_validation)
    resumable: dict[str, Any] = {}
    if training.early_stopping is not None:
        kw = {"monitor": monitor, **training.early_stopping, "restore_best_weights": False, "verbose": 0}
        resumable["early_stopping"] = ResumableEarlyStopping(state.callbacks.get("early_stopping"), **kw)
    if training.reduce_lr_on_plateau is not None:
        kw = {"monitor": monitor, **training.reduce_lr_on_plateau, "verbose": 0}  # stdout carries results
        resumable["reduce_lr_on_plateau"] = ResumableReduceLROnPlateau(
            state.callbacks.get("reduce_lr_on_plateau"), **kw)
    log = EpochLog(state.history, with_learning_rate="reduce_lr_on_plateau" in resumable,
                   path=run_dir / rundir.HISTORY if run_dir is not None else None)
    divergence = Divergence()
    parts = CheckpointParts(log, divergence, StopOnSignal(stop_event, divergence),
                            BestWeights(monitor, monitor_mode(monitor, training), state), resumable)
    checkpointer = Checkpointer(run_dir, parts, training.checkpoint_interval, state.seconds)
    report = [ProgressReport(progress, training.epochs, log)] if progress is not None else []
    ordered = [log, divergence, parts.best, *report, parts.stop, checkpointer, *resumable.values()]
    if training.tensorboard and run_dir is not None:
        ordered.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))
    return parts, checkpointer, ordered
