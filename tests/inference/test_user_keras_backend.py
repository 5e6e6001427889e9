"""The user's KERAS_BACKEND: a name nnrun does not run on is a usage error (exit 2, no traceback) in every command
that loads a model; a valid one is honoured where nnrun chooses no backend. In subprocesses: the backend is
process-global."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _nnrun(backend: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NNRUN_BACKEND"}
    env.update(KERAS_BACKEND=backend, PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nnrun", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("command", ["explain", "predict"])
def test_an_unknown_keras_backend_is_a_usage_error(iris_run, tmp_path, command):
    rows = tmp_path / "rows.csv"
    rows.write_text("col0,col1,col2,col3\n5.1,3.5,1.4,0.2\n")
    extra = ["--input", rows, "--output", tmp_path / "out.csv"] if command == "predict" else []
    proc = _nnrun("bogus", command, iris_run, *extra, "--json")
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["error"]["message"] == (
        "the environment's KERAS_BACKEND=bogus is not a backend nnrun runs Keras on (tensorflow or jax); unset it "
        "(train, cv and tune take the backend from the config's backend: or --set backend=jax; predict and evaluate "
        "from --backend or NNRUN_BACKEND)")
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_valid_keras_backend_is_honoured_where_nnrun_chooses_none(iris_run, tmp_path):
    pytest.importorskip("jax")
    run = shutil.copytree(iris_run, tmp_path / "iris")  # explain writes into the run
    proc = _nnrun("jax", "explain", run, "--json", "--no-plots")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert {c["column"] for c in json.loads(proc.stdout)["columns"]} == {"col0", "col1", "col2", "col3"}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_an_unknown_nnrun_backend_is_a_usage_error(iris_run, tmp_path, monkeypatch, command):
    from tests.conftest import invoke

    monkeypatch.setenv("NNRUN_BACKEND", "garbage")
    rows = tmp_path / "rows.csv"
    rows.write_text("col0,col1,col2,col3\n5.1,3.5,1.4,0.2\n")
    extra = ["--input", rows] if command == "predict" else ["--data", ROOT / "data/iris.csv", "--no-plots"]
    result = invoke(command, shutil.copytree(iris_run, tmp_path / "iris"), *extra)
    assert result.exit_code == 2
    assert result.stderr == ("error: the environment's NNRUN_BACKEND=garbage is not a backend nnrun runs Keras on "
                             "(tensorflow or jax); set it to one of them or unset it (it is the default backend of "
                             "predict and evaluate; --backend wins over it)\n")
    assert result.stdout == ""
