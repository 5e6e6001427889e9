"""nnrun's own overhead: Keras is imported without the optional modules it would import for features nnrun
does not use, and the report's metrics come from the predictions (one pass)."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

_CHECK = """
import sys
from nnrun import backend
backend.select("jax" if backend.jax_installed() else "tensorflow")
backend.keras()
print("sklearn" in sys.modules, "matplotlib" in sys.modules)
import sklearn.metrics  # a later import of a refused module works normally
print(sklearn.metrics.accuracy_score([1, 0], [1, 1]))
import matplotlib.figure
print(matplotlib.figure.Figure().dpi)
"""


def test_keras_import_leaves_sklearn_and_matplotlib_out():
    done = subprocess.run([sys.executable, "-c", _CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "0.5", "100.0"]


def test_metrics_of_predictions_match_evaluate(iris_run):
    from nnrun import rundir
    from nnrun.evaluation.evaluate import metrics_of_predictions
    from nnrun.inference.predictor import load_model

    model = load_model(iris_run)
    # the iris rows themselves: on TensorFlow, evaluate takes the loss from the softmax's logits while the
    # predictions' loss clips probabilities at 1e-7; they differ only where a true class gets less than that
    table = np.genfromtxt(ROOT / "data" / "iris.csv", delimiter=",", dtype=str)[::4]
    x = table[:, :4].astype("float32")
    y = np.unique(table[:, 4], return_inverse=True)[1]
    if rundir.read_json(iris_run / rundir.DATASET)["target_encoding"] == "categorical":
        y = np.eye(3)[y]
    expected = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    got = metrics_of_predictions(model, y, model.predict(x, verbose=0))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(float(value), rel=1e-5, abs=1e-6)
