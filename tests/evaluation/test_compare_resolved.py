"""`nnrun compare` compares resolved configs: a run and a cv run of one config show no false differences."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import invoke

from nnrun.evaluation.compare import compare_runs

CONFIG = """name: tiny
seed: 0
data: {path: rows.csv, target: y}
model:
  layers:
    - {type: Dense, units: 4, activation: relu}
    - {type: Dense, units: 1, activation: sigmoid}
  loss: binary_crossentropy
  metrics: [accuracy]
training: {epochs: 1, validation_split: 0.25}
"""


def _hand_run(root: Path, name: str, config: dict, **info) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "completed", "error": None, **info}))
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run


def test_compare_resolves_paths_and_defaults_of_hand_written_runs(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    data = tmp_path / "cfg" / "rows.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    written = yaml.safe_load(CONFIG)
    full = json.loads(json.dumps(written))
    full["data"].update(path=str(data), delimiter=",", header=True, missing="error")  # filled in; a default
    full["training"]["batch_size"] = 32  # the schema default, written in one config only
    a = _hand_run(tmp_path / "runs", "tiny", full)
    written["training"]["validation_split"] = 0.0
    b = _hand_run(tmp_path / "runs", "tiny-cv", written, command_kind="cv", config_file=str(tmp_path / "cfg" / "c.yaml"))
    monkeypatch.chdir(tmp_path)  # rows.csv is relative to the config file's directory, not to the cwd
    result = compare_runs(a, b)
    assert result["config_diff"] == []
    assert result["notes"] == [f"training.validation_split not compared: {b} is a cross-validation (its folds "
                               "replace the validation split)"]
    written["model"]["layers"][0]["units"] = 8  # a real difference is still one
    (b / "config.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    assert compare_runs(a, b)["config_diff"] == [{"key": "model.layers[0].units", "a": 4, "b": 8}]


def test_train_and_cv_of_one_config_compare_as_identical(tmp_path, monkeypatch):
    folder = tmp_path / "cfg"
    folder.mkdir()
    rows = "\n".join(f"{i % 7},{(i % 7) > 3:d}" for i in range(40))
    (folder / "rows.csv").write_text("a,y\n" + rows + "\n")
    (folder / "tiny.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    train = invoke("train", "cfg/tiny.yaml", "--runs-dir", "runs", "--quiet", "--no-plots")
    assert train.exit_code == 0, train.stderr
    cv = invoke("cv", "cfg/tiny.yaml", "--runs-dir", "runs", "--quiet", "--folds", "2")
    assert cv.exit_code == 0, cv.stderr
    assert yaml.safe_load((tmp_path / "runs" / "tiny-cv" / "config.yaml").read_text())["data"]["path"] == \
        str((folder / "rows.csv").resolve())
    result = invoke("compare", "runs/tiny", "runs/tiny-cv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "configs are identical",
        "  note: training.validation_split not compared: runs/tiny-cv is a cross-validation (its folds replace "
        "the validation split)",
    ]
    assert json.loads(invoke("compare", "runs/tiny", "runs/tiny-cv", "--json").stdout)["config_diff"] == []
