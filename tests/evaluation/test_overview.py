"""`nnrun runs` and `nnrun compare` on run directories written by hand. No TensorFlow."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import invoke

from nnrun.errors import RunError, UsageError
from nnrun.evaluation.compare import compare_runs, diff, list_runs

CONFIG_A = {
    "name": "a",
    "seed": 0,
    "data": {"x": [[0, 0], [1, 1]], "y": [0, 1]},
    "model": {
        "layers": [{"type": "Dense", "units": 8, "activation": "tanh"}, {"type": "Dense", "units": 1}],
        "optimizer": {"type": "adam", "learning_rate": 0.001},
        "metrics": ["accuracy"],
    },
    "training": {"epochs": 10, "shuffle": True},
}


def make_run(runs: Path, name: str, started: str | None = "2024-11-29T18:00:00+00:00", status: str = "completed",
             metrics: dict | None = None, config: dict | None = None, **info) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    record = {"status": status, "error": None, **info}
    if started is not None:
        record["started"] = started
    (run / "run.json").write_text(json.dumps(record))
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    data = config if config is not None else {**CONFIG_A, "name": name}
    (run / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return run


def test_list_runs_sorted_by_start_time_with_metrics(tmp_path):
    make_run(tmp_path, "late", "2024-11-29T18:00:00+00:00",
             metrics={"accuracy": 0.9, "loss": 0.2, "val_accuracy": 0.8, "val_loss": 0.3, "epochs": 10,
                      "train_seconds": 1.25})
    make_run(tmp_path, "early", "2024-11-29T17:59:59+00:00", metrics={"loss": 0.5, "epochs": 3, "train_seconds": 0.5})
    make_run(tmp_path, "other-tz", "2024-11-29T19:30:00+02:00", status="failed", error="training failed: boom")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    runs = list_runs(tmp_path)
    assert [r["name"] for r in runs] == ["other-tz", "early", "late"]  # 17:30 UTC, 17:59:59, 18:00
    late = runs[2]
    assert late == {
        "name": "late", "path": str(tmp_path / "late"), "started": "2024-11-29T18:00:00+00:00",
        "status": "completed", "epochs": 10, "train_seconds": 1.25,
        "metrics": {"loss": 0.2, "val_loss": 0.3, "accuracy": 0.9, "val_accuracy": 0.8},
        "error": None, "problems": [],
    }
    assert list(late["metrics"]) == ["loss", "val_loss", "accuracy", "val_accuracy"]
    assert runs[0]["status"] == "failed" and runs[0]["error"] == "training failed: boom"
    assert runs[0]["metrics"] == {} and runs[0]["problems"] == []


def test_corrupt_run_json_is_listed_as_unreadable_last(tmp_path):
    make_run(tmp_path, "ok", metrics={"loss": 0.1})
    for name, text in [("broken", "{not json"), ("list", "[1, 2]"), ("empty", "")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(text)
    runs = list_runs(tmp_path)
    assert [(r["name"], r["status"]) for r in runs] == [
        ("ok", "completed"), ("broken", "unreadable"), ("empty", "unreadable"), ("list", "unreadable"),
    ]
    assert runs[1]["problems"][0].startswith(f"{tmp_path / 'broken' / 'run.json'}: cannot read: ")
    assert runs[3]["problems"] == [f"{tmp_path / 'list' / 'run.json'}: cannot read: expected a JSON object, got list"]


def test_corrupt_or_missing_metrics_and_bad_start_time(tmp_path):
    run = make_run(tmp_path, "bad-metrics", started="yesterday")
    (run / "metrics.json").write_text("[]")
    make_run(tmp_path, "no-metrics")  # completed but metrics.json missing
    make_run(tmp_path, "running", status="running")  # no metrics yet: normal, not a problem
    runs = {r["name"]: r for r in list_runs(tmp_path)}
    assert runs["bad-metrics"]["started"] is None
    assert runs["bad-metrics"]["status"] == "completed" and runs["bad-metrics"]["metrics"] == {}
    assert runs["bad-metrics"]["problems"] == [f"{run / 'metrics.json'}: cannot read: expected a JSON object, got list"]
    assert runs["no-metrics"]["problems"] == [f"{tmp_path / 'no-metrics' / 'metrics.json'}: missing; the run is incomplete"]
    assert runs["running"]["problems"] == []


def test_killed_run_is_reported_as_died(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that no longer exists
    make_run(tmp_path, "killed", status="running", pid=proc.pid, host=platform.node())
    make_run(tmp_path, "alive", status="running", pid=os.getpid(), host=platform.node())
    assert {r["name"]: r["status"] for r in list_runs(tmp_path)} == {"killed": "died", "alive": "running"}


def test_list_runs_errors(tmp_path):
    with pytest.raises(UsageError) as info:
        list_runs(tmp_path / "nope")
    assert info.value.message == f"{tmp_path / 'nope'}: no such runs directory"
    assert info.value.hint == "pass the --runs-dir used by nnrun train"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="file: not a directory"):
        list_runs(tmp_path / "file")
    run = make_run(tmp_path, "one")
    with pytest.raises(UsageError, match=f"^{re.escape(str(run))}: this is one run, not a directory of runs; pass {tmp_path}$"):
        list_runs(run)
    assert [r["name"] for r in list_runs(tmp_path)] == ["one"]


def test_diff_nested_dicts_and_lists():
    b = json.loads(json.dumps(CONFIG_A))
    b["model"]["layers"][0]["units"] = 16
    b["model"]["layers"][1]["activation"] = "sigmoid"
    b["model"]["layers"].append({"type": "Dropout", "rate": 0.1})
    b["model"]["optimizer"]["learning_rate"] = 1e-5
    b["model"]["metrics"] = ["accuracy", "auc"]
    b["data"]["x"][1] = [1, 2]
    b["training"]["shuffle"] = 1  # true and 1 are different values
    del b["seed"]
    b["task"] = "classification"
    assert diff(CONFIG_A, b) == [
        {"key": "seed", "a": 0, "b": None},
        {"key": "data.x[1][1]", "a": 1, "b": 2},
        {"key": "model.layers[0].units", "a": 8, "b": 16},
        {"key": "model.layers[1].activation", "a": None, "b": "sigmoid"},
        {"key": "model.layers[2]", "a": None, "b": {"type": "Dropout", "rate": 0.1}},
        {"key": "model.optimizer.learning_rate", "a": 0.001, "b": 1e-5},
        {"key": "model.metrics[1]", "a": None, "b": "auc"},
        {"key": "training.shuffle", "a": True, "b": 1},
        {"key": "task", "a": None, "b": "classification"},
    ]
    assert diff(CONFIG_A, json.loads(json.dumps(CONFIG_A))) == []


def test_diff_type_changes_and_odd_keys():
    assert diff({"a": [1]}, {"a": {"0": 1}}) == [{"key": "a", "a": [1], "b": {"0": 1}}]
    assert diff({"a b": 1, "x": 1.0}, {"a b": 2, "x": 1}) == [{"key": "['a b']", "a": 1, "b": 2}]
    assert diff(1, 2) == [{"key": "<top level>", "a": 1, "b": 2}]
    assert diff({"x": float("nan")}, {"x": float("nan")}) == []


def test_compare_runs(tmp_path):
    config_b = json.loads(json.dumps(CONFIG_A))
    config_b["model"]["layers"][0]["units"] = 16
    a = make_run(tmp_path, "a", metrics={"loss": 0.5, "accuracy": 0.75, "epochs": 10, "train_seconds": 1.0})
    b = make_run(tmp_path, "b", config={**config_b, "name": "b"},
                 metrics={"loss": 0.25, "accuracy": None, "epochs": 12, "train_seconds": 2.5, "auc": 0.9})
    result = compare_runs(a, b)
    assert result["a"] == str(a) and result["b"] == str(b)
    assert result["config_diff"] == [
        {"key": "name", "a": "a", "b": "b"},
        {"key": "model.layers[0].units", "a": 8, "b": 16},
    ]
    assert result["metrics"] == [
        {"metric": "loss", "a": 0.5, "b": 0.25, "delta": -0.25},
        {"metric": "accuracy", "a": 0.75, "b": None, "delta": None},
        {"metric": "epochs", "a": 10, "b": 12, "delta": 2},
        {"metric": "train_seconds", "a": 1.0, "b": 2.5, "delta": 1.5},
        {"metric": "auc", "a": None, "b": 0.9, "delta": None},
    ]


def test_compare_run_without_metrics_and_bad_files(tmp_path):
    a = make_run(tmp_path, "a", metrics={"loss": 0.5})
    failed = make_run(tmp_path, "failed", status="failed")
    assert compare_runs(a, failed)["metrics"] == [{"metric": "loss", "a": 0.5, "b": None, "delta": None}]
    (failed / "config.yaml").write_text("a: [unclosed\n")
    with pytest.raises(RunError, match=f"^{re.escape(str(failed / 'config.yaml'))}: cannot read: "):
        compare_runs(a, failed)
    (failed / "config.yaml").unlink()
    with pytest.raises(RunError, match=f"^{re.escape(str(failed / 'config.yaml'))}: missing; the run is incomplete$"):
        compare_runs(a, failed)
    with pytest.raises(UsageError, match=f"^{re.escape(str(tmp_path / 'zz'))}: no such run directory$"):
        compare_runs(a, tmp_path / "zz")
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="plain: not an nnrun run directory"):
        compare_runs(tmp_path / "plain", a)


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_runs_table_and_json(tmp_path):
    make_run(tmp_path, "iris", metrics={"loss": 0.1, "val_loss": 0.2, "accuracy": 0.96, "epochs": 100,
                                        "train_seconds": 4.87})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{")
    result = invoke("runs", tmp_path)
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: {tmp_path / 'broken' / 'run.json'}: cannot read: ")
    iris = next(line for line in result.stdout.splitlines() if "iris" in line)
    for cell in ("2024-11-29 18:00:00", "completed", "100", "0.1000", "0.2000", "0.9600"):
        assert cell in iris
    assert "unreadable" in result.stdout

    result = invoke("runs", tmp_path, "--json")
    assert result.exit_code == 0
    runs = json.loads(result.stdout)
    assert [(r["name"], r["status"]) for r in runs] == [("iris", "completed"), ("broken", "unreadable")]


def test_cli_runs_defaults_to_runs_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("runs")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: runs: no such runs directory", "  hint: pass the --runs-dir used by nnrun train",
    ]
    assert result.stdout == ""
    (tmp_path / "runs").mkdir()
    result = invoke("runs", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_cli_compare_tables_and_json(tmp_path):
    config_b = json.loads(json.dumps(CONFIG_A))
    config_b["model"]["optimizer"]["learning_rate"] = 1e-5
    a = make_run(tmp_path, "a", metrics={"loss": 0.5, "epochs": 10})
    b = make_run(tmp_path, "b", config={**config_b, "name": "b"}, metrics={"loss": 0.25, "epochs": 10})
    result = invoke("compare", a, b)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "config differences"
    assert any("model.optimizer.learning_rate" in line and "0.001" in line and "1e-05" in line for line in lines)
    assert any("loss" in line and "0.5000" in line and "0.2500" in line and "-0.2500" in line for line in lines)
    assert any("epochs" in line and "+0" in line for line in lines)

    result = invoke("compare", a, b, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["config_diff"][1] == {"key": "model.optimizer.learning_rate", "a": 0.001, "b": 1e-05}

    result = invoke("compare", a, a)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "configs are identical"


def test_cli_compare_usage_errors(tmp_path):
    a = make_run(tmp_path, "a")
    result = invoke("compare", a, tmp_path / "missing")
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'missing'}: no such run directory\n"
    assert result.stdout == ""
    result = invoke("compare", a)
    assert result.exit_code == 2
    assert "Missing argument 'RUN_B'" in result.stderr


def test_commands_do_not_import_tensorflow(tmp_path):
    make_run(tmp_path, "a")
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom nnrun.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['runs', {str(tmp_path)!r}])\nassert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(cli, ['compare', {str(tmp_path / 'a')!r}, {str(tmp_path / 'a')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "sys.exit(3 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_nan_in_a_hand_written_metrics_json_becomes_null(tmp_path):
    run = make_run(tmp_path, "a")
    (run / "metrics.json").write_text('{"loss": NaN, "val_loss": Infinity, "accuracy": 0.5}')
    assert list_runs(tmp_path)[0]["metrics"] == {"loss": None, "val_loss": None, "accuracy": 0.5}
    assert compare_runs(run, run)["metrics"][0] == {"metric": "loss", "a": None, "b": None, "delta": None}
    result = invoke("runs", tmp_path, "--json")
    assert json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))


def test_run_fields_of_metrics_json_are_not_metrics(tmp_path):
    make_run(tmp_path, "a", metrics={
        "loss": 0.2, "val_loss": 0.3, "epochs": 12, "train_seconds": 1.5, "monitor": "val_loss", "best_epoch": 9,
        "best_value": 0.29, "restored_best_weights": True, "stopped_early": True,
    })
    [run] = list_runs(tmp_path)
    assert (run["metrics"], run["epochs"], run["train_seconds"]) == ({"loss": 0.2, "val_loss": 0.3}, 12, 1.5)
    rows = {r["metric"]: r for r in compare_runs(tmp_path / "a", tmp_path / "a")["metrics"]}
    assert rows["monitor"] == {"metric": "monitor", "a": "val_loss", "b": "val_loss", "delta": None}
    assert rows["stopped_early"]["delta"] is None and rows["best_epoch"]["delta"] == 0


def test_cli_runs_table_shows_the_common_metrics_of_runs_and_cv_runs(tmp_path):
    make_run(tmp_path, "iris", metrics={"loss": 0.1, "val_loss": 0.2, "accuracy": 0.96, "val_accuracy": 0.93,
                                        "epochs": 100, "train_seconds": 4.87})
    cv = {"loss": 0.11, "val_loss": 0.21, "accuracy": 0.95, "val_accuracy": 0.94, "epochs": 30.0 + 1 / 3,
          **{f"val_{k}": 0.9 for k in ("f1_macro", "roc_auc", "precision_macro", "recall_macro", "log_loss")}}
    make_run(tmp_path, "iris-cv", started="2024-11-29T19:00:00+00:00", metrics=cv)
    result = invoke("runs", tmp_path)
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "name" in line and "status" in line)
    assert [h for h in ("loss", "val_loss", "accuracy", "val_accuracy") if h in header] == \
        ["loss", "val_loss", "accuracy", "val_accuracy"]
    assert "3 more metric(s) in nnrun runs --json" in result.stdout
    cv_line = next(line for line in result.stdout.splitlines() if "iris-cv" in line)
    assert " 30.3 " in cv_line and "30.3333" not in cv_line
    assert len(json.loads(invoke("runs", tmp_path, "--json").stdout)[1]["metrics"]) == 9


def test_runs_shows_the_epochs_a_died_run_finished(tmp_path):
    died = make_run(tmp_path, "died", status="running", pid=2**22 + 1, host=platform.node())
    (died / "history.csv").write_text("epoch,loss,val_loss\n1,0.9,1.0\n2,0.7,0.8\n3,0.6,0.7\n")
    stopped = make_run(tmp_path, "stopped", "2024-11-29T18:00:01+00:00", status="interrupted")
    (stopped / "checkpoint.json").write_text('{"epoch": 5, "history": {}}')
    make_run(tmp_path, "failed", "2024-11-29T18:00:02+00:00", status="failed")
    runs = {r["name"]: r for r in list_runs(tmp_path)}
    assert [(runs[n]["status"], runs[n]["epochs"]) for n in ("died", "stopped", "failed")] == [
        ("died", 3), ("interrupted", 5), ("failed", None)]
    line = next(line for line in invoke("runs", tmp_path).stdout.splitlines() if "died" in line)
    assert line.split("│")[4].strip() == "3"
