"""Bench section "Backends": nnrun on JAX against nnrun on TensorFlow and the plain scripts, side by side.

Each program runs in its own process (its own backend import), arms alternate in every round; timings are
medians over the rounds, with the machine's load recorded. Writes bench/jax_results.json and prints the
Markdown tables of docs/benchmarks.md's "Backends" section.

    .venv/bin/python bench/jax_backend.py --rounds 2 --rows 50000           # ~15 min on 2 busy cores
    .venv/bin/python bench/jax_backend.py --only predict,xor

Parts: ``xor`` (the whole ``nnrun train configs/xor.yaml`` per backend, and the seed script), ``seeds`` (XOR
4/4 on JAX for seeds 0-9, one process), ``mlp`` (section 2's settings: nnrun and the plain Keras script on
both backends, plus nnrun's steady epoch on JAX against bench/xla_limit.py), ``predict`` (one-row predict of
an iris run), ``configs`` (every shipped config that qualifies, trained on both backends: the metric).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, make_table, mlp_config, run  # noqa: E402

PY = sys.executable
BACKENDS = ("tensorflow", "jax")
#: Shipped configs JAX can train (no text or categorical inputs), with the metric their table reports.
CONFIGS = ("xor", "seed_xor", "iris", "pima", "banknote", "ionosphere", "wine_quality", "digits_cnn")

# In-process probe: nnrun.api.train with a progress callback that stamps each epoch's end.
EPOCH_PROBE = r"""
import json, sys, time
from nnrun import api
stamps = []
doc = api.train(sys.argv[1], tuple(sys.argv[3:]), runs_dir=sys.argv[2], plots=False,
                progress=lambda e, n, logs: stamps.append(time.perf_counter()))
print(json.dumps({"epoch_seconds": [b - a for a, b in zip(stamps, stamps[1:])], "train_seconds": doc["train_seconds"]}))
"""

SEEDS_PROBE = r"""
import json, sys
from nnrun import api
correct = []
for seed in range(10):
    doc = api.train("configs/xor.yaml", ("backend=jax", f"seed={seed}"), runs_dir=sys.argv[1], plots=False)
    correct.append(round(doc["evaluation"]["metrics"]["accuracy"] * 4))
print(json.dumps({"correct": correct}))
"""


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def nnrun(*args: str) -> list[str]:
    return [PY, "-m", "nnrun", *args]


def xor_part(tmp: Path, rounds: int) -> dict:
    """The whole ``nnrun train configs/xor.yaml`` on each backend, and the classic seed script (TensorFlow)."""
    out: dict = {b: [] for b in (*BACKENDS, "seed_script")}
    for r in range(rounds):
        for b in BACKENDS:
            m = run(nnrun("train", "configs/xor.yaml", "--set", f"backend={b}", "--runs-dir", str(tmp / f"xor-{b}"),
                          "--json", "--quiet"))
            out[b].append({"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb, "load": m.load,
                           "train_seconds": m.json["train_seconds"],
                           "accuracy": m.json["evaluation"]["metrics"]["accuracy"]})
        m = run([PY, "bench/baselines/xor_classic.py", "--seed", str(r)])
        out["seed_script"].append({"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb, "load": m.load,
                                   "train_seconds": m.json["train_seconds"], "correct": m.json["correct"]})
    return out


def mlp_part(tmp: Path, rounds: int, rows: int) -> dict:
    """Section 2's MLP (Dense 64-64-1, batch 256, no shuffling, 3 epochs) in nnrun and the plain script, on
    each backend; nnrun's per-epoch times on JAX at steps_per_execution = an epoch; the fused XLA loop."""
    data = make_table(tmp / "table.csv", rows, 50)
    steps = -(-rows // 256)
    training = {"epochs": 3, "batch_size": 256, "shuffle": False, "validation_split": 0.0, "steps_per_execution": 1}
    config = mlp_config(tmp / "mlp.yaml", data, [64, 64], training)
    out: dict = {}
    for _ in range(rounds):
        for b in BACKENDS:
            m = run(nnrun("train", str(config), "--set", f"backend={b}", "--runs-dir", str(tmp / f"mlp-{b}"),
                          "--json", "--quiet", "--no-plots"))
            out.setdefault(f"nnrun-{b}", []).append({"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb,
                                                     "load": m.load, "train_seconds": m.json["train_seconds"],
                                                     "loss": m.json["metrics"].get("loss")})
            m = run([PY, "bench/baselines/keras_mlp.py", "--data", str(data), "--mode", "plain", "--epochs", "3",
                     "--batch-size", "256", "--shuffle", "false"], env={"KERAS_BACKEND": b})
            out.setdefault(f"plain-{b}", []).append({"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb,
                                                     "load": m.load, "train_seconds": m.json["train_seconds"],
                                                     "loss": m.json["history"]["loss"][-1]})
    m = run([PY, "-c", EPOCH_PROBE, str(config), str(tmp / "mlp-epochs"), "backend=jax", "training.epochs=4",
             f"training.steps_per_execution={steps}"])
    out["nnrun-jax-epochs"] = m.json
    m = run([PY, "bench/xla_limit.py", "--rows", str(rows), "--epochs", "4"])
    out["xla_limit"] = m.json
    return out


def predict_part(tmp: Path, rounds: int) -> dict:
    """One-row ``nnrun predict`` of an iris run (trained on TensorFlow) on each backend."""
    m = run(nnrun("train", "configs/iris.yaml", "--runs-dir", str(tmp / "iris"), "--json", "--quiet", "--no-plots"))
    run_dir = m.json["run_dir"]
    row = tmp / "one.csv"
    row.write_text("5.1,3.5,1.4,0.2\n")
    out: dict = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for b in BACKENDS:
            m = run(nnrun("predict", run_dir, "--input", str(row), "--backend", b))
            out[b].append({"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb, "load": m.load, "rc": m.rc,
                           "output": m.stdout.strip().splitlines()[-1] if m.stdout.strip() else m.stderr[-300:]})
    return out


def configs_part(tmp: Path, names: tuple[str, ...] = CONFIGS) -> dict:
    """Every shipped config JAX can train, on both backends: the evaluation's headline metric."""
    out: dict = {}
    for name in names:
        for b in BACKENDS:
            m = run(nnrun("train", f"configs/{name}.yaml", "--set", f"backend={b}", "--runs-dir",
                          str(tmp / f"cfg-{b}"), "--json", "--quiet", "--no-plots"), timeout=900)
            doc = m.json if m.records else {}
            metrics = (doc.get("evaluation") or {}).get("metrics", {})
            key = "accuracy" if "accuracy" in metrics else next(iter(metrics), None)
            out.setdefault(name, {})[b] = {"wall": m.wall, "train_seconds": doc.get("train_seconds"), "rc": m.rc,
                                           "metric": key, "value": metrics.get(key),
                                           "subset": (doc.get("evaluation") or {}).get("subset")}
    return out


def seeds_part(tmp: Path) -> dict:
    return run([PY, "-c", SEEDS_PROBE, str(tmp / "seeds")]).json


def _cell(runs: list[dict], key: str, unit: str = " s", digits: int = 2) -> str:
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return "—"
    return f"{med(values):.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f}, n={len(values)})"


def _ratio(a: list[dict], b: list[dict], key: str) -> str:
    pairs = [x[key] / y[key] for x, y in zip(a, b, strict=False) if x.get(key) and y.get(key)]
    return f"{med(pairs):.2f} ({min(pairs):.2f}–{max(pairs):.2f})" if pairs else "—"


def _shown(arm: dict) -> str:
    return f"{arm['value']:.4f}" if arm.get("value") is not None else f"failed (rc {arm['rc']})"


def report(results: dict) -> str:
    """The Markdown tables of the "Backends" section."""
    lines: list[str] = []
    rows = [("wall", "whole command, wall", " s", 1), ("cpu", "process CPU (user + system)", " s", 1),
            ("train_seconds", "training time (`fit`)", " s", 2), ("rss", "peak RSS", " MB", 0)]
    if "xor" in results:
        x = results["xor"]
        lines += ["| `nnrun train configs/xor.yaml` | JAX | TensorFlow | seed script (TF) | JAX / TF | JAX / seed |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {label} | {_cell(x['jax'], k, u, d)} | {_cell(x['tensorflow'], k, u, d)} | "
                  f"{_cell(x['seed_script'], k, u, d)} | {_ratio(x['jax'], x['tensorflow'], k)} | "
                  f"{_ratio(x['jax'], x['seed_script'], k)} |" for k, label, u, d in rows]
        lines.append("")
    if "seeds" in results:
        lines += [f"XOR on JAX, seeds 0–9, points correct of 4: {results['seeds']['correct']}", ""]
    if "mlp" in results:
        m = results["mlp"]
        arms = ("nnrun-jax", "nnrun-tensorflow", "plain-jax", "plain-tensorflow")
        lines += ["| section-2 MLP | " + " | ".join(arms) + " | nnrun-jax / plain-tensorflow |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {label} | " + " | ".join(_cell(m[a], k, u, d) for a in arms)
                  + f" | {_ratio(m['nnrun-jax'], m['plain-tensorflow'], k)} |" for k, label, u, d in rows]
        lines += ["| final training loss | " + " | ".join(f"{m[a][0]['loss']:.6f}" for a in arms) + " | |", ""]
        epochs = m["nnrun-jax-epochs"]["epoch_seconds"]
        limit = m["xla_limit"]["steady_epoch_seconds"]
        steady = med(epochs[1:]) if len(epochs) > 1 else float("nan")
        lines += [f"Steady epoch, nnrun on JAX at steps_per_execution = one epoch: {steady:.3f} s (epochs after the "
                  f"first: {', '.join(f'{e:.3f}' for e in epochs)}); fused XLA loop (bench/xla_limit.py): "
                  f"{limit:.3f} s; ratio {steady / limit:.2f}.", ""]
    if "predict" in results:
        p = results["predict"]
        lines += ["| one-row `nnrun predict` (iris run) | JAX | TensorFlow | JAX / TF |", "|---|---|---|---|"]
        lines += [f"| {label} | {_cell(p['jax'], k, u, d)} | {_cell(p['tensorflow'], k, u, d)} | "
                  f"{_ratio(p['jax'], p['tensorflow'], k)} |" for k, label, u, d in rows if k != "train_seconds"]
        lines.append("")
    if "configs" in results:
        lines += ["| config | metric (subset) | TensorFlow | JAX | train s TF | train s JAX |",
                  "|---|---|---|---|---|---|"]
        for name, arms in results["configs"].items():
            tf, jx = arms["tensorflow"], arms["jax"]
            lines.append(f"| {name} | {tf.get('metric')} ({tf.get('subset')}) | {_shown(tf)} | {_shown(jx)} | "
                         f"{tf.get('train_seconds')} | {jx.get('train_seconds')} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--only", default="xor,seeds,mlp,predict,configs")
    parser.add_argument("--out", default=str(ROOT / "bench" / "jax_results.json"))
    parser.add_argument("--configs", default=",".join(CONFIGS), help="the configs part's configs")
    parser.add_argument("--report-only", action="store_true", help="print the tables of --out's results")
    args = parser.parse_args()
    results: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    if args.report_only:
        print(report(results))
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        parts = {"xor": lambda: xor_part(tmp, args.rounds), "seeds": lambda: seeds_part(tmp),
                 "mlp": lambda: mlp_part(tmp, args.rounds, args.rows),
                 "predict": lambda: predict_part(tmp, args.rounds),
                 "configs": lambda: configs_part(tmp, tuple(args.configs.split(",")))}
        for name in args.only.split(","):
            results[name] = parts[name]()
            Path(args.out).write_text(json.dumps(results, indent=1))
            print(f"{name} done", file=sys.stderr, flush=True)
    print(report(results))


if __name__ == "__main__":
    main()
