"""``nnrun tune``: a search on iris (trial 0 is the config as written), best.yaml retrains to the recorded value,
resume after kill -9, a failed trial, --jobs, gates on the best trial, --timeout."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke

CONFIG = """\
name: iris
seed: 0
data: {path: %s, header: false, target: 4}
model:
  layers:
    - {type: Dense, units: 16, activation: relu}
    - {type: Dense, units: 3, activation: softmax}
  loss: sparse_categorical_crossentropy
  optimizer: {type: adam, learning_rate: 0.01}
  metrics: [accuracy]
training: {epochs: 2, batch_size: 16, validation_split: 0.2, deterministic: true}
search:
  metric: val_loss
  pruner: none
  space:
    model.layers.0.units: {int: [4, 32], log: true}
    model.optimizer.learning_rate: {float: [1.0e-3, 1.0e-1], log: true}
"""


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "iris.yaml"
    path.write_text(text % (ROOT / "data" / "iris.csv"))
    return path


def _rows(tune_dir: Path) -> list[dict]:
    with open(tune_dir / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """One 3-trial search on iris (2 epochs per trial), plots on."""
    tmp = tmp_path_factory.mktemp("tune")
    result = invoke("tune", _config(tmp), "--trials", "3", "--runs-dir", tmp / "runs", "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result


def test_a_search_writes_its_directory_and_beats_or_equals_the_config_as_written(search):
    doc, result = search
    tune_dir = Path(doc["tune_dir"])
    assert tune_dir.name == "iris-tune"
    assert sorted(p.name for p in tune_dir.iterdir()) == [
        "best.yaml", "optimization_history.png", "param_importances.png", "study.db", "trial_0", "trial_1",
        "trial_2", "trials.csv", "tune.json"]
    assert doc["states"] == {"COMPLETE": 3} and doc["trials"] == 3 and doc["direction"] == "minimize"
    rows = _rows(tune_dir)
    assert [r["number"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"COMPLETE"}
    # trial 0 trains the config as written; the best trial is at least as good (val_loss: lower is better)
    assert (rows[0]["model.layers.0.units"], rows[0]["model.optimizer.learning_rate"]) == ("16", "0.01")
    default = float(rows[0]["val_loss"])
    assert doc["best"]["value"] <= default
    assert doc["best"]["value"] == min(float(r["val_loss"]) for r in rows)
    assert len({(r["model.layers.0.units"], r["model.optimizer.learning_rate"]) for r in rows}) == 3
    assert json.loads((tune_dir / "tune.json").read_text())["best"] == doc["best"]
    assert all(r["epochs"] == "2" and Path(r["run_dir"]).is_dir() for r in rows)
    assert "trial 2 COMPLETE val_loss=" in result.stderr


def test_best_yaml_retrains_to_the_recorded_best_value(search, tmp_path):
    doc, _ = search
    best_yaml = Path(doc["tune_dir"]) / "best.yaml"
    text = best_yaml.read_text()
    assert "search:" not in text and f"path: {ROOT / 'data' / 'iris.csv'}" in text
    result = invoke("train", best_yaml, "--runs-dir", tmp_path, "--json", "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    trained = json.loads(result.stdout)
    assert Path(trained["run_dir"]).name == "iris"
    assert trained["metrics"]["val_loss"] == pytest.approx(doc["best"]["value"], rel=1e-6)


def test_same_seed_draws_the_same_values():
    import optuna

    from nnrun.config.load import load_config_text
    from nnrun.config.search import check_search
    from nnrun.training.tune_study import distributions, sampler_for

    loaded = load_config_text(CONFIG % "x.csv", "c.yaml")
    search = check_search(loaded)

    def draws(seed_text: str) -> list[dict]:
        cfg = load_config_text((CONFIG % "x.csv").replace("seed: 0", seed_text), "c.yaml")
        study = optuna.create_study(sampler=sampler_for(cfg, search))
        return [study.ask(distributions(search)).params for _ in range(4)]

    assert draws("seed: 0") == draws("seed: 0")
    assert draws("seed: 0") != draws("seed: 1")


def test_resume_after_kill_9_completes_the_trials_without_repeating_one(tmp_path):
    config = _config(tmp_path)
    runs = tmp_path / "runs"
    tune_dir = runs / "iris-tune"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "nnrun", "tune", str(config), "--trials", "2", "--runs-dir", str(runs), "--quiet",
            "--no-plots"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (tune_dir / "trial_1").is_dir():  # trial 0 finished, trial 1 training
            assert proc.poll() is None, "the search ended before trial 1 started"
            assert time.monotonic() < deadline, "trial 1 never started"
            time.sleep(0.02)
        proc.kill()
    finally:
        proc.wait()
    result = invoke("tune", config, "--trials", "2", "--runs-dir", runs, "--resume", tune_dir, "--json",
                    "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    rows = _rows(tune_dir)
    assert [(r["number"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "KILLED"), ("2", "COMPLETE")]
    keys = ("model.layers.0.units", "model.optimizer.learning_rate")
    assert [rows[2][k] for k in keys] == [rows[1][k] for k in keys]  # the killed trial's values, drawn again
    assert rows[1]["error"] == "killed while running; its values are drawn again"
    doc = json.loads(result.stdout)
    assert doc["trials"] == 2 and doc["states"] == {"COMPLETE": 2}
    assert sorted(p.name for p in tune_dir.glob("trial_*")) == ["trial_0", "trial_1", "trial_2"]


def test_a_failed_trial_does_not_stop_the_search_and_gates_apply_to_the_best(tmp_path):
    # 2 output units cannot fit iris' 3 classes: a data check fails that trial (nothing in the config shows it)
    text = CONFIG.replace("""  space:
    model.layers.0.units: {int: [4, 32], log: true}
    model.optimizer.learning_rate: {float: [1.0e-3, 1.0e-1], log: true}
""", """  sampler: grid
  space:
    model.layers.1.units: {choice: [2, 3]}
gates: {val_accuracy: '>= 0.999'}
""")
    result = invoke("tune", _config(tmp_path, text), "--runs-dir", tmp_path / "runs", "--jobs", "2", "--quiet",
                    "--no-plots", "--set", "training.epochs=1")
    assert result.exit_code == 3, result.stderr
    rows = sorted(_rows(tmp_path / "runs" / "iris-tune"), key=lambda r: r["model.layers.1.units"])
    assert [(r["model.layers.1.units"], r["state"]) for r in rows] == [("2", "FAIL"), ("3", "COMPLETE")]
    assert "units" in rows[0]["error"] and "3 classes" in rows[0]["error"]
    assert "val_accuracy >= 0.999" in result.stdout
    assert "error: quality gates failed (1 of 1): val_accuracy >= 0.999" in result.stderr


def test_timeout_starts_no_trial_after_it_and_no_completed_trial_exits_1(tmp_path):
    result = invoke("tune", _config(tmp_path), "--timeout", "0.001", "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'runs' / 'iris-tune'}: no trial completed")
    assert not list((tmp_path / "runs" / "iris-tune").glob("trial_*"))


def test_the_pruner_stops_a_trial_through_nnruns_clean_stop_but_not_at_its_last_epoch():
    from nnrun.training.fit import STOP_REQUESTED
    from nnrun.training.tune import Reporter

    class Trial:  # Optuna's side of the exchange: what was reported, and the pruner's answer
        def __init__(self):
            self.reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return True

    STOP_REQUESTED.clear()
    last = Reporter(Trial(), "val_loss", None)
    last(3, 3, {"loss": 0.5, "val_loss": 0.25})
    assert (last.pruned, STOP_REQUESTED.is_set(), last.trial.reported) == (False, False, [(3, 0.25)])
    middle = Reporter(Trial(), "val_loss", None)
    middle(1, 3, {"loss": 0.5, "val_loss": float("nan")})  # not reported: Optuna refuses NaN
    middle(2, 3, {"loss": 0.5, "val_loss": 0.75})
    try:
        assert (middle.pruned, middle.epochs, STOP_REQUESTED.is_set(), middle.trial.reported) == (
            True, 2, True, [(2, 0.75)])
    finally:
        STOP_REQUESTED.clear()


def test_resuming_with_a_changed_config_is_a_config_error(tmp_path):
    from nnrun.config.load import load_config_text
    from nnrun.config.search import check_search
    from nnrun.errors import ConfigError
    from nnrun.training.tune_study import open_study

    loaded = load_config_text(CONFIG % "x.csv", "c.yaml")
    study = open_study(loaded, check_search(loaded), tmp_path)
    waiting = study.get_trials()
    assert [(t.state.name, t.user_attrs) for t in waiting] == [("WAITING", {"baseline": True})]
    assert waiting[0].system_attrs["fixed_params"] == {  # trial 0 will train the config's own values
        "model.layers.0.units": 16, "model.optimizer.learning_rate": 0.01}
    changed = load_config_text(CONFIG % "x.csv", "c.yaml", ("training.epochs=3",))
    with pytest.raises(ConfigError) as info:
        open_study(changed, check_search(changed), tmp_path)
    assert str(info.value).startswith("c.yaml: differs from the config the search in")
    open_study(loaded, check_search(loaded), tmp_path)  # the same config reopens it


def test_the_resume_hint_repeats_the_config_and_set_values():
    from nnrun.training.tune import Worker, resume_command

    worker = Worker("/cfg/iris.yaml", ("training.epochs=30", "model.layers.0.activation=tanh"), "/r/iris-tune", 3)
    assert resume_command(worker) == ("nnrun tune /cfg/iris.yaml --set training.epochs=30 "
                                      "--set model.layers.0.activation=tanh --resume /r/iris-tune")
