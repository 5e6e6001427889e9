"""nnrun.evaluation.plot_jobs and plot_worker: the report's plots drawn by a worker process, off the critical
path, with today's guarantees (files there and valid when the command ends, the same failures, no orphan)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnrun import rundir
from nnrun.errors import RunError
from nnrun.evaluation import plot_jobs, plot_worker
from tests.conftest import ROOT, invoke

TRAIN_PLOTS = ["learning_curves_loss.png", "learning_curves_accuracy.png", "confusion_matrix.png", "roc_curve.png"]
two_cpus = pytest.mark.skipif(plot_jobs.cpus() < 2, reason="the plot worker starts with two CPUs or more")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails unless the file is a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if alive(c)]


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_train_writes_the_plots_as_before(xor_run):
    """conftest's xor run went through the worker (two CPUs): the same four files, valid PNGs of the same size,
    listed in evaluation.json and report.md, no temporary file left, status completed."""
    doc = rundir.read_json(xor_run / rundir.EVALUATION)
    assert doc["plots"] == TRAIN_PLOTS
    assert sorted(p.name for p in xor_run.glob("*.png")) == sorted(TRAIN_PLOTS)
    assert {png_size(xor_run / name) for name in TRAIN_PLOTS} == {(660, 495)}
    report = (xor_run / rundir.REPORT).read_text()
    assert all(f"({name})" in report for name in TRAIN_PLOTS)
    assert rundir.read_json(xor_run / rundir.RUN)["status"] == "completed"
    assert rundir.temp_files(xor_run) == []


def test_evaluate_draws_the_plots_of_each_evaluation(xor_run, tmp_path):
    run = shutil.copytree(xor_run, tmp_path / "xor")
    for name in TRAIN_PLOTS:
        (run / name).unlink()
    result = invoke("evaluate", run, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["plots"] == TRAIN_PLOTS
    assert {png_size(run / name) for name in TRAIN_PLOTS} == {(660, 495)}
    (tmp_path / "xor.csv").write_text("x0,x1,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    result = invoke("evaluate", run, "--data", tmp_path / "xor.csv", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["plots"] == ["confusion_matrix-xor.png", "roc_curve-xor.png"]
    assert png_size(run / "roc_curve-xor.png") == (660, 495)
    assert rundir.temp_files(run) == []


@two_cpus
def test_worker_draws_what_inline_draws_byte_for_byte(tmp_path):
    history = {"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.5]}
    y = np.array([0, 1, 1, 0, 1])
    for where in ("inline", "worker"):
        (tmp_path / where).mkdir()
    inline = plot_jobs.Inline()
    with plot_jobs.session(True) as worker:
        assert isinstance(worker, plot_jobs.Worker) and plot_jobs.current() is worker
        for plotter, where in ((inline, "inline"), (worker, "worker")):
            run = tmp_path / where
            plotter.submit(run, plot_worker.CURVES, history=history, best_epoch=2)
            plotter.submit(run, plot_worker.ROC, name="roc.png", positive=y, scores=np.linspace(0.1, 0.9, 5),
                           auc=0.5, positive_class="yes")
        assert [p.name for p in worker.collect(tmp_path / "worker")] == ["learning_curves_loss.png", "roc.png"]
    assert [p.name for p in inline.collect(tmp_path / "inline")] == ["learning_curves_loss.png", "roc.png"]
    for name in ("learning_curves_loss.png", "roc.png"):
        assert (tmp_path / "worker" / name).read_bytes() == (tmp_path / "inline" / name).read_bytes()
    assert worker.proc.returncode is not None  # ended with the session


@two_cpus
def test_a_failed_plot_raises_in_the_parent_as_inline_does(tmp_path):
    """The worker's error comes back as itself (a RunError, a ValueError), and the run's later plots are skipped
    as they are today (the first failure stops them)."""
    missing = tmp_path / "gone"
    with plot_jobs.session(True) as worker:
        worker.submit(missing, plot_worker.CONFUSION, name="cm.png", cm=[[1, 0], [0, 1]], classes=[0, 1])
        worker.submit(missing, plot_worker.CONFUSION, name="cm2.png", cm=[[1, 0], [0, 1]], classes=[0, 1])
        worker.submit(tmp_path, plot_worker.CONFUSION, name="bad.png", cm=[[1, 0]], classes=[0, 1])
        with pytest.raises(RunError, match=r"gone/cm\.png: cannot write: no directory .*gone"):
            worker.collect(missing)
        with pytest.raises(ValueError, match=r"^cm: expected shape \(2, 2\), got \(1, 2\)"):
            worker.collect(tmp_path)
        assert worker.replies.get(1) == (None, None)  # cm2.png: skipped after cm.png failed
    inline = plot_jobs.Inline()
    inline.submit(missing, plot_worker.CONFUSION, name="cm.png", cm=[[1, 0], [0, 1]], classes=[0, 1])
    with pytest.raises(RunError, match=r"gone/cm\.png: cannot write: no directory .*gone"):
        inline.collect(missing)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape.png", "sub/cm.png", ".."])
def test_the_worker_writes_only_bare_names_in_the_run_directory(tmp_path, name):
    with pytest.raises(ValueError, match="is not a file name in the run directory"):
        plot_worker.draw(plot_worker.CONFUSION, tmp_path, {"name": name, "cm": [[1]], "classes": [0]})


@two_cpus
def test_a_dead_worker_is_replaced_by_drawing_here(tmp_path):
    with plot_jobs.session(True) as worker:
        worker.proc.kill()
        worker.proc.wait()
        worker.submit(tmp_path, plot_worker.CONFUSION, name="cm.png", cm=[[3, 1], [0, 2]], classes=["a", "b"])
        assert worker.collect(tmp_path) == [tmp_path / "cm.png"]
    assert png_size(tmp_path / "cm.png") == (660, 495)


def test_no_plots_or_one_cpu_starts_no_worker(tmp_path, monkeypatch):
    def refuse() -> None:
        raise AssertionError("a plot worker was started")

    monkeypatch.setattr(plot_jobs.Worker, "start", refuse)
    with plot_jobs.session(False) as worker:
        assert worker is None and type(plot_jobs.current()) is plot_jobs.Inline
    monkeypatch.setattr(plot_jobs, "cpus", lambda: 1)
    with plot_jobs.session(True) as worker:
        assert worker is None
    result = invoke("train", ROOT / "configs" / "xor.yaml", "--runs-dir", tmp_path, "--no-plots", "--quiet", "--json",
                    "--set", "training.epochs=2")
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    assert list(run.glob("*.png")) == [] and rundir.read_json(run / rundir.EVALUATION)["plots"] == []


@two_cpus
def test_the_worker_dies_with_its_parent(tmp_path):
    """``kill -9`` of the command mid-run: its plot worker sees the end of its input and exits in seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(ROOT / "configs" / "xor.yaml"), "--quiet",
                             "--runs-dir", str(tmp_path), "--set", "training.epochs=100000", "--set", "backend=jax"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "xor" / rundir.HISTORY).exists():  # training has started: mid-run
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        workers = [c for c in children(proc.pid)
                   if b"nnrun.evaluation.plot_worker" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while alive(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(workers[0])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
