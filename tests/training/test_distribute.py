"""training.distribute: MirroredStrategy over 2 logical CPUs equals one device (issue 17).

The strategy runs need their own process (TensorFlow splits the CPU only before it first uses it): they run
``python -m nnrun train`` as subprocesses, side by side, with a time limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, invoke

LIMIT_S = 600  # the machine is shared: generous, but never a hang


def tiny_config(folder: Path, name: str, extra: str = "") -> Path:
    """A 64-row binary problem (inline), 3 epochs of 4 batches of 16, plus ``extra`` YAML under training."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).round(4)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nseed: 3\ndata:\n  x: {json.dumps(x.tolist())}\n  y: {json.dumps(y.tolist())}\n"
        "model:\n  layers:\n    - {type: Dense, units: 8, activation: relu}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n"
        "  loss: binary_crossentropy\n  optimizer: {type: adam, learning_rate: 0.05}\n  metrics: [accuracy]\n"
        f"training:\n  epochs: 3\n  batch_size: 16\n{extra}")
    return path


def start_train(config: Path, runs_dir: Path, *extra: str) -> subprocess.Popen:
    """``nnrun train CONFIG --json --quiet`` as a subprocess running this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--runs-dir", str(runs_dir),
                             "--json", "--quiet", "--no-plots", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> tuple[dict, str]:
    """(the JSON outcome, stderr) of a train subprocess that must exit 0."""
    out, err = proc.communicate(timeout=LIMIT_S)
    assert proc.returncode == 0, err
    return json.loads(out), err


MIRRORED = "  distribute: {strategy: mirrored, logical_cpus: 2}\n"


def test_mirrored_on_two_logical_cpus_equals_one_device(tmp_path):
    single = start_train(tiny_config(tmp_path, "single"), tmp_path / "runs")
    mirrored = start_train(tiny_config(tmp_path, "mirrored", MIRRORED), tmp_path / "runs")
    one, _ = finished(single)
    two, err = finished(mirrored)
    assert "distribute: mirrored, 2 replicas in sync on CPU:0, CPU:1" in err
    assert "steps_per_execution 32 -> 1" in err
    for key in ("loss", "accuracy"):
        assert two["metrics"][key] == pytest.approx(one["metrics"][key], rel=1e-4)
    history = [(Path(r["run_dir"]) / "history.csv").read_text().splitlines() for r in (one, two)]
    assert len(history[0]) == len(history[1]) == 4  # header + 3 epochs
    info = json.loads((Path(two["run_dir"]) / "run.json").read_text())
    assert info["status"] == "completed"
    assert info["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1, "devices": [
        "/job:localhost/replica:0/task:0/device:CPU:0", "/job:localhost/replica:0/task:0/device:CPU:1"]}
    assert "distribute" not in json.loads((Path(one["run_dir"]) / "run.json").read_text())
    # the mirrored run's model saves, loads and predicts as the single-device one does
    np.savez(tmp_path / "rows.npz", x=np.random.default_rng(1).normal(size=(5, 4)))
    outputs = [invoke("predict", r["run_dir"], "--input", tmp_path / "rows.npz", "--format", "json") for r in (one, two)]
    assert [o.exit_code for o in outputs] == [0, 0]
    rows = [json.loads(o.stdout) for o in outputs]
    assert len(rows[0]) == len(rows[1]) == 5
    assert _close(rows[0], rows[1])


def _close(a: list, b: list) -> bool:
    """Predictions equal up to float noise (the labels equal, the probabilities within 1e-4)."""
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            if isinstance(ra[key], float):
                assert ra[key] == pytest.approx(rb[key], abs=1e-4)
            else:
                assert ra[key] == rb[key]
    return True


def test_split_cpu_after_tensorflow_started_is_refused():
    import tensorflow as tf

    from nnrun.errors import ConfigError
    from nnrun.training.devices import split_cpu

    have = len(tf.config.list_logical_devices("CPU"))
    split_cpu(have)  # the split it already has: accepted
    with pytest.raises(ConfigError, match=f"already runs with {have} logical CPU"):
        split_cpu(have + 2)


def test_unknown_strategy_is_a_config_error(tmp_path):
    config = tiny_config(tmp_path, "bad", "  distribute: {strategy: horovod}\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert "training.distribute.strategy" in result.stderr
    assert "mirrored" in result.stderr
