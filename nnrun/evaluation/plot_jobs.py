"""The report's plots as jobs, drawn off the command's critical path.

A command that writes a report (``train``, ``evaluate``) opens a ``session`` first thing, before Keras is
imported: with plots on and two CPUs or more, it starts the plot worker (``plot_worker``, a separate process:
matplotlib is imported and the plots are drawn on the other core, where a thread would share the GIL). The
stages hand it jobs as soon as their data exist (``learning_curves`` right after ``fit``; the confusion matrix
and ROC curve after the predictions) and ``collect`` waits for a run's plots just before its report is written:
when ``evaluate_model`` returns, the plots are on disk, as before.

Without a session (``--no-plots``, one CPU, a library caller, a ``tune`` trial) ``Inline`` draws the same jobs
in this process at ``collect``, in the same order. A plot that fails raises from ``collect`` either way, with
the error the drawing raised; a worker that died or could not start is replaced by drawing here.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnrun.evaluation.plot_worker import CURVES, draw

#: Seconds ``close`` waits for the worker to finish the plot it is drawing before it is killed.
CLOSE_TIMEOUT = 30.0

_ACTIVE: list[Worker] = []  # the session's worker (at most one: a nested session reuses it)


class Inline:
    """Plot jobs drawn in this process, at ``collect``, in the order they were submitted."""

    def __init__(self) -> None:
        self.jobs: dict[int, tuple[Path, str, dict]] = {}
        self.seen: set[tuple[Path, str]] = set()
        self.count = 0

    def submit(self, run: Path, kind: str, **args: Any) -> None:
        """Queue one job (``plot_worker.CURVES``, ``CONFUSION`` or ``ROC`` with its arguments) for ``run``."""
        job_id, self.count = self.count, self.count + 1
        self.jobs[job_id] = (_key(run), kind, args)
        self.seen.add((_key(run), kind))
        self.send(job_id)

    def send(self, job_id: int) -> None:
        """Hand a queued job to whoever draws it (here: nobody until ``collect``)."""

    def submitted(self, run: Path, kind: str) -> bool:
        """A job of this kind was submitted for ``run`` (collected or not)."""
        return (_key(run), kind) in self.seen

    def collect(self, run: Path) -> list[Path]:
        """Wait for (or draw) ``run``'s jobs; the files written, in submission order.

        Raises:
            RunError, ValueError, …: the first job that failed, as its drawing raised it.
        """
        written: list[Path] = []
        for job_id in sorted(i for i, job in self.jobs.items() if job[0] == _key(run)):
            names = self.result(job_id)
            del self.jobs[job_id]
            written += [Path(run) / name for name in names]
        return written

    def result(self, job_id: int) -> list[str]:
        """Draw one job here; its files' names."""
        run, kind, args = self.jobs[job_id]
        return draw(kind, run, args)


class Worker(Inline):
    """Plot jobs drawn by the plot worker process; any job it cannot answer (it died) is drawn here."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__()
        self.proc = proc
        self.replies: dict[int, tuple[list[str] | None, BaseException | None]] = {}
        self.broken = False

    @classmethod
    def start(cls) -> Worker | None:
        """Start the worker (None when it cannot be started: the jobs are then drawn here)."""
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # this nnrun, whatever sys.path the caller has
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "nnrun.evaluation.plot_worker"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        except (OSError, ValueError):
            return None
        return cls(proc)

    def send(self, job_id: int) -> None:
        """Write the job to the worker's stdin (a worker gone: it is drawn here at ``collect``)."""
        if self.broken:
            return
        run, kind, args = self.jobs[job_id]
        try:
            pickle.dump((job_id, kind, str(run), args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except OSError:
            self.broken = True

    def result(self, job_id: int) -> list[str]:
        """The worker's reply to one job (waiting for it); drawn here when the worker cannot answer."""
        while job_id not in self.replies and not self.broken:
            try:
                reply_id, names, error = pickle.load(self.proc.stdout)
            except Exception:  # EOF or a cut reply: the worker died
                self.broken = True
                break
            self.replies[reply_id] = (names, error)
        if job_id not in self.replies:
            return super().result(job_id)
        names, error = self.replies.pop(job_id)
        if error is not None:
            raise error
        return names or []

    def close(self) -> None:
        """End the worker: close its input; with every job collected, stop it at once (it may still be importing
        matplotlib after a command that failed early, and has nothing to write); else wait for it to finish the
        plot it is drawing (never half a file), killing it if it hangs."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if not self.jobs:
            self.proc.kill()
        try:
            self.proc.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@contextmanager
def session(plots: bool) -> Iterator[Worker | None]:
    """Around a command that writes a report: with ``plots`` and two CPUs or more, a plot worker for its jobs
    (``current``), closed at the end (after waiting for the plot it may be drawing). Yields the worker or None.
    """
    if not plots or _ACTIVE or cpus() < 2:
        yield _ACTIVE[0] if plots and _ACTIVE else None
        return
    worker = Worker.start()
    if worker is None:
        yield None
        return
    _ACTIVE.append(worker)
    try:
        yield worker
    finally:
        _ACTIVE.remove(worker)
        worker.close()


def current() -> Inline:
    """The session's worker, or a new ``Inline`` when no session is open."""
    return _ACTIVE[0] if _ACTIVE else Inline()


def learning_curves(run: Path, history: dict[str, list[float]], best_epoch: int | None) -> None:
    """Hand the learning curves of ``run`` to the session's worker as soon as ``fit`` ended (no session: nothing
    now; ``evaluate_model`` draws them from history.csv)."""
    if _ACTIVE and history:
        _ACTIVE[0].submit(run, CURVES, history=history, best_epoch=best_epoch)


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _key(run: Path) -> Path:
    """``run`` as an absolute path: the jobs' key, and what the worker is sent (its working directory may
    differ in meaning from ours only if we chdir; absolute paths never do)."""
    return Path(run).resolve()
