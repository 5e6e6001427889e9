"""Issue 18 item 19: ``runs`` and ``compare`` list the report metrics train prints, show a run whose gates
failed as ``gates failed``, and list ``acc`` under ``accuracy``. Runs written by hand; no TensorFlow."""

from __future__ import annotations

import json

from conftest import invoke
from test_overview import make_run

from nnrun.evaluation.compare import compare_runs, list_runs


def _evaluation(run, subset="validation", **metrics):
    (run / "evaluation.json").write_text(json.dumps({"subset": subset, "metrics": metrics}))


def test_runs_show_the_report_metrics_and_the_gate_outcome(tmp_path):
    a = make_run(tmp_path, "a", metrics={"loss": 0.5, "val_loss": 0.6, "accuracy": 0.8, "epochs": 3})
    _evaluation(a, accuracy=0.7, roc_auc=0.81, f1_macro=0.66)
    b = make_run(tmp_path, "b", started="2024-11-29T19:00:00+00:00",
                 metrics={"loss": 0.4, "acc": 0.9, "val_acc": 0.85, "epochs": 3})
    (b / "gates.json").write_text(json.dumps({"passed": False, "gates": []}))
    runs = {r["name"]: r for r in list_runs(tmp_path)}
    assert runs["a"]["metrics"]["val_roc_auc"] == 0.81 and runs["a"]["metrics"]["val_f1_macro"] == 0.66
    assert runs["a"]["status"] == "completed"
    assert runs["b"]["status"] == "gates failed"
    assert runs["b"]["metrics"]["accuracy"] == 0.9 and runs["b"]["metrics"]["val_accuracy"] == 0.85
    assert "acc" not in runs["b"]["metrics"]
    table = invoke("runs", tmp_path).stdout
    assert "gates failed" in table and "val_acc " not in table


def test_compare_lists_report_metrics_under_one_name(tmp_path):
    a = make_run(tmp_path, "a", metrics={"loss": 0.5, "acc": 0.8})
    b = make_run(tmp_path, "b", metrics={"loss": 0.4, "accuracy": 0.9})
    _evaluation(a, subset="training", roc_auc=0.75)
    _evaluation(b, subset="training", roc_auc=0.8)
    rows = {r["metric"]: r for r in compare_runs(a, b)["metrics"]}
    assert rows["accuracy"]["a"] == 0.8 and rows["accuracy"]["b"] == 0.9
    assert "acc" not in rows
    assert abs(rows["roc_auc"]["delta"] - 0.05) < 1e-12
