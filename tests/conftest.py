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


def invoke(*args: str, input: str | None = None):
    """Run the nnrun CLI in-process; returns click's Result (stdout and stderr kept apart)."""
    from nnrun.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


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
