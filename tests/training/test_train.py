"""Training end to end through the CLI: run directory contents, shipped configs, cases from ../shared/cases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, invoke

pytestmark = pytest.mark.slow

RUN_FILES = {
    "config.yaml", "model.keras", "history.csv", "metrics.json", "summary.txt", "run.json", "dataset.json",
    "split.json", "last.keras", "best.keras", "checkpoint.json", "evaluation.json", "report.md",
    "learning_curves_loss.png", "learning_curves_accuracy.png", "confusion_matrix.png", "roc_curve.png", ".lock",
}


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _table(stdout: str) -> dict[str, str]:
    """The rows of a printed metric table: name -> value as shown."""
    cells = (line.strip("│ ").split("│") for line in stdout.splitlines() if line.startswith("│"))
    return {name.strip(): value.strip() for name, value in cells}


def _predict_json(run: Path, rows_file: Path) -> list[dict]:
    result = invoke("predict", run, "--input", rows_file, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_xor_run_directory_holds_every_artifact(xor_run):
    assert {p.name for p in xor_run.iterdir()} == RUN_FILES
    metrics = _json(xor_run / "metrics.json")
    assert set(metrics) == {"loss", "accuracy", "epochs", "train_seconds", "monitor", "best_epoch", "best_value",
                            "stopped_early", "restored_best_weights", "train_loss", "train_accuracy"}
    assert metrics["monitor"] == "loss" and metrics["restored_best_weights"] is False
    assert metrics["epochs"] == 200
    assert metrics["accuracy"] == 1.0
    run = _json(xor_run / "run.json")
    assert run["status"] == "completed"
    assert run["seed"] == 0
    assert run["keras_version"].startswith("3.")
    assert run["ended"] >= run["started"]
    rows = list(csv.DictReader((xor_run / "history.csv").open()))
    assert len(rows) == 200
    assert list(rows[0]) == ["epoch", "accuracy", "loss"]
    assert [r["epoch"] for r in rows[:3]] == ["1", "2", "3"]
    assert float(rows[-1]["loss"]) == pytest.approx(metrics["loss"])
    assert "Model parameters (weights and biases): 33 (trainable 33, non-trainable 0)" in (
        xor_run / "summary.txt"
    ).read_text()


def test_xor_predicts_all_four_points(xor_run):
    records = _predict_json(xor_run, ROOT / "data" / "xor.csv")
    assert [r["prediction"] for r in records] == [0, 1, 1, 0]
    for r, want in zip(records, [0, 1, 1, 0], strict=False):
        assert r["probabilities"][str(want)] > 0.9


def test_resolved_config_has_defaults_and_reloads(xor_run):
    from nnrun.config.load import load_config

    written = yaml.safe_load((xor_run / "config.yaml").read_text())
    assert written["training"] == {
        "epochs": 200, "batch_size": 4, "validation_split": 0.0, "test_split": 0.0, "shuffle": True,
        "steps_per_execution": 32,
        "class_weight": None, "deterministic": False, "early_stopping": None, "reduce_lr_on_plateau": None,
        "tensorboard": False, "checkpoint_interval": 10.0, "distribute": None, "mixed_precision": None,
    }
    assert written["model"]["optimizer"] == {"type": "adam", "learning_rate": 0.05}
    assert load_config(xor_run / "config.yaml").config.model.layers[0].kwargs == {"units": 8, "activation": "tanh"}


def test_second_train_gets_a_new_directory(runs_dir, xor_run):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", runs_dir, "--quiet", "--json",
                    "--set", "training.epochs=2")
    assert result.exit_code == 0, result.stderr
    second = Path(json.loads(result.stdout)["run_dir"])
    assert second.name == "xor-2"
    assert _json(xor_run / "metrics.json")["epochs"] == 200  # the first run is untouched
    assert _json(second / "metrics.json")["epochs"] == 2


def test_train_table_on_stdout_progress_on_stderr(tmp_path):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--set", "training.epochs=3")
    assert result.exit_code == 0
    run = tmp_path / "xor"
    metrics, evaluation = _json(run / "metrics.json"), _json(run / "evaluation.json")["metrics"]
    table = _table(result.stdout)
    assert list(table)[:4] == ["accuracy", "loss", "train_accuracy", "train_loss"]
    assert table["accuracy"] == f"{metrics['accuracy']:.4f}" and table["loss"] == f"{metrics['loss']:.4f}"
    for name, shown in table.items():  # every figure printed is the run's own, as recorded
        assert shown == f"{metrics.get(name, evaluation.get(name)):.4f}", name
    assert "epoch 1/3" in result.stderr and "epoch 3/3" in result.stderr
    assert "epoch 1/3" not in result.stdout
    assert f"saved run to {tmp_path / 'xor'}" in result.stderr


def test_iris_string_labels_round_trip_and_validation(iris_run, tmp_path):
    metrics = _json(iris_run / "metrics.json")
    assert metrics["val_accuracy"] >= 0.9
    meta = _json(iris_run / "dataset.json")
    assert meta["classes"] == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    # case 6: the file is sorted by class; the validation split holds 10 of each class
    split = _json(iris_run / "split.json")
    labels = [line.rsplit(",", 1)[1] for line in (ROOT / "data/iris.csv").read_text().splitlines() if line]
    val_labels = [labels[i] for i in split["validation"]]
    assert {c: val_labels.count(c) for c in set(val_labels)} == {
        "Iris-setosa": 10, "Iris-versicolor": 10, "Iris-virginica": 10
    }
    rows = tmp_path / "flowers.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    assert [r["prediction"] for r in _predict_json(iris_run, rows)] == ["Iris-setosa", "Iris-virginica"]


def test_evaluate_defaults_to_validation_split(iris_run):
    result = invoke("evaluate", iris_run, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["subset"] == "validation" and doc["num_examples"] == 30
    final = _json(iris_run / "metrics.json")
    assert doc["metrics"]["accuracy"] == pytest.approx(final["val_accuracy"], abs=1e-6)
    assert doc["metrics"]["loss"] == pytest.approx(final["val_loss"], rel=1e-4)
    assert _json(iris_run / "evaluation.json")["metrics"] == doc["metrics"]


def test_evaluate_on_a_file_and_table_output(iris_run):
    result = invoke("evaluate", iris_run, "--data", ROOT / "data/iris.csv")
    assert result.exit_code == 0, result.stderr
    assert "150 examples" in result.stdout
    doc = json.loads(invoke("evaluate", iris_run, "--data", ROOT / "data/iris.csv", "--json").stdout)
    table = _table(result.stdout)
    assert table["accuracy"] == f"{doc['metrics']['accuracy']:.4f}" and table["loss"] == f"{doc['metrics']['loss']:.4f}"
    # the accuracy on all 150 flowers, counted here from the predictions
    labels = [line.rsplit(",", 1)[1] for line in (ROOT / "data/iris.csv").read_text().splitlines() if line]
    predicted = [r["prediction"] for r in _predict_json(iris_run, ROOT / "data/iris.csv")]
    assert doc["metrics"]["accuracy"] == pytest.approx(sum(map(str.__eq__, predicted, labels)) / 150, abs=1e-9)


def test_evaluate_training_data_when_no_validation(xor_run):
    doc = json.loads(invoke("evaluate", xor_run, "--json").stdout)
    assert doc["subset"] == "training" and doc["num_examples"] == 4
    assert doc["metrics"]["accuracy"] == 1.0


def test_pima_reaches_070_validation_accuracy(pima_run):
    metrics = _json(pima_run / "metrics.json")
    assert metrics["val_accuracy"] >= 0.70
    # BatchNormalization over 8 features: 16 trainable + 16 non-trainable; Dense 144 + 136 + 9
    summary = (pima_run / "summary.txt").read_text()
    assert "Model parameters (weights and biases): 321 (trainable 305, non-trainable 16)" in summary


def test_predict_accepts_rows_with_or_without_the_target_column(pima_run, tmp_path):
    with_target = tmp_path / "with.csv"
    with_target.write_text("6,148,72,35,0,33.6,0.627,50,1\n1,85,66,29,0,26.6,0.351,31,0\n")
    without = tmp_path / "without.csv"
    without.write_text("6,148,72,35,0,33.6,0.627,50\n1,85,66,29,0,26.6,0.351,31\n")
    a = invoke("predict", pima_run, "--input", with_target)
    b = invoke("predict", pima_run, "--input", without)
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout
    assert a.stdout.splitlines()[0] == "prediction,prob_0,prob_1"
    assert "by position: column 8 ('col8', where the training file had its target 'col8') is ignored" in a.stderr


def test_predict_one_row_with_and_without_trailing_newline(pima_run, tmp_path):
    # case 8
    for text in ("6,148,72,35,0,33.6,0.627,50\n", "6,148,72,35,0,33.6,0.627,50"):
        f = tmp_path / "one.csv"
        f.write_text(text)
        result = invoke("predict", pima_run, "--input", f)
        assert result.exit_code == 0
        assert len(result.stdout.splitlines()) == 2  # header + one prediction


def test_predict_wrong_feature_count_is_refused(pima_run, tmp_path):
    # case 8: 7 values on an 8-feature model
    f = tmp_path / "seven.csv"
    f.write_text("6,148,72,35,0,33.6,0.627\n")
    result = invoke("predict", pima_run, "--input", f)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {f}: expected 8 features, got 7 (the model takes: col0, col1,")
    assert result.stdout == ""


def test_predict_json_stdin_and_output_file(xor_run, tmp_path):
    out = tmp_path / "pred.csv"
    result = invoke("predict", xor_run, "--input", "-", "--output", out, input="[[0, 1], [1, 1]]")
    assert result.exit_code == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "prediction,prob_0,prob_1"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "0"]


def test_save_load_parity_in_a_new_process(iris_run):
    """case 7: predictions from a fresh process equal the model's in this one (max abs diff <= 1e-5)."""
    import subprocess
    import sys

    import numpy as np

    from nnrun.inference.predictor import load_model

    x = np.loadtxt(ROOT / "data/iris.csv", delimiter=",", usecols=range(4), dtype=np.float32)
    here = load_model(iris_run).predict(x, verbose=0)
    nnrun = Path(sys.executable).parent / "nnrun"
    proc = subprocess.run(
        [str(nnrun), "predict", str(iris_run), "--input", str(ROOT / "data/iris.csv"), "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    records = json.loads(proc.stdout)
    classes = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    there = np.array([[r["probabilities"][c] for c in classes] for r in records])
    assert np.max(np.abs(there - here)) <= 1e-5


def test_integer_labels_1_to_3_make_no_phantom_class(tmp_path):
    """case 3: labels 1..3 give three classes, and predictions come back as 1..3."""
    lines = (ROOT / "data/iris.csv").read_text().splitlines()
    names = {"Iris-setosa": "1", "Iris-versicolor": "2", "Iris-virginica": "3"}
    (tmp_path / "iris123.csv").write_text("\n".join(
        line.rsplit(",", 1)[0] + "," + names[line.rsplit(",", 1)[1]] for line in lines if line
    ) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: iris123\ndata: {{path: {tmp_path / 'iris123.csv'}}}\n"
        "model:\n  layers:\n    - {type: Dense, units: 8, activation: relu}\n"
        "    - {type: Dense, units: 3, activation: softmax}\n"
        "  loss: categorical_crossentropy\n  optimizer: {type: adam, learning_rate: 0.02}\n  metrics: [accuracy]\n"
        "training: {epochs: 40, batch_size: 16, validation_split: 0.2}\n"
    )
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    assert _json(run / "dataset.json")["classes"] == [1, 2, 3]
    assert json.loads(result.stdout)["metrics"]["val_accuracy"] >= 0.8
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    assert [r["prediction"] for r in _predict_json(run, rows)] == [1, 3]


def test_same_seed_gives_identical_metrics(tmp_path):
    """case 1: the classic 2-2-1 net; two runs with one seed agree exactly, and the run always finishes."""
    docs = []
    for _ in range(2):
        result = invoke("train", ROOT / "configs/seed_xor.yaml", "--runs-dir", tmp_path, "--json", "--quiet",
                        "--set", "training.epochs=30")
        assert result.exit_code == 0, result.stderr
        docs.append(json.loads(result.stdout))
    assert docs[0]["metrics"] == docs[1]["metrics"]
    first, second = (Path(d["run_dir"]) for d in docs)
    assert (first / "history.csv").read_text() == (second / "history.csv").read_text()


def test_seed_xor_runs_faithfully(tmp_path):
    """configs/seed_xor.yaml as shipped: 1000 epochs of batch 1 (4,000 updates)."""
    result = invoke("train", ROOT / "configs/seed_xor.yaml", "--runs-dir", tmp_path, "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["epochs"] == 1000
    assert doc["params"] == {"trainable": 9, "non_trainable": 0}
    # the reported training accuracy is the saved model's on the four points, counted here
    predicted = [r["prediction"] for r in _predict_json(Path(doc["run_dir"]), ROOT / "data" / "xor.csv")]
    correct = sum(p == y for p, y in zip(predicted, [0, 1, 1, 0], strict=True))
    assert doc["metrics"]["train_accuracy"] == correct / 4
    assert correct >= 2  # the seed's run: often 3/4 as the original; never worse than a constant guess


def test_diverging_loss_fails_the_run_without_saving_a_model(tmp_path):
    """case 9: unscaled Pima with SGD at learning rate 0.1 diverges."""
    config = tmp_path / "nan.yaml"
    config.write_text(
        f"name: diverge\ndata: {{path: {ROOT / 'data/pima-indians-diabetes.csv'}, target: 8}}\n"
        "model:\n  layers: [{type: Dense, units: 1}]\n  loss: mse\n  optimizer: {type: sgd, learning_rate: 0.1}\n"
        "training: {epochs: 5}\n"
    )
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]  # --json: the failure is the JSON document (issue 18, item 16)
    assert error["kind"] == "RunError" and error["exit_code"] == 1 and error["file"] == str(tmp_path / "runs/diverge")
    assert "the loss became NaN/infinite at epoch 1" in result.stderr
    assert "normalize the features" in result.stderr
    run = tmp_path / "runs" / "diverge"
    assert not (run / "model.keras").exists()
    info = _json(run / "run.json")
    assert info["status"] == "failed" and "NaN/infinite" in info["error"]
    assert _json(run / "metrics.json")["loss"] is None  # infinite: JSON null, never the invalid 'Infinity'


def test_config_errors_create_no_run_directory(tmp_path):
    """case 2: softmax on one unit is refused before training; nothing is written."""
    result = invoke(
        "train", ROOT / "configs/pima.yaml", "--runs-dir", tmp_path,
        "--set", "model.layers.4.activation=softmax",
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "error: --set model.layers.4.activation=softmax: model.layers[4].activation: softmax over a single unit "
        "always outputs 1.0, so the model cannot learn; use activation: sigmoid with binary_crossentropy, "
        "or units: <number of classes>"
    )
    assert list(tmp_path.iterdir()) == []


def test_data_errors_create_no_run_directory(tmp_path):
    result = invoke("train", ROOT / "configs/iris.yaml", "--runs-dir", tmp_path, "--set", "data.path=nope.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: nope.csv: no such data file")
    assert list(tmp_path.iterdir()) == []


def test_softmax_width_must_match_classes(tmp_path):
    result = invoke("train", ROOT / "configs/iris.yaml", "--runs-dir", tmp_path, "--set", "model.layers.1.units=4")
    assert result.exit_code == 2
    assert "model.layers[1].units: the softmax head has 4 units but the data has 3 classes" in result.stderr
    assert "set units: 3" in result.stderr


def test_layer_that_cannot_take_the_shape_is_named(tmp_path):
    result = invoke("train", ROOT / "configs/iris.yaml", "--runs-dir", tmp_path,
                    "--set", "model.layers.0={type: Conv2D, filters: 4, kernel_size: 3}")
    assert result.exit_code == 2
    assert "model.layers[0]: Conv2D needs input of shape (batch_size, height, width, channels), got (batch_size, 4)" \
        in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_commands_on_a_missing_run_exit_2(tmp_path):
    for args in (("evaluate", tmp_path / "nope"), ("predict", tmp_path / "nope", "--input", "-")):
        result = invoke(*args)
        assert result.exit_code == 2
        assert result.stderr == f"error: {tmp_path / 'nope'}: no such run directory\n"


def test_installed_entry_point_runs_train_as_a_subprocess(tmp_path):
    import subprocess
    import sys

    nnrun = Path(sys.executable).parent / "nnrun"
    proc = subprocess.run(
        [str(nnrun), "train", str(ROOT / "configs/xor.yaml"), "--runs-dir", str(tmp_path), "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["metrics"]["accuracy"] == 1.0
    assert "cuda" not in proc.stderr.lower() and "Traceback" not in proc.stderr  # TF's C++ logs are silenced


def test_evaluate_reports_a_label_never_seen_in_training(iris_run, tmp_path):
    f = tmp_path / "new_species.csv"
    f.write_text("5.1,3.5,1.4,0.2,Iris-setosa\n6.0,3.0,4.8,1.8,Iris-unknown\n")
    result = invoke("evaluate", iris_run, "--data", f, "--no-plots")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {f}:2: label 'Iris-unknown' was not seen in training; known classes: "
        "Iris-setosa, Iris-versicolor, Iris-virginica\n"
    )


def test_batch_larger_than_the_data_is_a_warning(tmp_path):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--quiet", "--no-plots",
                    "--set", "training.batch_size=8", "--set", "training.epochs=2")
    assert result.exit_code == 0
    assert "warning: batch_size 8 > the 4 training examples: each epoch is a single gradient update" in result.stderr


def test_streaming_predict_matches_in_memory_and_reports_late_errors(pima_run, tmp_path, monkeypatch):
    """Large CSVs are predicted chunk by chunk: same output as reading whole, errors keep their line."""
    import nnrun.data.table

    rows = (ROOT / "data/pima-indians-diabetes.csv").read_text().splitlines()
    f = tmp_path / "many.csv"
    f.write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    whole = invoke("predict", pima_run, "--input", f)
    monkeypatch.setattr(nnrun.data.table, "PREDICT_CHUNK_ROWS", 100)  # 768 rows: 8 chunks
    streamed = invoke("predict", pima_run, "--input", f, "--keep", "col0")
    assert whole.exit_code == streamed.exit_code == 0
    assert len(streamed.stdout.splitlines()) == 769
    assert [line.split(",", 1)[1] for line in streamed.stdout.splitlines()[1:]] == whole.stdout.splitlines()[1:]
    bad = tmp_path / "bad.csv"
    lines = [r.rsplit(",", 1)[0] for r in rows]
    lines[500] = "1,2,x,4,5,6,7,8"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    result = invoke("predict", pima_run, "--input", bad, "--output", out)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}:501: column 'col2': expected a number, got 'x'")
    assert not out.exists()  # nothing half-written


def test_evaluate_removes_the_plots_of_an_earlier_evaluation_it_does_not_redraw(iris_run, tmp_path):
    import shutil

    run = tmp_path / "iris"
    shutil.copytree(iris_run, run)
    assert (run / "confusion_matrix.png").exists() and (run / "learning_curves_loss.png").exists()
    result = invoke("evaluate", run, "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert not (run / "confusion_matrix.png").exists()  # of the validation data, not of the data evaluated now
    assert (run / "learning_curves_loss.png").exists()  # the training history: still true
    assert json.loads((run / "evaluation.json").read_text())["plots"] == []
