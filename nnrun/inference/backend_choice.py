"""Which Keras backend loads a run's model for ``predict`` and ``evaluate``: JAX when it is installed and the
model allows it (whatever backend trained it: ``model.keras`` is backend-neutral), else TensorFlow.

JAX starts in about a third of TensorFlow's import time, which is most of a one-row ``predict``; the outputs
agree to float32 rounding (max abs difference <= 1e-5, tests/inference/test_backend_choice.py).
"""

from __future__ import annotations

import os

from nnrun.backend import BACKENDS, TF_ONLY_LAYERS, jax_installed, select
from nnrun.config.load import LoadedConfig
from nnrun.errors import UsageError

#: Environment variable with the default backend of ``predict``/``evaluate`` (``tensorflow`` or ``jax``);
#: ``--backend`` wins over it.
BACKEND_ENV = "NNRUN_BACKEND"


def needs_tensorflow(loaded: LoadedConfig, meta: dict) -> str | None:
    """Why a run's model needs TensorFlow (a layer that runs TensorFlow string ops, a keras-hub layer), or None.

    Args:
        loaded: the run's config. meta: its dataset.json document.
    """
    from nnrun.config.registry import catalog

    features = meta.get("features") or {}
    if features.get("text"):
        return f"its text column {features['text']!r} is vectorized by TextVectorization"
    if features.get("categorical"):
        return "its categorical columns are encoded by StringLookup"
    hub = {n for n, e in catalog()["layers"].items() if e.get("module") == "keras_hub"}
    for layer in loaded.config.model.layers:
        if layer.type in TF_ONLY_LAYERS or layer.type in hub:
            return f"its {layer.type} layer needs TensorFlow"
    return None


def inference_backend(loaded: LoadedConfig, meta: dict, forced: str | None = None) -> str:
    """Choose (before Keras is imported) the backend to load a run's model on, and return it.

    ``forced`` (``--backend``) wins; then ``NNRUN_BACKEND``; then JAX when installed and the model allows it.
    A process that already runs Keras keeps its backend unless one was forced.

    Raises:
        UsageError: ``--backend jax`` for a model that needs TensorFlow, JAX not installed, or an
            ``NNRUN_BACKEND`` that is not a backend.
    """
    reason = needs_tensorflow(loaded, meta)
    if forced is not None:
        if forced == "jax" and reason:
            raise UsageError(f"--backend jax: this run's model needs TensorFlow ({reason}); use --backend tensorflow")
        return select(forced)
    wanted = env_backend() or ("jax" if jax_installed() else "tensorflow")
    return select("tensorflow" if reason else wanted, forced=False)


def env_backend() -> str | None:
    """The environment's ``NNRUN_BACKEND`` (None when unset or empty).

    Raises:
        UsageError: it names no backend nnrun runs on.
    """
    value = os.environ.get(BACKEND_ENV, "").strip()
    if value and value not in BACKENDS:
        raise UsageError(f"the environment's {BACKEND_ENV}={value} is not a backend nnrun runs Keras on "
                         f"({' or '.join(BACKENDS)}); set it to one of them or unset it (it is the default backend "
                         "of predict and evaluate; --backend wins over it)")
    return value or None
