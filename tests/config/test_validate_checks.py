"""Issue 18 item 14: ``validate`` finds a misspelt monitor, a model too large for memory and an over-long
run name, with what is expected (before, the monitor was found only at train time, with a wrong hint)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import invoke


def _config(tmp_path: Path, name: str = "ok", units: int = 8, training: str = "validation_split: 0.2") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"name: {name}\ndata: {{x: [[0], [1]], y: [0, 1]}}\nmodel:\n"
                    f"  layers: [{{type: Dense, units: {units}}}, {{type: Dense, units: 1, activation: sigmoid}}]\n"
                    f"  loss: binary_crossentropy\ntraining: {{{training}}}\n")
    return path


def test_a_misspelt_monitor_is_found_by_validate(tmp_path):
    result = invoke("validate", _config(tmp_path, training="validation_split: 0.2, "
                                                         "early_stopping: {monitor: val_los}"))
    assert result.exit_code == 2
    assert ("training.early_stopping.monitor: unknown metric 'val_los' (did you mean 'val_loss'?); "
            "the run logs: loss, val_loss") in result.stderr
    assert "needs a validation split" not in result.stderr


def test_a_val_monitor_without_validation_says_what_it_needs(tmp_path):
    result = invoke("validate", _config(tmp_path, training="early_stopping: {monitor: val_loss}"))
    assert result.exit_code == 2
    assert "unknown metric 'val_loss'; it needs a validation split (training.validation_split)" in result.stderr


def test_a_model_larger_than_memory_is_refused(tmp_path):
    result = invoke("validate", _config(tmp_path, units=10**12))
    assert result.exit_code == 2
    assert "model.layers[0]: the model has at least 3,000,000,000,001 parameters: 10.9 TB as float32" \
        in result.stderr


def test_a_long_run_name_says_the_limit(tmp_path):
    result = invoke("validate", _config(tmp_path, name="a" * 120))
    assert result.exit_code == 2
    assert "name: a run name has at most 100 characters, got 120; shorten it" in result.stderr
    assert invoke("validate", _config(tmp_path, name="a" * 100)).exit_code == 0


def test_validate_finds_missing_data_files_relative_to_the_config(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "rows.csv").write_text("a,y\n1,0\n")
    config = folder / "c.yaml"
    config.write_text("name: c\ndata:\n  path: rows.csv\n  target: y\n  validation: {path: held_out.csv}\n"
                      "model:\n  layers:\n    - {type: Dense, units: 1, activation: sigmoid}\n"
                      "  loss: binary_crossentropy\n")
    monkeypatch.chdir(tmp_path)  # rows.csv is found next to the config, as train finds it
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {config}:5:22: data.validation.path: no such file or directory "
                             f"'held_out.csv' (looked in {tmp_path} and {folder})\n")
    (folder / "held_out.csv").write_text("a,y\n1,0\n")
    assert invoke("validate", config).exit_code == 0
    result = invoke("validate", config, "--set", "data.path=/no/such.csv", "--set", 'data.test={path: ""}')
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --set data.path=/no/such.csv: data.path: no such file or directory '/no/such.csv'",
        'error: --set data.test={path: ""}: data.test.path: expected a file path, got an empty string',
    ]
