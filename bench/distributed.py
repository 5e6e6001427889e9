"""Throughput of ``nnrun train`` on one process vs two ``multi_worker`` processes on this machine (issue 17).

Generates a binary table (ROWS x FEATURES, label = sign of a linear score), trains the same MLP with the same
global batch: once in one process (the default single-device path, and ``steps_per_execution: 1`` as the
distributed loop runs one batch per call), then with two worker processes on 127.0.0.1. Prints a markdown
table: training seconds (the chief's ``train_seconds``), examples per second, final loss. Every program is its
own process; the data lives in a temporary directory removed afterwards.

    .venv/bin/python bench/distributed.py [--rows 20000] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_problem(folder: Path, rows: int, features: int, epochs: int) -> dict[str, Path]:
    """The CSV and the three configs (single, single at steps_per_execution 1, multi_worker)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features))
    y = (x @ rng.normal(size=features) > 0).astype(int)
    header = ",".join(f"f{i}" for i in range(features)) + ",label"
    np.savetxt(folder / "table.csv", np.column_stack([x, y]), delimiter=",", header=header, comments="",
               fmt=["%.5f"] * features + ["%d"])
    base = ("seed: 0\ndata: {path: table.csv, target: label}\nmodel:\n  layers:\n"
            "    - {type: Dense, units: 64, activation: relu}\n    - {type: Dense, units: 64, activation: relu}\n"
            "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n"
            f"  optimizer: adam\ntraining:\n  epochs: {epochs}\n  batch_size: 256\n")
    configs = {"1 process": "", "1 process, steps_per_execution 1": "  steps_per_execution: 1\n",
               "2 workers (multi_worker)": "  distribute: {strategy: multi_worker, timeout: 600}\n"}
    paths = {}
    for i, (label, extra) in enumerate(configs.items()):
        paths[label] = folder / f"c{i}.yaml"
        paths[label].write_text(f"name: c{i}\n" + base + extra)
    return paths


def train(config: Path, runs: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--runs-dir", str(runs), "--json",
                             "--quiet", "--no-plots", *extra], env=env, cwd=config.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def outcome(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{err}")
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnrun-bench-dist-") as tmp:
        folder = Path(tmp)
        configs = write_problem(folder, args.rows, args.features, args.epochs)
        rows = []
        for label, config in configs.items():
            wall = time.perf_counter()
            if "workers" in label:
                ports = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
                procs = [train(config, folder / f"runs{i}", "--cluster", ports, "--task-index", str(i))
                         for i in (0, 1)]
                result = [outcome(p) for p in procs][0]
            else:
                result = outcome(train(config, folder / "runs"))
            wall = time.perf_counter() - wall
            train_rows = args.rows * args.epochs
            rows.append(f"| {label} | {result['train_seconds']:.1f} | {train_rows / result['train_seconds']:,.0f} "
                        f"| {wall:.1f} | {result['metrics']['loss']:.4f} |")
        load = os.getloadavg()[0]
        print(f"{args.rows:,} x {args.features} table, MLP 64-64, batch 256, {args.epochs} epochs; "
              f"1-minute load average at the end: {load:.1f} on {os.cpu_count()} cores\n")
        print("| run | training s | examples/s | command wall s | final loss |\n|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
