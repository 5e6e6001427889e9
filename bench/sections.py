"""The six comparisons of ``make bench``. Each function takes the Context and returns plain data for
results.json; every number is measured here, by running nnrun and the baseline scripts as subprocesses
(each with its own TensorFlow import), interleaved so that the machine's other load hits both alike.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import NNRUN, PYTHON, ROOT, Measured, make_table, mlp_config, run, summary

BENCH = ROOT / "bench"
PROBE = str(BENCH / "probe_nnrun.py")
BASE = BENCH / "baselines"


@dataclass
class Context:
    """Where a bench run writes (a temporary directory), its sizes, and its log."""

    tmp: Path
    size: dict
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)
    tables: dict = field(default_factory=dict)

    def table(self, rows: int, features: int) -> Path:
        """A generated CSV (rows × features + a 0/1 target ``y``), written once per bench run."""
        key = (rows, features)
        if key not in self.tables:
            path = self.tmp / f"table_{rows}x{features}.csv"
            self.log(f"  generating {path.name}")
            self.tables[key] = make_table(path, rows, features, seed=rows + features)
        return self.tables[key]

    def dir(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _check(m: Measured, what: str) -> Measured:
    if m.rc != 0:
        raise RuntimeError(f"{what} failed (exit {m.rc}): {' '.join(m.argv)}\n{m.stderr[-3000:]}")
    return m


def _nnrun_train(ctx: Context, config: Path | str, runs: Path, *sets: str) -> Measured:
    argv = [NNRUN, "train", str(config), "--runs-dir", str(runs), "--json", "--quiet"]
    for s in sets:
        argv += ["--set", s]
    return _check(run(argv), "nnrun train")


def _probe(ctx: Context, *args: str, env: dict | None = None) -> list[dict]:
    m = _check(run([PYTHON, PROBE, *args], env=env), "bench/probe_nnrun.py")
    if len(m.records) == 1 and "error" in m.records[0]:
        raise RuntimeError(f"nnrun failed: {m.records[0]['error']}")
    return m.records


def _epochs(ends: list[float]) -> list[float]:
    """Per-epoch durations from cumulative epoch-end times."""
    return [b - a for a, b in zip([0.0, *ends], ends, strict=False)]


def _steady(ends: list[float]) -> float | None:
    """Median duration of the epochs after the first (the first also traces/compiles the step)."""
    durations = _epochs(ends)[1:]
    return statistics.median(durations) if durations else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# --------------------------------------------------------------------------------------- 4. start-up
def startup(ctx: Context) -> dict:
    """`nnrun --help`, `nnrun validate`, and `nnrun train`'s own cost beyond importing TensorFlow."""
    reps = ctx.size["startup_repeats"]
    variants = {
        # this machine's environment sets PYTHONDONTWRITEBYTECODE=1: nnrun's own modules (an editable
        # install) are compiled on every start; an ordinary install has their bytecode cached
        "bytecode_cached": {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(ctx.dir("pycache"))},
        "no_bytecode_cache": {"PYTHONDONTWRITEBYTECODE": "1"},
    }
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "nnrun --help": [NNRUN, "--help"],
        "nnrun validate configs/iris.yaml": [NNRUN, "validate", "configs/iris.yaml"],
    }
    out: dict = {"commands": {}}
    for variant, env in variants.items():
        for argv in commands.values():  # warm-up: file cache, and the bytecode cache where enabled
            run(argv, env=env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(reps):
            for name, argv in commands.items():
                walls[name].append(_check(run(argv, env=env), name).wall)
        out["commands"][variant] = {name: summary(v) for name, v in walls.items()}
    out["validate_imports"] = _import_profile(
        [PYTHON, "-X", "importtime", "-m", "nnrun", "validate", "configs/iris.yaml"], variants["bytecode_cached"])
    ctx.log("  TensorFlow import and train start-up")
    runs = ctx.dir("startup_runs")
    tf_import, nn, base = [], [], []
    pre = [PYTHON, str(BENCH / "pre_import.py")]
    for _ in range(ctx.size["tf_repeats"]):
        tf_import.append(_check(run([PYTHON, "-c", "import keras, tensorflow"]), "import").wall)
        m = _check(run([*pre, "nnrun", "train", "configs/xor.yaml", "--set", "training.epochs=1",
                        "--runs-dir", str(runs), "--json", "--quiet"]), "nnrun train")
        nn.append(_split(m, m.json["train_seconds"]))
        b = _check(run([*pre, str(BASE / "xor_classic.py"), "--epochs", "1"]), "xor_classic")
        base.append(_split(b, b.json["train_seconds"]))
    out["tf_import"] = summary(tf_import)
    out["train_1_epoch"] = {who: {k: summary([r[k] for r in rs]) for k in rs[0]}
                            for who, rs in (("nnrun", nn), ("script", base))}
    rec = _probe(ctx, "configs/xor.yaml", "--runs-dir", str(runs), "--set", "training.epochs=1", "--phases")[-1]
    out["train_phases"] = {"import_tf": rec["import_seconds"], **rec.get("phases", {}),
                           "process_until_done": rec["process_seconds"]}
    cached = out["commands"]["bytecode_cached"]
    out["targets"] = {
        "help_le_0.3s": cached["nnrun --help"]["median"] <= 0.3,
        "validate_le_0.5s": cached["nnrun validate configs/iris.yaml"]["median"] <= 0.5,
    }
    return out


def _split(m: Measured, train: float) -> dict:
    """A pre_import.py process's wall time: TF import (its own), training, and everything else."""
    tf = next(float(line.split("=", 1)[1]) for line in m.stderr.splitlines()
              if line.startswith("BENCH_TF_IMPORT_SECONDS="))
    return {"wall": m.wall, "tf_import": tf, "train": train, "beyond_tf": m.wall - tf - train, "rss_mb": m.max_rss_mb}


def _fit_cpu(m: Measured) -> float | None:
    """CPU seconds inside ``keras.Model.fit`` reported by pre_import.py (summed over fit calls)."""
    values = [float(line.rsplit("cpu=", 1)[1]) for line in m.stderr.splitlines() if line.startswith("BENCH_FIT ")]
    return sum(values) if values else None


def _import_profile(argv: list[str], env: dict) -> dict:
    """``python -X importtime``: cumulative seconds of the top-level imports and of nnrun's modules."""
    m = run(argv, env=env)
    out = {}
    for line in m.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and (not name.startswith("  ") or name.strip().startswith("nnrun")):
            out[name.strip()] = int(cumulative) / 1e6
    top = dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])
    return {"wall": m.wall, "top": top}


# ---------------------------------------------------------------------------------------------- 1. XOR
def xor(ctx: Context) -> dict:
    """configs/xor.yaml (seeds 0-9) against the classic 2-2-1 / batch 1 / 1000 epochs script."""
    seeds = list(range(10))
    ctx.log("  nnrun, seeds 0-9 in one process, each saved model checked on the 4 points")
    recs = _probe(ctx, "configs/xor.yaml", "--runs-dir", str(ctx.dir("xor_probe")),
                  "--seeds", ",".join(map(str, seeds)), "--xor-check")
    per_seed = [{"seed": r["seed"], "correct": r["correct"], "train_seconds": r["train_seconds"]} for r in recs]
    n_cli, base_seeds = ctx.size["xor_cli_runs"], ctx.size["xor_baseline_seeds"]
    base_epochs = ctx.size["xor_baseline_epochs"]
    cli, base = [], []
    for i in range(max(n_cli, len(base_seeds))):
        if i < n_cli:
            ctx.log(f"  nnrun train configs/xor.yaml --set seed={i}")
            m = _nnrun_train(ctx, "configs/xor.yaml", ctx.dir("xor_cli"), f"seed={i}")
            cli.append({"seed": i, "wall": m.wall, "train": m.json["train_seconds"], "rss_mb": m.max_rss_mb})
        if i < len(base_seeds):
            s = base_seeds[i]
            ctx.log(f"  classic script, seed {s}, {base_epochs} epochs")
            b = _check(run([PYTHON, str(BASE / "xor_classic.py"), "--seed", str(s), "--epochs", str(base_epochs)]),
                       "xor_classic")
            scale = 1000 / base_epochs
            base.append({"seed": s, "wall": b.wall, "train_measured": b.json["train_seconds"],
                         "train": b.json["train_seconds"] * scale, "correct": b.json["correct"],
                         "epochs": base_epochs, "rss_mb": b.max_rss_mb})
    out = {
        "nnrun_seeds": per_seed,
        "nnrun_cli": cli,
        "baseline": base,
        "baseline_extrapolated": base_epochs != 1000,
        "nnrun_train": summary([r["train"] for r in cli]),
        "nnrun_wall": summary([r["wall"] for r in cli]),
        "baseline_train": summary([r["train"] for r in base]),
        "baseline_wall": summary([r["wall"] for r in base]) if base_epochs == 1000 else None,
    }
    out["train_ratio"] = _ratio(out["nnrun_train"]["median"], out["baseline_train"]["median"])
    if ctx.size["xor_equal_settings"]:
        ctx.log("  nnrun train configs/seed_xor.yaml (the classic's own settings)")
        m = _nnrun_train(ctx, "configs/seed_xor.yaml", ctx.dir("xor_cli"))
        out["seed_xor"] = {"wall": m.wall, "train": m.json["train_seconds"],
                           "accuracy_last_epoch": m.json.get("metrics", {}).get("accuracy")}
        out["seed_xor"]["train_ratio"] = _ratio(m.json["train_seconds"], out["baseline_train"]["median"])
    out["targets"] = {
        "all_seeds_4_of_4": all(r["correct"] == 4 for r in per_seed) and len(per_seed) == 10,
        "train_le_tenth_of_baseline": out["train_ratio"] is not None and out["train_ratio"] <= 0.1,
    }
    return out


# ------------------------------------------------------------------------------------------ 2. overhead
def overhead(ctx: Context) -> dict:
    """The same MLP, same settings: `nnrun train` against a plain Keras script."""
    rows, feats = ctx.size["table_rows"], 50
    data = ctx.table(rows, feats)
    s = ctx.size
    training = {"epochs": s["overhead_epochs"], "batch_size": s["overhead_batch"],
                "steps_per_execution": s["overhead_spe"], "shuffle": False}
    config = mlp_config(ctx.tmp / "overhead.yaml", data, [64, 64], training)
    pre = [PYTHON, str(BENCH / "pre_import.py")]  # adds each fit's CPU time; the import happens anyway
    plain_argv = [*pre, str(BASE / "keras_mlp.py"), "--data", str(data), "--mode", "plain", "--units", "64,64",
                  "--epochs", str(s["overhead_epochs"]), "--batch-size", str(s["overhead_batch"]),
                  "--steps-per-execution", str(s["overhead_spe"]), "--shuffle", "false"]
    pairs = []
    arms = ["nnrun", "plain", "nnrun_no_plots"]
    for r in range(s["overhead_repeats"]):
        order = arms[r % 3:] + arms[:r % 3]  # each arm first, second and third in turn
        pair: dict = {}
        for who in order:
            ctx.log(f"  repeat {r + 1}: {who}")
            if who.startswith("nnrun"):
                extra = ["--no-plots"] if who == "nnrun_no_plots" else []
                m = _check(run([*pre, "nnrun", "train", str(config), "--runs-dir", str(ctx.dir("overhead_runs")),
                                "--json", "--quiet", *extra]), "nnrun train")
                pair[who] = {"wall": m.wall, "train": m.json["train_seconds"], "rss_mb": m.max_rss_mb,
                             "cpu": m.cpu, "fit_cpu": _fit_cpu(m), "loss": m.json.get("metrics", {}).get("loss")}
            else:
                m = _check(run(plain_argv), "keras_mlp.py")
                pair["plain"] = {"wall": m.wall, "train": m.json["train_seconds"], "rss_mb": m.max_rss_mb,
                                 "cpu": m.cpu, "fit_cpu": _fit_cpu(m), "loss": m.json["history"]["loss"][-1],
                                 "load": m.json["load_seconds"]}
        pair["train_ratio"] = pair["nnrun"]["train"] / pair["plain"]["train"]
        pair["fit_cpu_ratio"] = _ratio(pair["nnrun"]["fit_cpu"], pair["plain"]["fit_cpu"])
        pair["wall_ratio"] = pair["nnrun"]["wall"] / pair["plain"]["wall"]
        pair["no_plots_wall_ratio"] = pair["nnrun_no_plots"]["wall"] / pair["plain"]["wall"]
        pairs.append(pair)
    out: dict = {"rows": rows, "features": feats, "training": training, "units": [64, 64], "pairs": pairs}
    for who in arms:
        out[who] = {k: summary([p[who][k] for p in pairs]) for k in ("wall", "train", "rss_mb", "cpu", "fit_cpu")}
    out["train_ratio"] = summary([p["train_ratio"] for p in pairs])
    out["fit_cpu_ratio"] = summary([p["fit_cpu_ratio"] for p in pairs if p["fit_cpu_ratio"] is not None])
    out["wall_ratio"] = summary([p["wall_ratio"] for p in pairs])
    out["no_plots_wall_ratio"] = summary([p["no_plots_wall_ratio"] for p in pairs])
    losses = [(p["nnrun"]["loss"], p["plain"]["loss"]) for p in pairs]
    out["loss"] = {"nnrun": losses[0][0], "plain": losses[0][1],
                   "max_abs_diff": max(abs(a - b) for a, b in losses if a is not None)}
    ctx.log(f"  the same training alternating in one process ({s['overhead_rounds']} rounds)")
    inter = _check(run([PYTHON, str(BENCH / "probe_interleaved.py"), str(config), "--rounds",
                        str(s["overhead_rounds"])]), "probe_interleaved.py").json
    out["interleaved"] = {**inter, "nnrun_s": summary(inter["nnrun"]), "plain_s": summary(inter["plain"]),
                          "ratio": summary(inter["ratios"]), "cpu_ratio": summary(inter["cpu_ratios"])}
    ctx.log("  reading the CSV: nnrun.data.dataset.read_table vs pandas.read_csv")
    out["csv_read"] = _check(run([PYTHON, str(BENCH / "probe_read.py"), str(config)]), "probe_read.py").json
    if s["phases"]:
        ctx.log("  where nnrun's time outside model.fit goes (in-process phases)")
        rec = _probe(ctx, str(config), "--runs-dir", str(ctx.dir("overhead_runs")), "--phases")[-1]
        out["nnrun_phases"] = {"import_tf": rec["import_seconds"], **rec.get("phases", {})}
    out["targets"] = {  # training time: separate processes, as the issue asks (the alternation is a check)
        "train_ratio_le_1.05": out["train_ratio"]["median"] <= 1.05,
        "wall_ratio_le_1.05": out["wall_ratio"]["median"] <= 1.05,
        "same_loss_3_decimals": all(a is not None and round(a, 3) == round(b, 3) for a, b in losses),
    }
    return out


# ------------------------------------------------------------------------------------------ 3. defaults
def _time_to(target: float, hist: list[float], ends: list[float]) -> float | None:
    for value, t in zip(hist, ends, strict=False):
        if value <= target:
            return t
    return None


def defaults(ctx: Context) -> dict:
    """nnrun's defaults against the naive script (NumPy arrays, batch 32, Keras defaults), then levers."""
    s = ctx.size
    data = ctx.table(s["table_rows"], 50)
    epochs = s["defaults_epochs"]
    config = mlp_config(ctx.tmp / "defaults.yaml", data, [64, 64], {"epochs": epochs, "validation_split": 0.2})
    naive_argv = [PYTHON, str(BASE / "keras_mlp.py"), "--data", str(data), "--mode", "naive", "--units", "64,64",
                  "--epochs", str(epochs)]
    # the third arm: nnrun with steps_per_execution=1, its default before it became 32
    arms = {"nnrun": [], "naive": None, "nnrun_spe1": ["--set", "training.steps_per_execution=1"]}
    pairs = []
    for r in range(s["defaults_repeats"]):
        order = list(arms) if r % 2 == 0 else list(arms)[::-1]
        pair: dict = {}
        for who in order:
            ctx.log(f"  repeat {r + 1}: {who}")
            if who != "naive":
                m = _check(run([PYTHON, PROBE, str(config), "--runs-dir", str(ctx.dir("defaults_runs")), *arms[who]]),
                           "probe")
                rec = m.json
                pair[who] = {"wall": m.wall, "train": rec["train_seconds"], "epoch_ends": rec["epoch_ends"],
                             "epoch_cpu": rec.get("epoch_cpu"), "val_loss": rec["history"]["val_loss"],
                             "rss_mb": m.max_rss_mb, "optimizer_steps": rec.get("optimizer_steps")}
            else:
                m = _check(run(naive_argv), "keras_mlp.py --mode naive")
                rec = m.json
                pair["naive"] = {"wall": m.wall, "train": rec["train_seconds"], "epoch_ends": rec["epoch_ends"],
                                 "epoch_cpu": rec.get("epoch_cpu"), "val_loss": rec["history"]["val_loss"],
                                 "rss_mb": m.max_rss_mb}
        target = max(min(pair[who]["val_loss"]) for who in arms)
        pair["target_val_loss"] = target
        for who in arms:
            pair[who]["time_to_target"] = _time_to(target, pair[who]["val_loss"], pair[who]["epoch_ends"])
            pair[who]["epoch_seconds"] = _epochs(pair[who]["epoch_ends"])
        pair["time_to_target_ratio"] = _ratio(pair["nnrun"]["time_to_target"], pair["naive"]["time_to_target"])
        pair["spe1_time_to_target_ratio"] = _ratio(pair["nnrun_spe1"]["time_to_target"],
                                                   pair["naive"]["time_to_target"])
        pairs.append(pair)
    out: dict = {"rows": s["table_rows"], "epochs": epochs, "pairs": pairs,
                 "time_to_target_ratio": summary([p["time_to_target_ratio"] for p in pairs
                                                  if p["time_to_target_ratio"] is not None]),
                 "spe1_time_to_target_ratio": summary([p["spe1_time_to_target_ratio"] for p in pairs
                                                       if p["spe1_time_to_target_ratio"] is not None])}
    for who in arms:
        out[who] = {k: summary([p[who][k] for p in pairs]) for k in ("wall", "train", "time_to_target", "rss_mb")}
        out[who]["steady_epoch"] = summary([_steady(p[who]["epoch_ends"]) for p in pairs])
        out[who]["steady_epoch_cpu"] = summary([_steady(p[who]["epoch_cpu"]) for p in pairs if p[who]["epoch_cpu"]])
    out["targets"] = {"faster_to_same_val_loss": out["time_to_target_ratio"].get("median", 9) < 1.0}
    out["levers"] = levers(ctx)
    return out


LEVER_TRIALS = [  # nnrun's defaults now: steps_per_execution 32, batch-level pipeline
    {"name": "default"},
    {"name": "steps_per_execution=1", "set": ["training.steps_per_execution=1"]},
    {"name": "steps_per_execution=8", "set": ["training.steps_per_execution=8"]},
    {"name": "steps_per_execution=128", "set": ["training.steps_per_execution=128"]},
    {"name": "jit_compile", "jit": True},
    {"name": "per-example pipeline", "pipeline": "per-example"},
    {"name": "per-example pipeline + steps_per_execution=1 (nnrun before)", "pipeline": "per-example",
     "set": ["training.steps_per_execution=1"]},
]
FRESH_LEVERS = [
    ("default, fresh process", [], None),
    ("threads intra=1 inter=1", ["--threads", "1,1"], None),
    ("threads intra=2 inter=1", ["--threads", "2,1"], None),
    ("TF_ENABLE_ONEDNN_OPTS=0", [], {"TF_ENABLE_ONEDNN_OPTS": "0"}),
]


def levers(ctx: Context) -> dict:
    """Each lever on nnrun's defaults (batch 32, validation_split 0.2): seconds per epoch after the first.

    In-process levers are trials of one process (data read once), repeated in rounds whose order alternates
    (ABC, CBA, …) so that a change in the machine's load does not favour one; thread and oneDNN settings need a
    fresh process each. The naive script on the same file gives the reference.
    """
    s = ctx.size
    data = ctx.table(s["lever_rows"], 50)
    config = mlp_config(ctx.tmp / "levers.yaml", data, [64, 64], {"epochs": s["lever_epochs"], "validation_split": 0.2})
    runs = str(ctx.dir("lever_runs"))
    trials = [t for t in LEVER_TRIALS if s["all_levers"] or t["name"] in s["quick_levers"]]
    ctx.log(f"  levers on {s['lever_rows']:,} rows: {len(trials)} trials × {s['lever_rounds']} rounds in one process")
    args = [str(config), "--runs-dir", runs, "--cache-data", "--rounds", str(s["lever_rounds"])]
    for t in trials:
        args += ["--trial", json.dumps(t)]
    recs = _probe(ctx, *args)
    results = [_lever_row(t["name"], [r for r in recs if r.get("trial") == t["name"]], "in-process trial")
               for t in trials]
    if s["all_levers"]:
        fresh: dict[str, list] = {name: [] for name, _, _ in FRESH_LEVERS}
        for r in range(s["fresh_lever_rounds"]):
            for name, extra, env in FRESH_LEVERS if r % 2 == 0 else FRESH_LEVERS[::-1]:
                ctx.log(f"  round {r + 1}, fresh process: {name}")
                fresh[name] += _probe(ctx, str(config), "--runs-dir", runs, *extra, env=env)
        results += [_lever_row(name, recs, "fresh process") for name, recs in fresh.items()]
        ctx.log("  reference: the naive script on the same file")
        m = _check(run([PYTHON, str(BASE / "keras_mlp.py"), "--data", str(data), "--mode", "naive",
                        "--epochs", str(s["lever_epochs"])]), "keras_mlp.py")
        results.append(_lever_row("naive script (Keras defaults)", [m.json], "script, fresh process"))
    for r in results:  # fresh-process levers against the fresh-process default of the same rounds
        base = next((b for b in results if b["name"] == "default, fresh process"), None) \
            if "fresh process" in r["how"] else next(b for b in results if b["name"] == "default")
        r["vs_default"] = _ratio(r["steady_epoch"], base and base["steady_epoch"])
        r["cpu_vs_default"] = _ratio(r.get("steady_epoch_cpu"), base and base.get("steady_epoch_cpu"))
    train_rows = s["lever_rows"] - round(0.2 * s["lever_rows"])
    expected = s["lever_epochs"] * -(-train_rows // 32)
    return {"rows": s["lever_rows"], "epochs": s["lever_epochs"], "rounds": s["lever_rounds"],
            "expected_steps": expected, "results": results}


def _lever_row(name: str, recs: list[dict], how: str) -> dict:
    errors = [r["error"] for r in recs if "error" in r]
    ok = [r for r in recs if "error" not in r and r.get("epoch_ends")]
    if not ok:
        return {"name": name, "how": how, "error": errors[0] if errors else "no result", "steady_epoch": None}
    steady = [_steady(r["epoch_ends"]) for r in ok]
    cpu = [_steady(r["epoch_cpu"]) for r in ok if r.get("epoch_cpu")]
    hist = ok[0].get("history", {})
    return {"name": name, "how": how, "n": len(ok),
            "first_epoch": statistics.median(r["epoch_ends"][0] for r in ok),
            "steady_epoch": statistics.median(steady), "steady_epoch_all": steady,
            "steady_epoch_cpu": statistics.median(cpu) if cpu else None,
            "loss": hist.get("loss", [None])[-1], "val_loss": hist.get("val_loss", [None])[-1],
            "optimizer_steps": ok[0].get("optimizer_steps")}


# ------------------------------------------------------------------------------------------- 5. predict
def predict(ctx: Context) -> dict:
    """`nnrun predict` (CSV in, CSV out) on big generated CSVs against model.predict on in-memory arrays of the
    same saved model: rows/s end to end and after start-up, peak RSS, and whether RSS stays flat as the file
    doubles."""
    s = ctx.size
    feats = s["narrow_features"]
    train = ctx.table(10_000, feats)
    config = mlp_config(ctx.tmp / "predict.yaml", train, [64, 64], {"epochs": 2, "batch_size": 256}, name="pred")
    m = _nnrun_train(ctx, config, ctx.dir("predict_runs"))
    run_dir = m.json["run_dir"]
    model = str(Path(run_dir) / "model.keras")
    one = ctx.tmp / "one_row.csv"
    one.write_text("\n".join(train.read_text().splitlines()[:2]) + "\n")
    startup = []
    for r in range(s["predict_repeats"]):  # the fixed cost: import TensorFlow, load the model, one row
        ctx.log(f"  1 row, repeat {r + 1}: nnrun predict (start-up)")
        startup.append(_check(run([NNRUN, "predict", run_dir, "--input", str(one), "--force", "--output",
                                   str(ctx.tmp / "pred_one.csv")]), "nnrun predict").wall)
    start = statistics.median(startup)
    sizes = []
    for rows in s["predict_rows"]:
        data = ctx.table(rows, feats)
        entry: dict = {"rows": rows, "bytes": data.stat().st_size, "nnrun": [], "script": []}
        for r in range(s["predict_repeats"]):
            ctx.log(f"  {rows:,} rows, repeat {r + 1}: nnrun predict / model.predict")
            out_csv = ctx.tmp / "pred_nnrun.csv"
            m = run([NNRUN, "predict", run_dir, "--input", str(data), "--output", str(out_csv)],
                    timeout=s["predict_timeout"])
            entry["nnrun"].append({"wall": m.wall, "rss_mb": m.max_rss_mb, "cpu": m.cpu, "rc": m.rc, "load": m.load,
                                   "error": m.stderr.strip().splitlines()[-1] if m.rc and m.stderr.strip() else None})
            out_csv.unlink(missing_ok=True)
            probe = _check(run([PYTHON, str(BENCH / "probe_predict.py"), run_dir, str(data), str(out_csv)]),
                           "bench/probe_predict.py")
            entry.setdefault("probe", []).append(probe.json)
            out_csv.unlink(missing_ok=True)
            b = _check(run([PYTHON, str(BASE / "keras_predict.py"), "--model", model, "--input", str(data),
                            "--output", str(ctx.tmp / "pred_script.csv"), "--batch-sizes", "1024,8192"]),
                       "keras_predict.py")
            entry["script"].append({"wall": b.wall, "rss_mb": b.max_rss_mb, "load": b.load, **b.json})
            (ctx.tmp / "pred_script.csv").unlink(missing_ok=True)
        ok = [x for x in entry["nnrun"] if x["rc"] == 0]
        entry["nnrun_wall"] = summary([x["wall"] for x in ok])
        entry["nnrun_rss_mb"] = summary([x["rss_mb"] for x in entry["nnrun"]])
        entry["script_wall"] = summary([x["wall"] - x["extra_seconds"] for x in entry["script"]])
        entry["script_rss_mb"] = summary([x["rss_mb"] for x in entry["script"]])
        entry["script_predict"] = summary([x["predict_seconds"] for x in entry["script"]])
        entry["script_predict_8192"] = summary([x["predict_seconds_by_batch"]["8192"] for x in entry["script"]])
        wall = entry["nnrun_wall"]["median"] if ok else None
        entry["nnrun_rows_per_s"] = rows / wall if ok else None
        entry["nnrun_rows_per_s_after_startup"] = rows / (wall - start) if ok and wall > start else None
        entry["script_rows_per_s_end_to_end"] = rows / entry["script_wall"]["median"]
        entry["script_rows_per_s_predict_only"] = rows / entry["script_predict"]["median"]
        entry["script_rows_per_s_predict_only_8192"] = rows / entry["script_predict_8192"]["median"]
        entry["probe_stream"] = summary([x["stream_seconds"] for x in entry["probe"]])
        entry["nnrun_rows_per_s_streaming"] = rows / entry["probe_stream"]["median"]
        nn = entry["nnrun_rows_per_s_streaming"]
        entry["ratio_vs_predict_1024"] = _ratio(nn, entry["script_rows_per_s_predict_only"])
        entry["ratio_vs_predict_8192"] = _ratio(nn, entry["script_rows_per_s_predict_only_8192"])
        sizes.append(entry)
    out: dict = {"features": feats, "run_dir_model": "Dense 64-64-1, trained on 10,000 rows", "sizes": sizes,
                 "startup": summary(startup)}
    small, big = sizes[0], sizes[-1]
    if len(sizes) > 1 and small["nnrun_wall"].get("n") and big["nnrun_wall"].get("n"):
        grow = (big["nnrun_rss_mb"]["median"] - small["nnrun_rss_mb"]["median"]) / (big["rows"] - small["rows"])
        out["nnrun_rss_bytes_per_row"] = grow * 2**20
        out["script_rss_bytes_per_row"] = ((big["script_rss_mb"]["median"] - small["script_rss_mb"]["median"])
                                           / (big["rows"] - small["rows"]) * 2**20)
        extra = big["nnrun_wall"]["median"] - small["nnrun_wall"]["median"]
        out["nnrun_rows_per_s_marginal"] = (big["rows"] - small["rows"]) / extra if extra > 0 else None
    flat = bool(len(sizes) > 1 and big["nnrun_rss_mb"].get("n")
                and big["nnrun_rss_mb"]["median"] <= 1.15 * small["nnrun_rss_mb"]["median"])
    first = sizes[0]
    out["targets"] = {
        "rss_flat_when_rows_double": flat,
        "rows_per_s_ge_0.8x_model_predict_1024": bool(first["ratio_vs_predict_1024"]
                                                      and first["ratio_vs_predict_1024"] >= 0.8),
        "rows_per_s_ge_0.8x_model_predict_8192": bool(first["ratio_vs_predict_8192"]
                                                      and first["ratio_vs_predict_8192"] >= 0.8),
    }
    out["status"] = "streaming (peak memory flat)" if flat else "peak memory grows with the file"
    return out


# ------------------------------------------------------------------------------------------- 6. scaling
def scaling(ctx: Context) -> dict:
    """Seconds per epoch as rows grow (10k → 1M) and as the hidden layers widen (at 100k rows)."""
    s = ctx.size
    feats = s["narrow_features"]
    mid = s["scaling_rows"][len(s["scaling_rows"]) // 2]
    config = mlp_config(ctx.tmp / "scaling.yaml", ctx.table(mid, feats), [64, 64],
                        {"epochs": s["scaling_epochs"], "batch_size": s["scaling_batch"]}, name="scale")
    trials = []
    for rows in s["scaling_rows"]:
        trials.append({"name": f"rows={rows}", "rows": rows, "units": 64,
                       "set": [f"data.path={ctx.table(rows, feats)}"]})
    for units in s["scaling_widths"]:
        if units != 64:
            trials.append({"name": f"units={units}", "rows": mid, "units": units,
                           "set": [f"model.layers.0.units={units}", f"model.layers.1.units={units}"]})
    big = s["scaling_rows"][-1]  # where the pipeline's per-example work shows: two variants at the largest size
    trials.append({"name": "pipeline: no shuffle", "rows": big, "units": 64,
                   "set": [f"data.path={ctx.table(big, feats)}", "training.shuffle=false"]})
    trials.append({"name": "pipeline: per-example (nnrun before)", "rows": big, "units": 64, "pipeline": "per-example",
                   "set": [f"data.path={ctx.table(big, feats)}"]})
    ctx.log(f"  {len(trials)} trials in one process")
    args = [str(config), "--runs-dir", str(ctx.dir("scaling_runs"))]
    for t in trials:
        args += ["--trial", json.dumps(t)]
    recs = {r["trial"]: r for r in _probe(ctx, *args)}
    if all("error" in r for r in recs.values()):
        raise RuntimeError(f"nnrun failed every trial: {next(iter(recs.values()))['error']}")
    rows_out, width_out, pipeline_out = [], [], []
    for t in trials:
        rec = recs.get(t["name"], {})
        ends = rec.get("epoch_ends", [])
        row = {"rows": t["rows"], "units": t["units"], "first_epoch": ends[0] if ends else None,
               "steady_epoch": _steady(ends), "error": rec.get("error")}
        if row["steady_epoch"]:
            row["us_per_row"] = row["steady_epoch"] / t["rows"] * 1e6
        row["name"] = t["name"]
        (rows_out if t["name"].startswith("rows=") else pipeline_out if t["name"].startswith("pipeline")
         else width_out).append(row)
    width_out.append(next(r for r in rows_out if r["rows"] == mid))
    width_out.sort(key=lambda r: r["units"])
    if s["scaling_script"]:
        for r in rows_out:
            ctx.log(f"  plain script, {r['rows']:,} rows")
            m = _check(run([PYTHON, str(BASE / "keras_mlp.py"), "--data", str(ctx.table(r["rows"], feats)),
                            "--mode", "plain", "--epochs", str(s["scaling_epochs"]),
                            "--batch-size", str(s["scaling_batch"])]), "keras_mlp.py")
            r["script_steady_epoch"] = _steady(m.json["epoch_ends"])
    out = {"features": feats, "batch_size": s["scaling_batch"], "epochs": s["scaling_epochs"],
           "rows": rows_out, "widths": width_out, "pipeline": pipeline_out}
    first, last = rows_out[0], rows_out[-1]
    if first.get("steady_epoch") and last.get("steady_epoch"):
        out["rows_growth"] = last["rows"] / first["rows"]
        out["time_growth"] = last["steady_epoch"] / first["steady_epoch"]
        # exponent b of time ∝ rows^b (1 = linear), overall and between neighbouring sizes
        out["exponent"] = math.log(out["time_growth"]) / math.log(out["rows_growth"])
        out["exponents"] = [math.log(b["steady_epoch"] / a["steady_epoch"]) / math.log(b["rows"] / a["rows"])
                            for a, b in zip(rows_out, rows_out[1:], strict=False)
                            if a.get("steady_epoch") and b.get("steady_epoch")]
    return out
