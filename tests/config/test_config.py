"""nnrun.config (load, checks): the schema, located errors, ``--set`` overrides and cross-checks.

Everything here runs without TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnrun.config.checks import Head, data_problems, head, static_problems, target_encoding
from nnrun.config.load import (
    Config,
    apply_override,
    dump_resolved,
    json_schema,
    load_config,
    load_config_text,
)
from nnrun.config.yamlsrc import load_yaml
from nnrun.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

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
training:
  epochs: 5
"""

IRIS = """\
name: iris
data: {path: iris.csv, target: species}
model:
  layers:
    - {type: Dense, units: 16, activation: relu}
    - {type: Dense, units: 3, activation: softmax}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
"""


def _edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _error(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "c.yaml", overrides)
    return str(info.value)


# ------------------------------------------------------------------------------------------- valid
def test_base_config_loads_with_defaults():
    cfg = load_config_text(BASE, "c.yaml").config
    assert cfg.name == "t"
    assert cfg.seed == 0
    assert cfg.task == "auto"
    assert cfg.data.target == -1
    assert [layer.type for layer in cfg.model.layers] == ["Dense", "Dense"]
    assert cfg.model.layers[0].kwargs == {"units": 8, "activation": "relu"}
    assert cfg.model.loss.type == "binary_crossentropy" and cfg.model.loss.kwargs == {}
    assert cfg.model.optimizer.type == "adam"
    assert cfg.model.metrics == []
    assert (cfg.training.epochs, cfg.training.batch_size, cfg.training.validation_split) == (5, 32, 0.0)
    assert cfg.training.shuffle is True


def test_optimizer_defaults_to_adam_and_names_are_shorthand():
    text = _edit("  optimizer: {type: adam, learning_rate: 0.01}\n", "  metrics: [accuracy, AUC]\n")
    cfg = load_config_text(text).config
    assert cfg.model.optimizer.type == "adam" and cfg.model.optimizer.kwargs == {}
    assert [(m.type, m.kwargs) for m in cfg.model.metrics] == [("accuracy", {}), ("AUC", {})]


def test_load_config_reads_a_file_and_keeps_its_path(tmp_path):
    path = tmp_path / "xor.yaml"
    path.write_text(BASE)
    loaded = load_config(path)
    assert loaded.path == path
    assert loaded.config.training.epochs == 5
    assert loaded.source.where(("training", "epochs")) == f"{path}:12:11"


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_validates(config):
    loaded = load_config(ROOT / "configs" / config)
    assert loaded.config.name == Path(config).stem
    assert static_problems(loaded.config) == []


def test_shipped_configs_are_the_known_ones():
    assert sorted(p.name for p in (ROOT / "configs").glob("*.yaml")) == [
        "abalone.yaml", "banknote.yaml", "digits_cnn.yaml", "ionosphere.yaml", "iris.yaml", "iris_tune.yaml",
        "pima.yaml", "seed_xor.yaml", "sentiment_lstm.yaml", "sentiment_transformer.yaml", "sms_spam.yaml",
        "wine_quality.yaml", "xor.yaml"
    ]


# ------------------------------------------------------------------------------- case 4: YAML numbers
@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("5e-4", 0.0005), ("1E-2", 0.01), ("+1e-3", 0.001), ("1.0e-3", 0.001), ("0.001", 0.001)],
)
def test_learning_rate_in_any_float_spelling_is_a_float(text, value):
    cfg = load_config_text(_edit("learning_rate: 0.01", f"learning_rate: {text}")).config
    lr = cfg.model.optimizer.kwargs["learning_rate"]
    assert type(lr) is float
    assert lr == value


def test_epochs_1e2_becomes_the_integer_100():
    cfg = load_config_text(_edit("epochs: 5", "epochs: 1e2")).config
    assert cfg.training.epochs == 100
    assert type(cfg.training.epochs) is int


def test_epochs_that_is_not_whole_is_refused():
    message = _error(_edit("epochs: 5", "epochs: 1e-1"))
    assert message == "c.yaml:12:11: training.epochs: expected a whole number, got 0.1"


def test_learning_rate_word_is_refused_naming_the_key():
    assert _error(_edit("learning_rate: 0.01", "learning_rate: fast")) == (
        "c.yaml:10:42: model.optimizer.learning_rate: expected a number, got 'fast'"
    )


@pytest.mark.parametrize("text", ["0", "-1e-3", ".nan", ".inf"])
def test_learning_rate_must_be_positive_and_finite(text):
    message = _error(_edit("learning_rate: 0.01", f"learning_rate: {text}"))
    assert message.startswith("c.yaml:10:42: model.optimizer.learning_rate: expected a positive number, got ")


def test_validation_split_1e_1_is_a_float():
    cfg = load_config_text(BASE + "  validation_split: 2e-1\n").config
    assert cfg.training.validation_split == 0.2


# ----------------------------------------------------------------------------- case 5: YAML booleans
def test_target_no_is_refused_with_quote_it():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  path: d.csv\n  target: no\n")
    assert _error(text) == (
        "c.yaml:4:11: data.target: expected a column name (string) or index (integer), "
        "got false (from unquoted no); quote it if you meant the column named 'no'"
    )


def test_target_quoted_no_is_the_column_name():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  path: d.csv\n  target: 'no'\n")
    assert load_config_text(text).config.data.target == "no"


def test_target_true_is_not_column_1():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  path: d.csv\n  target: on\n")
    assert "got true (from unquoted on)" in _error(text)


def test_epochs_yes_is_refused():
    assert _error(_edit("epochs: 5", "epochs: yes")) == (
        "c.yaml:12:11: training.epochs: expected a number, got true (from unquoted yes)"
    )


def test_seed_true_is_refused():
    assert _error(_edit("name: t", "name: t\nseed: true")) == "c.yaml:2:7: seed: expected a number, got true"


def test_string_field_given_a_boolean_says_quote_it():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  path: off\n")
    assert _error(text) == "c.yaml:3:9: data.path: expected a string, got false (from unquoted off); quote it: 'off'"


def test_string_field_given_a_number_or_date_says_quote_it():
    assert _error(_edit("name: t", "name: 123")) == "c.yaml:1:7: name: expected a string, got 123; quote it: '123'"
    assert _error(_edit("name: t", "name: 2024-01-31")) == (
        "c.yaml:1:7: name: expected a string, got 2024-01-31; quote it: '2024-01-31'"
    )


def test_shuffle_accepts_only_booleans():
    assert _error(BASE + "  shuffle: 'yes'\n") == "c.yaml:13:12: training.shuffle: expected true or false, got 'yes'"


# ------------------------------------------------------------------------------- unknown keys
def test_unknown_top_level_key_suggests_the_closest():
    assert _error(_edit("name: t", "nme: t")) == (
        "c.yaml:1:1: name: missing required key\n"
        "c.yaml:1:6: nme: unknown key (did you mean 'name'?); expected one of: backend, data, gates, model, name, search, seed, task, tracking, training"
    )


def test_unknown_nested_key_suggests_the_closest():
    assert _error(_edit("epochs: 5", "epoch: 5")) == (
        "c.yaml:12:10: training.epoch: unknown key (did you mean 'epochs'?); "
        "expected one of: batch_size, checkpoint_interval, class_weight, deterministic, distribute, early_stopping, "
            "epochs, mixed_precision, reduce_lr_on_plateau, shuffle, steps_per_execution, tensorboard, test_split, "
            "validation_split"
    )


def test_unknown_data_key_suggests_path():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  pth: d.csv\n")
    assert _error(text) == (
        "c.yaml:3:8: data.pth: unknown key (did you mean 'path'?); "
        "expected one of: categorical, color_mode, comment, delimiter, drop, features, fill_value, format, header, "
        "image_size, memory_budget, missing, na_values, normalize, path, quotechar, reshape, shuffle_buffer, "
        "streaming, target, target_path, test, validation, x, y"
    )


def test_a_key_of_another_section_names_that_section():
    assert _error(_edit("epochs: 5", "epochs: 5\n  header: true")).startswith(
        "c.yaml:13:11: training.header: unknown key (did you mean data.header?); expected one of: batch_size, ")


def test_unknown_layer_argument_suggests_units():
    assert _error(_edit("units: 8,", "unit: 8,")) == (
        "c.yaml:7:7: model.layers[0]: Dense needs the argument 'units'\n"
        "c.yaml:7:27: model.layers[0].unit: Dense has no argument 'unit' (did you mean 'units'?)"
    )


def test_unknown_layer_type_suggests_dense():
    assert _error(_edit("type: Dense, units: 8", "type: Dens, units: 8")) == (
        "c.yaml:7:14: model.layers[0].type: unknown Keras layer type 'Dens' (did you mean 'Dense'?)"
    )


def test_layer_type_in_wrong_case_suggests_the_class_name():
    assert _error(_edit("type: Dense, units: 8", "type: dense, units: 8")) == (
        "c.yaml:7:14: model.layers[0].type: unknown Keras layer type 'dense' (did you mean 'Dense'?)"
    )


def test_unknown_loss_suggests_the_closest():
    assert _error(_edit("loss: binary_crossentropy", "loss: binary_crossentropi")) == (
        "c.yaml:9:9: model.loss: unknown Keras loss 'binary_crossentropi' (did you mean 'binary_crossentropy'?)"
    )


def test_unknown_loss_argument_suggests_from_logits():
    text = _edit("loss: binary_crossentropy", "loss: {type: binary_crossentropy, from_logit: true}")
    assert _error(text) == (
        "c.yaml:9:49: model.loss.from_logit: loss binary_crossentropy has no argument 'from_logit' "
        "(did you mean 'from_logits'?)"
    )


def test_unknown_optimizer_suggests_adam():
    assert _error(_edit("type: adam", "type: adamm")) == (
        "c.yaml:10:21: model.optimizer.type: unknown Keras optimizer 'adamm' (did you mean 'adam'?)"
    )


def test_unknown_optimizer_shorthand_is_located_at_the_value():
    assert _error(_edit("optimizer: {type: adam, learning_rate: 0.01}", "optimizer: sgdd")) == (
        "c.yaml:10:14: model.optimizer: unknown Keras optimizer 'sgdd' (did you mean 'sgd'?)"
    )


def test_unknown_metric_suggests_accuracy():
    assert _error(BASE.replace("training:", "  metrics: [accuracy, acuracy]\ntraining:")) == (
        "c.yaml:11:23: model.metrics[1]: unknown Keras metric 'acuracy' (did you mean 'accuracy'?)"
    )


def test_unknown_activation_suggests_the_closest():
    assert _error(_edit("activation: relu", "activation: relux")) == (
        "c.yaml:7:43: model.layers[0].activation: unknown activation 'relux' (did you mean 'relu'?)"
    )


def test_task_must_be_one_of_the_choices():
    assert _error(_edit("name: t", "name: t\ntask: classify")) == (
        "c.yaml:2:7: task: expected 'auto', 'classification' or 'regression', got 'classify'"
    )


# ------------------------------------------------------------------------ missing keys and bad values
def test_missing_required_keys_are_all_listed():
    assert _error("name: t\n") == "c.yaml:1:1: data: missing required key\nc.yaml:1:1: model: missing required key"


def test_missing_loss_is_located_at_the_model():
    assert _error(_edit("  loss: binary_crossentropy\n", "")) == "c.yaml:6:3: model.loss: missing required key"


def test_layer_without_type_is_refused():
    assert _error(_edit("{type: Dense, units: 8, activation: relu}", "{units: 8}")) == (
        "c.yaml:7:7: model.layers[0].type: missing required key"
    )


def test_layer_missing_a_required_argument():
    assert _error(_edit("{type: Dense, units: 8, activation: relu}", "{type: Dropout}")) == (
        "c.yaml:7:7: model.layers[0]: Dropout needs the argument 'rate'"
    )


def test_dropout_rate_out_of_range():
    assert _error(_edit("{type: Dense, units: 8, activation: relu}", "{type: Dropout, rate: 1.5}")) == (
        "c.yaml:7:29: model.layers[0].rate: expected a number in [0, 1), got 1.5"
    )


@pytest.mark.parametrize("units", ["-3", "0", "2.5", "'8'"])
def test_layer_units_must_be_a_positive_integer(units):
    shown = {"'8'": "'8'"}.get(units, units)
    assert _error(_edit("units: 8,", f"units: {units},")) == (
        f"c.yaml:7:28: model.layers[0].units: expected a positive integer, got {shown}"
    )


@pytest.mark.parametrize(("key", "value", "limit"), [("epochs", "0", 1), ("epochs", "-3", 1), ("batch_size", "0", 1)])
def test_training_sizes_must_be_positive(key, value, limit):
    text = _edit("epochs: 5", f"{key}: {value}")
    assert _error(text) == f"c.yaml:12:{len(key) + 5}: training.{key}: expected a value >= {limit}, got {value}"


def test_empty_layer_list_is_refused():
    text = _edit(
        "  layers:\n    - {type: Dense, units: 8, activation: relu}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n",
        "  layers: []\n",
    )
    assert _error(text) == "c.yaml:6:11: model.layers: expected at least one item, got an empty list"


@pytest.mark.parametrize(("value", "message"), [("1.0", "expected a value < 1.0, got 1.0"),
                                                ("-0.1", "expected a value >= 0.0, got -0.1"),
                                                ("1.5", "expected a value < 1.0, got 1.5")])
def test_validation_split_out_of_range(value, message):
    assert _error(BASE + f"  validation_split: {value}\n") == f"c.yaml:13:21: training.validation_split: {message}"


@pytest.mark.parametrize("name", ["../escape", "a/b", "/abs", ".hidden", "a b", ""])
def test_unsafe_run_names_are_refused(name):
    text = _edit("name: t", f"name: '{name}'")
    assert _error(text) == (
        "c.yaml:1:7: name: expected a run name of letters, digits, '.', '_' or '-' (no path separators, "
        f"not starting with '.'; at most 100 characters), got '{name}'"
    )


def test_run_name_with_dots_and_dashes_is_fine():
    assert load_config_text(_edit("name: t", "name: iris-v1.2_b")).config.name == "iris-v1.2_b"


def test_inline_and_file_data_together_are_refused():
    text = _edit("  y: [0, 1, 1, 0]\n", "  y: [0, 1, 1, 0]\n  path: d.csv\n")
    assert _error(text) == "c.yaml:3:3: data: give either inline x/y or a file path, not both"


def test_inline_data_needs_y():
    assert _error(_edit("  y: [0, 1, 1, 0]\n", "")) == "c.yaml:3:3: data: inline data needs both x and y"


def test_loss_must_be_a_name_or_a_mapping():
    assert _error(_edit("loss: binary_crossentropy", "loss: 5")) == (
        "c.yaml:9:9: model.loss: expected a name or a mapping with 'type', got 5"
    )


def test_section_that_is_not_a_mapping():
    message = _error(_edit("training:\n  epochs: 5\n", "training: 5\n"))
    assert message == "c.yaml:11:11: training: expected a mapping, got 5"


def test_top_level_list_is_refused():
    assert _error("- 1\n") == "c.yaml:1:1: expected a mapping (name:, data:, model:, …) at the top level, got list"


def test_input_shape_is_refused_because_it_comes_from_the_data():
    assert _error(_edit("units: 8,", "units: 8, input_shape: [2],")) == (
        "c.yaml:7:44: model.layers[0].input_shape: remove 'input_shape': nnrun takes the input shape from the data"
    )


def test_input_dim_is_refused_too():
    assert _error(_edit("units: 8,", "units: 8, input_dim: 2,")) == (
        "c.yaml:7:42: model.layers[0].input_dim: remove 'input_dim': nnrun takes the input shape from the data"
    )


def test_several_problems_are_reported_together():
    text = _edit("units: 8,", "units: -1,")
    text = _edit("activation: relu", "activation: rleu", text)
    assert _error(text).splitlines() == [
        "c.yaml:7:28: model.layers[0].units: expected a positive integer, got -1",
        "c.yaml:7:44: model.layers[0].activation: unknown activation 'rleu' (did you mean 'relu'?)",
    ]


# -------------------------------------------------------------------------- cross-checks (static)
def test_case2_softmax_on_one_unit_is_refused_naming_the_layer_and_suggesting_sigmoid():
    assert _error(_edit("units: 1, activation: sigmoid", "units: 1, activation: softmax")) == (
        "c.yaml:8:43: model.layers[1].activation: softmax over a single unit always outputs 1.0, so the model "
        "cannot learn; use activation: sigmoid with binary_crossentropy, or units: <number of classes>"
    )


def test_case2_pima_softmax_head_via_set_is_refused_at_the_set():
    with pytest.raises(ConfigError) as info:
        load_config(ROOT / "configs" / "pima.yaml", ["model.layers.-1.activation=softmax"])
    assert str(info.value) == (
        "--set model.layers.-1.activation=softmax: model.layers[4].activation: softmax over a single unit always "
        "outputs 1.0, so the model cannot learn; use activation: sigmoid with binary_crossentropy, "
        "or units: <number of classes>"
    )


def test_softmax_activation_layer_after_one_unit_is_refused_at_that_layer():
    text = _edit("- {type: Dense, units: 1, activation: sigmoid}",
                 "- {type: Dense, units: 1}\n    - {type: Dropout, rate: 0.1}\n"
                 "    - {type: Activation, activation: softmax}")
    assert _error(text).startswith(
        "c.yaml:10:38: model.layers[3].activation: softmax over a single unit always outputs 1.0"
    )


def test_softmax_layer_after_one_unit_is_refused_at_that_layer():
    text = _edit("- {type: Dense, units: 1, activation: sigmoid}", "- {type: Dense, units: 1}\n    - {type: Softmax}")
    assert _error(text).startswith("c.yaml:9:7: model.layers[2]: softmax over a single unit always outputs 1.0")


def test_case2_binary_crossentropy_on_a_3_unit_softmax_head_is_refused():
    assert _error(_edit("units: 1, activation: sigmoid", "units: 3, activation: softmax")) == (
        "c.yaml:8:28: model.layers[1].units: binary_crossentropy expects one sigmoid output unit, got units: 3; "
        "for 3 classes use sparse_categorical_crossentropy with activation: softmax"
    )


def test_sigmoid_head_with_sparse_categorical_crossentropy_is_refused():
    text = _edit("activation: softmax", "activation: sigmoid", IRIS)
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "iris.yaml")
    assert str(info.value) == (
        "iris.yaml:6:43: model.layers[1].activation: a sigmoid head with sparse_categorical_crossentropy "
        "does not give class probabilities; use activation: softmax"
    )


def test_categorical_loss_on_one_unit_is_refused():
    text = _edit("units: 3, activation: softmax", "units: 1, activation: sigmoid", IRIS)
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "iris.yaml")
    assert str(info.value) == (
        "iris.yaml:6:28: model.layers[1].units: sparse_categorical_crossentropy needs one output unit per class, "
        "got units: 1; for two classes use binary_crossentropy with activation: sigmoid"
    )


def test_linear_head_with_binary_crossentropy_needs_from_logits():
    text = _edit("units: 1, activation: sigmoid", "units: 1")
    assert _error(text) == (
        "c.yaml:8:7: model.layers[1].activation: binary_crossentropy expects probabilities but the head's "
        "activation is linear; use activation: sigmoid, or give the loss from_logits: true"
    )
    text = _edit("loss: binary_crossentropy", "loss: {type: binary_crossentropy, from_logits: true}", text)
    assert load_config_text(text).config.model.loss.kwargs == {"from_logits": True}


def test_task_contradicting_the_loss_is_refused():
    assert _error(_edit("name: t", "name: t\ntask: regression")) == (
        "c.yaml:10:9: model.loss: binary_crossentropy is a classification loss but task is regression"
    )


def test_head_and_target_encoding():
    cfg = load_config_text(IRIS).config
    assert head(cfg) == Head(1, 3, "softmax", ("model", "layers", 1, "activation"))
    assert target_encoding(cfg) == "sparse"
    assert target_encoding(load_config_text(BASE).config) == "binary"
    mse = load_config_text(_edit("loss: binary_crossentropy", "loss: mse")).config
    assert target_encoding(mse) == "regression"


# ------------------------------------------------------------------------------ cross-checks (data)
def test_softmax_units_must_equal_the_number_of_classes():
    cfg = load_config_text(IRIS).config
    assert data_problems(cfg, ["setosa", "versicolor", "virginica"]) == []
    assert data_problems(cfg, ["a", "b"]) == [
        (("model", "layers", 1, "units"),
         "the softmax head has 3 units but the data has 2 classes (a, b); set units: 2")
    ]


def test_binary_loss_with_three_classes_is_refused():
    cfg = load_config_text(BASE).config
    assert data_problems(cfg, [0, 1]) == []
    assert data_problems(cfg, ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]) == [
        (("model", "loss"), "binary_crossentropy needs exactly 2 classes, the data has 3 "
         "(Iris-setosa, Iris-versicolor, Iris-virginica); fix the labels, or use sparse_categorical_crossentropy "
         "with a softmax head of units: 3")
    ]


def test_a_single_class_is_refused():
    cfg = load_config_text(BASE).config
    assert data_problems(cfg, [1]) == [
        (("data",), "the target has 1 distinct value(s) (1); classification needs at least 2")
    ]


def test_many_classes_are_shown_truncated():
    cfg = load_config_text(IRIS).config
    (problem,) = data_problems(cfg, list(range(12)))
    assert problem[1] == (
        "the softmax head has 3 units but the data has 12 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …); set units: 12"
    )


def test_regression_head_must_have_one_unit():
    text = _edit("units: 1, activation: sigmoid", "units: 2")
    cfg = load_config_text(_edit("loss: binary_crossentropy", "loss: mse", text)).config
    assert data_problems(cfg, None) == [
        (("model", "layers", 1, "units"), "a regression model predicts one value: expected units: 1, got 2")
    ]


def test_data_problem_is_located_through_the_loaded_config():
    loaded = load_config_text(IRIS, "iris.yaml")
    ((path, message),) = data_problems(loaded.config, ["a", "b"])
    assert loaded.error(path, message).message == (
        "iris.yaml:6:28: model.layers[1].units: the softmax head has 3 units but the data has 2 classes (a, b); "
        "set units: 2"
    )


# ---------------------------------------------------------------------------------- --set overrides
def test_set_list_item_by_index():
    loaded = load_config_text(BASE, "c.yaml", ["model.layers.0.units=16"])
    assert loaded.config.model.layers[0].kwargs["units"] == 16
    assert loaded.source.where(("model", "layers", 0, "units")) == "--set model.layers.0.units=16"
    assert loaded.source.where(("model", "layers", 0, "activation")) == "c.yaml:7:43"


def test_set_value_is_yaml():
    loaded = load_config_text(BASE, "c.yaml", ["model.optimizer.learning_rate=1e-3", "training.epochs=1e2",
                                               "model.metrics=[accuracy, auc]", "training.shuffle=false"])
    cfg = loaded.config
    assert cfg.model.optimizer.kwargs == {"learning_rate": 0.001}
    assert type(cfg.model.optimizer.kwargs["learning_rate"]) is float
    assert cfg.training.epochs == 100
    assert [m.type for m in cfg.model.metrics] == ["accuracy", "auc"]
    assert cfg.training.shuffle is False


def test_set_value_parsed_as_a_yaml_list():
    data, source = load_yaml("a: {b: [1]}\n", "c.yaml")
    assert apply_override(data, source, "a.b=[8, 8]") == {"a": {"b": [8, 8]}}
    assert source.where(("a", "b", 1)) == "--set a.b=[8, 8]"


def test_set_creates_missing_sections():
    loaded = load_config_text(_edit("training:\n  epochs: 5\n", ""), "c.yaml", ["training.epochs=3"])
    assert loaded.config.training.epochs == 3
    assert loaded.source.where(("training",)) == "--set training.epochs=3"


def test_set_later_override_wins():
    loaded = load_config_text(BASE, "c.yaml", ["training.epochs=3", "training.epochs=4"])
    assert loaded.config.training.epochs == 4


def test_set_negative_index_counts_from_the_end():
    loaded = load_config_text(BASE, "c.yaml", ["model.layers.-2.units=4"])
    assert loaded.config.model.layers[0].kwargs["units"] == 4


def test_set_index_out_of_range():
    assert _error(BASE, ("model.layers.5.units=16",)) == (
        "--set model.layers.5.units=16: model.layers has 2 items; index 5 is out of range"
    )


def test_set_last_index_out_of_range():
    assert _error(BASE, ("model.layers.2={type: Dense, units: 1}",)) == (
        "--set model.layers.2={type: Dense, units: 1}: model.layers has 2 items; index 2 is out of range"
    )


def test_set_word_where_an_index_is_needed():
    assert _error(BASE, ("model.layers.first.units=1",)) == (
        "--set model.layers.first.units=1: model.layers is a list: expected an item index, got 'first'"
    )


@pytest.mark.parametrize("item", ["training.epochs", "=5", " =5"])
def test_set_without_key_or_equals(item):
    assert _error(BASE, (item,)) == f"--set {item}: expected key.path=value, e.g. training.epochs=50"


def test_set_with_an_empty_key_part():
    assert _error(BASE, ("model..units=1",)) == (
        "--set model..units=1: empty key in 'model..units'; expected key.path=value"
    )


def test_set_through_a_scalar():
    assert _error(BASE, ("name.x=1",)) == (
        "--set name.x=1: name holds the name 't', not a mapping; set the whole value instead, "
        "e.g. --set 'name={type: t, ...}'"
    )


def test_set_invalid_yaml_value():
    assert _error(BASE, ("training.epochs=[1",)) == (
        "--set training.epochs=[1: invalid YAML: expected ',' or ']', but got '<stream end>'"
    )


def test_set_errors_are_located_at_the_set():
    assert _error(BASE, ("training.epochs=-1",)) == (
        "--set training.epochs=-1: training.epochs: expected a value >= 1, got -1"
    )
    assert _error(BASE, ("training.epochs=[8, 8]",)) == (
        "--set training.epochs=[8, 8]: training.epochs: expected an integer, got a list"
    )
    assert _error(BASE, ("model.optimizer.learning_rate=fast",)) == (
        "--set model.optimizer.learning_rate=fast: model.optimizer.learning_rate: expected a number, got 'fast'"
    )


def test_set_empty_value_is_refused_naming_the_key():
    # Regression: the error pointed at the file's `training:` line; then, for a key where null is valid
    # (data.path), at the parent section: "data: expected inline x and y, or a file path" (issue 18, break-it).
    assert _error(BASE, ("training.epochs=",)) == (
        "--set training.epochs=: training.epochs: no value after '='; give one (training.epochs=VALUE), or "
        "training.epochs=null to clear it"
    )
    assert _error(BASE, ("data.path= ",)) == (
        "--set data.path= : data.path: no value after '='; give one (data.path=VALUE), or data.path=null to clear it"
    )
    assert _error(BASE, ("training.epochs=null",)) == (
        "--set training.epochs=null: training.epochs: expected an integer, got nothing (null)"
    )


def test_set_unknown_new_section_is_located_at_the_set():
    # Regression: the error pointed at line 1 of the file, which has no such key.
    assert _error(BASE, ("trainig.epochs=3",)) == (
        "--set trainig.epochs=3: trainig: unknown key (did you mean 'training'?); "
        "expected one of: backend, data, gates, model, name, search, seed, task, tracking, training"
    )


def test_set_mapping_value_errors_are_located_at_the_set():
    assert _error(BASE, ("model.optimizer={type: adam, learning_rate: fast}",)) == (
        "--set model.optimizer={type: adam, learning_rate: fast}: model.optimizer.learning_rate: "
        "expected a number, got 'fast'"
    )


def test_set_unknown_layer_argument_suggests():
    assert _error(BASE, ("model.layers.0.unit=4",)) == (
        "--set model.layers.0.unit=4: model.layers[0].unit: Dense has no argument 'unit' (did you mean 'units'?)"
    )


def test_set_quoted_string_for_a_name():
    assert load_config_text(BASE, "c.yaml", ["name='123'"]).config.name == "123"
    assert _error(BASE, ("name=123",)) == "--set name=123: name: expected a string, got 123; quote it: '123'"


# ------------------------------------------------------------------------------------------- output
def test_dump_resolved_round_trips():
    cfg = load_config_text(_edit("learning_rate: 0.01", "learning_rate: 1e-5")).config
    text = dump_resolved(cfg)
    again = load_config_text(text, "resolved.yaml").config
    assert again == cfg
    assert again.model.optimizer.kwargs["learning_rate"] == 1e-5
    assert "steps_per_execution: 32" in text
    assert "path:" not in text  # unset data fields are left out


def test_dump_resolved_quotes_names_that_look_like_numbers():
    text = _edit("  x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y: [0, 1, 1, 0]\n", "  path: d.csv\n  target: '1e3'\n")
    cfg = load_config_text(_edit("name: t", "name: '5e3'", text)).config
    again = load_config_text(dump_resolved(cfg)).config
    assert (again.name, again.data.target) == ("5e3", "1e3")


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_dump_resolved_round_trips_every_shipped_config(config):
    cfg = load_config(ROOT / "configs" / config).config
    assert load_config_text(dump_resolved(cfg)).config == cfg


def test_json_schema_describes_the_config():
    schema = json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "nnrun config"
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"name", "seed", "task", "backend", "data", "model", "training", "gates", "search", "tracking"}
    assert set(schema["required"]) == {"name", "data", "model"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["task"]["enum"] == ["auto", "classification", "regression"]
    assert schema["properties"]["backend"]["enum"] == ["tensorflow", "jax"]
    training = schema["$defs"]["TrainingConfig"]["properties"]
    assert training["epochs"] == {
        "default": 10, "minimum": 1, "maximum": 2**31 - 1, "title": "Epochs", "type": "integer"
    }
    assert (training["validation_split"]["minimum"], training["validation_split"]["exclusiveMaximum"]) == (0.0, 1.0)
    assert set(schema["$defs"]) >= {"DataConfig", "ModelConfig", "TrainingConfig", "LayerConfig"}


def test_schema_defaults_match_the_model():
    training = json_schema()["$defs"]["TrainingConfig"]["properties"]
    defaults = Config.model_fields["training"].default_factory()
    assert training["batch_size"]["default"] == defaults.batch_size == 32
    assert training["validation_split"]["default"] == defaults.validation_split == 0.0


_JSON_SCHEMA_KEYWORDS = {
    "$schema", "$defs", "$ref", "title", "description", "type", "properties", "required", "additionalProperties",
    "items", "anyOf", "enum", "const", "default", "pattern", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties",
}


def _keywords(schema: object, out: set) -> set:
    if isinstance(schema, dict):
        for key, value in schema.items():
            out.add(key)
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _keywords(sub, out)
            elif key not in ("default", "enum", "const"):
                _keywords(value, out)
    elif isinstance(schema, list):
        for item in schema:
            _keywords(item, out)
    return out


def test_json_schema_uses_only_json_schema_keywords():
    # Regression: range constraints came out as pydantic's 'ge'/'lt', which editors ignore.
    assert _keywords(json_schema(), set()) - _JSON_SCHEMA_KEYWORDS == set()
