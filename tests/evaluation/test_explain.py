"""`nnrun explain`: permutation importance on generated data with a known answer, the surrogate's fidelity
against a hand count, the files it writes, and its usage errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import invoke

from nnrun import rundir
from nnrun.evaluation.explain import surrogate

pytestmark = pytest.mark.slow


def test_explain_ranks_the_two_signal_columns_first(signal_run):
    result = invoke("explain", signal_run, "--repeats", "3", "--layer", "0", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_column = {c["column"]: c for c in doc["columns"]}
    assert [c["column"] for c in doc["columns"][:2]] in (["a", "b"], ["b", "a"])
    assert by_column["a"]["mean"] > 0.15 and by_column["b"]["mean"] > 0.15, by_column
    for noise in ("n1", "n2", "colour"):  # the label never looks at them
        assert abs(by_column[noise]["mean"]) < 0.03, by_column[noise]
    assert doc["metric"] == "accuracy" and doc["subset"] == "validation" and doc["rows"] == 180
    assert doc["repeats"] == 3 and doc["seed"] == 0 and sorted(c["rank"] for c in doc["columns"]) == [1, 2, 3, 4, 5]
    tree = doc["surrogate"]
    assert tree["depth"] <= 4 and tree["fidelity"] == tree["agree"] / 180 and tree["fidelity"] > 0.8
    assert "a <=" in tree["rules"] or "b <=" in tree["rules"]
    assert doc["layer"]["name"].startswith("dense") and 0 < doc["layer"]["pca_variance_explained"] <= 1
    for name in (rundir.EXPLANATION, rundir.IMPORTANCE_PNG, "layer_0_pca.png"):
        assert (signal_run / name).stat().st_size > 0, name
    assert json.loads((signal_run / rundir.EXPLANATION).read_text())["columns"] == doc["columns"]
    assert not rundir.temp_files(signal_run)


def test_explain_table_and_rules_on_stdout(iris_run):
    result = invoke("explain", iris_run, "--repeats", "2", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert "permutation importance on 30 validation rows" in result.stdout
    assert "surrogate tree (depth" in result.stdout and "class: Iris-setosa" in result.stdout
    assert "wrote explanation.json in" in result.stderr


def test_surrogate_fidelity_equals_a_hand_count():
    # x = 0 three times with predictions A, A, B: no tree can tell those rows apart, so the best one agrees with
    # 2 of them; x = 1 (B, B, B) and x = 2 (A) are matched: 6 of 7 rows agree.
    frame = pd.DataFrame({"x": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]})
    predicted = np.array([0, 0, 1, 1, 1, 1, 0])
    meta = {"task": "classification", "classes": ["A", "B"], "features": {"text": None}}
    tree = surrogate(frame, predicted, meta, seed=0)
    assert tree["agree"] == 6 and tree["rows"] == 7 and tree["fidelity"] == pytest.approx(6 / 7)


def test_surrogate_of_a_regressor_reports_r2():
    frame = pd.DataFrame({"x": np.arange(40.0)})
    predicted = (frame["x"].to_numpy() ** 2).reshape(-1, 1)
    tree = surrogate(frame, predicted, {"task": "regression", "features": {"text": None}}, seed=0)
    assert tree["fidelity_metric"] == "r2" and 0.95 < tree["fidelity"] < 1.0 and tree["agree"] is None


def test_explain_without_a_split_needs_data(xor_run):
    result = invoke("explain", xor_run)
    assert result.exit_code == 2
    assert "the run has no test or validation split; give --data FILE" in result.stderr


def test_explain_unknown_layer_is_a_usage_error(iris_run):
    result = invoke("explain", iris_run, "--layer", "9", "--repeats", "1", "--no-plots")
    assert result.exit_code == 2
    assert re.fullmatch(r"error: --layer 9: no such layer; the config's layers are \(index=name\): "
                        r"0=dense\w*, 1=dense\w*\n", result.stderr), result.stderr


def test_explain_with_data_on_a_run_without_a_split(xor_run, tmp_path):
    import shutil

    run = shutil.copytree(xor_run, tmp_path / "xor")
    data = tmp_path / "xor8.csv"
    data.write_text("0,0,0\n0,1,1\n1,0,1\n1,1,0\n" * 2)
    result = invoke("explain", run, "--data", data, "--repeats", "10", "--no-plots", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["subset"], doc["source"], doc["rows"], doc["metric"], doc["score"]) == \
        ("file", str(data), 8, "accuracy", 1.0)
    # XOR flips with either input: shuffling a column of four 0s and four 1s changes 2k rows, k ~ 2 on average,
    # so each column's mean drop is about 0.5 and neither can be ignored
    assert {c["column"] for c in doc["columns"]} == {"x0", "x1"}
    assert all(0.3 <= c["mean"] <= 0.7 for c in doc["columns"]), doc["columns"]
    tree = doc["surrogate"]
    assert (tree["depth"], tree["agree"], tree["rows"], tree["fidelity"]) == (2, 8, 8, 1.0)
    assert json.loads((run / rundir.EXPLANATION).read_text())["columns"] == doc["columns"]
