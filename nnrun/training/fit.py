"""``model.fit`` with nnrun's callbacks (see ``callbacks``) on nnrun's input pipeline (see ``pipeline``).

The model comes compiled (``build.build_model``) or from a checkpoint; ``fit`` trains it in place for exactly
``training.epochs`` epochs (fewer when EarlyStopping, a diverging loss or a stop request ends training),
writes checkpoints into the run directory, and returns a FitResult.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnrun.training.arrays import array_inputs, is_array_backend
from nnrun.training.checkpoint import ResumeState
from nnrun.training.pipeline import FitData, fit_inputs

if TYPE_CHECKING:
    from nnrun.training.callbacks import Progress

__all__ = ["STOP_REQUESTED", "FitData", "FitResult", "conclude", "fit"]

#: Set (by the CLI's SIGINT/SIGTERM handler) to stop after the current epoch, with a checkpoint.
STOP_REQUESTED = threading.Event()


@dataclass
class FitResult:
    """What training produced.

    Attributes:
        history: metric name -> one value per epoch (Keras' History names: loss, val_loss, …), including
            epochs from before a resume.
        epochs_run: epochs completed in total.
        seconds: wall time spent in ``model.fit`` (summed over resumes), in seconds.
        diverged: the loss became NaN or infinite and training stopped.
        interrupted: stopped on request (Ctrl-C / SIGTERM) after a completed epoch.
        stopped_early: EarlyStopping ended training before ``epochs``.
        monitor: the metric that decides the best epoch (e.g. ``val_loss``).
        best_epoch: 1-based epoch with the best monitor value (None before the first epoch).
        best_value: that value.
        restored_best: the final weights are the best epoch's (EarlyStopping configured).
    """

    history: dict[str, list[float]]
    epochs_run: int
    seconds: float
    diverged: bool = False
    interrupted: bool = False
    stopped_early: bool = False
    monitor: str = "loss"
    best_epoch: int | None = None
    best_value: float | None = None
    restored_best: bool = False


def fit(
    model: Any,
    data: FitData,
    training: Any,
    progress: Progress | None = None,
    run_dir: Path | None = None,
    resume: ResumeState | None = None,
) -> FitResult:
    """Train ``model`` in place with nnrun's callbacks.

    Args:
        model: a compiled Keras model.
        data: the training arrays, validation pair, sample weights and shuffle seed.
        training: the TrainingConfig (epochs, batch_size, shuffle, early_stopping, …).
        progress: called after every epoch with (epoch, epochs, logs), or None.
        run_dir: where checkpoints go (None: no checkpoints).
        resume: state restored from a checkpoint; training continues at ``resume.epoch``.

    Returns:
        The FitResult. With EarlyStopping configured the model ends with the best epoch's weights. A final
        checkpoint is written unless the loss diverged.
    """
    from nnrun.training.callbacks import nnrun_callbacks

    state = resume or ResumeState()
    parts, checkpointer, callbacks = nnrun_callbacks(training, data.validation is not None, progress, run_dir,
                                                     state, STOP_REQUESTED)
    start = time.perf_counter()  # training time includes building the input pipeline, as model.fit(x, y) does
    checkpointer.started = start
    if is_array_backend():  # JAX: Keras' PyDataset over the arrays, no TensorFlow (see arrays)
        train_ds, val_ds, more = array_inputs(data, training, state.epoch)
        callbacks, steps = [*more, *callbacks], None
    else:
        train_ds, val_ds, steps = fit_inputs(model, data, training, state.epoch)
    if state.epoch < training.epochs:
        model.fit(
            train_ds,  # exact epochs: see pipeline.execution_plan (arrays: the PyDataset's length)
            steps_per_epoch=steps,
            epochs=training.epochs,
            initial_epoch=state.epoch,
            validation_data=val_ds,
            shuffle=False,  # the dataset shuffles itself each epoch
            verbose=0,
            callbacks=callbacks,
        )
    return conclude(model, parts, checkpointer, training, state.seconds + time.perf_counter() - start)


def conclude(model: Any, parts: Any, checkpointer: Any, training: Any, seconds: float) -> FitResult:
    """After the last epoch: the FitResult from the callbacks' state (see ``callbacks.nnrun_callbacks``), a
    final checkpoint, and the best weights restored when EarlyStopping is configured (not after divergence)."""
    history = parts.log.history
    epochs_run = len(history.get("loss", []))
    interrupted = parts.stop.interrupted
    diverged = parts.divergence.diverged or bool(history.get("loss")) and not math.isfinite(history["loss"][-1])
    early = "early_stopping" in parts.resumable
    stopped_early = early and epochs_run < training.epochs and not interrupted and not diverged
    result = FitResult(history, epochs_run, seconds, diverged, interrupted, stopped_early, parts.best.monitor,
                       parts.best.epoch, parts.best.value)
    if diverged:
        return result
    checkpointer.save(epochs_run)
    if early and parts.best.weights is not None:
        model.set_weights(parts.best.weights)
        result.restored_best = True
    return result
