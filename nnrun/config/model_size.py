"""A model too large for this machine is refused from its config (issue 18): ``units: 1000000000000`` would
otherwise reach Keras, which tries to allocate the weights. Counted without TensorFlow, as a lower bound:
each layer with ``units`` takes at least ``units × (width before it + 1)`` weights, an ``Embedding``
``input_dim × output_dim``; the input's width (unknown before the data is read) counts as 1."""

from __future__ import annotations

import os

#: Bytes per weight (float32).
BYTES_PER_WEIGHT = 4


def min_params(layers: list) -> tuple[int, int]:
    """A lower bound on the model's parameter count, and the index of the layer that adds the most."""
    total, prev, biggest, at = 0, 1, 0, 0
    for i, layer in enumerate(layers):
        kw = layer.kwargs
        added = 0
        if isinstance(kw.get("units"), int) and not isinstance(kw.get("units"), bool):
            added = kw["units"] * (prev + 1)
            prev = kw["units"]
        elif layer.type == "Embedding" and all(isinstance(kw.get(k), int) for k in ("input_dim", "output_dim")):
            added = kw["input_dim"] * kw["output_dim"]
            prev = kw["output_dim"]
        elif layer.type not in ("Dropout", "Activation", "BatchNormalization", "LayerNormalization", "Softmax"):
            prev = 1  # a layer that may change the width: count from 1 again (still a lower bound)
        total += added
        if added > biggest:
            biggest, at = added, i
    return total, at


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where it cannot be told."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_problems(config) -> list[tuple[tuple, str]]:
    """``(key path, message)`` when the weights alone would not fit in this machine's memory."""
    params, at = min_params(config.model.layers)
    memory = memory_bytes()
    need = params * BYTES_PER_WEIGHT
    if memory is None or need <= memory:
        return []
    return [(("model", "layers", at), f"the model has at least {params:,} parameters: {_bytes(need)} as float32 "
             f"weights, more than this machine's {_bytes(memory)} of memory; use fewer units")]


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"
