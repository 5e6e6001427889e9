"""The in-memory ``tf.data`` input pipeline of training: exact epochs at any ``steps_per_execution``.

Rows are never copied per example: each epoch is a dataset of row-index batches (a stateless permutation of
``(seed, epoch)`` when shuffling), and the rows of a batch are gathered in one op. The code is tuned (see
bench/): change it only with a benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FitData:
    """The arrays one model trains on.

    Attributes:
        x: features, shape (num_samples, ...), or a dict of such arrays (one per model input).
        y: encoded targets, first axis num_samples (see ``data.table.encode_targets``).
        validation: (x_val, y_val) shaped alike, or None.
        sample_weight: per-example weights (from ``training.class_weight``), shape (num_samples,), or None.
        seed: seed of the per-epoch shuffle.
    """

    x: Any
    y: np.ndarray
    validation: tuple[Any, np.ndarray] | None = None
    sample_weight: np.ndarray | None = None
    seed: int = 0


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


def make_dataset(  # 7 parameters: moved unchanged (tuned; bench/probe_nnrun.py wraps it)
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


def make_epochs_dataset(  # 8 parameters: moved unchanged, as make_dataset
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


def fit_inputs(model: Any, data: FitData, training: Any, first_epoch: int) -> tuple[Any, Any, int]:
    """The training and validation datasets for ``model.fit``, and the block size set on ``model``.

    Picks the plan of ``execution_plan``: one stream of all epochs when the block size divides the steps per
    epoch, else a dataset that ends after each epoch. When the block size differs from the model's
    ``steps_per_execution`` the model's traced functions are reset (Keras traces them for one block size).

    Args:
        model: a compiled Keras model (its ``steps_per_execution`` may be changed).
        data: the arrays to train on.
        training: the TrainingConfig (epochs, batch_size, shuffle).
        first_epoch: the 0-based epoch training starts at (a resumed run's).

    Returns:
        (training dataset, validation dataset or None, steps per epoch).
    """
    import tensorflow as tf

    if hasattr(data, "datasets"):  # streamed from shards on disk (training/stream_data.py)
        return data.datasets(model, training, first_epoch)
    x, y, seed, sample_weight = data.x, data.y, data.seed, data.sample_weight
    steps = steps_per_epoch(len(y), training.batch_size)  # len(y): x may be a dict of inputs
    spe, one_stream = execution_plan(steps, int(model.steps_per_execution))
    if spe != model.steps_per_execution:  # Keras traces its functions for one block size: rebuild them
        model.steps_per_execution = spe
        model.train_function = model.test_function = model.predict_function = None
    if one_stream:
        train_ds, _ = make_epochs_dataset(x, y, training.batch_size, training.shuffle, seed, first_epoch,
                                          training.epochs, sample_weight=sample_weight)
    else:
        counter = tf.Variable(first_epoch, dtype=tf.int64, trainable=False)
        train_ds, _ = make_dataset(x, y, training.batch_size, training.shuffle, seed, sample_weight, counter)
    val_ds = make_dataset(*data.validation, training.batch_size, False, seed)[0] if data.validation is not None \
        else None
    return train_ds, val_ds, steps
