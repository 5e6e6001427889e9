"""Which inputs a run's model relies on: permutation importance of the raw input columns, and a shallow
decision tree fitted to the model's own predictions (a surrogate a person can read).

Both work on a *column frame*: one DataFrame column per raw input column, holding the values the feature
spec made of it (numbers after fills; category strings; the text). ``model_inputs`` turns such a frame
back into the model's inputs, so permuting a frame column permutes the raw column as a whole — a
categorical column's one-hot parts move together, a text column moves whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.errors import UsageError

SURROGATE_DEPTH = 4


def column_frame(x: Any, spec: dict) -> Any:
    """Model inputs (an array or the dict of a table with categorical columns) as one column per raw column.

    Raises:
        UsageError: array (image) inputs, which have no columns to permute.
    """
    import pandas as pd

    if spec.get("text"):
        return pd.DataFrame({spec["text"]: np.asarray(x, dtype=object).reshape(-1)})
    # (rows of numbers, inline or NPZ, have a 1-D shape: columns; images and data.reshape have more)
    if len(spec.get("shape") or ()) > 1 or spec.get("reshape") or not spec.get("columns"):
        raise UsageError("nnrun explain: array (image) inputs are not supported; it explains table columns")
    numeric = x["numeric"] if isinstance(x, dict) else x
    cols: dict[str, Any] = {}
    if spec["numeric"]:
        cols.update({name: numeric[:, j].astype(np.float64) for j, name in enumerate(spec["numeric"])})
    for c in spec["categorical"]:
        cols[c["name"]] = np.asarray(x[c["input"]], dtype=object).reshape(-1)
    order = [c["name"] for c in spec["columns"]]
    return pd.DataFrame(cols)[order]


def model_inputs(frame: Any, spec: dict) -> Any:
    """A column frame back to model inputs (the inverse of ``column_frame``)."""
    if spec.get("text"):
        return frame[spec["text"]].to_numpy(dtype=object).reshape(-1, 1)
    numeric = frame[spec["numeric"]].to_numpy(dtype=np.float32) if spec["numeric"] else None
    if not spec["categorical"]:
        return numeric
    out: dict[str, Any] = {"numeric": numeric} if spec["numeric"] else {}
    out.update({c["input"]: frame[c["name"]].to_numpy(dtype=object).reshape(-1, 1) for c in spec["categorical"]})
    return out


class _Net:
    """The run's model as sklearn sees an estimator: ``predict(column_frame)`` -> class indices or values."""

    def __init__(self, predictor: Any, spec: dict, task: str) -> None:
        self.predictor, self.spec, self.task = predictor, spec, task

    def fit(self, *args: Any) -> _Net:  # sklearn's estimator protocol; the model is already trained
        return self

    def predict(self, frame: Any) -> np.ndarray:
        raw = self.predictor.raw(model_inputs(frame, self.spec))
        if self.task == "regression":
            return raw.astype(np.float64)
        from nnrun.inference.predictor import probabilities

        probs = probabilities(raw, self.predictor.meta)
        if self.predictor.meta["target_encoding"] == "binary":
            return (probs[:, 1] >= 0.5).astype(np.int64)
        return np.argmax(probs, axis=1)


def _score(task: str) -> tuple[str, Any]:
    """The metric importance is measured with: accuracy (classifiers), R² (regressors); higher is better."""
    from sklearn.metrics import accuracy_score, r2_score

    if task == "regression":
        return "r2", lambda est, frame, y: float(r2_score(y, est.predict(frame)))
    return "accuracy", lambda est, frame, y: float(accuracy_score(y, est.predict(frame)))


def permutation(predictor: Any, frame: Any, y: np.ndarray, repeats: int, seed: int) -> dict:
    """Permutation importance of every raw column: the drop of the metric when that column is shuffled.

    sklearn's ``permutation_importance`` shuffles the frame's columns (one raw column at a time, ``repeats``
    times, ``random_state=seed``); the scorer re-encodes the frame for the model (``model_inputs``).

    Args:
        predictor: ``nnrun.inference.predictor.Predictor`` of the run. frame: ``column_frame`` of n rows.
        y: class indices (n,) or values (n, outputs).

    Returns:
        ``{"metric", "score", "columns": [{"column", "mean", "std", "rank"}, … most important first]}``.
    """
    from sklearn.inspection import permutation_importance

    task = predictor.meta["task"]
    metric, scorer = _score(task)
    net = _Net(predictor, predictor.meta["features"], task)
    result = permutation_importance(net, frame, y, scoring=scorer, n_repeats=repeats, random_state=seed)
    order = np.argsort(-result.importances_mean, kind="stable")
    columns = [{"column": str(frame.columns[j]), "mean": float(result.importances_mean[j]),
                "std": float(result.importances_std[j]), "rank": r + 1} for r, j in enumerate(order)]
    return {"metric": metric, "score": scorer(net, frame, y), "columns": columns}


def surrogate(frame: Any, predicted: np.ndarray, meta: dict, seed: int) -> dict | None:
    """A decision tree (depth <= 4) fitted to the model's own predictions on the rows.

    Numeric columns are used as they are, categorical ones one-hot (``column=value``); a text column has no
    readable split, so text models get none.

    Args:
        frame: ``column_frame``. predicted: the model's class indices (n,) or values (n, outputs).
        meta: the run's ``dataset.json`` (task, classes, feature spec).

    Returns:
        ``{"depth", "fidelity", "fidelity_metric", "agree", "rows", "rules"}``: fidelity is the share of rows
        where tree and model agree (``agree`` of ``rows``), or R² of the tree against the model (regressors);
        ``rules`` is ``sklearn.tree.export_text``. None for a text model.
    """
    import pandas as pd
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    if meta["features"].get("text"):
        return None
    task = meta["task"]
    features = pd.get_dummies(frame, prefix_sep="=", dtype=np.float64)
    if task == "regression":
        target = predicted.reshape(len(predicted), -1)
        target = target[:, 0] if target.shape[1] == 1 else target
        tree = DecisionTreeRegressor(max_depth=SURROGATE_DEPTH, random_state=seed).fit(features, target)
        fidelity, agree, kind = float(r2_score(target, tree.predict(features))), None, "r2"
    else:
        names = np.array([str(c) for c in meta["classes"]])[predicted]
        tree = DecisionTreeClassifier(max_depth=SURROGATE_DEPTH, random_state=seed).fit(features, names)
        agree = int(np.sum(tree.predict(features) == names))
        fidelity, kind = agree / max(len(names), 1), "agreement"
    rules = export_text(tree, feature_names=[str(c) for c in features.columns], decimals=3)
    if task != "regression" and len(tree.classes_) == 1:  # export_text prints the index of a one-class tree
        rules = rules.replace("class: 0\n", f"class: {tree.classes_[0]}\n")
    return {"depth": int(tree.get_depth()), "fidelity": fidelity, "fidelity_metric": kind, "agree": agree,
            "rows": len(frame), "rules": rules}



def explain_rows(model: Any, meta: dict, x: Any, y_raw: np.ndarray, repeats: int, seed: int) -> dict:
    """Permutation importance and the surrogate tree on rows ``x`` (model inputs) with targets ``y_raw``.

    Returns:
        The ``explanation.json`` document without the data's description: ``rows``, ``repeats``, ``seed``,
        ``metric``, ``score``, ``columns`` (mean, std, rank), ``surrogate``.

    Raises:
        DataError: a label the model has never seen. UsageError: array (image) inputs.
    """
    from nnrun.data.labels import encode_labels
    from nnrun.inference.predictor import Predictor

    frame = column_frame(x, meta["features"])
    predictor = Predictor(model, meta)
    if meta["task"] == "regression":
        y = np.asarray(y_raw, dtype=np.float64)
    else:
        y = encode_labels(np.asarray(y_raw), meta["classes"], meta["target_name"])
    importance = permutation(predictor, frame, y, repeats, seed)
    predicted = _Net(predictor, meta["features"], meta["task"]).predict(frame)
    return {"rows": len(frame), "repeats": repeats, "seed": seed, **importance,
            "surrogate": surrogate(frame, predicted, meta, seed)}


def layer_projection(model: Any, meta: dict, x: Any, layer: str) -> tuple[str, np.ndarray, float]:
    """The rows' activations at config layer ``layer`` on two principal components (scikit-learn PCA).

    Returns:
        (layer name, (n, 2) points, share of the activations' variance the two components explain).

    Raises:
        UsageError: no such layer.
    """
    from sklearn.decomposition import PCA

    from nnrun.inference.attributions import find_layer, layer_outputs

    _, found = find_layer(model, layer)
    acts = layer_outputs(model, meta["features"], x, layer)
    k = min(2, acts.shape[1], len(acts))
    pca = PCA(n_components=k).fit(acts)
    points = pca.transform(acts)
    if k < 2:
        points = np.hstack([points, np.zeros((len(points), 2 - k))])
    return found.name, points, float(np.sum(pca.explained_variance_ratio_))


def write_plots(run: Path, meta: dict, doc: dict, y_raw: Any, points: Any) -> list[str]:
    """Write importance.png and (with ``points``, the layer's PCA projection) layer_<L>_pca.png in ``run``.

    Returns:
        The file names written.

    Raises:
        RunError: a file cannot be written.
    """
    import numpy as np

    from nnrun.data.labels import encode_labels
    from nnrun.evaluation.plots import plot_importance, plot_layer_pca

    plot_importance(doc["columns"], doc["metric"], run / rundir.IMPORTANCE_PNG)
    files = [rundir.IMPORTANCE_PNG]
    if points is not None:
        name = rundir.layer_pca_png(doc["layer"]["layer"])
        classes = meta["classes"] if meta["task"] == "classification" else None
        labels = encode_labels(np.asarray(y_raw), classes, meta["target_name"]) if classes else \
            np.asarray(y_raw, dtype=np.float64).reshape(len(y_raw), -1)[:, 0]
        plot_layer_pca(points, labels, classes, f"layer {doc['layer']['name']}: activations on 2 principal "
                       "components", run / name)
        files.append(name)
    return files

