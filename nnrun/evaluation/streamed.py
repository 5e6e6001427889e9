"""The report of a streamed run over EVERY row of the subset it evaluates (test, validation or training rows),
read from the shards a chunk at a time (``data.stream_source``) instead of a sample held in memory.

Only what the report needs is kept: the model's outputs (num_rows x num_classes float32 probabilities, or the
values of a regressor) and the targets; the inputs are never held whole. Keras' compiled metrics (loss, accuracy,
…) come from ``model.evaluate`` over a second read of the same rows, batch by batch: Keras accumulates each
metric's state across the batches, so AUC-like metrics are exact too (an average of per-chunk values would not be).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nnrun.data import features as ft
from nnrun.errors import DataError


@dataclass(frozen=True)
class StreamedRows:
    """The rows of one role of a streamed run, read from its shards on demand (``EvalData.x`` of its report).

    Attributes:
        source: the run's ``stream_source.StreamSource``. role: TRAIN, VALIDATION or TEST. count: the rows
            counted by the learning pass.
    """

    source: Any
    role: int
    count: int

    def chunks(self) -> Iterator[tuple[Any, np.ndarray]]:
        """(model inputs, raw targets) a chunk at a time, in shard order."""
        for x, _, y_raw in self.source.encoded(self.role):
            yield x, y_raw


def gather(model: Any, data: Any, meta: dict, batch_size: int) -> tuple[Any, np.ndarray, tuple[dict, np.ndarray]]:
    """Predict every row of a ``StreamedRows`` (``data.x``) and measure Keras' metrics on them.

    Args:
        model: the compiled model. data: an ``EvalData`` whose ``x`` is a StreamedRows. meta: ``dataset.json``.
        batch_size: the training batch size (inference runs bigger batches: ``inference_batch``).

    Returns:
        (the EvalData with ``y_raw`` = every row's raw target, the encoded targets, (Keras' metrics, outputs)).

    Raises:
        DataError: no rows, a label the model has never seen.
    """
    from nnrun.data.dataset import typed_labels
    from nnrun.data.labels import encode_targets
    from nnrun.inference.predictor import inference_batch, outputs

    outs, ys, raws, size = [], [], [], batch_size
    for x, y_raw in data.x.chunks():
        size = inference_batch(x, batch_size)
        ys.append(encode_targets(y_raw, meta["target_encoding"], meta["classes"], data.source))
        outs.append(outputs(model, x, meta, batch_size=size))
        raws.append(y_raw.astype(object))
    if not raws:
        raise DataError(f"{data.source}: the run's {data.subset} rows are gone (none read from the shards)")
    whole = replace(data, y_raw=typed_labels(np.concatenate(raws)))
    steps = -(-len(whole.y_raw) // size)
    keras_metrics = model.evaluate(_batches(data, meta, size), steps=steps, verbose=0, return_dict=True)
    return whole, np.concatenate(ys), (keras_metrics, np.concatenate(outs))


def _batches(data: Any, meta: dict, size: int) -> Iterator[tuple[Any, np.ndarray]]:
    """The rows again, as (Keras inputs, encoded targets) batches of exactly ``size`` rows (the last shorter),
    across chunk boundaries: ``model.evaluate`` is told their number, so it never waits for more."""
    from nnrun.data.labels import encode_targets
    from nnrun.inference.predictor import keras_inputs

    held: list[tuple[Any, np.ndarray]] = []
    count = 0
    for x, y_raw in data.x.chunks():
        held.append((x, encode_targets(y_raw, meta["target_encoding"], meta["classes"], data.source)))
        count += len(y_raw)
        if count < size:
            continue
        x_all, y_all = ft.concat([h[0] for h in held]), np.concatenate([h[1] for h in held])
        full = count // size * size
        for i in range(0, full, size):
            yield keras_inputs(ft.take(x_all, slice(i, i + size))), y_all[i:i + size]
        held, count = [(ft.take(x_all, slice(full, None)), y_all[full:])], count - full
    if count:
        yield keras_inputs(ft.concat([h[0] for h in held])), np.concatenate([h[1] for h in held])
