"""A run's model against the run's own data description (issue 18): a ``model.keras`` copied from another run
loads fine and then fails deep inside TensorFlow on the first batch. Compared at load, the mismatch is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnrun.errors import UsageError


def expected_inputs(spec: dict) -> dict[str | None, tuple[int, ...]]:
    """The model inputs the feature spec needs: ``{None: shape}`` for one unnamed input, else one shape per
    named input (``numeric``, ``cat_<i>``), each without the batch axis."""
    from nnrun.data.features import example_shape

    if not spec.get("categorical"):
        return {None: example_shape(spec)}
    named = {"numeric": (len(spec["numeric"]),)} if spec["numeric"] else {}
    return {**named, **{c["input"]: (1,) for c in spec["categorical"]}}


def model_inputs(model: Any) -> dict[str, tuple]:
    """The model's inputs: name -> shape without the batch axis."""
    return {str(t.name): tuple(t.shape[1:]) for t in getattr(model, "inputs", None) or []}


def check_signature(model: Any, meta: dict, path: Path) -> None:
    """The model must take the inputs the run's feature spec makes, and give one output per class.

    Raises:
        UsageError: naming what the model takes (or gives) and what the run's data needs (exit 2).
    """
    from nnrun.data.features import plain_spec

    spec = meta.get("features") or plain_spec(len(meta["feature_names"]), meta["feature_names"])
    want, have = expected_inputs(spec), model_inputs(model)
    if not have:
        return  # a model without recorded inputs (never built): Keras checks at the first call
    if None in want:
        fits = len(have) == 1 and next(iter(have.values())) == want[None]
        wanted = _shape(want[None])
    else:
        fits = have == want
        wanted = ", ".join(f"{k} {_shape(v)}" for k, v in want.items())
    if not fits:
        got = ", ".join(f"{k} {_shape(v)}" for k, v in have.items())
        raise UsageError(f"{path}: this model does not fit the run's data: it takes {got}, the run's dataset.json "
                         f"needs {wanted}; was model.keras copied from another run? Use that run's directory, "
                         "or train again")
    _check_outputs(model, meta, path)


def _check_outputs(model: Any, meta: dict, path: Path) -> None:
    classes = meta.get("classes")
    if meta.get("task") != "classification" or not classes:
        return
    want = 1 if meta.get("target_encoding") == "binary" else len(classes)
    shape = tuple(getattr(model, "output_shape", ()) or ())
    if len(shape) == 2 and shape[1] is not None and shape[1] != want:
        raise UsageError(f"{path}: this model gives {shape[1]} outputs but the run has {len(classes)} classes "
                         f"(needs {want}); was model.keras copied from another run? Use that run's directory, "
                         "or train again")


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
