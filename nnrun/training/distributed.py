"""nnrun's own training loop for ``training.distribute: {strategy: multi_worker}``.

``model.fit`` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585: "Attempt to convert a value
(PerReplica...)"), so this loop runs Keras' own ``model.train_step`` / ``test_step`` through ``strategy.run``
in a ``tf.function``: the loss is scaled per replica and the gradients all-reduced as in ``model.fit``, and
Keras' metric variables (sync-on-read) add up over every worker, so each worker logs the same global values
and takes the same early-stopping decision. nnrun's callbacks (history, best weights, progress, checkpoints,
EarlyStopping, ReduceLROnPlateau) are driven epoch by epoch as ``model.fit`` drives them.

Each worker reads its part of every global batch (``tf.data`` auto-sharding by DATA): a global
``batch_size`` gives the single-process result up to float reduction order.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnrun.training.checkpoint import ResumeState
from nnrun.training.pipeline import FitData, make_dataset, make_epochs_dataset

if TYPE_CHECKING:
    from nnrun.training.devices import Placement
    from nnrun.training.fit import FitResult


def fit(model: Any, data: FitData, training: Any, progress: Any, run_dir: Path | None,  # 7: fit.fit's + where
        resume: ResumeState | None, where: Placement) -> FitResult:
    """Train ``model`` (built under ``where``'s strategy) in place, as ``fit.fit`` does with ``model.fit``.

    Args:
        model: the compiled Keras model, built or loaded in ``where.scope()``.
        data, training, progress, run_dir, resume: as ``fit.fit``.
        where: the multi_worker Placement (its strategy and watchdog).

    Returns:
        The FitResult (see ``fit.fit``).
    """
    from nnrun.backend import keras as _keras
    from nnrun.training.callbacks import nnrun_callbacks
    from nnrun.training.fit import STOP_REQUESTED, conclude

    state = resume or ResumeState()
    parts, checkpointer, callbacks = nnrun_callbacks(training, data.validation is not None, progress, run_dir,
                                                     state, STOP_REQUESTED)
    start = time.perf_counter()
    checkpointer.started = start
    train_it, val_ds, steps = _inputs(data, training, state.epoch, where.tf_strategy)
    train_batch, test_batch = _steps(model, where.tf_strategy)
    hooks = _keras().callbacks.CallbackList(callbacks, model=model, epochs=training.epochs, steps=steps, verbose=0)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(state.epoch, training.epochs):
        hooks.on_epoch_begin(epoch)
        logs = _epoch(model, train_batch, train_it, steps, where, f"training epoch {epoch + 1}")
        if val_ds is not None:
            val_logs = _epoch(model, test_batch, iter(val_ds), None, where, f"validating epoch {epoch + 1}")
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end()
    return conclude(model, parts, checkpointer, training, state.seconds + time.perf_counter() - start)


def _inputs(data: FitData, training: Any, first_epoch: int, strategy: Any) -> tuple[Any, Any, int]:
    """(iterator over every remaining epoch's global batches, validation dataset or None, steps per epoch),
    distributed: each worker gets its part of each batch."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds, steps = make_epochs_dataset(data.x, data.y, training.batch_size, training.shuffle, data.seed,
                                          first_epoch, training.epochs, sample_weight=data.sample_weight)
    train_it = iter(strategy.experimental_distribute_dataset(train_ds.with_options(options)))
    val_ds = None
    if data.validation is not None:
        val_ds = make_dataset(*data.validation, training.batch_size, False, data.seed)[0]
        val_ds = strategy.experimental_distribute_dataset(val_ds.with_options(options))
    return train_it, val_ds, steps


def _steps(model: Any, strategy: Any) -> tuple[Any, Any]:
    """(one training step on the next batch of an iterator, one test step on a batch): Keras' own steps run on
    every replica (``strategy.run``) in one traced function each."""
    import tensorflow as tf

    @tf.function
    def train_batch(iterator: Any) -> None:
        strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_batch(batch: Any) -> None:
        strategy.run(model.test_step, args=(batch,))

    return train_batch, test_batch


def _epoch(model: Any, step: Any, iterator: Any, steps: int | None, where: Placement, doing: str) -> dict:
    """Run ``step`` ``steps`` times on ``iterator`` (None: until it ends); the metrics over all workers."""
    model.reset_metrics()
    if steps is None:
        for batch in iterator:
            step(batch)
            where.watchdog.beat(doing)
    else:
        for _ in range(steps):
            step(iterator)
            where.watchdog.beat(doing)
    return {k: float(v) for k, v in model.get_metrics_result().items()}


def detach(model: Any) -> Any:
    """The trained model outside the strategy (saved and loaded back), so that evaluating, predicting and
    saving it on one worker runs no collective operation."""
    from nnrun.backend import keras as _keras

    with tempfile.TemporaryDirectory(prefix="nnrun-detach-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return _keras().models.load_model(path, safe_mode=True)
