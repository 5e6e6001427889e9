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
