"""MLflow tracking: a run trained with --mlflow read back through MlflowClient; an unreachable store; nnrun track.

One SQLite store per module (creating one runs MLflow's migrations: seconds), one tiny iris run (2 epochs)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT, invoke

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def tracked(store, tmp_path_factory) -> tuple[Path, dict]:
    """configs/iris.yaml trained 2 epochs with --mlflow: (run directory, the train result's tracking summary)."""
    runs = tmp_path_factory.mktemp("runs")
    result = invoke("train", ROOT / "configs/iris.yaml", "--set", "training.epochs=2", "--runs-dir", runs,
                    "--mlflow", store, "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    return Path(doc["run_dir"]), doc["tracking"]


def _client(store: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store)


def test_train_with_mlflow_logs_params_metrics_tags_and_files(tracked, store):
    from nnrun.tracking.view import flatten

    run_dir, summary = tracked
    assert summary["not_logged"] == [] and summary["experiment"] == "iris" and summary["children"] == []
    run = _client(store).get_run(summary["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "iris"
    params = run.data.params
    assert params["model.layers.0.units"] == "16" and params["training.epochs"] == "2"
    assert params["model.optimizer.learning_rate"] == "0.01" and params["data.header"] == "false"
    assert params == flatten(yaml.safe_load((run_dir / "config.yaml").read_text()))
    with (run_dir / "history.csv").open() as fh:
        history = list(csv.DictReader(fh))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        logged = sorted((m.step, m.value) for m in _client(store).get_metric_history(summary["run_id"], key))
        assert logged == [(int(row["epoch"]), float(row[key])) for row in history]
    final = json.loads((run_dir / "metrics.json").read_text())
    for key, value in final.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert run.data.metrics[key] == pytest.approx(value, rel=1e-12), key
    evaluation = json.loads((run_dir / "evaluation.json").read_text())["metrics"]
    assert run.data.metrics["val_roc_auc"] == pytest.approx(evaluation["roc_auc"])
    info = json.loads((run_dir / "run.json").read_text())
    tags = run.data.tags
    assert tags["nnrun.config_sha256"] == info["resolved_config_sha256"]
    assert tags["nnrun.data_sha256"] == info["data_sha256"]
    assert tags["nnrun.version"] == "0.1.0" and tags["nnrun.gates"] == "none"
    assert tags["nnrun.run_dir"] == str(run_dir.resolve())
    files = {a.path for a in _client(store).list_artifacts(summary["run_id"])}
    assert {"model.keras", "config.yaml", "report.md", "metrics.json", "history.csv", "evaluation.json",
            "learning_curves_loss.png", "confusion_matrix.png"} <= files
    assert not files & {"last.keras", "best.keras", "checkpoint.json", ".lock"}
    database = Path(store.removeprefix("sqlite:///"))  # files beside the database, not in the working directory
    location = _client(store).get_experiment(run.info.experiment_id).artifact_location
    assert location == (database.parent / "mlruns" / "iris").as_uri()
    assert (database.parent / "mlruns" / "iris").is_dir()


def test_pyfunc_model_predicts_like_nnrun_predict(tracked, store, tmp_path):
    import mlflow
    import pandas as pd

    run_dir, summary = tracked
    out = tmp_path / "predictions.csv"
    result = invoke("predict", run_dir, "--input", "data/iris.csv", "--output", out)
    assert result.exit_code == 0, result.stderr
    expected = pd.read_csv(out)[["prob_Iris-setosa", "prob_Iris-versicolor", "prob_Iris-virginica"]].to_numpy()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(store)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{summary['run_id']}/model")
    finally:
        mlflow.set_tracking_uri(previous)
    rows = pd.read_csv("data/iris.csv", header=None).iloc[:, :4].astype("float64")
    got = np.asarray(model.predict(rows))
    assert got.shape == (150, 3)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_evaluate_with_mlflow_updates_the_same_run_even_when_a_gate_fails(tracked, store):
    run_dir, summary = tracked
    result = invoke("evaluate", run_dir, "--data", "data/iris.csv", "--no-plots", "--mlflow", store, "--json",
                    "--gate", "accuracy>=1.01")
    assert result.exit_code == 3, result.stderr  # the gate decides the exit code; the tracker logged anyway
    doc = json.loads(result.stdout)
    assert doc["tracking"]["run_id"] == summary["run_id"] and doc["tracking"]["updated"] is True
    run = _client(store).get_run(summary["run_id"])
    assert run.data.metrics["iris_accuracy"] == pytest.approx(doc["metrics"]["accuracy"])
    assert run.data.tags["nnrun.gates.iris"] == "failed"  # gates-iris.json; the training-time gates are apart
    assert run.data.tags["nnrun.gates"] == "none"
    assert "evaluation-iris.json" in {a.path for a in _client(store).list_artifacts(summary["run_id"])}
    assert len(_client(store).search_runs([run.info.experiment_id])) == 1


def test_unreachable_tracking_server_leaves_a_complete_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = invoke("train", ROOT / "configs/xor.yaml", "--set", "training.epochs=1", "--runs-dir", tmp_path,
                    "--no-plots", "--quiet", "--mlflow", "http://127.0.0.1:9")
    assert result.exit_code == 0, result.stderr
    run_dir = tmp_path / "xor"
    assert (run_dir / "model.keras").is_file()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert "MLflow (http://127.0.0.1:9): not logged: everything (" in result.stderr
    assert f"log it later with: nnrun track {run_dir} --mlflow http://127.0.0.1:9" in " ".join(result.stderr.split())


def test_track_logs_an_old_run_once(xor_run, store, tmp_path):
    run_dir = tmp_path / "xor"
    shutil.copytree(xor_run, run_dir)
    first = invoke("track", run_dir, "--mlflow", store, "--json")
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["updated"] is False and doc["not_logged"] == [] and doc["experiment"] == "xor"
    run = _client(store).get_run(doc["run_id"])
    epochs = json.loads((run_dir / "metrics.json").read_text())["epochs"]
    assert run.data.metrics["epochs"] == epochs
    assert len(_client(store).get_metric_history(doc["run_id"], "loss")) == epochs
    again = invoke("track", run_dir, "--mlflow", store)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith(f"MLflow: updated {run_dir} as run {doc['run_id']} in experiment 'xor'")
    assert len(_client(store).get_metric_history(doc["run_id"], "loss")) == epochs  # not logged twice


def test_cv_with_mlflow_is_a_parent_with_a_child_per_fold(store, tmp_path):
    result = invoke("cv", ROOT / "configs/xor.yaml", "--folds", "2", "--set", "training.epochs=1", "--runs-dir",
                    tmp_path, "--mlflow", store, "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["tracking"]
    assert summary["not_logged"] == [] and len(summary["children"]) == 2
    client = _client(store)
    parent = client.get_run(summary["run_id"])
    assert parent.data.tags["nnrun.kind"] == "cv" and "val_accuracy_std" in parent.data.metrics
    children = [client.get_run(i) for i in summary["children"]]
    assert [c.data.tags["mlflow.parentRunId"] for c in children] == [summary["run_id"]] * 2
    assert [c.info.run_name for c in children] == ["xor-cv/fold_1", "xor-cv/fold_2"]
    assert children[0].data.params["training.epochs"] == "1"


def test_mlflow_not_installed_is_a_usage_error_before_training(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--mlflow", "sqlite:///x.db")
    assert result.exit_code == 2
    assert "--mlflow needs MLflow, which is not installed" in result.stderr
    assert "pip install 'nnrun[mlflow]'" in result.stderr
    assert not any(tmp_path.iterdir())


def test_track_refuses_a_directory_that_is_not_a_run(tmp_path):
    result = invoke("track", tmp_path, "--mlflow", "sqlite:///x.db")
    assert result.exit_code == 2
    assert f"{tmp_path}: not a finished nnrun run" in result.stderr


def test_track_without_a_uri_says_where_to_give_one(xor_run):
    result = invoke("track", xor_run)
    assert result.exit_code == 2
    assert "give --mlflow URI (its config has no tracking.mlflow)" in result.stderr


def test_config_tracking_section_validates_and_names_the_experiment(tmp_path):
    from nnrun.config.load import dump_resolved, load_config
    from nnrun.tracking import target

    path = tmp_path / "c.yaml"
    text = (ROOT / "configs/xor.yaml").read_text()
    path.write_text(text + "tracking: {mlflow: {tracking_uri: 'sqlite:///m.db', experiment: demo}}\n")
    loaded = load_config(path)
    assert target(None, loaded.config).experiment == "demo"
    assert target("http://h:5000", loaded.config).uri == "http://h:5000"
    assert "tracking:" in dump_resolved(loaded.config)
    assert "tracking:" not in dump_resolved(load_config(ROOT / "configs/xor.yaml").config)
    path.write_text(text + "tracking: {mlflow: {uri: 'sqlite:///m.db'}}\n")
    result = invoke("validate", path)
    assert result.exit_code == 2 and "tracking.mlflow" in result.stderr


def test_flatten_gives_set_key_paths():
    from nnrun.tracking.view import flatten

    assert flatten({"model": {"layers": [{"type": "Dense", "units": 4}], "metrics": []},
                    "training": {"early_stopping": None, "shuffle": True}, "gates": {"val acc:x": 0.9}}) == {
        "model.layers.0.type": "Dense", "model.layers.0.units": "4", "model.metrics": "[]",
        "training.early_stopping": "null", "training.shuffle": "true", "gates.val acc_x": "0.9"}


def test_tune_with_mlflow_is_a_parent_with_a_child_per_trial(store, tmp_path):
    result = invoke("tune", ROOT / "configs/iris_tune.yaml", "--trials", "2", "--set", "training.epochs=1",
                    "--runs-dir", tmp_path, "--no-plots", "--mlflow", store, "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    summary = doc["tracking"]
    assert summary["not_logged"] == [] and len(summary["children"]) == 2
    client = _client(store)
    parent = client.get_run(summary["run_id"])
    assert parent.data.tags["nnrun.kind"] == "tune"
    assert parent.data.metrics["best_val_loss"] == pytest.approx(doc["best"]["value"])
    assert parent.data.metrics["best_trial"] == doc["best"]["number"]
    children = sorted((client.get_run(i) for i in summary["children"]), key=lambda r: r.info.run_name)
    assert [c.info.run_name for c in children] == ["iris_tune-tune/trial_0", "iris_tune-tune/trial_1"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {summary["run_id"]}
    best = children[doc["best"]["number"]]
    assert best.data.params["model.layers.0.units"] == str(doc["best"]["params"]["model.layers.0.units"])
    assert parent.outputs.model_outputs and not best.outputs.model_outputs  # the search's model: the best's
    assert "model.keras" in {a.path for a in client.list_artifacts(best.info.run_id)}


def test_track_uses_the_runs_config_tracking_section(xor_run, store, tmp_path):
    run_dir = tmp_path / "xor"
    shutil.copytree(xor_run, run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["tracking"] = {"mlflow": {"tracking_uri": store, "experiment": "from-config"}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    result = invoke("track", run_dir, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["experiment"] == "from-config" and doc["tracking_uri"] == store
    assert _client(store).get_run(doc["run_id"]).data.params["tracking.mlflow.experiment"] == "from-config"
