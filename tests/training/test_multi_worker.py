"""training.distribute multi_worker (issue 17): two `nnrun train` worker processes on 127.0.0.1.

Each test starts real processes (a cluster needs one per worker) with a time limit; the tiny problem of
test_distribute keeps them short.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke
from tests.training.test_distribute import LIMIT_S, finished, start_train, tiny_config


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (bound, read, released)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def cluster_args(ports: list[int], index: int) -> list[str]:
    return ["--cluster", ",".join(f"127.0.0.1:{p}" for p in ports), "--task-index", str(index)]


MULTI = "  distribute: {strategy: multi_worker, timeout: 60}\n"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> dict:
    """The tiny config trained by 2 workers (both given runs/) and by one process (single/) side by side."""
    tmp = tmp_path_factory.mktemp("multi")
    ports = free_ports(2)
    config = tiny_config(tmp, "multi", MULTI)
    single = start_train(tiny_config(tmp, "single"), tmp / "single")
    workers = [start_train(config, tmp / "runs", *cluster_args(ports, i)) for i in (0, 1)]  # the same runs dir
    chief, err0 = finished(workers[0])
    other, err1 = finished(workers[1])
    return {"tmp": tmp, "config": config, "single": finished(single)[0], "chief": chief, "other": other,
            "err0": err0, "err1": err1}


def test_two_workers_train_like_one_process(pair):
    chief, other, single = pair["chief"], pair["other"], pair["single"]
    assert "distribute: multi_worker, 2 replicas in sync" in pair["err0"]
    assert "(2 workers, this is task 0)" in pair["err0"]
    assert chief["metrics"]["loss"] == pytest.approx(single["metrics"]["loss"], rel=1e-3)
    assert chief["metrics"]["accuracy"] == pytest.approx(single["metrics"]["accuracy"], rel=1e-3)
    assert other["run_dir"] is None and other["worker"] == 1
    assert other["metrics"]["loss"] == pytest.approx(chief["metrics"]["loss"], rel=1e-6)  # the same global model
    run = Path(chief["run_dir"])
    assert {"model.keras", "history.csv", "metrics.json", "run.json", "report.md", "evaluation.json",
            "last.keras", "checkpoint.json"} <= {p.name for p in run.iterdir()}
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed"
    assert info["distribute"]["strategy"] == "multi_worker" and info["distribute"]["workers"] == 2
    assert len((run / "history.csv").read_text().splitlines()) == 4
    # the second worker kept nothing: the runs dir both were given holds the chief's run only (no multi-2)
    assert [p.name for p in (pair["tmp"] / "runs").iterdir()] == ["multi"]
    np.savez(pair["tmp"] / "rows.npz", x=np.random.default_rng(1).normal(size=(5, 4)))
    predicted = invoke("predict", run, "--input", pair["tmp"] / "rows.npz")
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.strip().splitlines()) == 6  # header + 5 rows


def test_resume_a_multi_worker_run(pair):
    run = Path(pair["chief"]["run_dir"])
    ports = free_ports(2)
    procs = [start_train(pair["config"], pair["tmp"] / "unused", "--resume", str(run), "--set",
                         "training.epochs=5", *cluster_args(ports, i)) for i in (0, 1)]
    # `--resume RUN` ignores --runs-dir; CONFIG must equal the run's: start_train passes it first
    outcomes = [finished(p)[0] for p in procs]
    assert outcomes[0]["epochs"] == 5 and outcomes[1]["epochs"] == 5
    assert len((run / "history.csv").read_text().splitlines()) == 6
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["resumed"][-1]["from_epoch"] == 3


def test_a_worker_that_never_joins_stops_the_other(tmp_path):
    config = tiny_config(tmp_path, "alone", "  distribute: {strategy: multi_worker, timeout: 15}\n")
    start = time.monotonic()
    chief = start_train(config, tmp_path / "runs", *cluster_args(free_ports(2), 0))
    _, err = chief.communicate(timeout=LIMIT_S)
    assert chief.returncode == 1, err
    assert "error: worker 0 of 2: no answer from the other workers for 15 s while " in err
    assert "a worker died or never joined" in err
    assert time.monotonic() - start < LIMIT_S


def test_killing_a_worker_stops_the_other_within_the_timeout(tmp_path):
    import subprocess

    config = tiny_config(tmp_path, "kill", "  distribute: {strategy: multi_worker, timeout: 20}\n")
    config.write_text(config.read_text().replace("epochs: 3", "epochs: 100000"))
    ports = free_ports(2)
    procs = [start_train(config, tmp_path / f"runs{i}", *cluster_args(ports, i)) for i in (0, 1)]
    history = tmp_path / "runs0" / "kill" / "history.csv"
    deadline = time.monotonic() + LIMIT_S
    while not (history.exists() and len(history.read_text().splitlines()) >= 3) and time.monotonic() < deadline:
        time.sleep(0.5)  # until the two have trained two epochs together
    procs[1].kill()
    killed = time.monotonic()
    try:
        _, err = procs[0].communicate(timeout=20 + 60)  # the timeout, and room for a loaded machine
    except subprocess.TimeoutExpired:
        procs[0].kill()
        pytest.fail("the chief did not stop after its worker was killed")
    assert procs[0].returncode == 1, err
    assert time.monotonic() - killed < 20 + 60
    assert "worker" in err and ("no answer from the other workers" in err or "training failed" in err), err
    info = json.loads((tmp_path / "runs0" / "kill" / "run.json").read_text())
    assert info["status"] == "failed" and info["error"]


def test_cluster_becomes_tf_config():
    from nnrun.training.cluster import tf_config

    assert json.loads(tf_config("10.0.0.1:2222, 10.0.0.2:2222", 1)) == {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}


def test_cluster_options_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = tiny_config(tmp_path, "opts", MULTI)
    alone = invoke("train", config, "--runs-dir", tmp_path / "runs", "--task-index", "1")
    assert alone.exit_code == 2 and "give --cluster and --task-index together" in alone.stderr
    no_port = invoke("train", config, "--runs-dir", tmp_path / "runs", "--cluster", "hostA,hostB", "--task-index", "0")
    assert no_port.exit_code == 2 and "--cluster: expected HOST:PORT,HOST:PORT,..., got 'hostA,hostB'" in no_port.stderr
    outside = invoke("train", config, "--runs-dir", tmp_path / "runs", "--cluster", "h:1,h:2", "--task-index", "2")
    assert outside.exit_code == 2 and "--task-index: expected 0 to 1" in outside.stderr
    unset = invoke("train", config, "--runs-dir", tmp_path / "runs")
    assert unset.exit_code == 2 and "multi_worker needs the cluster: set TF_CONFIG" in unset.stderr
    assert not (tmp_path / "runs").exists()


def test_cv_refuses_multi_worker(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = tiny_config(tmp_path, "refused", MULTI)
    cv = invoke("cv", config, "--runs-dir", tmp_path / "runs", "--folds", "2")
    assert cv.exit_code == 2
    assert cv.stderr.startswith(f"error: {config}:")
    assert ("training.distribute: multi_worker training is not supported for nnrun cv (only nnrun train on a table "
            "held in memory); use strategy: mirrored or remove training.distribute") in cv.stderr
    assert not (tmp_path / "runs").exists()
