"""README's training promises measured from outside the code that keeps them: the saved model is evaluated
by the test itself, the optimizer and layers are read back from model.keras and their effect on one step is
measured (zero-initialised weights make the step's size known)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, invoke

pytestmark = pytest.mark.slow

IRIS = ROOT / "configs/iris.yaml"


def _train(runs: Path, config: Path, *sets: str) -> Path:
    args = ["train", config, "--runs-dir", runs, "--json", "--quiet", "--no-plots"]
    for s in sets:
        args += ["--set", s]
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


def _load(path: Path, compile: bool = False):
    import keras

    return keras.models.load_model(path, safe_mode=True, compile=compile)


def _iris_rows(indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Iris features and class indices (classes sorted by name, as README says), read by the test itself."""
    lines = [ln.split(",") for ln in (ROOT / "data/iris.csv").read_text().splitlines() if ln.strip()]
    classes = sorted({ln[4] for ln in lines})
    x = np.array([[float(v) for v in lines[i][:4]] for i in indices], dtype=np.float32)
    y = np.array([classes.index(lines[i][4]) for i in indices])
    return x, y


def _val_loss(run: Path, model_file: str = "model.keras") -> float:
    """Sparse categorical cross-entropy of the saved model on the run's validation rows (split.json)."""
    x, y = _iris_rows(json.loads((run / "split.json").read_text())["validation"])
    p = _load(run / model_file).predict(x, verbose=0)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))


def _val_losses(run: Path) -> list[float]:
    header, *rows = (run / "history.csv").read_text().splitlines()
    column = header.split(",").index("val_loss")
    return [float(r.split(",")[column]) for r in rows]


def test_saved_model_is_the_best_epoch_when_early_stopping_never_triggers(tmp_path):
    """A noisy run (learning rate 0.1) whose best epoch is not its last: with early_stopping configured
    (patience too long to trigger) model.keras must hold the best epoch's weights, measured here."""
    run = _train(tmp_path, IRIS, "training.epochs=30", "training.early_stopping={patience: 1000}",
                 "model.optimizer={type: adam, learning_rate: 0.1}")
    metrics = json.loads((run / "metrics.json").read_text())
    losses = _val_losses(run)
    assert metrics["epochs"] == 30 and metrics["stopped_early"] is False
    assert metrics["best_epoch"] == int(np.argmin(losses)) + 1 < 30  # the test means something: best != last
    assert losses[-1] > min(losses) + 0.01
    assert metrics["best_value"] == pytest.approx(min(losses), rel=1e-6)
    measured = _val_loss(run)
    assert measured == pytest.approx(metrics["best_value"], rel=1e-3, abs=1e-4)
    assert metrics["val_loss"] == pytest.approx(measured, rel=1e-3, abs=1e-4)
    assert _val_loss(run, "best.keras") == pytest.approx(measured, rel=1e-5)
    assert _val_loss(run, "last.keras") == pytest.approx(losses[-1], rel=1e-3, abs=1e-4)


def test_saved_model_is_the_best_epoch_when_early_stopping_triggers(tmp_path):
    run = _train(tmp_path, IRIS, "training.epochs=60", "training.early_stopping={patience: 4}",
                 "model.optimizer={type: adam, learning_rate: 0.05}")
    metrics = json.loads((run / "metrics.json").read_text())
    losses = _val_losses(run)
    assert metrics["stopped_early"] is True and metrics["epochs"] == len(losses) < 60
    assert metrics["best_epoch"] == len(losses) - 4  # patience 4: four epochs without improvement
    assert _val_loss(run) == pytest.approx(min(losses), rel=1e-3, abs=1e-4)


def test_without_early_stopping_the_model_is_the_last_epoch(tmp_path):
    run = _train(tmp_path, IRIS, "training.epochs=30", "model.optimizer={type: adam, learning_rate: 0.05}")
    metrics = json.loads((run / "metrics.json").read_text())
    losses = _val_losses(run)
    assert metrics["restored_best_weights"] is False
    assert _val_loss(run) == pytest.approx(losses[-1], rel=1e-3, abs=1e-4)


def _one_step(tmp_path: Path, optimizer: str) -> tuple[Path, list[np.ndarray]]:
    """One full-batch SGD step (learning rate 1) from all-zero weights on iris: the saved weights are the
    step itself. Returns the run and [kernel, bias]."""
    run = _train(tmp_path, IRIS, "training.epochs=1", "training.batch_size=200",
                 "model.layers=[{type: Dense, units: 3, activation: softmax, kernel_initializer: zeros}]",
                 f"model.optimizer={optimizer}")
    return run, _load(run / "model.keras").get_weights()


@pytest.fixture(scope="module")
def free_step(tmp_path_factory) -> list[np.ndarray]:
    """The same step without clipping."""
    return _one_step(tmp_path_factory.mktemp("free"), "{type: sgd, learning_rate: 1.0}")[1]


def test_clipnorm_is_kept_and_bounds_each_gradient(tmp_path, free_step):
    free = free_step
    run, clipped = _one_step(tmp_path / "clip", "{type: sgd, learning_rate: 1.0, clipnorm: 0.01}")
    # the bias's gradient is ~0 (balanced classes, uniform softmax); the kernel's is far larger than 0.01
    assert np.linalg.norm(free[0]) > 0.05 and np.linalg.norm(free[1]) < 1e-6
    assert np.linalg.norm(clipped[0]) == pytest.approx(0.01, rel=1e-3)  # clipped to exactly clipnorm
    assert np.linalg.norm(clipped[0]) <= 0.01 * (1 + 1e-5) and np.linalg.norm(clipped[1]) < 1e-6
    optimizer = _load(run / "model.keras", compile=True).optimizer
    assert optimizer.get_config()["clipnorm"] == 0.01 and int(optimizer.iterations.numpy()) == 1


def test_clipvalue_is_kept_and_bounds_each_gradient_element(tmp_path, free_step):
    free = free_step
    run, clipped = _one_step(tmp_path / "clip", "{type: sgd, learning_rate: 1.0, clipvalue: 0.001}")
    assert np.abs(free[0]).max() > 0.01
    assert np.abs(clipped[0]).max() == pytest.approx(0.001, rel=1e-4)
    assert np.abs(clipped[0]).max() <= 0.001 * (1 + 1e-5)
    assert _load(run / "model.keras", compile=True).optimizer.get_config()["clipvalue"] == 0.001


def test_learning_rate_schedule_is_kept_and_drives_the_rate(tmp_path):
    """CosineDecay with a linear warm-up: 120 training rows in batches of 16 = 8 steps an epoch; after 3
    epochs (24 steps) the rate is warmup_target * 24 / warmup_steps."""
    run = _train(tmp_path, IRIS, "training.epochs=3",
                 "model.optimizer={type: adam, clipnorm: 1.0, learning_rate: {type: CosineDecay, "
                 "initial_learning_rate: 0.0, decay_steps: 1000, warmup_target: 0.01, warmup_steps: 100}}")
    optimizer = _load(run / "model.keras", compile=True).optimizer
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert {k: schedule["config"][k] for k in ("initial_learning_rate", "decay_steps", "warmup_target",
                                               "warmup_steps")} == {
        "initial_learning_rate": 0.0, "decay_steps": 1000, "warmup_target": 0.01, "warmup_steps": 100}
    assert int(optimizer.iterations.numpy()) == 24
    assert float(np.asarray(optimizer.learning_rate)) == pytest.approx(0.01 * 24 / 100, rel=1e-5)


def test_regularizer_is_kept_and_adds_its_penalty_to_the_loss(tmp_path):
    run = _train(tmp_path, IRIS, "training.epochs=2",
                 "model.layers.0={type: Dense, units: 8, activation: relu, kernel_regularizer: {type: L2, l2: 0.01}}")
    model = _load(run / "model.keras")
    regularizer = model.layers[0].kernel_regularizer
    assert type(regularizer).__name__ == "L2" and regularizer.get_config()["l2"] == pytest.approx(0.01)
    assert model.layers[1].kernel_regularizer is None
    kernel = model.layers[0].get_weights()[0]
    model(np.zeros((1, 4), dtype=np.float32))
    assert [float(v) for v in model.losses] == pytest.approx([0.01 * float(np.sum(kernel ** 2))], rel=1e-4)


def test_an_accuracy_monitor_picks_the_highest_epoch(tmp_path):
    """monitor: val_accuracy is maximised (mode auto): the best epoch is the first with the highest value."""
    run = _train(tmp_path, IRIS, "training.epochs=12", "model.optimizer={type: adam, learning_rate: 0.003}",
                 "training.early_stopping={monitor: val_accuracy, patience: 1000}")
    metrics = json.loads((run / "metrics.json").read_text())
    header, *rows = (run / "history.csv").read_text().splitlines()
    accuracy = [float(r.split(",")[header.split(",").index("val_accuracy")]) for r in rows]
    assert metrics["monitor"] == "val_accuracy" and len(set(accuracy)) > 2
    assert metrics["best_epoch"] == int(np.argmax(accuracy)) + 1 and metrics["best_value"] == max(accuracy)
    assert metrics["val_accuracy"] == max(accuracy)
