"""Training control (early stopping, best weights, LR control, class weights, determinism, resume),
reports and quality gates, end to end through the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, invoke

pytestmark = pytest.mark.slow

IRIS = ROOT / "configs/iris.yaml"
PIMA = ROOT / "configs/pima.yaml"


def _train(runs: Path, config: Path, *sets: str, code: int = 0) -> dict:
    args = ["train", config, "--runs-dir", runs, "--json", "--quiet", "--no-plots"]
    for s in sets:
        args += ["--set", s]
    result = invoke(*args)
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout) if result.stdout else {}


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(path, safe_mode=True, compile=False).get_weights()


def test_early_stopping_restores_the_best_weights_and_records_the_epoch(tmp_path):
    doc = _train(tmp_path, IRIS, "training.epochs=60", "training.early_stopping={monitor: val_loss, patience: 3}")
    run = Path(doc["run_dir"])
    metrics = json.loads((run / "metrics.json").read_text())
    history = [float(line.split(",")[4]) for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert metrics["monitor"] == "val_loss" and metrics["restored_best_weights"] is True
    assert metrics["best_epoch"] == int(np.argmin(history)) + 1
    assert metrics["best_value"] == pytest.approx(min(history))
    assert metrics["val_loss"] == pytest.approx(min(history))  # final metrics are the best epoch's
    assert metrics["stopped_early"] is (metrics["epochs"] < 60)
    for a, b in zip(_weights(run / "model.keras"), _weights(run / "best.keras"), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (run / "last.keras").exists()


def test_best_weights_are_restored_even_when_stopping_never_triggers(tmp_path):
    doc = _train(tmp_path, IRIS, "training.epochs=25", "training.early_stopping={patience: 1000}")
    run = Path(doc["run_dir"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stopped_early"] is False and metrics["epochs"] == 25
    for a, b in zip(_weights(run / "model.keras"), _weights(run / "best.keras"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_unknown_monitor_is_a_config_error_before_training(tmp_path):
    result = invoke("train", IRIS, "--runs-dir", tmp_path, "--set", "training.early_stopping={monitor: val_acc}")
    assert result.exit_code == 2
    assert "training.early_stopping.monitor: unknown metric 'val_acc' (did you mean 'val_accuracy'?)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_reduce_lr_on_plateau_lowers_the_learning_rate(tmp_path):
    doc = _train(tmp_path, IRIS, "training.epochs=12",
                 "training.reduce_lr_on_plateau={monitor: loss, factor: 0.5, patience: 0, min_delta: 10}")
    header, *rows = (Path(doc["run_dir"]) / "history.csv").read_text().splitlines()
    column = header.split(",").index("learning_rate")
    rates = [float(r.split(",")[column]) for r in rows]
    assert rates[0] == pytest.approx(0.01) and rates[-1] < rates[0]


# Schedules, clipping and regularizers: read back and measured in tests/training/test_promises.py.


def test_balanced_class_weight_raises_minority_recall(tmp_path):
    """case 10: Pima is 65 % negative; balanced weights visibly raise the recall of class 1."""
    recall = {}
    for weight in ("null", "balanced"):
        doc = _train(tmp_path, PIMA, "training.epochs=30", f"training.class_weight={weight}")
        report = json.loads((Path(doc["run_dir"]) / "evaluation.json").read_text())["report"]
        recall[weight] = report["recall"]["1"]
        assert report["baseline_accuracy"] == pytest.approx(100 / 154, abs=0.01)
    assert recall["balanced"] > recall["null"] + 0.05


def test_deterministic_runs_give_identical_history_and_weights(tmp_path):
    runs = [Path(_train(tmp_path, PIMA, "training.epochs=5", "training.deterministic=true")["run_dir"])
            for _ in range(2)]
    assert (runs[0] / "history.csv").read_text() == (runs[1] / "history.csv").read_text()
    for a, b in zip(_weights(runs[0] / "model.keras"), _weights(runs[1] / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one(tmp_path):
    sets = ["training.epochs=30", "training.deterministic=true", "training.checkpoint_interval=0"]
    reference = Path(_train(tmp_path / "a", PIMA, *sets)["run_dir"])
    args = [sys.executable, "-m", "nnrun", "train", str(PIMA), "--runs-dir", str(tmp_path / "b"), "--quiet"]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    run = tmp_path / "b" / "pima"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        try:
            if json.loads((run / "checkpoint.json").read_text())["epoch"] >= 8:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((run / "checkpoint.json").read_text())["epoch"]
    assert 8 <= killed_at < 30
    result = invoke("train", "--resume", run, "--json", "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    for a, b in zip(_weights(run / "model.keras"), _weights(reference / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["resumed"][0]["from_epoch"] == killed_at


def test_resume_refuses_a_changed_config_and_extends_only_on_request(tmp_path):
    run = Path(_train(tmp_path, ROOT / "configs/xor.yaml", "training.epochs=5")["run_dir"])
    changed = invoke("train", "--resume", run, "--set", "model.layers.0.units=16")
    assert changed.exit_code == 2
    assert "only training.epochs can change when resuming; changed: model.layers[0].units: 8 -> 16" in changed.stderr
    done = invoke("train", "--resume", run)
    assert done.exit_code == 2
    assert "the run already has 5 epochs (training.epochs is 5)" in done.stderr
    assert f"--resume {run} --set training.epochs=15" in done.stderr
    longer = invoke("train", "--resume", run, "--set", "training.epochs=8", "--json", "--quiet", "--no-plots")
    assert longer.exit_code == 0, longer.stderr
    assert json.loads(longer.stdout)["epochs"] == 8
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 8


def test_resume_with_a_different_config_file_lists_the_differences(tmp_path):
    run = Path(_train(tmp_path, ROOT / "configs/xor.yaml", "training.epochs=2")["run_dir"])
    result = invoke("train", ROOT / "configs/seed_xor.yaml", "--resume", run)
    assert result.exit_code == 2
    assert "differs from the config of" in result.stderr and "model.layers[0].units: 8 -> 2" in result.stderr


def test_tensorboard_logs_in_the_run_directory(tmp_path):
    run = Path(_train(tmp_path, ROOT / "configs/xor.yaml", "training.epochs=2", "training.tensorboard=true")["run_dir"])
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))


def test_report_files_and_plots(tmp_path):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--quiet", "--set", "training.epochs=50")
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "xor"
    for name in ("evaluation.json", "report.md", "learning_curves_loss.png", "learning_curves_accuracy.png",
                 "confusion_matrix.png", "roc_curve.png"):
        assert (run / name).exists(), name
    doc = json.loads((run / "evaluation.json").read_text())
    assert doc["subset"] == "training" and doc["report"]["confusion_matrix"] == [[2, 0], [0, 2]]
    assert doc["metrics"]["f1_macro"] == 1.0 and doc["report"]["threshold"] == 0.5
    assert "## Confusion matrix" in (run / "report.md").read_text()


def test_evaluate_prints_the_report_and_honours_no_plots(iris_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(iris_run, run, ignore=shutil.ignore_patterns("*.png"))
    result = invoke("evaluate", run, "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert "f1_macro" in result.stdout and "baseline_accuracy" in result.stdout
    assert not list(run.glob("*.png"))


def test_gates_pass_fail_and_unknown_names(tmp_path):
    ok = invoke("train", IRIS, "--runs-dir", tmp_path / "ok", "--quiet", "--no-plots", "--gate", "val_accuracy>=0.5")
    assert ok.exit_code == 0, ok.stderr
    failed = invoke("train", IRIS, "--runs-dir", tmp_path / "bad", "--quiet", "--no-plots", "--json",
                    "--set", "gates={val_accuracy: '>= 0.999', val_loss: '<= 5'}")
    assert failed.exit_code == 3
    doc = json.loads(failed.stdout)
    assert [g["passed"] for g in doc["gates"]] == [False, True]
    run = Path(doc["run_dir"])
    assert json.loads((run / "gates.json").read_text())["passed"] is False
    assert (run / "model.keras").exists() and json.loads((run / "run.json").read_text())["status"] == "completed"
    assert "error: quality gates failed (1 of 2): val_accuracy >= 0.999" in failed.stderr
    unknown = invoke("train", IRIS, "--runs-dir", tmp_path / "unknown", "--gate", "val_acc>=0.9")
    assert unknown.exit_code == 2
    assert "unknown metric 'val_acc' (did you mean 'val_accuracy'?)" in unknown.stderr
    assert not (tmp_path / "unknown").exists()
    evaluated = invoke("evaluate", run, "--no-plots", "--gate", "val_accuracy>=0.5", "--gate", "f1_macro>=0.99")
    assert evaluated.exit_code == 3


def test_runs_and_compare_on_real_runs(xor_run, iris_run, runs_dir):
    listed = invoke("runs", runs_dir, "--json")
    assert listed.exit_code == 0, listed.stderr
    names = [r["name"] for r in json.loads(listed.stdout)]
    assert {"xor", "iris"} <= set(names)
    compared = invoke("compare", xor_run, iris_run, "--json")
    assert compared.exit_code == 0, compared.stderr
    keys = {d["key"] for d in json.loads(compared.stdout)["config_diff"]}
    assert {"name", "model.loss.type", "training.epochs"} <= keys


def test_callback_arguments_are_checked_before_training(tmp_path):
    cases = {
        "training.reduce_lr_on_plateau={factor: 1.5}": "reduce_lr_on_plateau.factor: expected a number in (0, 1), got 1.5",
        "training.early_stopping={patience: -3}": "early_stopping.patience: expected a whole number >= 0, got -3",
        "training.early_stopping={mode: mx}": "early_stopping.mode: expected auto, min or max, got 'mx'",
        "training.class_weight={Iris-setosa: -5}": "class_weight.Iris-setosa: expected a finite weight >= 0, got -5.0",
    }
    for override, message in cases.items():
        result = invoke("validate", IRIS, "--set", override)
        assert result.exit_code == 2, override
        assert message in result.stderr, result.stderr


def test_verbose_callbacks_keep_stdout_json(tmp_path):
    doc = _train(tmp_path, IRIS, "training.epochs=3",
                 "training.early_stopping={patience: 0, min_delta: 10, verbose: 1}")
    assert doc["stopped_early"] is True


def test_resume_of_an_early_stopped_run_needs_more_epochs(tmp_path):
    run = Path(_train(tmp_path, IRIS, "training.epochs=50",
                      "training.early_stopping={patience: 0, min_delta: 10}")["run_dir"])
    result = invoke("train", "--resume", run)
    assert result.exit_code == 2
    assert f"error: {run}: the run is completed" in result.stderr
    assert (run / "model.keras").exists()
