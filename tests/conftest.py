"""Shared fixtures. Runs that several tests read are trained once per session (TensorFlow is imported
once per test process; the config tests never import it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The test process runs Keras on TensorFlow (the backend is process-global): predict/evaluate must not pick JAX
# in it. JAX runs in subprocesses (tests/training/test_jax_backend.py).
os.environ.setdefault("NNRUN_BACKEND", "tensorflow")


def csv_shards(folder: Path, shards: int = 2, rows: int = 20) -> Path:
    """``folder`` (created) with ``shards`` CSV shards ``part-<k>.csv`` of ``rows`` rows each: columns a, b
    (numbers) and y (0/1)."""
    folder.mkdir()
    for k in range(shards):
        (folder / f"part-{k}.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(rows)))
    return folder


def invoke(*args: str, input: str | None = None):
    """Run the nnrun CLI in-process; returns click's Result (stdout and stderr kept apart)."""
    from nnrun.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture(scope="session", autouse=True)
def _xla_cache_in_tmp(tmp_path_factory):
    """JAX processes the tests start keep their compiled programs in the session's temporary directory, not
    in the user's ~/.cache/nnrun/xla (nnrun.backend.use_xla_cache)."""
    os.environ.setdefault("NNRUN_XLA_CACHE", str(tmp_path_factory.mktemp("xla-cache")))


@pytest.fixture(scope="session", autouse=True)
def _repo_root_cwd():
    """Commands in README run from the repo root; so do the tests (relative data paths)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(cwd)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


def _train(runs_dir: Path, config: str, *extra: str) -> Path:
    result = invoke("train", ROOT / "configs" / config, "--runs-dir", runs_dir, "--json", "--quiet", *extra)
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.fixture(scope="session")
def xor_run(runs_dir) -> Path:
    """configs/xor.yaml trained once."""
    return _train(runs_dir, "xor.yaml")


@pytest.fixture(scope="session")
def iris_run(runs_dir) -> Path:
    """configs/iris.yaml trained once."""
    return _train(runs_dir, "iris.yaml")


@pytest.fixture(scope="session")
def pima_run(runs_dir) -> Path:
    """configs/pima.yaml trained once."""
    return _train(runs_dir, "pima.yaml")


@pytest.fixture(scope="session")
def signal_run(runs_dir, tmp_path_factory) -> Path:
    """A binary classifier on generated rows whose label depends on columns a and b only (a + b > 0); n1, n2
    and the categorical column colour are noise (for nnrun explain / predict --explain)."""
    import numpy as np

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("signal")
    n = 600
    a, b, n1, n2 = (rng.normal(size=n) for _ in range(4))
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(a + b > 0, "yes", "no")
    rows = [f"{a[i]:.4f},{n1[i]:.4f},{b[i]:.4f},{colour[i]},{n2[i]:.4f},{label[i]}" for i in range(n)]
    (folder / "signal.csv").write_text("a,n1,b,colour,n2,label\n" + "\n".join(rows) + "\n")
    (folder / "signal.yaml").write_text(
        "name: signal\nseed: 0\ndata: {path: signal.csv, target: label}\n"
        "model:\n  layers:\n    - {type: Dense, units: 16, activation: relu}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n"
        "  loss: binary_crossentropy\n  optimizer: {type: adam, learning_rate: 0.02}\n  metrics: [accuracy]\n"
        "training: {epochs: 25, batch_size: 32, validation_split: 0.3}\n")
    return _train(runs_dir, str(folder / "signal.yaml"))
