"""Targets: class lists, label -> class index, and the encoding the loss needs. No TensorFlow here."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrun.data.readers.csv import is_number
from nnrun.errors import DataError


def class_list(y: np.ndarray) -> list:
    """Distinct labels, sorted (numerically for numbers), as plain JSON-able Python values.

    Class index i is ``classes[i]``: labels 1..3 give classes [1, 2, 3] and indices 0..2 (no phantom class 0).
    """
    values = np.unique(y)
    return [v.item() if hasattr(v, "item") else v for v in values]


def encode_labels(y: np.ndarray, classes: list, name: str, where: Any = None) -> np.ndarray:
    """Map raw labels to class indices, shape (num_samples,) int32.

    Args:
        where: row index -> ``file:line`` for messages (default ``<name>: row <i+1>``).

    Raises:
        DataError: a label not among ``classes`` (it is reported, never silently mapped).
    """
    import pandas as pd

    out = np.asarray(pd.Index(classes).get_indexer(np.asarray(y)), dtype=np.int32) if len(classes) else \
        np.full(len(y), -1, dtype=np.int32)
    slow = np.flatnonzero(out < 0)  # labels matched only as text ("1" for 1) or not at all
    if not slow.size:
        return out
    index = {c: i for i, c in enumerate(classes)}
    index.update({str(c): i for i, c in enumerate(classes)})
    for i in slow:
        v = y[i]
        key = v.item() if hasattr(v, "item") else v
        if key not in index and isinstance(key, float) and key.is_integer():
            key = int(key)
        if key not in index:
            at = where(i) if where is not None else f"{name}: row {i + 1}"
            raise DataError(f"{at}: label {key!r} was not seen in training; known classes: "
                            + ", ".join(map(str, classes)))
        out[i] = index[key]
    return out


def encode_targets(y: np.ndarray, encoding: str, classes: list | None, name: str, where: Any = None) -> np.ndarray:
    """Targets in the form the loss needs (``where``: as ``encode_labels``).

    Returns:
        ``regression``: float32 (num_samples, 1); ``binary``: float32 (num_samples, 1) of 0/1;
        ``sparse``: int32 (num_samples,); ``categorical``: float32 one-hot (num_samples, num_classes).

    Raises:
        DataError: unknown labels, or non-numeric targets for regression.
    """
    if encoding == "regression":
        try:
            return np.asarray(y, dtype=np.float32).reshape(-1, 1)
        except (ValueError, TypeError):
            from nnrun.data.features import shown

            bad = next(v for v in y if not is_number(str(v)))
            raise DataError(
                f"{name}: the target holds text ({shown(bad)}) but the loss is a regression loss; "
                "use a classification loss such as sparse_categorical_crossentropy"
            ) from None
    idx = encode_labels(y, classes, name, where)
    if encoding == "binary":
        return idx.astype(np.float32).reshape(-1, 1)
    if encoding == "sparse":
        return idx
    return np.eye(len(classes), dtype=np.float32)[idx]
