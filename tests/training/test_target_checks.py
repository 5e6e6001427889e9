"""Issue 18 item 7: a loss whose kind does not fit the target's values trains with a warning."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tests.conftest import ROOT, invoke


def _config(loss: str, task: str = "auto"):
    return SimpleNamespace(task=task, model=SimpleNamespace(loss=SimpleNamespace(type=loss)))


def test_mse_on_a_binary_target_warns_at_train_time(tmp_path):
    result = invoke("train", ROOT / "configs" / "xor.yaml", "--runs-dir", tmp_path, "--quiet",
                    "--set", "model.loss=mse", "--set", "training.epochs=1")
    assert result.exit_code == 0, result.stderr
    assert "2 distinct whole values (0, 1) but mse is a regression loss" in result.stderr
    assert "loss: binary_crossentropy" in result.stderr and "task: regression" in result.stderr


def test_a_classification_loss_on_measurements_warns():
    from nnrun.training.target_checks import loss_target_warning

    y = np.array([0.5, 1.25, 3.0, 7.5])
    message = loss_target_warning(_config("sparse_categorical_crossentropy"), y, "sparse")
    assert message.startswith("the target has 4 distinct values, not all whole (0.5, 1.25, 3, 7.5)")


def test_no_warning_when_the_task_is_explicit_or_the_target_fits():
    from nnrun.training.target_checks import loss_target_warning

    labels = np.array([0, 1, 1, 0])
    assert loss_target_warning(_config("mse", task="regression"), labels, "regression") is None
    assert loss_target_warning(_config("binary_crossentropy"), labels, "binary") is None
    assert loss_target_warning(_config("mse"), np.arange(50.0), "regression") is None
