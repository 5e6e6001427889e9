"""``make bench``: nnrun against the plain Keras scripts it replaces, side by side, on this machine.

Runs the sections of docs/benchmarks.md (ORDER below; "streaming" and "backends" live in bench/streaming.py and
bench/backends.py, bench/distributed.py stays a script of its own), each program in its own process (its own
TensorFlow import),
nnrun and its baseline interleaved, repeated, summarised by median and spread. Writes bench/results.json
(every raw measurement) and the generated part of docs/benchmarks.md (between its ``bench:begin`` /
``bench:end`` markers; the text around them is kept).

    .venv/bin/python bench/run.py                  # the full suite (what `make bench` runs)
    .venv/bin/python bench/run.py --quick          # smaller sizes and fewer repeats: a smoke run
    .venv/bin/python bench/run.py --only xor,startup
    .venv/bin/python bench/run.py --only streaming,backends   # sections 8 and 9 (make bench-jax: backends)
    .venv/bin/python bench/run.py --report-only    # regenerate docs/benchmarks.md from results.json

Generated data and runs go to a temporary directory that is removed at the end (``--keep-tmp`` keeps it).
Timings are never asserted by tests: a machine's load changes them; this prints and records them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backends  # noqa: E402 (bench/backends.py: JAX vs TensorFlow, issue 20)
import report  # noqa: E402
import sections  # noqa: E402
import serve  # noqa: E402 (bench/serve.py: nnrun serve's latency, also a script of its own)
import streaming  # noqa: E402 (bench/streaming.py: streamed training, issue 16)
from harness import ROOT, machine  # noqa: E402

SIZES = {
    "full": {
        "startup_repeats": 7, "tf_repeats": 3,
        "xor_cli_runs": 3, "xor_baseline_seeds": [0, 1], "xor_baseline_epochs": 1000, "xor_equal_settings": True,
        "table_rows": 200_000,
        "overhead_epochs": 2, "overhead_batch": 256, "overhead_spe": 1, "overhead_repeats": 6, "overhead_rounds": 10,
        "phases": True,
        "defaults_epochs": 2, "defaults_repeats": 2,
        "lever_rows": 20_000, "lever_epochs": 3, "lever_rounds": 3, "fresh_lever_rounds": 2,
        "all_levers": True, "quick_levers": [],
        "narrow_features": 10, "predict_rows": [1_000_000, 2_000_000], "predict_repeats": 1, "predict_timeout": 900,
        "scaling_rows": [10_000, 100_000, 1_000_000], "scaling_widths": [16, 64, 256, 1024],
        "scaling_epochs": 3, "scaling_batch": 256, "scaling_script": True,
        "serve_requests": 500, "serve_predict_repeats": 3,
        "stream_rows": [2_000_000, 4_000_000], "stream_memory_rows": [1_000_000, 2_000_000],
        "stream_shard_rows": 250_000, "stream_rounds": 2, "stream_timeout": 1800,
        "backends_rounds": 2, "backends_rows": 50_000, "backends_seed_epochs": 1000,
        "backends_configs": ["iris", "pima", "banknote", "ionosphere", "wine_quality", "digits_cnn"],
        "backends_config_timeout": 240,
    },
    "quick": {
        "startup_repeats": 3, "tf_repeats": 1,
        "xor_cli_runs": 1, "xor_baseline_seeds": [0], "xor_baseline_epochs": 100, "xor_equal_settings": False,
        "table_rows": 100_000,
        "overhead_epochs": 1, "overhead_batch": 256, "overhead_spe": 1, "overhead_repeats": 1, "overhead_rounds": 2,
        "phases": False,
        "defaults_epochs": 2, "defaults_repeats": 1,
        "lever_rows": 20_000, "lever_epochs": 2, "lever_rounds": 1, "fresh_lever_rounds": 0, "all_levers": False,
        "quick_levers": ["default", "steps_per_execution=1", "jit_compile", "per-example pipeline"],
        "narrow_features": 10, "predict_rows": [100_000, 200_000], "predict_repeats": 1, "predict_timeout": 600,
        "scaling_rows": [10_000, 30_000, 300_000], "scaling_widths": [16, 64, 256],
        "scaling_epochs": 3, "scaling_batch": 256, "scaling_script": False,
        "serve_requests": 100, "serve_predict_repeats": 1,
        "stream_rows": [100_000, 200_000], "stream_memory_rows": [100_000, 200_000],
        "stream_shard_rows": 25_000, "stream_rounds": 1, "stream_timeout": 600,
        "backends_rounds": 1, "backends_rows": 5_000, "backends_seed_epochs": 100,
        "backends_configs": ["iris"], "backends_config_timeout": 300,
    },
}
ORDER = ["startup", "xor", "overhead", "defaults", "predict", "scaling", "serve", "streaming", "backends"]
# Sections that live in modules of their own (bench/serve.py, bench/streaming.py, bench/backends.py).
OWN_MODULE = {"serve": serve.serve, "streaming": streaming.streaming, "backends": backends.backends}


def _git() -> dict:
    """The code measured: HEAD and the files that differ from it (read-only git commands)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "--short", "HEAD"),
            "modified": [line[3:] for line in git("status", "--porcelain", "--", "nnrun").splitlines()]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", default=",".join(ORDER), help=f"comma-separated sections: {','.join(ORDER)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--keep-tmp", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    # hidden: override one size, KEY=JSON (e.g. stream_rows=[20000,40000]): smaller test runs of the harness
    parser.add_argument("--size", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.report_only:
        report.write(json.loads(args.out.read_text()), args.doc)
        print(f"wrote {args.doc}", file=sys.stderr)
        return 0
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(ORDER))
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    mode = "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    for item in args.size:
        key, _, value = item.partition("=")
        if key not in sizes:
            parser.error(f"--size {key}: not a size of {mode} mode")
        sizes[key] = json.loads(value)
    mode += "+sizes" if args.size else ""  # recorded: not the standard sizes
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    meta = {"mode": mode, "sizes": sizes, "machine": machine(), "code": _git(), "started": now}
    if args.out.exists() and set(only) != set(ORDER):  # a partial rerun replaces those sections only
        results = json.loads(args.out.read_text())
        meta["sections"] = only
        results["meta"].setdefault("reruns", []).append(meta)
    else:
        results = {"meta": meta, "sections": {}}
    tmp = Path(tempfile.mkdtemp(prefix="nnrun-bench-"))
    ctx = sections.Context(tmp=tmp, size=sizes)
    start = time.perf_counter()
    failed = []
    try:
        for name in [s for s in ORDER if s in only]:
            ctx.log(f"[{name}] ({time.perf_counter() - start:.0f} s so far, load {os.getloadavg()[0]:.1f})")
            t0, load0, code = time.perf_counter(), os.getloadavg()[0], _git()
            try:
                data = OWN_MODULE[name](ctx) if name in OWN_MODULE else getattr(sections, name)(ctx)
            except Exception as exc:  # record it, go on with the other sections
                data = {"error": f"{type(exc).__name__}: {exc}"}
                failed.append(name)
                ctx.log(f"  FAILED: {data['error'][:2000]}")
                previous = results["sections"].get(name)
                if previous and "error" not in previous:  # a failed rerun keeps the last good measurement
                    previous["rerun_error"] = {"error": data["error"], "at": now}
                    data = previous
            if "rerun_error" not in data:
                data["seconds"] = time.perf_counter() - t0
                data["load_avg_1min"] = [load0, os.getloadavg()[0]]
                data["mode"] = mode
                data["measured"] = now
                data["code"] = code
            results["sections"][name] = data
            meta["seconds"] = time.perf_counter() - start
            meta["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n")
            report.write(results, args.doc)
    finally:
        if args.keep_tmp:
            ctx.log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ctx.log(f"done in {time.perf_counter() - start:.0f} s: {args.out}, {args.doc}")
    print(report.headline(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
