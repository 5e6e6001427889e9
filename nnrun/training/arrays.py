"""The input pipeline on backends other than TensorFlow (JAX): a ``keras.utils.PyDataset`` over the arrays.

``tf.data`` (``pipeline``) would import TensorFlow (2.7 s, 500 MB) into a JAX process; Keras' own
``PyDataset`` adapter feeds the JAX trainer from NumPy instead, with the same guarantees as the TensorFlow
pipeline: each epoch is exactly ``ceil(num_samples / batch_size)`` batches at any ``steps_per_execution``
(Keras ends a ``PyDataset`` epoch at its length and runs a shorter last block), and with shuffling the
order of epoch ``e`` is a permutation drawn from ``(seed, e)`` alone, so a resumed run sees the order an
uninterrupted run saw. The orders differ from the TensorFlow pipeline's (another generator): runs are
reproducible per backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrun.backend import backend_name, keras
from nnrun.training.pipeline import FitData, steps_per_epoch


def _rows(data: Any, index: Any) -> Any:
    """``data[index]`` along the first axis, for an array or a dict of arrays (one per model input)."""
    if isinstance(data, dict):
        return {k: v[index] for k, v in data.items()}
    return data[index]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled row order of ``epoch`` (0-based): a permutation of ``range(n)`` drawn from ``(seed, epoch)``.

    Example:
        >>> epoch_order(5, 0, 1).tolist() == epoch_order(5, 0, 1).tolist() != epoch_order(5, 0, 2).tolist()
        True
    """
    return np.random.default_rng([seed, epoch]).permutation(n)


def epoch_batches(parts: tuple, batch_size: int, shuffle: bool, seed: int, first_epoch: int = 0) -> Any:
    """A ``keras.utils.PyDataset`` of one epoch of batches of ``parts`` (``(x, y[, sample_weight])``).

    Its ``epoch`` attribute (set by the ``EpochSetter`` callback at each epoch's start) picks the order; the
    permutation is drawn once per epoch, each batch is one NumPy gather (a slice without shuffle).
    """

    class EpochBatches(keras().utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1)  # batches made in the training thread: a gather costs microseconds
            self.n = len(parts[1])
            self.epoch = first_epoch
            self._order: tuple[int, np.ndarray] | None = None

        def __len__(self) -> int:
            return steps_per_epoch(self.n, batch_size)

        def __getitem__(self, i: int) -> tuple:
            rows = slice(i * batch_size, min((i + 1) * batch_size, self.n))
            if shuffle:
                if self._order is None or self._order[0] != self.epoch:
                    self._order = (self.epoch, epoch_order(self.n, seed, self.epoch))
                rows = self._order[1][rows]
            return tuple(_rows(p, rows) for p in parts)

    return EpochBatches()


def epoch_setter(dataset: Any) -> Any:
    """A Keras callback telling ``dataset`` (``epoch_batches``) the epoch that starts (absolute, 0-based: a
    resumed fit's ``initial_epoch`` included)."""

    class EpochSetter(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            dataset.epoch = epoch

    return EpochSetter()


def array_inputs(data: FitData, training: Any, first_epoch: int) -> tuple[Any, Any, list]:
    """The training PyDataset, the validation arrays (Keras' array adapter batches them) and the callback
    that sets the training epoch, for ``model.fit`` on JAX.

    Returns:
        (training dataset, ``(x_val, y_val)`` or None, [EpochSetter]).
    """
    parts = (data.x, data.y) if data.sample_weight is None else (data.x, data.y, data.sample_weight)
    train = epoch_batches(parts, training.batch_size, training.shuffle, data.seed, first_epoch)
    return train, data.validation, [epoch_setter(train)]


def check_backend_model(loaded: Any, features: dict) -> None:
    """On a backend other than TensorFlow, refuse data that the model would encode with TensorFlow ops
    (text columns: TextVectorization; categorical columns: StringLookup), before building it.

    Raises:
        ConfigError: at ``backend``, naming the layer and the columns.
    """
    if backend_name() == "tensorflow":
        return
    needs = [("TextVectorization", features.get("text")), ("StringLookup", features.get("categorical"))]
    for layer, columns in needs:
        if columns:
            shown = ", ".join(c["name"] for c in columns) if isinstance(columns, list) else str(columns)
            raise loaded.error(("backend",), f"{layer} (which encodes the column(s) {shown}) needs TensorFlow: it "
                               f"cannot run on backend: {backend_name()}; use backend: tensorflow for this data")


def is_array_backend() -> bool:
    """Whether training feeds ``array_inputs`` (every backend but TensorFlow, whose pipeline is ``tf.data``)."""
    return backend_name() != "tensorflow"

