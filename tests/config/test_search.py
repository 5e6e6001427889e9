"""nnrun.config.search: the ``search:`` section of ``nnrun tune`` (located errors, did-you-mean, value checks).

Everything here runs without TensorFlow.
"""

from __future__ import annotations

import pytest

from nnrun.config.load import dump_resolved, load_config_text
from nnrun.config.search import check_search, direction_of
from nnrun.errors import ConfigError
from tests.conftest import ROOT, invoke

BASE = """\
name: t
data:
  x: [[0, 0], [0, 1], [1, 0], [1, 1]]
  y: [0, 1, 1, 0]
model:
  layers:
    - {type: Dense, units: 8, activation: relu}
    - {type: Dense, units: 1, activation: sigmoid}
  loss: binary_crossentropy
  optimizer: {type: adam, learning_rate: 0.01}
  metrics: [accuracy]
training:
  epochs: 5
  validation_split: 0.25
search:
  metric: val_accuracy
  space:
    model.layers.0.units: {int: [4, 32], log: true}
"""


def _errors(space: str, extra: str = "") -> list[str]:
    text = BASE.replace("    model.layers.0.units: {int: [4, 32], log: true}\n", space) + extra
    with pytest.raises(ConfigError) as info:
        check_search(load_config_text(text, "c.yaml"))
    return str(info.value).splitlines()


def test_a_good_search_is_checked_into_params():
    search = check_search(load_config_text(BASE, "c.yaml"), trials=7)
    assert (search.metric, search.direction, search.trials, search.sampler, search.pruner) == (
        "val_accuracy", "maximize", 7, "tpe", "median")
    assert [(p.key, p.kind, p.values, p.log) for p in search.params] == [("model.layers.0.units", "int", [4, 32], True)]


def test_a_space_path_missing_from_the_config_is_located_with_a_did_you_mean():
    assert _errors("    model.layers.0.unit: {int: [4, 32]}\n") == [
        "c.yaml:18:26: search.space['model.layers.0.unit']: 'model.layers.0.unit': model.layers[0] has no key "
        "'unit'; did you mean 'model.layers.0.units'?"]


def test_low_not_below_high_and_non_positive_log_ranges_are_errors():
    lines = _errors("    model.layers.0.units: {int: [32, 4]}\n"
                    "    model.optimizer.learning_rate: {float: [0.0, 0.1], log: true}\n")
    assert lines == [
        "c.yaml:18:27: search.space['model.layers.0.units']: int: [32, 4]: low must be less than high",
        "c.yaml:19:36: search.space['model.optimizer.learning_rate']: float: [0.0, 0.1] with log: true: the range "
        "must be positive (low > 0)"]


def test_a_value_the_config_refuses_is_an_error_naming_it():
    lines = _errors("    training.batch_size: {choice: [16, 0]}\n    model.layers.0.activation: {choice: [relu, rleu]}\n")
    assert lines[0] == ("c.yaml:18:26: search.space['training.batch_size']: training.batch_size=0 makes the config "
                        "invalid: expected a value >= 1, got 0")
    assert "model.layers.0.activation='rleu' makes the config invalid: unknown activation 'rleu'" in lines[1]


def test_an_unknown_metric_and_a_float_grid_are_errors():
    lines = _errors("    model.optimizer.learning_rate: {float: [0.001, 0.1]}\n", "  sampler: grid\n")
    text = BASE.replace("metric: val_accuracy", "metric: val_acc")
    with pytest.raises(ConfigError) as info:
        check_search(load_config_text(text, "c.yaml"))
    assert str(info.value) == "c.yaml:16:11: search.metric: unknown metric 'val_acc'; did you mean 'val_accuracy'?"
    assert lines == ["c.yaml:18:36: search.space['model.optimizer.learning_rate']: sampler: grid needs int or "
                     "choice entries, not a float range; list the values with choice: [...]"]


def test_an_entry_with_two_kinds_is_a_schema_or_search_error():
    lines = _errors("    model.layers.0.units: {int: [4, 8], choice: [4, 8]}\n")
    assert lines == ["c.yaml:18:27: search.space['model.layers.0.units']: expected exactly one of int: [low, high], "
                     "float: [low, high] or choice: [values], got int and choice"]


def test_an_unknown_key_in_the_search_section_is_a_schema_error():
    with pytest.raises(ConfigError) as info:
        load_config_text(BASE.replace("  metric: val_accuracy", "  metric: val_accuracy\n  trails: 3"), "c.yaml")
    assert str(info.value).startswith("c.yaml:17:11: search.trails: unknown key (did you mean 'trials'?)")


def test_direction_follows_the_metric_name():
    assert [direction_of(m) for m in ("val_loss", "val_accuracy", "val_mae", "f1_macro", "rmse")] == [
        "minimize", "maximize", "minimize", "maximize", "minimize"]


def test_the_resolved_config_has_no_search_key_unless_one_was_given():
    cfg = load_config_text(BASE.split("search:")[0], "c.yaml").config
    assert "search" not in dump_resolved(cfg)
    assert "search:" in dump_resolved(load_config_text(BASE, "c.yaml").config)


def test_validate_accepts_a_search_config_and_schema_lists_it():
    result = invoke("validate", ROOT / "configs" / "iris_tune.yaml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("configs/iris_tune.yaml: ok") or "iris_tune.yaml: ok" in result.stdout
    schema = invoke("schema").stdout
    assert '"SearchConfig"' in schema and '"SearchParam"' in schema


def test_tune_with_a_bad_space_exits_2_before_any_trial(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(BASE.replace("{int: [4, 32], log: true}", "{int: [0, 32], log: true}"))
    result = invoke("tune", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {config}:18:27: search.space['model.layers.0.units']: int: [0, 32] with log: true: the range must "
        "be positive (low > 0)"]
    assert not (tmp_path / "runs").exists()


def test_tune_of_a_config_without_search_is_a_config_error(tmp_path):
    config = tmp_path / "plain.yaml"
    config.write_text(BASE.split("search:")[0])
    result = invoke("tune", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "no search: section" in result.stderr
    assert not (tmp_path / "runs").exists()
