"""JAX's persistent compilation cache (nnrun.backend.use_xla_cache): where it lives, when it is off, and that
a command served from it trains exactly what a compiling command trains."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from nnrun import backend

# One JAX training of XOR per process; prints the backend's cache directory as JAX saw it.
TRAIN = r"""
import sys
from nnrun import api
doc = api.train("configs/xor.yaml", ("backend=jax", "training.epochs=30"), runs_dir=sys.argv[1], plots=False)
import jax
print("cache=" + (jax.config.jax_compilation_cache_dir or ""))
print(doc["run_dir"])
"""


def test_cache_dir_defaults_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv(backend.XLA_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backend.xla_cache_dir() == str(tmp_path / "xdg" / "nnrun" / "xla")
    assert (tmp_path / "xdg" / "nnrun" / "xla").is_dir()


@pytest.mark.parametrize("value", ["off", "0", "", "OFF"])
def test_cache_is_off_when_asked(value, monkeypatch):
    monkeypatch.setenv(backend.XLA_CACHE_ENV, value)
    assert backend.xla_cache_dir() is None


def test_cache_is_skipped_where_it_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(backend.XLA_CACHE_ENV, str(blocker / "xla"))
    assert backend.xla_cache_dir() is None
    assert blocker.read_text() == "not a directory"


def test_a_folder_holding_other_files_is_not_used_and_nothing_in_it_is_touched(tmp_path, monkeypatch):
    user = tmp_path / "user"
    user.mkdir()
    (user / "photos-cache").write_text("mine")  # a name JAX's size cap would evict
    monkeypatch.setenv(backend.XLA_CACHE_ENV, str(user))
    assert backend.xla_cache_dir() is None
    assert sorted(p.name for p in user.iterdir()) == ["photos-cache"]
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(backend.XLA_CACHE_ENV, str(empty))
    assert backend.xla_cache_dir() == str(empty)  # an empty folder becomes nnrun's: marked
    assert sorted(p.name for p in empty.iterdir()) == [backend.XLA_CACHE_MARK]
    assert backend.xla_cache_dir() == str(empty)


def test_no_cache_inside_a_run_directory_and_tilde_is_home(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "xor"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")
    monkeypatch.setenv(backend.XLA_CACHE_ENV, str(run / "xla"))
    assert backend.xla_cache_dir() is None and not (run / "xla").exists()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(backend.XLA_CACHE_ENV, "~/xla")
    assert backend.xla_cache_dir() == str(tmp_path / "home" / "xla")


def _train(runs: Path, cache: str) -> tuple[str, Path]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NNRUN_BACKEND", "KERAS_BACKEND", "JAX_COMPILATION_CACHE_DIR")}
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), NNRUN_XLA_CACHE=cache)
    proc = subprocess.run([sys.executable, "-c", TRAIN, str(runs)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen, run_dir = proc.stdout.strip().splitlines()[-2:]
    return seen.removeprefix("cache="), Path(run_dir)


def test_a_run_from_the_cache_equals_a_compiled_one_bit_for_bit(tmp_path):
    pytest.importorskip("jax", reason="JAX is not installed (pip install 'nnrun[jax]')")
    import keras

    cache = tmp_path / "xla"
    seen_cold, cold = _train(tmp_path / "cold", str(cache))
    entries = sorted(p.name for p in cache.iterdir() if p.name.endswith("-cache"))
    seen_warm, warm = _train(tmp_path / "warm", str(cache))
    assert seen_cold == seen_warm == str(cache)
    assert len(entries) >= 5  # build, train step, predict, metrics: every program, however quick to compile
    assert sorted(p.name for p in cache.iterdir() if p.name.endswith("-cache")) == entries  # all hits
    history = (cold / "history.csv").read_text()
    assert (warm / "history.csv").read_text() == history
    weights = [keras.models.load_model(r / "model.keras", compile=False).get_weights() for r in (cold, warm)]
    for a, b in zip(*weights, strict=True):  # the first process compiled every program, the second loaded them
        np.testing.assert_array_equal(a, b)
