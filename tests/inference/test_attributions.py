"""`nnrun predict --explain` (integrated gradients: completeness row by row) and `--layer` (activations)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from conftest import ROOT, invoke

from nnrun.errors import UsageError
from nnrun.inference.attributions import check_explainable

pytestmark = pytest.mark.slow


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_attributions_add_up_to_the_explained_probability(signal_run):
    data = json.loads((signal_run / "dataset.json").read_text())["source"]
    result = invoke("predict", signal_run, "--input", data, "--explain")
    assert result.exit_code == 0, result.stderr
    rows = _rows(result.stdout)
    assert len(rows) == 600
    assert list(rows[0])[-6:] == ["attr_baseline", "attr_a", "attr_n1", "attr_b", "attr_colour", "attr_n2"]
    for row in rows:  # completeness, row by row: baseline + sum of attributions = the predicted class's probability
        explained = float(row[f"prob_{row['prediction']}"])
        total = sum(float(v) for k, v in row.items() if k.startswith("attr_"))
        assert abs(total - explained) <= 0.01 * explained, row
    signal = np.mean([abs(float(r["attr_a"])) + abs(float(r["attr_b"])) for r in rows])
    noise = np.mean([abs(float(r["attr_n1"])) + abs(float(r["attr_n2"])) for r in rows])
    assert signal > 5 * noise


def test_layer_output_equals_the_sub_model(pima_run, tmp_path):
    import keras

    from nnrun.inference.predictor import load_model

    rows = [r.rsplit(",", 1)[0] for r in (ROOT / "data/pima-indians-diabetes.csv").read_text().splitlines()[:20]]
    f = tmp_path / "pima.csv"
    f.write_text("\n".join(rows) + "\n")
    result = invoke("predict", pima_run, "--input", f, "--layer", "3", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(got) == 20 and list(got[0]) == [f"f{j}" for j in range(8)]  # Dense(8): the config's layer 3
    model = load_model(pima_run)
    sub = keras.Model(model.inputs[0], model.layers[3].output)
    x = np.array([[float(v) for v in r.split(",")] for r in rows], dtype=np.float32)
    expected = np.asarray(sub(x, training=False))
    assert np.allclose(np.array([[r[f"f{j}"] for j in range(8)] for r in got]), expected, rtol=1e-5, atol=1e-5)
    by_name = invoke("predict", pima_run, "--input", f, "--layer", model.layers[3].name, "--format", "jsonl")
    assert by_name.stdout == result.stdout


def test_layer_and_explain_together_are_refused(iris_run):
    result = invoke("predict", iris_run, "--input", "data/iris.csv", "--layer", "0", "--explain")
    assert result.exit_code == 2
    assert "error: --layer and --explain: give one" in result.stderr


def test_explain_refuses_array_inputs_clearly():
    with pytest.raises(UsageError, match=r"^--explain: array \(image\) inputs are not supported; it explains "
                                         "table columns$"):
        check_explainable({"text": None, "columns": [], "shape": [8, 8, 1]})
    check_explainable({"text": "review", "columns": [{"name": "review"}]})  # text: token attributions instead


def test_explain_on_inline_rows_of_numbers_is_complete(xor_run):
    """Inline data has a 1-D input shape: its columns are explained (was refused as an image input)."""
    result = invoke("predict", xor_run, "--input", "data/xor.csv", "--explain", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["prediction"] for r in rows] == [0, 1, 1, 0]
    for r in rows:
        total = r["attr_baseline"] + r["attr_x0"] + r["attr_x1"]
        assert total == pytest.approx(r["probabilities"][str(r["prediction"])], rel=0.01), r
