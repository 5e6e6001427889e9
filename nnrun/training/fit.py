"""``model.fit`` with nnrun's callbacks: progress, a stop on a diverging loss, best-weights tracking,
checkpoints for resuming, early stopping and learning-rate reduction (Keras' own callbacks underneath).

Checkpoints (``last.keras``, ``best.keras``, ``checkpoint.json`` in the run directory) are written as a small
two-phase commit: the model files go to ``.<name>.pending``, then ``checkpoint.json`` records their SHA-256,
then they are renamed into place. A process killed at any moment leaves a checkpoint that ``recover`` can
complete or that still matches its files, so ``nnrun train --resume`` never mixes epochs.
"""

from __future__ import annotations

import hashlib
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
from nnrun.errors import RunError

#: progress(epoch, epochs, logs): called after each epoch (epoch counts from 1).
Progress = Callable[[int, int, dict], None]

#: Set (by the CLI's SIGINT/SIGTERM handler) to stop after the current epoch, with a checkpoint.
STOP_REQUESTED = threading.Event()

LAST = "last.keras"
BEST = "best.keras"
CHECKPOINT = "checkpoint.json"


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


@dataclass
class ResumeState:
    """What a checkpoint restores besides the model: position, history, best epoch, callback counters."""

    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    best_epoch: int | None = None
    best_value: float | None = None
    callbacks: dict[str, dict] = field(default_factory=dict)
    best_weights: list | None = None
    rng_states: list | None = None


def _seed_generators(model: Any) -> list[Any]:
    """Keras SeedGenerators of every layer (Dropout and the random layers). Their state is not saved in
    ``.keras`` files, so checkpoints store it to resume with the same dropout masks."""
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        found.extend(getattr(layer, "_seed_generators", []) or [])
    return found


def rng_states(model: Any) -> list[list[int]]:
    """The state of each SeedGenerator, in layer order."""
    return [[int(v) for v in np.asarray(g.state.numpy()).ravel()] for g in _seed_generators(model)]


def set_rng_states(model: Any, states: list[list[int]] | None) -> None:
    """Restore SeedGenerator states saved by ``rng_states``."""
    generators = _seed_generators(model)
    if not states or len(states) != len(generators):
        return
    for gen, value in zip(generators, states, strict=True):
        gen.state.assign(np.asarray(value, dtype=gen.state.dtype))


def execution_plan(steps: int, steps_per_execution: int) -> tuple[int, bool]:
    """How to run ``steps`` batches per epoch at most ``steps_per_execution`` batches per call, exactly.

    Keras runs whole ``steps_per_execution`` blocks until the data ends. Fed one stream of all epochs
    (cheap: one iterator for the whole run) it stays exact only when the block size divides the steps per
    epoch; a dataset that ends after each epoch is exact at any block size but costs a new iterator per
    epoch (tens of ms on a small CPU). So: the largest divisor of ``steps`` up to ``steps_per_execution``
    with one stream when that divisor is at least half of ``steps_per_execution`` (or all of an epoch),
    else ``steps_per_execution`` with one dataset per epoch.

    Args:
        steps: batches per epoch (>= 1).
        steps_per_execution: the configured block size (>= 1).

    Returns:
        (block size to run, whether to feed one stream of all epochs).

    Example:
        >>> execution_plan(500, 32), execution_plan(3, 32), execution_plan(37, 32)
        ((25, True), (3, True), (32, False))
    """
    divisor = max(d for d in range(1, min(steps, steps_per_execution) + 1) if steps % d == 0)
    if divisor == steps or 2 * divisor >= steps_per_execution:
        return divisor, True
    return steps_per_execution, False


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    """Batches in one epoch: ``ceil(num_samples / batch_size)``, at least 1 (the last batch may be smaller)."""
    return max(1, math.ceil(num_samples / batch_size))


def _index_batches(n: int, batch_size: int, shuffle: bool, seed: int, epoch: Any) -> Any:
    """One epoch as a dataset of ceil(n / batch_size) index batches, made without a function per batch.

    Without shuffle each element is the first row of a batch (rows are sliced, in order). With it, each is a
    batch of row indices: a permutation drawn by a stateless op from (seed, epoch), cut into full batches
    (a reshape, as Keras' own array adapter does) plus the shorter last one."""
    import tensorflow as tf

    if not shuffle:
        return tf.data.Dataset.from_tensor_slices(tf.range(0, n, batch_size, dtype=tf.int64))
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
    full = n // batch_size
    ds = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full * batch_size], [full, batch_size]))
    if n % batch_size:
        ds = ds.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size:]))
    return ds


def _gathered(indices: Any, parts: tuple, batch_size: int, contiguous: bool) -> Any:
    """Batches of rows: each element of ``indices`` paired with the whole data (``from_tensors`` + ``repeat``,
    as Keras' own array adapter does, so that the arrays are not captured as constants in a traced function)
    and turned into rows in parallel (order kept): a slice from a first row, or a gather of row indices."""
    import tensorflow as tf

    def grab(i: Any, data: Any) -> Any:
        if contiguous:
            return tf.nest.map_structure(lambda t: t[i:i + batch_size], data)
        return tf.nest.map_structure(lambda t: tf.gather(t, i), data)

    ds = tf.data.Dataset.zip((indices, tf.data.Dataset.from_tensors(parts).repeat()))
    ds = ds.map(grab, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False  # no graph rewrite (Keras does the same)
    return ds.with_options(options)


def _parts(x: Any, y: np.ndarray, sample_weight: np.ndarray | None) -> tuple:
    """``(x, y[, sample_weight])`` as tensors; ``x`` may be a dict of inputs, text columns become ``tf.string``."""
    import tensorflow as tf

    def tensor(a: np.ndarray) -> Any:
        return tf.constant(a.astype(str)) if a.dtype == object or a.dtype.kind == "U" else tf.constant(a)

    parts = (x, y) if sample_weight is None else (x, y, sample_weight)
    return tf.nest.map_structure(tensor, parts)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
    sample_weight: np.ndarray | None = None,
    epoch: Any = None,
) -> tuple[Any, int]:
    """An in-memory ``tf.data`` pipeline that ends after one epoch: batches of row indices, rows gathered.

    Each iteration is one epoch of ``ceil(num_samples / batch_size)`` batches (the last one may be smaller),
    so Keras runs exactly that many steps at any ``steps_per_execution``. With ``shuffle`` the order of epoch
    ``e`` is a permutation drawn by a stateless op from ``(seed, e)``: an uninterrupted and a resumed run see
    the same order in the same epoch.

    Args:
        x: features, shape (num_samples, ...). y: targets, first axis num_samples.
        batch_size: examples per batch (>= 1).
        shuffle: a new order every epoch; otherwise the rows' order.
        seed: seed of the shuffle.
        sample_weight: optional per-example weights, shape (num_samples,).
        epoch: a scalar int64 ``tf.Variable``: the epoch of the next iteration, which reads it and adds 1
            (when the iteration starts); None: epoch 0's order every time.

    Returns:
        (dataset, steps per epoch). The dataset yields ``(x, y)`` or ``(x, y, sample_weight)`` batches.
    """
    import tensorflow as tf

    n, parts = len(y), _parts(x, y, sample_weight)
    steps = steps_per_epoch(n, batch_size)

    def one_epoch(_: Any) -> Any:
        e = epoch.assign_add(1) - 1 if epoch is not None and shuffle else 0
        return _index_batches(n, batch_size, shuffle, seed, e)

    indices = tf.data.Dataset.from_tensors(0).flat_map(one_epoch) if shuffle else \
        _index_batches(n, batch_size, False, seed, 0)
    ds = _gathered(indices, parts, batch_size, contiguous=not shuffle)
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))  # flat_map hides it; Keras needs it
    return ds.prefetch(tf.data.AUTOTUNE), steps


def make_epochs_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
    first_epoch: int,
    epochs: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[Any, int]:
    """Epochs ``first_epoch`` .. ``epochs - 1`` back to back in one stream, each exactly as ``make_dataset``'s
    (same batches, same per-epoch order); for ``model.fit(steps_per_epoch=steps)`` with a block size that
    divides ``steps`` (see ``execution_plan``). One iterator serves the whole run.

    Args:
        first_epoch: the 0-based epoch to start at (a resumed run's). epochs: the epoch to end before.
        Others: as ``make_dataset``.

    Returns:
        (dataset of ``(epochs - first_epoch) * steps`` batches, steps per epoch).
    """
    import tensorflow as tf

    n, parts = len(y), _parts(x, y, sample_weight)
    steps = steps_per_epoch(n, batch_size)
    epochs_ds = tf.data.Dataset.range(first_epoch, max(first_epoch, epochs))
    indices = epochs_ds.flat_map(lambda e: _index_batches(n, batch_size, shuffle, seed, e))
    ds = _gathered(indices, parts, batch_size, contiguous=not shuffle)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def default_monitor(training: Any, has_validation: bool) -> str:
    """The metric that picks the best epoch: EarlyStopping's ``monitor``, else ``val_loss`` or ``loss``."""
    if training.early_stopping and training.early_stopping.get("monitor"):
        return str(training.early_stopping["monitor"])
    return "val_loss" if has_validation else "loss"


def _mode(monitor: str, training: Any) -> str:
    mode = (training.early_stopping or {}).get("mode", "auto")
    if mode in ("min", "max"):
        return mode
    return "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall", "f1", "r2")) else "min"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recover(run_dir: Path) -> dict:
    """Read ``checkpoint.json`` and finish an interrupted checkpoint commit.

    Returns:
        The checkpoint record (epoch, history, best, callbacks, files with their SHA-256).

    Raises:
        RunError: no checkpoint, or files that match neither the record nor a pending commit.
    """
    record_path = run_dir / CHECKPOINT
    if not record_path.exists():
        raise RunError(f"{run_dir}: no checkpoint to resume from (the run stopped before its first checkpoint); "
                       "train it again")
    record = rundir.read_json(record_path)
    if not (isinstance(record, dict) and isinstance(record.get("epoch"), int) and isinstance(record.get("files"), dict)
            and isinstance(record.get("history"), dict)):
        raise RunError(f"{record_path}: damaged (expected epoch, history and files); cannot resume safely")
    for name, sha in record["files"].items():
        final, pending = run_dir / name, run_dir / f".{name}.pending"
        if final.exists() and _sha(final) == sha:
            continue
        if pending.exists() and _sha(pending) == sha:
            os.replace(pending, final)
            continue
        raise RunError(f"{final}: does not match {CHECKPOINT} (epoch {record.get('epoch')}); cannot resume safely")
    return record


def fit(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    training: Any,
    progress: Progress | None = None,
    seed: int = 0,
    run_dir: Path | None = None,
    sample_weight: np.ndarray | None = None,
    resume: ResumeState | None = None,
) -> FitResult:
    """Train ``model`` in place with nnrun's callbacks.

    Args:
        model: a compiled Keras model.
        x: features, shape (num_samples, num_features).
        y: encoded targets (see ``data.encode_targets``).
        validation: (x_val, y_val), or None.
        training: the TrainingConfig (epochs, batch_size, shuffle, early_stopping, …).
        progress: called after every epoch with (epoch, epochs, logs).
        seed: seed of the per-epoch shuffle.
        run_dir: where checkpoints go (None: no checkpoints).
        sample_weight: per-example weights (from class_weight), shape (num_samples,).
        resume: state restored from a checkpoint; training continues at ``resume.epoch``.

    Returns:
        The FitResult. With EarlyStopping configured the model ends with the best epoch's weights.
    """
    keras = _keras()
    state = resume or ResumeState()
    monitor = default_monitor(training, validation is not None)
    mode = _mode(monitor, training)
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    tracker = {"epoch": state.best_epoch, "value": state.best_value, "weights": state.best_weights}
    dirty = {"best": state.best_epoch is not None and state.best_weights is not None}
    history: dict[str, list[float]] = {k: list(v) for k, v in state.history.items()}
    flags = {"diverged": False, "interrupted": False}
    last_save = [time.monotonic()]

    def checkpoint(epoch: int, callbacks_state: dict) -> None:
        if run_dir is None:
            return
        files: dict[str, str] = {}
        pending: list[tuple[Path, Path]] = []
        last_pending = run_dir / f".{LAST}.pending"
        rundir.save_model(model, last_pending)
        files[LAST] = _sha(last_pending)
        pending.append((last_pending, run_dir / LAST))
        if tracker["weights"] is not None:
            if dirty["best"] or not (run_dir / BEST).exists():
                current = model.get_weights()
                model.set_weights(tracker["weights"])
                best_pending = run_dir / f".{BEST}.pending"
                try:
                    rundir.save_model(model, best_pending)
                finally:
                    model.set_weights(current)
                pending.append((best_pending, run_dir / BEST))
                files[BEST] = _sha(best_pending)
                dirty["best"] = False
            else:
                files[BEST] = _sha(run_dir / BEST)
        rundir.write_json(run_dir / CHECKPOINT, {
            "epoch": epoch, "history": history, "seconds": round(state.seconds + (time.perf_counter() - start), 3),
            "best_epoch": tracker["epoch"], "best_value": tracker["value"], "monitor": monitor,
            "callbacks": callbacks_state, "files": files, "rng_states": rng_states(model),
        })
        for src, dst in pending:
            os.replace(src, dst)
        last_save[0] = time.monotonic()

    es = rlr = None
    callbacks: list[Any] = []
    if training.early_stopping is not None:
        kw = {"monitor": monitor, **training.early_stopping, "restore_best_weights": False, "verbose": 0}
        es = keras.callbacks.EarlyStopping(**kw)
        _restore(es, state.callbacks.get("early_stopping"))
        callbacks.append(es)
    if training.reduce_lr_on_plateau is not None:
        kw = {"monitor": monitor, **training.reduce_lr_on_plateau, "verbose": 0}  # stdout carries results
        rlr = keras.callbacks.ReduceLROnPlateau(**kw)
        _restore(rlr, state.callbacks.get("reduce_lr_on_plateau"))
        callbacks.append(rlr)
    if training.tensorboard and run_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))

    def callback_states() -> dict:
        out = {}
        for key, cb in (("early_stopping", es), ("reduce_lr_on_plateau", rlr)):
            if cb is not None:
                out[key] = {k: _plain(getattr(cb, k)) for k in ("wait", "best", "stopped_epoch", "cooldown_counter")
                            if hasattr(cb, k)}
        return out

    class _Control(keras.callbacks.Callback):
        """NaN stop, best tracking, checkpoints, progress: all at epoch ends.

        No batch hook: reading every step's loss (as TerminateOnNaN does) costs about 10 % of the training
        time of a small model, even on Keras' callback thread. A NaN or infinite batch loss makes the epoch's
        mean loss NaN or infinite, so divergence is still caught, at the end of that epoch."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not math.isfinite(logs.get("loss", 0.0)):
                flags["diverged"] = True
                self.model.stop_training = True
            if rlr is not None:  # the rate this epoch trained with (ReduceLROnPlateau may lower it next)
                logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            value = logs.get(monitor)
            improved = value is not None and math.isfinite(value)
            if improved and (tracker["value"] is None or better(value, tracker["value"])):
                tracker.update(epoch=epoch + 1, value=value, weights=model.get_weights())
                dirty["best"] = True
            if progress is not None:
                progress(epoch + 1, training.epochs, logs)
            if flags["diverged"]:
                return
            stop = STOP_REQUESTED.is_set()
            due = time.monotonic() - last_save[0] >= training.checkpoint_interval
            if stop or due:
                checkpoint(epoch + 1, callback_states())
            if stop:
                flags["interrupted"] = True
                self.model.stop_training = True

    callbacks = [_Control(), *callbacks]  # ours first: best/ckpt see each epoch before EarlyStopping stops
    import tensorflow as tf

    steps = steps_per_epoch(len(y), training.batch_size)  # len(y): x may be a dict of inputs
    start = time.perf_counter()  # training time includes building the input pipeline, as model.fit(x, y) does
    spe, one_stream = execution_plan(steps, int(model.steps_per_execution))
    if spe != model.steps_per_execution:  # Keras traces its functions for one block size: rebuild them
        model.steps_per_execution = spe
        model.train_function = model.test_function = model.predict_function = None
    if one_stream:
        train_ds, _ = make_epochs_dataset(x, y, training.batch_size, training.shuffle, seed, state.epoch,
                                          training.epochs, sample_weight=sample_weight)
    else:
        counter = tf.Variable(state.epoch, dtype=tf.int64, trainable=False)
        train_ds, _ = make_dataset(x, y, training.batch_size, training.shuffle, seed, sample_weight, counter)
    val_ds = make_dataset(*validation, training.batch_size, False, seed)[0] if validation is not None else None
    if state.epoch < training.epochs:
        model.fit(
            train_ds,  # exact epochs: see execution_plan
            steps_per_epoch=steps,
            epochs=training.epochs,
            initial_epoch=state.epoch,
            validation_data=val_ds,
            shuffle=False,  # the dataset shuffles itself each epoch
            verbose=0,
            callbacks=callbacks,
        )
    seconds = state.seconds + time.perf_counter() - start
    epochs_run = len(history.get("loss", []))
    diverged = flags["diverged"] or bool(history.get("loss")) and not math.isfinite(history["loss"][-1])
    stopped_early = es is not None and epochs_run < training.epochs and not flags["interrupted"] and not diverged
    result = FitResult(history, epochs_run, seconds, diverged, flags["interrupted"], stopped_early, monitor,
                       tracker["epoch"], tracker["value"])
    if diverged:
        return result
    checkpoint(epochs_run, callback_states())
    if es is not None and tracker["weights"] is not None:
        model.set_weights(tracker["weights"])
        result.restored_best = True
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _restore(callback: Any, saved: dict | None) -> None:
    """Put EarlyStopping/ReduceLROnPlateau counters back after a resume (Keras resets them in on_train_begin)."""
    if not saved:
        return
    original = callback.on_train_begin

    def on_train_begin(logs: dict | None = None) -> None:
        original(logs)
        for key, value in saved.items():
            if value == "inf":
                value = math.inf
            elif value == "-inf":
                value = -math.inf
            setattr(callback, key, value)

    callback.on_train_begin = on_train_begin
