"""nnrun.evaluation.metrics, plots and markdown: every metric against scikit-learn on the same predictions, case 10, and the plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics

from nnrun.errors import RunError
from nnrun.evaluation import markdown, plots
from nnrun.evaluation import metrics as report_metrics

TOL = 1e-9
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    logits = rng.normal(size=(n, k))
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _assert_matches_sklearn(y: np.ndarray, probs: np.ndarray, classes: list, r: dict, pred: np.ndarray) -> None:
    labels = list(range(len(classes)))
    assert r["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred), abs=TOL)
    assert r["confusion_matrix"] == metrics.confusion_matrix(y, pred, labels=labels).tolist()
    p, rc, f, s = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for i, cls in enumerate(classes):
        key = str(cls)
        assert r["precision"][key] == pytest.approx(p[i], abs=TOL)
        assert r["recall"][key] == pytest.approx(rc[i], abs=TOL)
        assert r["f1"][key] == pytest.approx(f[i], abs=TOL)
        assert r["support"][key] == s[i]
    for avg in ("macro", "weighted"):
        p, rc, f, _ = metrics.precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
        assert r[avg] == pytest.approx({"precision": p, "recall": rc, "f1": f}, abs=TOL)
        assert (r[f"precision_{avg}"], r[f"recall_{avg}"], r[f"f1_{avg}"]) == pytest.approx((p, rc, f), abs=TOL)
    assert r["log_loss"] == pytest.approx(metrics.log_loss(y, probs, labels=labels), abs=TOL)
    json.dumps(r, allow_nan=False)  # JSON-able as is


def test_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    p1 = np.clip(0.35 * y + rng.uniform(0, 0.65, size=200), 0.001, 0.999)
    probs = np.column_stack([1 - p1, p1])
    r = report_metrics.classification_report(y, probs, ["neg", "pos"])
    _assert_matches_sklearn(y, probs, ["neg", "pos"], r, (p1 >= 0.5).astype(int))
    assert r["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p1), abs=TOL)
    assert r["threshold"] == 0.5
    assert "roc_auc_per_class" not in r


def test_binary_threshold_and_single_column_probs():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=100)
    p1 = rng.uniform(0.01, 0.99, size=100)
    r = report_metrics.classification_report(y, p1.reshape(-1, 1), [0, 1], threshold=0.3)
    _assert_matches_sklearn(y, np.column_stack([1 - p1, p1]), [0, 1], r, (p1 >= 0.3).astype(int))
    assert r["threshold"] == 0.3
    # p >= threshold is positive: a probability exactly at the threshold counts
    assert report_metrics.classification_report(np.array([0, 1]), np.array([0.2, 0.5]), [0, 1])["accuracy"] == 1.0


def test_multiclass_with_a_class_never_predicted_matches_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=300)
    probs = _probs(rng, 300, 3)
    probs[:, 2] *= 0.01  # class 2 never wins the argmax
    probs /= probs.sum(axis=1, keepdims=True)
    classes = ["setosa", "versicolor", "virginica"]
    r = report_metrics.classification_report(y, probs, classes)
    pred = probs.argmax(axis=1)
    assert 2 not in pred
    _assert_matches_sklearn(y, probs, classes, r, pred)
    assert r["precision"]["virginica"] == 0.0 and r["recall"]["virginica"] == 0.0
    assert r["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=TOL)
    per_class = metrics.roc_auc_score(y, probs, multi_class="ovr", average=None)
    assert list(r["roc_auc_per_class"].values()) == pytest.approx(per_class, abs=TOL)
    assert "threshold" not in r
    assert not r["single_class_predicted"]
    assert "never predicted: class virginica (recall 0)" in r["warnings"]


def test_perfect_classifier():
    y = np.array([0, 1, 2, 2, 1, 0, 2])
    probs = np.full((7, 3), 0.0005)
    probs[np.arange(7), y] = 0.999
    r = report_metrics.classification_report(y, probs, [10, 20, 30])
    _assert_matches_sklearn(y, probs, [10, 20, 30], r, y)
    assert r["accuracy"] == r["macro"]["f1"] == r["weighted"]["recall"] == r["roc_auc"] == 1.0
    assert r["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 3]]
    assert r["warnings"] == []
    assert r["majority_class"] == 30 and r["baseline_accuracy"] == pytest.approx(3 / 7)


def test_log_loss_clips_at_1e_15():
    """Hard 0/1 probabilities: clipped to [1e-15, 1 - 1e-15] (scikit-learn >= 1.5 clips at the dtype's eps)."""
    y = np.array([0, 1])
    r = report_metrics.classification_report(y, np.array([[1.0, 0.0], [1.0, 0.0]]), [0, 1])
    assert r["log_loss"] == pytest.approx((-math.log(1 - 1e-15) - math.log(1e-15)) / 2, abs=TOL)
    assert r["roc_auc"] == 0.5  # one tied score: the diagonal


def test_missing_class_gives_null_auc_and_a_warning():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=50)  # class 2 absent
    probs = _probs(rng, 50, 3)
    r = report_metrics.classification_report(y, probs, ["a", "b", "c"])
    assert r["roc_auc"] is None
    assert r["roc_auc_per_class"]["c"] is None
    assert r["roc_auc_per_class"]["a"] == pytest.approx(metrics.roc_auc_score(y == 0, probs[:, 0]), abs=TOL)
    assert r["support"]["c"] == 0
    assert any(w.startswith("no example of class c") for w in r["warnings"])
    binary = report_metrics.classification_report(np.zeros(4, int), np.full(4, 0.2), [0, 1])
    assert binary["roc_auc"] is None


def test_case10_majority_class_model_is_flagged():
    """Pima-like 65/35 labels and a model that always says 'no diabetes'."""
    y = np.array([0] * 65 + [1] * 35)
    p1 = np.random.default_rng(4).uniform(0.05, 0.45, size=100)
    r = report_metrics.classification_report(y, np.column_stack([1 - p1, p1]), [0, 1])
    assert r["baseline_accuracy"] == 0.65
    assert r["majority_class"] == 0
    assert r["accuracy"] == 0.65
    assert r["single_class_predicted"] is True
    assert r["recall"]["1"] == 0.0
    assert r["warnings"][0] == (
        "the model predicts a single class (0) for every example: accuracy 0.650 equals the majority-class baseline"
    )
    rows = dict(markdown.format_rows(r, "classification"))
    assert rows["baseline_accuracy"] == "0.6500 (always 0)"
    assert rows["recall[1]"] == "0.0000"


def test_minority_only_and_below_baseline_warnings():
    y = np.array([0] * 65 + [1] * 35)
    r = report_metrics.classification_report(y, np.full(100, 0.9), [0, 1])
    assert r["warnings"][0] == (
        "the model predicts a single class (1) for every example: accuracy 0.350 vs 0.650 for the majority-class baseline"
    )
    pred = np.r_[np.ones(10), np.zeros(55), np.zeros(30), np.ones(5)]  # 60 right: below the 0.65 baseline
    r = report_metrics.classification_report(y, pred, [0, 1])
    assert not r["single_class_predicted"]
    assert r["warnings"] == ["accuracy 0.600 does not beat the majority-class baseline 0.650 (always predicting 0)"]


def test_classification_report_refuses_bad_input():
    with pytest.raises(ValueError, match=r"expected shape \(3, 3\)"):
        report_metrics.classification_report(np.array([0, 1, 2]), np.ones((3, 2)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        report_metrics.classification_report(np.array([0, 2]), np.ones((2, 2)) / 2, [0, 1])
    with pytest.raises(ValueError, match="at least two classes"):
        report_metrics.classification_report(np.array([0]), np.ones((1, 1)), [0])


def test_roc_curve_points_match_sklearn_with_ties():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=120)
    scores = np.round(rng.uniform(size=120) + 0.3 * y, 1)  # many ties
    fpr, tpr, thr = report_metrics.roc_curve_points(y, scores)
    s_fpr, s_tpr, s_thr = metrics.roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, s_fpr, atol=TOL)
    np.testing.assert_allclose(tpr, s_tpr, atol=TOL)
    np.testing.assert_array_equal(thr, s_thr)
    assert report_metrics.roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores), abs=TOL)
    with pytest.raises(ValueError, match="both positive and negative"):
        report_metrics.roc_curve_points(np.ones(3), np.arange(3))


def test_regression_matches_sklearn():
    rng = np.random.default_rng(6)
    y = rng.normal(10, 3, size=150)
    pred = y + rng.normal(0, 1, size=150)
    r = report_metrics.regression_report(y, pred.reshape(-1, 1))
    assert r["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred), abs=TOL)
    assert r["mse"] == pytest.approx(metrics.mean_squared_error(y, pred), abs=TOL)
    assert r["rmse"] == pytest.approx(math.sqrt(metrics.mean_squared_error(y, pred)), abs=TOL)
    assert r["r2"] == pytest.approx(metrics.r2_score(y, pred), abs=TOL)
    assert r["baseline_mae"] == pytest.approx(metrics.mean_absolute_error(y, np.full_like(y, y.mean())), abs=TOL)
    assert r["num_examples"] == 150 and r["warnings"] == []
    json.dumps(r, allow_nan=False)


def test_regression_multioutput_constant_target_and_useless_model():
    rng = np.random.default_rng(7)
    y, pred = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    r = report_metrics.regression_report(y, pred)
    for key, fn in (("mae", metrics.mean_absolute_error), ("mse", metrics.mean_squared_error)):
        assert r[key] == pytest.approx(fn(y, pred), abs=TOL)
    per_output_rmse = np.sqrt(metrics.mean_squared_error(y, pred, multioutput="raw_values"))  # sklearn's averaging
    assert r["rmse"] == pytest.approx(per_output_rmse.mean(), abs=TOL)
    assert r["r2"] == pytest.approx(metrics.r2_score(y, pred), abs=TOL)
    assert r["warnings"][0].startswith("MAE ") and "always predicting the mean" in r["warnings"][0]
    const = np.full(5, 2.0)
    assert report_metrics.regression_report(const, const)["r2"] == metrics.r2_score(const, const) == 1.0
    assert report_metrics.regression_report(const, const + 1)["r2"] == metrics.r2_score(const, const + 1) == 0.0


def _assert_png(path, min_bytes: int = 5000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes


def test_plots_write_png_files(tmp_path):
    history = {
        "epoch": [1, 2, 3, 4, 5],
        "loss": [1.0, 0.7, 0.5, 0.45, 0.44],
        "accuracy": [0.5, 0.6, 0.7, 0.75, 0.76],
        "val_loss": [1.1, 0.8, 0.6, 0.62, float("nan")],
        "val_accuracy": [0.4, 0.6, 0.65, 0.66, 0.64],
    }
    paths = plots.plot_learning_curves(history, tmp_path / "curve", best_epoch=3)
    assert paths == [tmp_path / "curve_loss.png", tmp_path / "curve_accuracy.png"]
    for path in paths:
        _assert_png(path)
    classes = ["setosa", "versicolor", "virginica"]
    cm = plots.plot_confusion_matrix([[50, 3, 0], [4, 40, 6], [0, 7, 45]], classes, tmp_path / "cm.png")
    _assert_png(cm)
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, size=80)
    roc = plots.plot_roc_curve(y, rng.uniform(size=80) + 0.5 * y, tmp_path / "roc.png", 0.8)
    _assert_png(roc)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cm.png", "roc.png"] + [p.name for p in paths])


def test_plot_to_a_missing_directory_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="cannot write: no directory"):
        plots.plot_confusion_matrix([[1, 0], [0, 1]], [0, 1], tmp_path / "missing" / "cm.png")
    assert list(tmp_path.iterdir()) == []


def test_markdown_report_and_rows():
    y = np.array([0] * 65 + [1] * 35)
    r = report_metrics.classification_report(y, np.full(100, 0.1), ["no", "yes|maybe"])
    md = markdown.markdown_report("pima", r, "classification", ["/tmp/run/cm.png", "curve_loss.png", "my plot.png"])
    assert md.startswith("# pima\n")
    assert "| baseline_accuracy | 0.6500 (always no) |" in md
    assert "| yes\\|maybe | 0.0000 | 0.0000 | 0.0000 | 35 |" in md
    assert "| *macro avg* | 0.3250 | 0.5000 | 0.3939 | 100 |" in md
    assert "| **no** | 65 | 0 |" in md and "| **yes\\|maybe** | 35 | 0 |" in md
    assert "- **warning:** the model predicts a single class (no)" in md
    assert "![cm](cm.png)" in md and "![curve_loss](curve_loss.png)" in md and "![my plot](my%20plot.png)" in md
    reg = report_metrics.regression_report(np.arange(4.0), np.arange(4.0) + 0.5)
    assert markdown.format_rows(reg, "regression") == [
        ("num_examples", "4"),
        ("mae", "0.5000"),
        ("baseline_mae", "1.0000"),
        ("rmse", "0.5000"),
        ("mse", "0.2500"),
        ("r2", "0.8000"),
    ]
    assert "| r2 | 0.8000 |" in markdown.markdown_report("reg", reg, "regression", [])
    with pytest.raises(ValueError, match="task"):
        markdown.format_rows(reg, "ranking")


def test_report_imports_neither_tensorflow_nor_sklearn():
    import subprocess
    import sys

    code = ("import sys, nnrun.evaluation.metrics, nnrun.evaluation.plots, nnrun.evaluation.markdown; print("
            "any(m in sys.modules for m in ('tensorflow', 'sklearn', 'matplotlib', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_console_evaluation_table_shows_loss_then_the_headline_rows():
    import io

    from rich.console import Console

    from nnrun.console import evaluation_table

    y = np.array([0, 0, 1, 1])
    r = report_metrics.classification_report(y, np.array([0.1, 0.6, 0.8, 0.9]), ["no", "yes"])
    result = {"run_dir": "runs/x", "subset": "validation", "num_examples": 4, "metrics": {"loss": 0.25},
              "report": r, "task": "classification"}
    console = Console(width=100, file=io.StringIO())
    console.print(evaluation_table(result))
    text = console.file.getvalue()
    assert "runs/x: validation data, 4 examples" in text
    lines = [line for line in text.splitlines() if "│" in line]
    assert "loss" in lines[0] and "0.2500" in lines[0]
    assert "accuracy" in lines[2] and "0.7500" in lines[2]
    assert "recall[yes]" in text
