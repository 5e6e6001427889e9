"""Streaming training benchmark (issue 16): peak RSS of one streamed epoch as the data grows, epoch time streamed vs
in memory, rows/s of the learning pass. Writes bench/streaming.json; the figures go into docs/benchmarks.md by hand.

Data: generated, 20 numeric + 2 categorical columns and a binary target, in shards of ``--shard-rows`` rows, as
CSV and as Parquet. Every training is its own process (``python -m nnrun train … --json --quiet --no-plots``);
peak RSS and CPU time come from ``os.wait4`` for that child alone.

    .venv/bin/python bench/streaming.py --sizes 2000000,4000000            # about 40 min on 2 busy cores
    .venv/bin/python bench/streaming.py --sizes 200000,400000 --keep DIR   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """name: {name}
seed: 0
data: {{path: '{path}', target: y, normalize: true, streaming: {streaming}, categorical: [c0, c1]}}
model:
  layers:
    - {{type: Dense, units: 32, activation: relu}}
    - {{type: Dense, units: 1, activation: sigmoid}}
  loss: binary_crossentropy
  optimizer: {{type: adam, learning_rate: 0.001}}
  metrics: [accuracy]
training: {{epochs: 1, batch_size: 1024, validation_split: 0.1}}
"""


def generate(folder: Path, rows: int, shard_rows: int, seed: int = 0) -> None:
    """``rows`` rows in CSV and Parquet shards under ``folder/csv`` and ``folder/parquet``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=20)
    (folder / "csv").mkdir(parents=True, exist_ok=True)
    (folder / "parquet").mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        x = rng.normal(size=(n, 20)).astype(np.float32).round(4)
        cols = {f"n{j}": x[:, j] for j in range(20)}
        c0 = rng.choice(np.array([f"city_{i}" for i in range(50)]), size=n)
        c1 = rng.choice(np.array(["red", "green", "blue", "grey"]), size=n)
        y = ((x @ weights + (c1 == "red") * 2 + rng.normal(size=n)) > 0).astype(np.int64)
        table = pa.table({**cols, "c0": c0, "c1": c1, "y": y})
        pcsv.write_csv(table, folder / "csv" / f"part-{k:04d}.csv")
        pq.write_table(table, folder / "parquet" / f"part-{k:04d}.parquet")


def measure(config: Path, runs: Path) -> dict:
    """One ``nnrun train`` process: wall seconds, training seconds, peak RSS (MiB), CPU seconds."""
    args = [sys.executable, "-m", "nnrun", "train", str(config), "--runs-dir", str(runs), "--json", "--quiet",
            "--no-plots"]
    out_file, err_file = runs.parent / "stdout.json", runs.parent / "stderr.txt"
    start = time.perf_counter()
    with out_file.open("wb") as out, err_file.open("wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS and CPU time
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{config}: exit {os.waitstatus_to_exitcode(status)}\n{err_file.read_text()[-2000:]}")
    out = out_file.read_text()
    result = json.loads(out)
    return {"wall_s": round(wall, 2), "train_s": result["train_seconds"],
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


def learning_pass(folder: Path, fmt: str) -> dict:
    """Rows/s of the learning pass alone (in this process)."""
    sys.path.insert(0, str(ROOT))
    from nnrun.config.schema import DataConfig
    from nnrun.data.readers import ReadOptions
    from nnrun.data.shards import find_shards
    from nnrun.data.stream_spec import learn

    data = DataConfig(path="x", target="y", normalize=True, categorical=["c0", "c1"])
    shards = find_shards(folder / fmt, None)
    start = time.perf_counter()
    learnt = learn(shards, data, ReadOptions(), (0.1, 0.0, 0), True)
    seconds = time.perf_counter() - start
    rows = sum(learnt.rows)
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000000,4000000", help="row counts, comma-separated")
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--in-memory", default="", help="sizes (comma-separated) also trained in memory; "
                        "default: the smallest")
    parser.add_argument("--keep", type=Path, help="keep the data and runs in this folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    in_memory = [int(s) for s in args.in_memory.split(",") if s] or sizes[:1]
    work = args.keep or Path(tempfile.mkdtemp(prefix="nnrun-stream-bench-"))
    results: dict = {"sizes": sizes, "shard_rows": args.shard_rows, "runs": [], "learning_pass": []}
    try:
        for n in sizes:
            folder = work / f"data-{n}"
            if not (folder / "parquet").exists():
                generate(folder, n, args.shard_rows)
            for fmt in ("parquet", "csv"):
                size = sum(p.stat().st_size for p in (folder / fmt).iterdir())
                results["learning_pass"].append({"format": fmt, **learning_pass(folder, fmt)})
                modes = ["true", "false"] if n in in_memory else ["true"]
                for streaming in modes:
                    config = work / f"{fmt}-{n}-{streaming}.yaml"
                    config.write_text(CONFIG.format(name=f"{fmt}-{n}-{streaming}", path=folder / fmt / "*",
                                                    streaming=streaming))
                    row = {"rows": n, "format": fmt, "bytes": size, "streaming": streaming == "true",
                           **measure(config, work / "runs")}
                    results["runs"].append(row)
                    print(json.dumps(row), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    (ROOT / "bench" / "streaming.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["learning_pass"]))


if __name__ == "__main__":
    main()
