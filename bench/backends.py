"""Section "backends" of bench/run.py (issue 20): nnrun on JAX against nnrun on TensorFlow and the plain scripts.

Each program runs in its own process (its own backend import), arms alternate in every round; timings are
medians over the rounds (``backends_rounds``), ratios the medians of the per-round ratios.

Parts: ``xor`` (the whole ``nnrun train configs/xor.yaml`` per backend, and the seed script
bench/baselines/xor_classic.py), ``seeds`` (XOR 4/4 on JAX for seeds 0-9, one process), ``mlp`` (section 2's
settings: nnrun and the plain Keras script on both backends, plus nnrun's steady epoch on JAX against the fused
XLA loop of bench/xla_limit.py), ``predict`` (one-row predict of an iris run), ``configs`` (every shipped config
that qualifies, trained on both backends: the metric; a config past ``backends_config_timeout`` is recorded as
timed out).

    .venv/bin/python bench/run.py --only backends [--quick]      # (make bench-jax is this)
"""

from __future__ import annotations

import statistics
from pathlib import Path

from harness import PYTHON, make_table, mlp_config, run

BACKENDS = ("tensorflow", "jax")
# The targets: a ratio's upper bound, or an absolute bound in seconds.
TARGETS = {"xor_jax_wall_s": 2.5, "xor_jax_vs_seed": 0.1, "mlp_jax_vs_plain_tf": 0.5, "steady_vs_xla": 2.0,
           "predict_jax_wall_s": 2.5, "nnrun_vs_plain_same_backend": 1.05, "accuracy_band": 0.05}

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


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def nnrun(*args: str) -> list[str]:
    return [PYTHON, "-m", "nnrun", *args]


def _arm(m, **extra) -> dict:
    return {"wall": m.wall, "cpu": m.cpu, "rss": m.max_rss_mb, "load": m.load, "rc": m.rc, **extra}


def xla_cache(tmp: Path) -> dict:
    """The environment that gives nnrun's JAX processes the part's own XLA cache (nnrun.backend.use_xla_cache):
    empty at the part's first run (``jax_cold``: everything compiles), filled for the timed rounds (what a CI
    script calling nnrun again sees), and never the user's ~/.cache."""
    return {"NNRUN_XLA_CACHE": str(tmp / "xla")}


def xor_part(tmp: Path, rounds: int, seed_epochs: int) -> dict:
    """The whole ``nnrun train configs/xor.yaml`` on each backend, and the classic seed script (TensorFlow); first
    one JAX run with an empty XLA cache (``jax_cold``)."""
    out: dict = {b: [] for b in (*BACKENDS, "seed_script", "jax_cold")}
    for r in range(rounds + 1):
        for b in ("jax",) if r == 0 else BACKENDS if r % 2 else BACKENDS[::-1]:
            m = run(nnrun("train", "configs/xor.yaml", "--set", f"backend={b}", "--runs-dir", str(tmp / f"xor-{b}"),
                          "--json", "--quiet"), env=xla_cache(tmp))
            if r == 0:
                out["jax_cold"].append(_arm(m, train_seconds=m.json["train_seconds"]))
                continue
            out[b].append(_arm(m, train_seconds=m.json["train_seconds"],
                               accuracy=m.json["evaluation"]["metrics"]["accuracy"]))
        if r == 0:
            continue
        m = run([PYTHON, "bench/baselines/xor_classic.py", "--seed", str(r - 1), "--epochs", str(seed_epochs)])
        out["seed_script"].append(_arm(m, train_seconds=m.json["train_seconds"], correct=m.json["correct"]))
    out["seed_epochs"] = seed_epochs
    return out


def mlp_part(tmp: Path, rounds: int, rows: int) -> dict:
    """Section 2's MLP (Dense 64-64-1, batch 256, no shuffling, 3 epochs) in nnrun and the plain script, on
    each backend; nnrun's per-epoch times on JAX at steps_per_execution = an epoch; the fused XLA loop."""
    data = make_table(tmp / "table.csv", rows, 50)
    steps = -(-rows // 256)
    training = {"epochs": 3, "batch_size": 256, "shuffle": False, "validation_split": 0.0, "steps_per_execution": 1}
    config = mlp_config(tmp / "mlp.yaml", data, [64, 64], training)
    out: dict = {"rows": rows}
    run(nnrun("train", str(config), "--set", "backend=jax", "--runs-dir", str(tmp / "mlp-warmup"), "--quiet",
              "--no-plots"), env=xla_cache(tmp))  # untimed: fills the XLA cache, as an earlier command would
    for r in range(rounds):
        for b in BACKENDS if r % 2 == 0 else BACKENDS[::-1]:
            m = run(nnrun("train", str(config), "--set", f"backend={b}", "--runs-dir", str(tmp / f"mlp-{b}"),
                          "--json", "--quiet", "--no-plots"), env=xla_cache(tmp))
            out.setdefault(f"nnrun-{b}", []).append(_arm(m, train_seconds=m.json["train_seconds"],
                                                          loss=m.json["metrics"].get("loss")))
            m = run([PYTHON, "bench/baselines/keras_mlp.py", "--data", str(data), "--mode", "plain", "--epochs", "3",
                     "--batch-size", "256", "--shuffle", "false"], env={"KERAS_BACKEND": b})
            out.setdefault(f"plain-{b}", []).append(_arm(m, train_seconds=m.json["train_seconds"],
                                                          loss=m.json["history"]["loss"][-1]))
    m = run([PYTHON, "-c", EPOCH_PROBE, str(config), str(tmp / "mlp-epochs"), "backend=jax", "training.epochs=4",
             f"training.steps_per_execution={steps}"])
    out["nnrun-jax-epochs"] = m.json
    out["xla_limit"] = run([PYTHON, "bench/xla_limit.py", "--rows", str(rows), "--epochs", "4"]).json
    return out


def predict_part(tmp: Path, rounds: int) -> dict:
    """One-row ``nnrun predict`` of an iris run (trained on TensorFlow) on each backend."""
    m = run(nnrun("train", "configs/iris.yaml", "--runs-dir", str(tmp / "iris"), "--json", "--quiet", "--no-plots"))
    run_dir = m.json["run_dir"]
    row = tmp / "one.csv"
    row.write_text("5.1,3.5,1.4,0.2\n")
    out: dict = {b: [] for b in (*BACKENDS, "jax_cold")}
    for r in range(rounds + 1):
        for b in ("jax",) if r == 0 else BACKENDS if r % 2 else BACKENDS[::-1]:
            m = run(nnrun("predict", run_dir, "--input", str(row), "--backend", b), env=xla_cache(tmp))
            shown = m.stdout.strip().splitlines()[-1] if m.stdout.strip() else m.stderr[-300:]
            out["jax_cold" if r == 0 else b].append(_arm(m, output=shown))
    return out


def configs_part(tmp: Path, names: list[str], timeout: float) -> dict:
    """Every shipped config JAX can train, on both backends: the evaluation's headline metric."""
    out: dict = {}
    for name in names:
        for b in BACKENDS:
            m = run(nnrun("train", f"configs/{name}.yaml", "--set", f"backend={b}", "--runs-dir",
                          str(tmp / f"cfg-{b}"), "--json", "--quiet", "--no-plots"), timeout=timeout)
            doc = m.json if m.records else {}
            metrics = (doc.get("evaluation") or {}).get("metrics", {})
            key = "accuracy" if "accuracy" in metrics else next(iter(metrics), None)
            out.setdefault(name, {})[b] = {"wall": m.wall, "train_seconds": doc.get("train_seconds"), "rc": m.rc,
                                           "timed_out": m.rc == 124, "timeout": timeout, "metric": key,
                                           "value": metrics.get(key),
                                           "subset": (doc.get("evaluation") or {}).get("subset")}
    return out


def backends(ctx: object) -> dict:
    """The section (``ctx``: bench/run.py's Context; sizes ``backends_*`` of its SIZES)."""
    s, tmp = ctx.size, ctx.dir("backends")
    rounds = s["backends_rounds"]
    parts = {"xor": lambda: xor_part(tmp, rounds, s["backends_seed_epochs"]),
             "seeds": lambda: run([PYTHON, "-c", SEEDS_PROBE, str(tmp / "seeds")]).json,
             "mlp": lambda: mlp_part(tmp, rounds, s["backends_rows"]),
             "predict": lambda: predict_part(tmp, rounds),
             "configs": lambda: configs_part(tmp, s["backends_configs"], s["backends_config_timeout"])}
    out: dict = {}
    for name, part in parts.items():
        ctx.log(f"  {name}")
        try:
            out[name] = part()
        except Exception as exc:  # a part that fails is recorded; the others still run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            ctx.log(f"  {name} FAILED: {out[name]['error'][:300]}")
    out["targets"] = targets(out)
    return out


def _pairs(a: list[dict], b: list[dict], key: str) -> list[float]:
    return [x[key] / y[key] for x, y in zip(a, b, strict=False) if x.get(key) and y.get(key)]


def _band(tf: dict, jx: dict) -> bool | None:
    """JAX's metric within the band of TensorFlow's: ±0.05 for accuracy, ±5 % of the value otherwise."""
    if tf.get("value") is None or jx.get("value") is None:
        return None
    width = TARGETS["accuracy_band"] * (1 if tf["metric"] == "accuracy" else abs(tf["value"]))
    return abs(jx["value"] - tf["value"]) <= width


def targets(data: dict) -> list[dict]:
    """Each target of the issue with its measured value: {what, value, unit ('×' or ' s'), target, pass}."""
    rows: list[dict] = []

    def add(what: str, values: list[float], unit: str, target: float) -> None:
        value = med(values)
        rows.append({"what": what, "value": value, "unit": unit, "target": target,
                     "pass": None if value is None else value <= target})

    x, m, p = data.get("xor", {}), data.get("mlp", {}), data.get("predict", {})
    if "jax" in x:
        add("`nnrun train configs/xor.yaml` on JAX, whole command", [r["wall"] for r in x["jax"]], " s",
            TARGETS["xor_jax_wall_s"])
        add(f"… / the seed script ({x['seed_epochs']} epochs), whole command",
            _pairs(x["jax"], x["seed_script"], "wall"), "×", TARGETS["xor_jax_vs_seed"])
    if "correct" in data.get("seeds", {}):
        correct = data["seeds"]["correct"]
        rows.append({"what": "XOR on JAX, seeds 0–9 with 4/4", "value": sum(c == 4 for c in correct), "unit": "/10",
                     "target": 10, "pass": all(c == 4 for c in correct)})
    if "nnrun-jax" in m:
        for key, label in (("train_seconds", "training time"), ("wall", "whole command")):
            add(f"MLP: nnrun on JAX / plain TF-Keras script, {label}",
                _pairs(m["nnrun-jax"], m["plain-tensorflow"], key), "×", TARGETS["mlp_jax_vs_plain_tf"])
        epochs = m["nnrun-jax-epochs"]["epoch_seconds"]
        steady = med(epochs[1:]) if len(epochs) > 1 else None
        limit = m["xla_limit"]["steady_epoch_seconds"]
        add("MLP: steady epoch on JAX / fused XLA loop (bench/xla_limit.py)", [steady / limit] if steady else [], "×",
            TARGETS["steady_vs_xla"])
        for b in BACKENDS:
            add(f"MLP: nnrun / plain script, both on {b}, whole command",
                _pairs(m[f"nnrun-{b}"], m[f"plain-{b}"], "wall"), "×", TARGETS["nnrun_vs_plain_same_backend"])
    if "jax" in p:
        add("one-row `nnrun predict` of the iris run on JAX, whole command",
            [r["wall"] for r in p["jax"] if r["rc"] == 0], " s", TARGETS["predict_jax_wall_s"])
    return rows


def _cell(runs: list[dict], key: str, unit: str = " s", digits: int = 2) -> str:
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return "—"
    text = f"{med(values):.{digits}f}{unit}"
    return text if len(values) == 1 else f"{text} ({min(values):.{digits}f}–{max(values):.{digits}f}, n={len(values)})"


def _ratio(a: list[dict], b: list[dict], key: str) -> str:
    pairs = _pairs(a, b, key)
    return "—" if not pairs else f"{med(pairs):.2f}" if len(pairs) == 1 else \
        f"{med(pairs):.2f} ({min(pairs):.2f}–{max(pairs):.2f})"


def _shown(arm: dict) -> str:
    if arm.get("timed_out"):
        return f"timed out ({arm['timeout']:.0f} s)"
    return f"{arm['value']:.4f}" if arm.get("value") is not None else f"failed (rc {arm['rc']})"


def verdict(row: dict) -> str:
    if row.get("timed_out"):
        return "timed out"
    return "–" if row["pass"] is None else ("**pass**" if row["pass"] else "**FAIL**")


ROWS = [("wall", "whole command, wall", " s", 1), ("cpu", "process CPU (user + system)", " s", 1),
        ("train_seconds", "training time (`fit`)", " s", 2), ("rss", "peak RSS", " MB", 0)]


def _shown_target(t: dict) -> tuple[str, str]:
    """A target row's measured value and its bound, as text."""
    if t["unit"] == "/10":
        return ("–" if t["value"] is None else f"{t['value']}/10"), f"{t['target']}/10"
    return ("–" if t["value"] is None else f"{t['value']:.2f}{t['unit']}"), f"≤ {t['target']}{t['unit']}"


def _targets_table(data: dict) -> list[str]:
    lines = ["| target | measured | target | verdict |", "|---|---|---|---|"]
    for t in data["targets"]:
        if t["target"] is None:
            continue
        shown, bound = _shown_target(t)
        lines.append(f"| {t['what']} | {shown} | {bound} | {verdict(t)} |")
    return [*lines, ""]


def _failed(name: str, part: dict) -> list[str]:
    return [f"Part `{name}` failed: `{part['error'][:500]}`", ""]


def _xor_md(x: dict) -> list[str]:
    lines = ["| `nnrun train configs/xor.yaml` | JAX | JAX, empty XLA cache | TensorFlow | seed script (TF) | JAX / TF "
             "| JAX / seed |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {label} | {_cell(x['jax'], k, u, d)} | {_cell(x.get('jax_cold', []), k, u, d)} | "
              f"{_cell(x['tensorflow'], k, u, d)} | "
              f"{_cell(x['seed_script'], k, u, d)} | {_ratio(x['jax'], x['tensorflow'], k)} | "
              f"{_ratio(x['jax'], x['seed_script'], k)} |" for k, label, u, d in ROWS]
    note = "" if x["seed_epochs"] == 1000 else \
        " (**not** the seed script's 1000: a quick run, so JAX / seed is not the target's ratio)"
    return [*lines, "", f"The seed script ran {x['seed_epochs']} epochs{note}.", ""]


def _mlp_md(m: dict) -> list[str]:
    arms = ("nnrun-jax", "nnrun-tensorflow", "plain-jax", "plain-tensorflow")
    lines = [f"Section 2's MLP on {m['rows']:,} × 50 rows, 3 epochs, batch 256, steps_per_execution 1, no shuffling:",
             "", "| section-2 MLP | " + " | ".join(arms) + " | nnrun-jax / plain-tensorflow |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {label} | " + " | ".join(_cell(m[a], k, u, d) for a in arms)
              + f" | {_ratio(m['nnrun-jax'], m['plain-tensorflow'], k)} |" for k, label, u, d in ROWS]
    lines += ["| final training loss | " + " | ".join(f"{m[a][0]['loss']:.6f}" for a in arms) + " | |", ""]
    epochs = m["nnrun-jax-epochs"]["epoch_seconds"]
    limit = m["xla_limit"]["steady_epoch_seconds"]
    steady = med(epochs[1:]) if len(epochs) > 1 else None
    shown = "–" if steady is None else f"{steady:.3f} s"
    return [*lines, f"Steady epoch, nnrun on JAX at steps_per_execution = one epoch: {shown} (epochs after the "
            f"first: {', '.join(f'{e:.3f}' for e in epochs)}); fused XLA loop (bench/xla_limit.py): {limit:.3f} s.", ""]


def _predict_md(p: dict) -> list[str]:
    lines = ["| one-row `nnrun predict` (iris run) | JAX | JAX, empty XLA cache | TensorFlow | JAX / TF |",
             "|---|---|---|---|---|"]
    lines += [f"| {label} | {_cell(p['jax'], k, u, d)} | {_cell(p.get('jax_cold', []), k, u, d)} | "
              f"{_cell(p['tensorflow'], k, u, d)} | "
              f"{_ratio(p['jax'], p['tensorflow'], k)} |" for k, label, u, d in ROWS if k != "train_seconds"]
    return [*lines, ""]


def _configs_md(c: dict) -> list[str]:
    lines = ["Shipped configs JAX can train, once per backend (`nnrun train --set backend=…`; the evaluation's "
             f"headline metric; band: ±{TARGETS['accuracy_band']} accuracy, ±{TARGETS['accuracy_band']:.0%} "
             "otherwise):",
             "", "| config | metric (subset) | TensorFlow | JAX | in band | train s TF | train s JAX |",
             "|---|---|---|---|---|---|---|"]
    for name, arms in c.items():
        tf, jx = arms["tensorflow"], arms["jax"]
        ok = _band(tf, jx)
        mark = "timed out" if tf["timed_out"] or jx["timed_out"] else "–" if ok is None else "yes" if ok else "**no**"
        train = lambda a: "–" if a.get("train_seconds") is None else f"{a['train_seconds']:.1f}"  # noqa: E731
        metric = tf.get("metric") or jx.get("metric")
        subset = tf.get("subset") or jx.get("subset")
        lines.append(f"| {name} | {metric or '–'}{f' ({subset})' if subset else ''} | "
                     f"{_shown(tf)} | {_shown(jx)} | {mark} | {train(tf)} | {train(jx)} |")
    return [*lines, ""]


def markdown(data: dict) -> list[str]:
    """The section of docs/benchmarks.md (generated)."""
    lines = ["## 9. Backends: nnrun on JAX vs TensorFlow vs the plain scripts (issue 20)", "",
             "Every program its own process; the arms alternate in every round; medians with (min–max, n); "
             "ratios are medians of the per-round ratios. CPU only. nnrun's JAX runs keep compiled programs in "
             "an XLA cache of the bench's own (README, Backends): the timed rounds find it filled by an earlier "
             "run, as a script calling nnrun again does; the first run, with an empty cache, is shown beside "
             "them.", "", *_targets_table(data)]
    render = {"xor": _xor_md, "mlp": _mlp_md, "predict": _predict_md, "configs": _configs_md}
    for name, part in data.items():
        if isinstance(part, dict) and "error" in part:
            lines += _failed(name, part)
        elif name in render:
            lines += render[name](part)
        elif name == "seeds":
            lines += [f"XOR on JAX, seeds 0–9, points correct of 4: {part['correct']}", ""]
    return lines


def headline(data: dict) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of the headline table: (comparison, nnrun, baseline, ratio, target, verdict)."""
    rows = []
    for t in data.get("targets", []):
        if t["target"] is None:
            continue
        shown, bound = _shown_target(t)
        rows.append((f"9. Backends: {t['what']}", shown if t["unit"] != "×" else "", "",
                     shown if t["unit"] == "×" else "", bound, verdict(t)))
    return rows
