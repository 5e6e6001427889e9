"""Measuring helpers for bench/run.py: subprocesses with wall time and peak memory, statistics, the
machine's description, generated tables and configs. No TensorFlow import here (each measured program
imports its own).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
NNRUN = str(BIN / "nnrun")


@dataclass
class Measured:
    """One finished subprocess.

    Attributes:
        argv: the command.
        wall: wall time from spawn to exit, seconds (time.perf_counter).
        max_rss_mb: peak resident set size of the process, MiB (``ru_maxrss`` from ``os.wait4``).
        cpu: user + system CPU seconds of the process (all its threads).
        rc: exit status (negative: killed by that signal; 124: timed out).
        stdout, stderr: captured output.
        load: 1-minute load average when the process ended (others' work on the machine shows here).
    """

    argv: list[str]
    wall: float
    max_rss_mb: float
    cpu: float
    rc: int
    stdout: str
    stderr: str
    load: float
    records: list[dict] = field(default_factory=list)

    @property
    def json(self) -> dict:
        """The last JSON document on stdout (the probe and the baselines print one line each)."""
        if not self.records:
            raise RuntimeError(f"no JSON on stdout of {' '.join(self.argv)} (rc {self.rc}):\n{self.stderr[-2000:]}")
        return self.records[-1]


def _json_docs(text: str) -> list[dict]:
    """Every JSON object on stdout: one per line, or one indented document (``nnrun --json``)."""
    docs = []
    for line in text.splitlines():
        if line.startswith("{") and line.rstrip().endswith("}"):
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if not docs and text.strip().startswith("{"):
        try:
            docs.append(json.loads(text))
        except json.JSONDecodeError:
            pass
    return docs


def run(argv: list[str], env: dict | None = None, timeout: float | None = None, cwd: Path = ROOT) -> Measured:
    """Run ``argv`` to completion; measure its wall time and peak RSS.

    stdout/stderr go to temporary files (no pipe back-pressure); ``os.wait4`` returns the child's own
    resource usage, so the peak RSS is this process's, not the harness's.
    """
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env, cwd=cwd)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = 124 << 8
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    m = Measured(argv, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, proc.returncode, stdout, stderr,
                 os.getloadavg()[0])
    m.records = _json_docs(stdout)
    return m


def summary(values: list[float]) -> dict:
    """Median, min, max and spread ((max - min) / median) of repeated measurements."""
    values = [float(v) for v in values]
    if not values:
        return {"n": 0}
    med = statistics.median(values)
    return {"n": len(values), "median": med, "min": min(values), "max": max(values),
            "spread": (max(values) - min(values)) / med if med else 0.0, "values": values}


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = "unknown"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "avx512": "avx512f" in flags,
        "memory_gib": round(mem_gb, 1),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow"),
        "keras": version("keras"),
        "numpy": version("numpy"),
        "pandas": version("pandas"),
        "nnrun": version("nnrun"),
        "platform": platform.platform(),
        "load_at_start": os.getloadavg(),
    }


def make_table(path: Path, rows: int, features: int, seed: int = 0) -> Path:
    """Write a CSV with a header ``f0..f{features-1},y``: Gaussian features, a 0/1 target that needs a
    hidden layer (an interaction, a sine and a linear part, plus 10% label noise)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    w = rng.standard_normal(features).astype(np.float32) / np.sqrt(features)
    score = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2 % features]) + x @ w
    y = (score > 0).astype(np.int64)
    flip = rng.random(rows) < 0.1
    y[flip] = 1 - y[flip]
    header = ",".join([f"f{j}" for j in range(features)] + ["y"])
    with open(path, "w") as fh:
        fh.write(header + "\n")
        chunk = 50_000
        for i in range(0, rows, chunk):
            block = np.column_stack([x[i:i + chunk], y[i:i + chunk]])
            fmt = ",".join(["%.5f"] * features + ["%d"])
            np.savetxt(fh, block, fmt=fmt)
    return path


def mlp_config(
    path: Path, data: Path, units: list[int], training: dict, name: str = "table", lr: float = 0.001
) -> Path:
    """Write an nnrun config: Dense(relu) per ``units`` entry, a sigmoid head, binary cross-entropy, Adam."""
    layers = "\n".join(f"    - {{type: Dense, units: {u}, activation: relu}}" for u in units)
    train = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in training.items())
    path.write_text(
        f"name: {name}\nseed: 0\ndata:\n  path: {data}\n  header: true\n  target: y\nmodel:\n  layers:\n{layers}\n"
        f"    - {{type: Dense, units: 1, activation: sigmoid}}\n  loss: binary_crossentropy\n"
        f"  optimizer: {{type: adam, learning_rate: {lr}}}\n  metrics: [accuracy]\n"
        + (f"training:\n{train}\n" if training else "")
    )
    return path
