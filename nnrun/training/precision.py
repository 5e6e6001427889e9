"""``training.mixed_precision``: Keras' mixed precision policy while the model is built and compiled.

Keras does the work (``keras.mixed_precision``): layers compute in float16/bfloat16 and keep float32 weights;
``compile`` wraps the optimizer in a ``LossScaleOptimizer`` under ``mixed_float16``. nnrun only sets the
policy around building (layers take it when they are made; it is restored afterwards, so cv folds, tune
trials and tests in the same process are not affected), keeps the output layer float32 (``build``), and
refuses a device that cannot compute in that type:

- float16: a GPU of compute capability 7.0 or more (tensor cores); refused on CPU (TensorFlow's CPU kernels
  emulate it, many times slower than float32).
- bfloat16: a GPU of compute capability 8.0 or more, or the CPU (correct everywhere; fast only on CPUs with
  AVX512-BF16/AMX: a note says so).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nnrun.errors import ConfigError

#: The GPU compute capability each type needs (NVIDIA: 7.0 Volta for float16, 8.0 Ampere for bfloat16).
NEEDS = {"float16": (7, 0), "bfloat16": (8, 0)}


def check_device(kind: str) -> str | None:
    """Whether this process can train in ``kind`` (``float16`` or ``bfloat16``).

    Returns:
        None when a capable GPU is there, else a note for bfloat16 on CPU.

    Raises:
        ConfigError: float16 without a GPU of compute capability 7.0+, or bfloat16 with only older GPUs.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(g).get("compute_capability") or (0, 0) for g in gpus]
    need = NEEDS[kind]
    if capabilities and all(tuple(c) >= need for c in capabilities):
        return None
    if kind == "bfloat16" and not gpus:
        return "mixed_precision bfloat16 on CPU: correct, but faster than float32 only on CPUs with AVX512-BF16/AMX"
    have = ", ".join(f"{c[0]}.{c[1]}" for c in capabilities) if capabilities else "no GPU"
    hint = "remove training.mixed_precision" + ("; bfloat16 runs on CPU" if kind == "float16" else "")
    raise ConfigError(f"training.mixed_precision: {kind} needs a GPU of compute capability "
                      f"{need[0]}.{need[1]} or more; this process has {have}", hint=hint)


@contextmanager
def policy(training: Any, info: Any) -> Iterator[None]:
    """Keras' ``mixed_<kind>`` global policy inside the block (none without ``training.mixed_precision``).

    Raises:
        ConfigError: the device cannot compute in that type (see ``check_device``).
    """
    kind = training.mixed_precision
    if kind is None:
        yield
        return
    from nnrun.backend import keras as _keras

    note = check_device(kind)
    if note:
        info(note)
    mixed = _keras().mixed_precision
    before = mixed.global_policy()
    mixed.set_global_policy(f"mixed_{kind}")
    try:
        yield
    finally:
        mixed.set_global_policy(before)


def is_mixed() -> bool:
    """A mixed precision policy is set (``build`` then keeps the output layer float32)."""
    from nnrun.backend import keras as _keras

    return _keras().mixed_precision.global_policy().name.startswith("mixed")
