"""``training.distribute: {strategy: multi_worker}``: the cluster (``TF_CONFIG``), the strategy, and a watchdog.

One ``nnrun train`` process runs per worker; TensorFlow finds the others in ``TF_CONFIG`` (``--cluster
HOST:PORT,... --task-index I`` writes it). Task 0 is the chief: it alone writes the run directory; the other
workers train into a temporary directory outside the runs directory, removed at the end (``worker_dir``).

A worker that dies or never joins must not leave the others waiting: collective operations time out after
``distribute.timeout`` seconds (``CommunicationOptions``), and a watchdog ends the process with exit 1 when
nothing progressed for that long (joining the cluster has no timeout of its own in TensorFlow).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnrun.errors import ConfigError, UsageError


def refuse_multi_worker(loaded: Any, what: str) -> None:
    """``what`` (``nnrun cv``, ``nnrun tune``, streamed data) does not run under ``strategy: multi_worker``.

    Raises:
        ConfigError: at ``training.distribute``, saying what to change.
    """
    dist = loaded.config.training.distribute
    if dist is not None and dist.strategy == "multi_worker":
        raise loaded.error(("training", "distribute"), f"multi_worker training is not supported for {what} (only "
                           "nnrun train on a table held in memory); use strategy: mirrored or remove "
                           "training.distribute")


def tf_config(cluster: str, task_index: int) -> str:
    """``TF_CONFIG`` for worker ``task_index`` of ``cluster`` (``HOST:PORT,HOST:PORT,...``).

    Example:
        >>> tf_config("10.0.0.1:2222,10.0.0.2:2222", 1)
        '{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}'

    Raises:
        UsageError: an address without a port, or an index outside the cluster.
    """
    hosts = [h.strip() for h in cluster.split(",") if h.strip()]
    bad = [h for h in hosts if not h.rpartition(":")[2].isdigit()]
    if not hosts or bad:
        raise UsageError(f"--cluster: expected HOST:PORT,HOST:PORT,..., got {cluster!r}")
    if not 0 <= task_index < len(hosts):
        raise UsageError(f"--task-index: expected 0 to {len(hosts) - 1} (one per --cluster address), got "
                         f"{task_index}")
    return json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": task_index}})


def cluster_task() -> tuple[int, int]:
    """(workers, this task's index) from ``TF_CONFIG``.

    Raises:
        ConfigError: ``TF_CONFIG`` is missing or not a cluster with a worker task.
    """
    raw = os.environ.get("TF_CONFIG")
    try:
        doc = json.loads(raw or "")
        workers = doc["cluster"].get("worker", []) + doc["cluster"].get("chief", [])
        index = int(doc["task"]["index"]) + (1 if doc["task"]["type"] == "worker" and "chief" in doc["cluster"]
                                             else 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError("training.distribute.strategy: multi_worker needs the cluster: set TF_CONFIG, or give "
                          "--cluster HOST:PORT,HOST:PORT --task-index I", hint="README, 'More than one device'"
                          ) from None
    return len(workers), index


#: The watchdog's messenger: a small process reading the worker's beats ("beat <what next>", "run <dir>") on
#: its stdin; when faulthandler's timeout dump arrives there instead, it prints the error line and marks the
#: chief's run failed (the worker itself is then exiting with status 1).
_MESSENGER = r"""
import sys
label, timeout = sys.argv[1], sys.argv[2]
doing, run = "joining the cluster", None
for line in sys.stdin:
    kind, _, text = line.rstrip("\n").partition(" ")
    if kind == "beat":
        doing = text
    elif kind == "run":
        run = text
    elif kind == "stop":
        sys.exit(0)
    elif line.startswith("Timeout"):
        message = (f"{label}: no answer from the other workers for {timeout} s while {doing} "
                   "(training.distribute.timeout); a worker died or never joined")
        if run:
            from pathlib import Path
            from nnrun import rundir
            info = rundir.read_json(Path(run) / rundir.RUN)
            if info.get("status") == "running":
                info.update(status="failed", error=message)
                rundir.write_json(Path(run) / rundir.RUN, info)
        sys.stderr.write(f"error: {message}\n")
        sys.exit(0)
"""


class Watchdog:
    """Ends the process with exit 1 and a clear message when ``beat`` was not called for ``timeout`` seconds.

    A Python thread cannot do it: TensorFlow holds the GIL while it waits for a missing worker. So the timer
    is ``faulthandler.dump_traceback_later(exit=True)`` (a C thread: it calls ``_exit(1)``), its dump goes
    into a pipe to the messenger process (``_MESSENGER``), which prints the message instead of the dump.
    """

    def __init__(self, timeout: float, label: str) -> None:
        import faulthandler
        import subprocess

        self.timeout = timeout
        self.messenger = subprocess.Popen([sys.executable, "-c", _MESSENGER, label, f"{timeout:g}"],
                                          stdin=subprocess.PIPE, text=True)
        self.faulthandler = faulthandler
        self.beat("joining the cluster")

    def send(self, line: str) -> None:
        """One line to the messenger (lost if it is gone: the timer still ends the process)."""
        try:
            self.messenger.stdin.write(line + "\n")
            self.messenger.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def beat(self, doing: str) -> None:
        """Progress was made; ``doing`` names what comes next (for the message). Re-arms the timer."""
        self.send(f"beat {doing}")
        self.faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.messenger.stdin)

    def watch_run(self, run_dir: Any) -> None:
        """The chief's run directory: marked failed on a timeout."""
        if run_dir is not None:
            self.send(f"run {run_dir}")

    def stop(self) -> None:
        """Stop watching (training ended)."""
        self.faulthandler.cancel_dump_traceback_later()
        self.send("stop")


def multi_worker_placement(dist: Any) -> Any:
    """MultiWorkerMirroredStrategy over the cluster of ``TF_CONFIG``, with its collectives' timeout and a
    watchdog (``Placement.watchdog``). Must run before TensorFlow first runs an op in this process."""
    import tensorflow as tf

    from nnrun.training.devices import Placement

    workers, index = cluster_task()
    watchdog = Watchdog(dist.timeout, f"worker {index} of {workers}")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=dist.timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    watchdog.beat("building the model")
    where = Placement("multi_worker", strategy.num_replicas_in_sync, list(strategy.extended.worker_devices),
                      strategy, workers)
    where.task_index, where.watchdog = index, watchdog
    return where


@contextmanager
def worker_runs_dir(where: Any, runs_dir: Path) -> Iterator[Path]:
    """``runs_dir`` on the chief; on another worker a temporary directory outside it, removed afterwards
    (TensorFlow's collectives need every worker to train, save checkpoints and evaluate alike; only the
    chief's files are kept)."""
    if where.chief:
        yield runs_dir
        return
    tmp = Path(tempfile.mkdtemp(prefix=f"nnrun-worker{where.task_index}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def worker_copy(where: Any, run_dir: Path) -> Iterator[Path]:
    """``run_dir`` on the chief; on another worker a temporary copy of it (its checkpoint to resume from,
    without the chief's lock), removed afterwards: a worker never writes into the chief's run."""
    if where.chief:
        yield run_dir
        return
    from nnrun import rundir

    with worker_runs_dir(where, run_dir.parent) as tmp:
        copy = tmp / run_dir.name
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(rundir.LOCK))
        yield copy


def as_worker(where: Any, outcome: dict) -> dict:
    """The outcome of ``train``/``resume`` as this worker reports it: a worker other than the chief kept no
    files (``run_dir`` is None, ``worker`` its task index)."""
    if where.chief:
        return outcome
    return {**outcome, "run_dir": None, "worker": where.task_index}
