"""``nnrun serve`` latency: one row and 1,000 rows per request over keep-alive connections, with 1 and with 8
concurrent clients, against ``nnrun predict`` per call (a process, a TensorFlow import and a model load each).

    .venv/bin/python bench/serve.py                 # standalone: trains iris in a temporary dir, prints a table
    .venv/bin/python bench/serve.py --requests 100  # fewer requests
    .venv/bin/python bench/run.py --only serve      # as a section of make bench (results.json, benchmarks.md)

The server runs in its own process (``nnrun serve RUN --port 0``); the clients are threads of this process, each
with its own ``httpx.Client`` (one keep-alive connection), sending pre-encoded bodies. Latency is measured by
the client, from sending a request to having read its answer; the first requests of each case are warm-up and
not counted. A failure is any answer other than 200, or an error on the connection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, run  # noqa: E402

ROW = [5.1, 3.5, 1.4, 0.2]
WARMUP = 10


def _percentiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    at = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return {"n": len(ms), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": ms[-1],
            "mean_ms": statistics.fmean(ms)}


def _client(port: int, body: bytes, count: int, out: list, failures: list) -> None:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for i in range(count + WARMUP):
            start = time.perf_counter()
            try:
                answer = http.post("/predict", content=body, headers={"content-type": "application/json"})
                answer.read()
                ok = answer.status_code == 200
            except Exception as exc:  # noqa: BLE001 (a failed request is counted, not raised)
                ok, answer = False, exc
            took = time.perf_counter() - start
            if not ok:
                failures.append(str(getattr(answer, "status_code", answer)))
            elif i >= WARMUP:
                out.append(took)


def _case(port: int, rows: int, clients: int, requests: int) -> dict:
    """``clients`` threads, each sending ``requests`` bodies of ``rows`` rows, one after another."""
    body = json.dumps({"rows": [ROW] * rows}).encode()
    latencies: list[float] = []
    failures: list[str] = []
    threads = [threading.Thread(target=_client, args=(port, body, requests, latencies, failures))
               for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"rows": rows, "clients": clients, "body_bytes": len(body), "failed": len(failures),
            "failures": failures[:5], "requests_per_s": clients * (requests + WARMUP) / wall,
            **_percentiles(latencies)}


def _start(run_dir: Path) -> tuple[subprocess.Popen, int, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    proc = subprocess.Popen([PYTHON, "-m", "nnrun", "serve", str(run_dir), "--port", "0"], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
    if found is None:
        proc.kill()
        raise RuntimeError(f"nnrun serve did not start: {line}{proc.stderr.read()}")
    return proc, int(found[1]), time.perf_counter() - start


def _predict_calls(run_dir: Path, tmp: Path, rows: int, repeats: int) -> dict:
    path = tmp / f"rows_{rows}.json"
    path.write_text(json.dumps([ROW] * rows))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    walls = []
    for _ in range(repeats):
        m = run([PYTHON, "-m", "nnrun", "predict", str(run_dir), "--input", str(path), "--format", "json"], env=env)
        if m.rc != 0:
            raise RuntimeError(f"nnrun predict failed: {m.stderr[-2000:]}")
        walls.append(m.wall)
    return {"rows": rows, "repeats": repeats, "median_s": statistics.median(walls), "walls_s": walls}


def measure(tmp: Path, requests: int = 300, predict_repeats: int = 3, run_dir: Path | None = None) -> dict:
    """Every case; ``requests`` one-row requests per client (a tenth as many of 1,000 rows)."""
    if run_dir is None:
        m = run([PYTHON, "-m", "nnrun", "train", "configs/iris.yaml", "--runs-dir", str(tmp / "runs"), "--json",
                 "--quiet", "--no-plots"], env={**os.environ, "PYTHONPATH": str(ROOT)})
        if m.rc != 0:
            raise RuntimeError(f"nnrun train failed: {m.stderr[-2000:]}")
        run_dir = Path(m.json["run_dir"])
    proc, port, ready = _start(run_dir)
    try:
        cases = [_case(port, rows, clients, requests if rows == 1 else max(5, requests // 10))
                 for rows in (1, 1000) for clients in (1, 8)]
    finally:
        proc.send_signal(signal.SIGTERM)
        stop_start = time.perf_counter()
        code = proc.wait(timeout=60)
        stopped = time.perf_counter() - stop_start
    predict = [_predict_calls(run_dir, tmp, rows, predict_repeats) for rows in (1, 1000)]
    return {"run": str(run_dir.name), "startup_s": ready, "stop_s": stopped, "exit_code": code, "cases": cases,
            "predict": predict, "load_avg_1min": os.getloadavg()[0]}


def serve(ctx: object) -> dict:
    """The ``serve`` section of bench/run.py (``ctx``: its Context)."""
    return measure(ctx.dir("serve"), ctx.size["serve_requests"], ctx.size["serve_predict_repeats"])


def markdown(data: dict) -> list[str]:
    """The section of docs/benchmarks.md."""
    calls = {p["rows"]: p["median_s"] for p in data["predict"]}
    lines = ["## 7. Serve: `nnrun serve` over keep-alive vs `nnrun predict` per call", "",
             f"Run `{data['run']}`; the server was ready {data['startup_s']:.1f} s after its start and stopped "
             f"{data['stop_s']:.1f} s after SIGTERM (exit {data['exit_code']}). Load average at the end: "
             f"{data['load_avg_1min']:.1f}.", "",
             "| rows per request | clients | requests | p50 | p90 | p99 | max | requests/s | failed "
             "| `nnrun predict` per call |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in data["cases"]:
        lines.append(f"| {c['rows']:,} | {c['clients']} | {c['n']:,} | {c['p50_ms']:.1f} ms | {c['p90_ms']:.1f} ms | "
                     f"{c['p99_ms']:.1f} ms | {c['max_ms']:.1f} ms | {c['requests_per_s']:.0f} | {c['failed']} | "
                     f"{calls[c['rows']]:.1f} s |")
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="one-row requests per client (1,000-row: 1/10)")
    parser.add_argument("--predict-repeats", type=int, default=3)
    parser.add_argument("--run", type=Path, default=None, help="a trained run (default: train configs/iris.yaml)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "serve.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnrun-bench-serve-") as tmp:
        data = measure(Path(tmp), args.requests, args.predict_repeats, args.run)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print("\n".join(markdown(data)))
    return 1 if any(c["failed"] for c in data["cases"]) or data["exit_code"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
