"""Config -> compiled keras.Sequential: parameter counts, names resolved, Keras' refusals located."""

from __future__ import annotations

import pytest

from nnrun.config.load import load_config_text
from nnrun.errors import ConfigError

pytestmark = pytest.mark.slow

BASE = """
name: t
data: {{x: [[0, 0]], y: [0]}}
model:
  layers:
{layers}
  loss: {loss}
  optimizer: {optimizer}
  metrics: [accuracy]
"""


def _build(layers: str, shape=(2,), loss="binary_crossentropy", optimizer="adam"):
    from nnrun.training.build import build_model

    loaded = load_config_text(BASE.format(layers=layers, loss=loss, optimizer=optimizer), "c.yaml")
    return build_model(loaded, shape)


def test_parameter_counts_are_weights_plus_biases():
    from nnrun.training.build import count_params

    model = _build("    - {type: Dense, units: 8, activation: tanh}\n    - {type: Dense, units: 1, activation: sigmoid}")
    assert count_params(model) == (2 * 8 + 8 + 8 * 1 + 1, 0)
    assert model.input_shape == (None, 2) and model.output_shape == (None, 1)


def test_non_trainable_parameters_are_counted_apart():
    from nnrun.training.build import count_params

    model = _build("    - {type: BatchNormalization}\n    - {type: Dense, units: 1, activation: sigmoid}", shape=(8,))
    assert count_params(model) == (2 * 8 + 9, 2 * 8)


def test_optimizer_and_loss_by_name_and_by_spec():
    model = _build(
        "    - {type: Dense, units: 3, activation: softmax}",
        loss="{type: SparseCategoricalCrossentropy, from_logits: false}",
        optimizer="{type: SGD, learning_rate: 0.5, momentum: 0.9}",
    )
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.5)
    assert float(model.optimizer.momentum) == pytest.approx(0.9)
    assert type(model.loss).__name__ == "SparseCategoricalCrossentropy"


def test_an_integer_learning_rate_is_a_float_for_keras():
    model = _build("    - {type: Dense, units: 1, activation: sigmoid}", optimizer="{type: sgd, learning_rate: 1}")
    assert float(model.optimizer.learning_rate.numpy()) == 1.0


def test_learning_rate_in_exponent_form_reaches_keras():
    model = _build("    - {type: Dense, units: 1, activation: sigmoid}", optimizer="{type: adam, learning_rate: 5e-4}")
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(5e-4)


def test_keras_refusal_is_located_at_the_layer():
    with pytest.raises(ConfigError) as e:
        _build("    - {type: Dense, units: 4, kernel_initializer: nope}\n    - {type: Dense, units: 1, activation: sigmoid}")
    assert str(e.value).startswith("c.yaml:6:7: model.layers[0]: Keras refused Dense(units=4, kernel_initializer='nope'):")


def test_lstm_on_a_flat_vector_names_the_layer():
    with pytest.raises(ConfigError) as e:
        _build("    - {type: LSTM, units: 4}\n    - {type: Dense, units: 1, activation: sigmoid}")
    assert str(e.value).startswith("c.yaml:6:7: model.layers[0]: LSTM needs input of shape (batch_size, timesteps, "
                                   "features), got (batch_size, 2); sequence layers take a sequence per example")


def test_flatten_on_flat_input_is_refused():
    with pytest.raises(ConfigError) as e:
        _build("    - {type: Flatten}\n    - {type: Dense, units: 1, activation: sigmoid}")
    assert str(e.value) == (
        "c.yaml:6:7: model.layers[0]: Flatten on input of shape (batch_size, 2) does nothing: each example is "
        "already a flat vector of features; remove the layer"
    )
