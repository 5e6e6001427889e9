"""Issue 18 item 8: metrics.json holds the saved model's training-set metrics measured after training
(``train_loss``, ``train_accuracy``), next to the last epoch's running averages."""

from __future__ import annotations

import json


def test_metrics_hold_the_measured_training_metrics(xor_run):
    metrics = json.loads((xor_run / "metrics.json").read_text())
    evaluation = json.loads((xor_run / "evaluation.json").read_text())
    assert evaluation["subset"] == "training"  # xor has no validation rows: both measure the 4 rows
    assert metrics["train_accuracy"] == 1.0
    assert abs(metrics["train_loss"] - evaluation["metrics"]["loss"]) < 1e-5
    assert "accuracy" in metrics and "loss" in metrics  # the running values stay


def test_pima_measured_accuracy_is_not_the_running_average(pima_run):
    metrics = json.loads((pima_run / "metrics.json").read_text())
    assert 0.5 < metrics["train_accuracy"] <= 1.0
    assert metrics["train_accuracy"] != metrics["accuracy"]
