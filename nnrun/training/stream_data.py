"""The ``tf.data`` pipelines ``model.fit`` reads a streamed run's rows through (``data.stream_source``):
``tf.data.Dataset.from_generator`` over the chunked readers, prefetched.

An epoch visits the shards in an order drawn from (seed, epoch) and shuffles rows within blocks of at least
``data.shuffle_buffer`` rows (an approximate shuffle, deterministic for a seed); it yields exactly
``ceil(num_train / batch_size)`` batches, so epochs stay exact. The table is never held in memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from nnrun.data import features as ft
from nnrun.data.stream_read import TRAIN, VALIDATION
from nnrun.data.stream_source import StreamSource

#: Rows per batch when evaluating the validation rows (inference: bigger batches, same values).
EVAL_BATCH = 4096


class StreamFitData:
    """What ``fit.fit`` trains on when streaming: ``pipeline.fit_inputs`` calls ``datasets``.

    Attributes:
        validation: True when there are validation rows (``fit`` asks whether it is None).
        example: one encoded row ``(x, y)``: the dtypes and shapes of the batches.
    """

    def __init__(self, source: StreamSource, config: Any, counts: tuple[int, int], example: tuple) -> None:
        self.source, self.config, self.example = source, config, example
        self.num_train, self.num_validation = counts
        self.validation = True if self.num_validation else None
        self.seed = config.seed

    def datasets(self, model: Any, training: Any, first_epoch: int) -> tuple[Any, Any, int]:
        """(training dataset of all epochs from ``first_epoch``, validation dataset or None, steps per epoch).
        The block size (``steps_per_execution``) becomes the largest divisor of the steps up to the configured
        one, so that epochs stay exact in one stream."""
        steps = max(1, math.ceil(self.num_train / training.batch_size))
        spe = max(d for d in range(1, min(steps, int(model.steps_per_execution)) + 1) if steps % d == 0)
        if spe != model.steps_per_execution:
            model.steps_per_execution = spe
            model.train_function = model.test_function = model.predict_function = None
        train = self._dataset(lambda: self._epochs(training, first_epoch, steps),
                              max(0, training.epochs - first_epoch) * steps)
        val = self._dataset(self._validation, math.ceil(self.num_validation / EVAL_BATCH)) \
            if self.validation is not None else None
        return train, val, steps

    def _epochs(self, training: Any, first_epoch: int, steps: int) -> Iterator[tuple]:
        for epoch in range(first_epoch, training.epochs):
            yield from self.epoch_batches(epoch, training.batch_size, steps, training.shuffle)

    def epoch_batches(self, epoch: int, batch_size: int, steps: int, shuffle: bool) -> Iterator[tuple]:
        """One epoch's ``steps`` batches: shards in an order drawn from (seed, epoch), rows shuffled in blocks of
        at least ``data.shuffle_buffer`` rows (no shuffle: the files' order)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.source.shards.paths)).tolist() if shuffle else None
        block = max(self.config.data.shuffle_buffer if shuffle else 1, batch_size)
        return itertools.islice(_batches(self.source.encoded(TRAIN, order), block, batch_size,
                                         rng if shuffle else None), steps)

    def _validation(self) -> Iterator[tuple]:
        """The validation rows in batches of exactly ``EVAL_BATCH`` rows (the last one shorter)."""
        return _batches(self.source.encoded(VALIDATION), EVAL_BATCH, EVAL_BATCH, None)

    def _dataset(self, make: Any, batches: int) -> Any:
        """A prefetched ``tf.data`` dataset of the ``batches`` batches ``make()`` yields (the count asserted:
        Keras needs it to run exact epochs and validations)."""
        import tensorflow as tf

        def spec(a: np.ndarray) -> Any:
            return tf.TensorSpec((None, *a.shape[1:]), tf.string if a.dtype.kind in "OU" else tf.as_dtype(a.dtype))

        signature = (tf.nest.map_structure(spec, self.example[0]), spec(self.example[1]))
        ds = tf.data.Dataset.from_generator(make, output_signature=signature)
        return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def _batches(chunks: Iterator[tuple], block: int, batch_size: int, rng: Any) -> Iterator[tuple[Any, np.ndarray]]:
    """Batches of exactly ``batch_size`` rows (the last one shorter) from encoded chunks ``(x, y, raw y)``; with
    ``rng``, the rows of each block of at least ``block`` rows are permuted (the approximate shuffle)."""
    held: list[tuple[Any, np.ndarray]] = []
    count = 0
    for x, y, _ in chunks:
        held.append((x, y))
        count += len(y)
        if count < block:
            continue
        x_all, y_all = _joined(held, rng)
        full = len(y_all) // batch_size * batch_size
        for i in range(0, full, batch_size):
            yield ft.take(x_all, slice(i, i + batch_size)), y_all[i:i + batch_size]
        held, count = [(ft.take(x_all, slice(full, None)), y_all[full:])], len(y_all) - full
    if count:
        x_all, y_all = _joined(held, rng)
        for i in range(0, count, batch_size):
            yield ft.take(x_all, slice(i, i + batch_size)), y_all[i:i + batch_size]


def _joined(held: list[tuple[Any, np.ndarray]], rng: Any) -> tuple[Any, np.ndarray]:
    """The held chunks as one block (text columns stay object arrays of ``str``: tf.string), permuted with ``rng``."""
    x, y = ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held])
    if rng is None:
        return x, y
    perm = rng.permutation(len(y))
    return ft.take(x, perm), y[perm]
