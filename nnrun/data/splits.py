"""Seeded, stratified train/validation/test splits of row indices. No TensorFlow here."""

from __future__ import annotations

import numpy as np


def split_indices(y: np.ndarray, fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (seeded) train/validation split, stratified by label when ``stratify``.

    Each class contributes ``round(fraction * count)`` examples to validation, so a file sorted by class
    still validates on every class (case 6 in ../shared/cases).

    Returns:
        (train_idx, val_idx): sorted int arrays of row indices.
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    if fraction <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    if not stratify:
        perm = rng.permutation(n)
        k = int(round(fraction * n))
        return np.sort(perm[k:]), np.sort(perm[:k])
    val: list[int] = []
    keys = np.array([str(v) for v in y])
    for label in sorted(set(keys)):
        members = np.flatnonzero(keys == label)
        members = members[rng.permutation(len(members))]
        val.extend(members[: int(round(fraction * len(members)))])
    val_idx = np.sort(np.array(val, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(n), val_idx)
    return train_idx, val_idx


def split_three(y: np.ndarray, validation: float, test: float, seed: int,
                stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test indices: the test rows first (``test`` of all examples), then the validation
    rows (``validation`` of all examples) from the rest; both shuffled with ``seed`` and stratified by label
    for classification. With ``test`` 0 this is exactly ``split_indices(y, validation, seed, stratify)``.

    Returns:
        (train_idx, val_idx, test_idx): sorted int64 arrays that partition ``range(len(y))``.
    """
    rest, test_idx = split_indices(y, test, seed, stratify)
    if validation <= 0:
        return rest, np.zeros(0, dtype=np.int64), test_idx
    sub_train, sub_val = split_indices(y[rest], min(validation / (1.0 - test), 0.999), seed, stratify)
    return rest[sub_train], rest[sub_val], test_idx
