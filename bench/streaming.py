"""Section "streaming" of bench/run.py (issue 16): streamed training against the in-memory path.

Data: generated, 20 numeric + 2 categorical columns (50 and 4 values) and a binary target, in shards, as CSV
and as Parquet (the largest size is written once; a smaller size is a folder of links to its first shards).
Model Dense 32 → Dense 1, batch 1,024, 1 epoch, ``validation_split: 0.1``, ``normalize: true``. Every training
is its own ``nnrun train … --json --quiet --no-plots`` process; peak RSS and CPU time come from ``os.wait4`` for
that child alone (harness.run).

- epoch time, streamed vs in memory, on the smallest in-memory size: the four arms (2 formats × 2 modes)
  interleaved, their order reversed every round, medians of the per-round ratios;
- peak RSS of a streamed epoch at each streaming size (ratio largest / smallest: flat?), and of the in-memory
  path at the in-memory sizes;
- rows/s of the learning pass (every row read and checked, the spec learnt; no TensorFlow), its own process.

    .venv/bin/python bench/run.py --only streaming [--quick]
    .venv/bin/python bench/streaming.py --learning-pass FOLDER   # one learning pass, prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, run  # noqa: E402

FORMATS = ("parquet", "csv")
RSS_FLAT_TARGET = 1.15  # peak RSS at the largest streamed size / at the smallest
EPOCH_TARGET = {"parquet": 1.3, "csv": None}  # streamed / in-memory epoch time; CSV is reported only
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
    for fmt in FORMATS:
        (folder / fmt).mkdir(parents=True, exist_ok=True)
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


def subset(full: Path, folder: Path, rows: int, shard_rows: int) -> Path:
    """A folder of links to the first ``rows`` rows' shards of ``full`` (``rows``: a multiple of the shard)."""
    for fmt in FORMATS:
        (folder / fmt).mkdir(parents=True, exist_ok=True)
        for shard in sorted((full / fmt).iterdir())[: rows // shard_rows]:
            link = folder / fmt / shard.name
            if not link.exists():
                link.symlink_to(shard)
    return folder


def train(work: Path, folder: Path, fmt: str, streamed: bool, timeout: float) -> dict:
    """One ``nnrun train`` process on ``folder/fmt``: wall, fit and CPU seconds, peak RSS (MiB), or its error."""
    name = f"{fmt}-{folder.name}-{'stream' if streamed else 'memory'}"
    config = work / f"{name}.yaml"
    config.write_text(CONFIG.format(name=name, path=folder / fmt / "*", streaming=str(streamed).lower()))
    m = run([PYTHON, "-m", "nnrun", "train", str(config), "--runs-dir", str(work / "runs"), "--json", "--quiet",
             "--no-plots"], env={"PYTHONPATH": str(ROOT)}, timeout=timeout)
    row = {"format": fmt, "streaming": streamed, "wall_s": m.wall, "peak_rss_mib": m.max_rss_mb, "cpu_s": m.cpu,
           "rc": m.rc, "load": m.load}
    if m.rc == 0 and m.records:
        row["train_s"] = m.json["train_seconds"]
    else:
        row["error"] = "timed out" if m.rc == 124 else (m.stderr.strip().splitlines() or ["no output"])[-1][-300:]
    return row


def learning_pass(folder: Path) -> dict:
    """Rows/s of the learning pass alone, in this process (no TensorFlow import)."""
    sys.path.insert(0, str(ROOT))
    from nnrun.config.schema import DataConfig
    from nnrun.data.readers import ReadOptions
    from nnrun.data.shards import find_shards
    from nnrun.data.stream_spec import learn

    data = DataConfig(path="x", target="y", normalize=True, categorical=["c0", "c1"])
    shards = find_shards(folder, None)
    start = time.perf_counter()
    learnt = learn(shards, data, ReadOptions(), (0.1, 0.0, 0), True)
    seconds = time.perf_counter() - start
    rows = sum(learnt.rows)
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def streaming(ctx: object) -> dict:
    """The section (``ctx``: bench/run.py's Context; sizes ``stream_*`` of its SIZES)."""
    s = ctx.size
    shard, timeout = s["stream_shard_rows"], s["stream_timeout"]
    sizes = sorted({*s["stream_rows"], *s["stream_memory_rows"]})
    work = ctx.dir("streaming")
    ctx.log(f"  generating {sizes[-1]:,} rows in shards of {shard:,} (CSV and Parquet)")
    generate(work / "full", sizes[-1], shard)
    folders = {n: subset(work / "full", work / f"rows-{n}", n, shard) for n in sizes}
    out: dict = {"shard_rows": shard, "stream_rows": s["stream_rows"], "memory_rows": s["stream_memory_rows"],
                 "rounds": s["stream_rounds"], "runs": [],
                 "bytes": {f"{fmt}-{n}": sum(p.stat().st_size for p in (folders[n] / fmt).iterdir())
                           for n in sizes for fmt in FORMATS}}
    timed = s["stream_memory_rows"][0]
    arms = [(fmt, streamed) for fmt in FORMATS for streamed in (True, False)]
    for r in range(s["stream_rounds"]):
        for fmt, streamed in arms if r % 2 == 0 else arms[::-1]:
            ctx.log(f"  round {r + 1}: {timed:,} rows {fmt}, {'streamed' if streamed else 'in memory'}")
            out["runs"].append({"rows": timed, "round": r, **train(work, folders[timed], fmt, streamed, timeout)})
    # peak RSS once per size and mode; a streamed size equal to the timed one is measured by the rounds already
    once = [(n, True) for n in s["stream_rows"] if n != timed] + [(n, False) for n in s["stream_memory_rows"][1:]]
    for n, streamed in once:
        for fmt in FORMATS:
            ctx.log(f"  peak RSS: {n:,} rows {fmt}, {'streamed' if streamed else 'in memory'}")
            out["runs"].append({"rows": n, "round": None, **train(work, folders[n], fmt, streamed, timeout)})
    first = s["stream_rows"][0]
    out["learning_pass"] = []
    for fmt in FORMATS:
        ctx.log(f"  learning pass: {first:,} rows {fmt}")
        m = run([PYTHON, __file__, "--learning-pass", str(folders[first] / fmt)], env={"PYTHONPATH": str(ROOT)})
        out["learning_pass"].append({"format": fmt, **(m.json if m.rc == 0 and m.records else
                                                       {"error": m.stderr.strip()[-300:]})})
    out["targets"] = targets(out)
    return out


def _runs(data: dict, rows: int, fmt: str, streamed: bool, key: str) -> list[float]:
    return [r[key] for r in data["runs"] if (r["rows"], r["format"], r["streaming"]) == (rows, fmt, streamed)
            and r.get(key) is not None and "error" not in r]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def targets(data: dict) -> list[dict]:
    """Each measured ratio with its target (None: reported only) and verdict."""
    lo, hi, timed = min(data["stream_rows"]), max(data["stream_rows"]), data["memory_rows"][0]
    rows = []
    for fmt in FORMATS:
        a, b = _median(_runs(data, hi, fmt, True, "peak_rss_mib")), _median(_runs(data, lo, fmt, True, "peak_rss_mib"))
        rows.append({"what": f"peak RSS streamed, {hi:,} / {lo:,} rows", "format": fmt,
                     "ratio": a / b if a and b else None, "target": RSS_FLAT_TARGET})
    both = [n for n in data["stream_rows"] if n in data["memory_rows"]]
    for n in both:
        for fmt in FORMATS:
            a = _median(_runs(data, n, fmt, True, "peak_rss_mib"))
            b = _median(_runs(data, n, fmt, False, "peak_rss_mib"))
            rows.append({"what": f"peak RSS streamed / in memory, {n:,} rows", "format": fmt,
                         "ratio": a / b if a and b else None, "target": None})
    for fmt in FORMATS:
        pairs = {}
        for r in data["runs"]:
            if r["rows"] == timed and r["format"] == fmt and r["round"] is not None and "error" not in r:
                pairs.setdefault(r["round"], {})[r["streaming"]] = r["train_s"]
        ratios = [p[True] / p[False] for p in pairs.values() if len(p) == 2]
        rows.append({"what": f"epoch time (fit) streamed / in memory, {timed:,} rows", "format": fmt,
                     "ratio": _median(ratios), "ratios": ratios, "target": EPOCH_TARGET[fmt]})
    for row in rows:
        row["pass"] = None if row["target"] is None or row["ratio"] is None else row["ratio"] <= row["target"]
    return rows


def _verdict(row: dict) -> str:
    if row["target"] is None:
        return "reported"
    return "–" if row["pass"] is None else ("**pass**" if row["pass"] else "**FAIL**")


def _cell(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    med, lo, hi = (format(v, fmt) for v in (statistics.median(values), min(values), max(values)))
    return med if len(values) == 1 else f"{med} ({lo}–{hi}, n={len(values)})"


def markdown(data: dict) -> list[str]:
    """The section of docs/benchmarks.md (generated)."""
    lines = ["## 8. Streaming training: streamed vs in memory (issue 16)", "",
             f"Generated data, 20 numeric + 2 categorical columns and a binary target, in shards of "
             f"{data['shard_rows']:,} rows; Dense 32 → Dense 1, batch 1,024, 1 epoch, `validation_split: 0.1`. "
             f"Each training its own `nnrun train` process (peak RSS and CPU from `os.wait4`); the epoch-time "
             f"arms interleaved over {data['rounds']} round(s), order reversed every round; \"fit\" is "
             "`model.fit`'s time as nnrun reports it (1 epoch).", "",
             "| measure | format | measured | target | verdict |", "|---|---|---|---|---|"]
    for t in data["targets"]:
        extra = f" (rounds: {', '.join(f'{x:.2f}' for x in t['ratios'])})" if len(t.get("ratios", [])) > 1 else ""
        shown = "–" if t["ratio"] is None else f"{t['ratio']:.2f}×{extra}"
        target = "report" if t["target"] is None else f"≤ {t['target']}×"
        lines.append(f"| {t['what']} | {t['format']} | {shown} | {target} | {_verdict(t)} |")
    lines += ["", "| rows | format | on disk | mode | peak RSS | fit | CPU (process) | wall | failed |",
              "|---:|---|---:|---|---:|---:|---:|---:|---|"]
    keys = sorted({(r["rows"], r["format"], r["streaming"]) for r in data["runs"]},
                  key=lambda k: (k[0], k[1], not k[2]))
    for key in keys:
        n, fmt, streamed = key
        errors = "; ".join(r["error"] for r in data["runs"]
                           if (r["rows"], r["format"], r["streaming"]) == key and "error" in r)
        rss, fit, cpu, wall = (_cell(_runs(data, *key, k), f) for k, f in
                               (("peak_rss_mib", ",.0f"), ("train_s", ".1f"), ("cpu_s", ".1f"), ("wall_s", ".1f")))
        lines.append(f"| {n:,} | {fmt} | {data['bytes'][f'{fmt}-{n}'] / 1e6:,.0f} MB | "
                     f"{'streamed' if streamed else 'in memory'} | {rss} MiB | {fit} s | {cpu} s | {wall} s | "
                     f"{errors} |")
    lines += ["", "Learning pass (every row read and checked, spec learnt; its own process, no TensorFlow): "
              + "; ".join(f"{p['format']} {p['rows_per_s']:,.0f} rows/s ({p['rows']:,} rows, {p['seconds']:.1f} s)"
                          if "rows_per_s" in p else f"{p['format']} failed: {p['error']}"
                          for p in data["learning_pass"]) + ".", ""]
    return lines


def headline(data: dict) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of the headline table: (comparison, nnrun, baseline, ratio, target, verdict)."""
    return [(f"8. Streaming: {t['what']} ({t['format']})", "", "", "–" if t["ratio"] is None else f"{t['ratio']:.2f}×",
             "report" if t["target"] is None else f"≤ {t['target']}×", _verdict(t))
            for t in data.get("targets", []) if t["target"] is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-pass", type=Path, required=True, help="a folder of shards")
    print(json.dumps(learning_pass(parser.parse_args().learning_pass)))


if __name__ == "__main__":
    main()
