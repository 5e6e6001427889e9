"""The MLflow model signature of a run's model, from its dataset.json (no MLflow import until called)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnrun import rundir


def model_signature(model: Any, run_dir: Path) -> Any:
    """A tensor signature ``float64 (-1, num_features)`` when the model takes one table of numbers (MLflow's
    Keras flavour accepts tensor signatures only), so ``mlflow.pyfunc`` takes a float DataFrame or array of
    the numeric feature columns in dataset.json's order; None otherwise (categorical columns make the inputs
    a dict, texts and images are not tables): MLflow then passes the data to the model as given.
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    meta = rundir.read_json(run_dir / rundir.DATASET) if (run_dir / rundir.DATASET).is_file() else {}
    features = meta.get("features") or {}
    numeric = features.get("numeric") or []
    inputs = getattr(model, "inputs", None) or []
    if (features.get("categorical") or features.get("text") or len(inputs) != 1
            or tuple(inputs[0].shape)[1:] != (len(numeric),) or not numeric):
        return None
    outputs = int(model.outputs[0].shape[-1])
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype("float64"), (-1, len(numeric)))]),
                          outputs=Schema([TensorSpec(np.dtype("float32"), (-1, outputs))]))
