"""The ``tf.data`` pipelines ``model.fit`` reads a streamed run's rows through (``data.stream_source``):
``tf.data.Dataset.from_generator`` over the chunked readers, prefetched.

An epoch visits the shards in an order drawn from (seed, epoch) and shuffles rows within blocks of at least
``data.shuffle_buffer`` rows (an approximate shuffle, deterministic for a seed); it yields exactly
``ceil(num_train / batch_size)`` batches, so epochs stay exact. The table is never held in memory.
"""

from __future__ import annotations

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
    """

    def __init__(self, source: StreamSource, config: Any, num_train: int, num_validation: int) -> None:
        self.source, self.config, self.num_train, self.num_validation = source, config, num_train, num_validation
        self.validation = True if num_validation else None
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
        n_shards = len(self.source.shards.paths)
        order = rng.permutation(n_shards).tolist() if shuffle else None
        buffer = self.config.data.shuffle_buffer if shuffle else 1
        held: list[tuple[Any, np.ndarray]] = []
        count, sent = 0, 0
        for x, y, _ in self.source.encoded(TRAIN, order):
            held.append((x, y))
            count += len(y)
            if count < max(buffer, batch_size):
                continue
            x_all, y_all = ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held])
            if shuffle:
                perm = rng.permutation(len(y_all))
                x_all, y_all = ft.take(x_all, perm), y_all[perm]
            full = len(y_all) // batch_size * batch_size
            for i in range(0, full, batch_size):
                if sent < steps:
                    yield _batch(ft.take(x_all, slice(i, i + batch_size)), y_all[i:i + batch_size])
                    sent += 1
            held, count = [(ft.take(x_all, slice(full, None)), y_all[full:])], len(y_all) - full
        if count and sent < steps:
            x_all, y_all = ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held])
            if shuffle:
                perm = rng.permutation(len(y_all))
                x_all, y_all = ft.take(x_all, perm), y_all[perm]
            for i in range(0, len(y_all), batch_size):
                if sent < steps:
                    yield _batch(ft.take(x_all, slice(i, i + batch_size)), y_all[i:i + batch_size])
                    sent += 1

    def _validation(self) -> Iterator[tuple]:
        """The validation rows in batches of exactly ``EVAL_BATCH`` rows (the last one shorter)."""
        held: list[tuple[Any, np.ndarray]] = []
        count = 0
        for x, y, _ in self.source.encoded(VALIDATION):
            held.append((x, y))
            count += len(y)
            if count < EVAL_BATCH:
                continue
            x_all, y_all = ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held])
            full = len(y_all) // EVAL_BATCH * EVAL_BATCH
            for i in range(0, full, EVAL_BATCH):
                yield _batch(ft.take(x_all, slice(i, i + EVAL_BATCH)), y_all[i:i + EVAL_BATCH])
            held, count = [(ft.take(x_all, slice(full, None)), y_all[full:])], len(y_all) - full
        if count:
            yield _batch(ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held]))

    def _dataset(self, make: Any, batches: int) -> Any:
        """A prefetched ``tf.data`` dataset of the ``batches`` batches ``make()`` yields (the count asserted:
        Keras needs it to run exact epochs and validations)."""
        import tensorflow as tf

        first = next(iter(self.source.encoded(TRAIN)))
        x, y = _batch(ft.take(first[0], slice(0, 1)), first[1][:1])

        def spec(a: np.ndarray) -> Any:
            return tf.TensorSpec((None, *a.shape[1:]), tf.string if a.dtype.kind in "OU" else tf.as_dtype(a.dtype))

        signature = (tf.nest.map_structure(spec, x), spec(y))
        ds = tf.data.Dataset.from_generator(make, output_signature=signature)
        return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def _batch(x: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """A batch as ``from_generator`` takes it (text columns stay object arrays of ``str``: tf.string)."""
    return x, y
