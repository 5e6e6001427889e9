"""The fills and vocabularies of the learning pass (``stream_spec``), from what it accumulated, by the same rules
as ``spec.fit`` (mean, median, most_frequent with ties to the smallest, constant; vocabularies sorted, the fill
included). No TensorFlow here."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrun.data.features import EMBEDDING_DIM, fill_constant
from nnrun.data.spec import numeric_constant
from nnrun.errors import DataError


def _most_frequent(counts: dict) -> Any:
    """The most frequent value; ties go to the smallest (as ``np.unique`` + ``argmax`` in ``spec.fit``)."""
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def numeric_entry(entry: dict, state: Any, data_cfg: Any, source: str) -> None:
    """The fill of a numeric column, set on ``entry`` (``spec.fit``'s rules).

    Args:
        entry: the spec's column entry (name, kind, missing, fill). state: the pass's ``stream_spec.Column``.

    Raises:
        DataError: no values to learn a fill from; a text fill_value for a numeric column.
    """
    col, pol = entry["name"], entry["missing"]
    if pol in ("mean", "median", "most_frequent") and state.raw.n == 0:
        raise DataError(f"{source}: column {col!r}: no values in the training split to learn a {pol} from")
    if pol == "mean":
        entry["fill"] = float(state.raw.mean)
    elif pol == "median":
        entry["fill"] = float(np.median(np.concatenate(state.values)))
    elif pol == "most_frequent":
        entry["fill"] = float(_most_frequent(state.counts))
    elif pol == "constant":
        numeric_constant(entry, data_cfg, col, source)


def categorical_entry(entry: dict, state: Any, data_cfg: Any, source: str, index: int) -> dict:
    """The fill (set on ``entry``), vocabulary and encoding of a categorical column (``spec.fit``'s rules).

    Returns:
        The spec's ``categorical`` entry: name, input, vocabulary (sorted), encoding, output_dim.

    Raises:
        DataError: mean/median asked for by name, no values to learn most_frequent from.
    """
    col, pol = entry["name"], entry["missing"]
    if pol in ("mean", "median"):
        if isinstance(data_cfg.missing, dict):
            raise DataError(f"{source}: column {col!r} is categorical: missing: {pol} needs numbers; use "
                            "most_frequent or constant")
        pol = entry["missing"] = "most_frequent"
    if pol == "most_frequent":
        if not state.counts:
            raise DataError(f"{source}: column {col!r}: no values in the training split")
        entry["fill"] = str(_most_frequent(state.counts))
    elif pol == "constant" and fill_constant(data_cfg, col) is not None:
        entry["fill"] = str(fill_constant(data_cfg, col))
    elif pol == "constant":
        entry["missing"] = "error"
    vocab = sorted(set(state.counts) | ({entry["fill"]} if entry["fill"] is not None else set()))
    declared = data_cfg.categorical if isinstance(data_cfg.categorical, dict) else {}
    spec = declared.get(col)
    encoding = spec.encoding if spec is not None else "one_hot"
    return {"name": col, "input": f"cat_{index}", "vocabulary": vocab, "encoding": encoding,
            "output_dim": (spec.output_dim or EMBEDDING_DIM) if encoding == "embedding" else None}
