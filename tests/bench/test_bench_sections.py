"""bench/run.py's streaming and backends sections: targets and the generated Markdown, from fixed results (no
training: the numbers below are made up, the verdicts they must give are not)."""

from __future__ import annotations

import json
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import backends  # noqa: E402
import report  # noqa: E402
import streaming  # noqa: E402


def _run(rows: int, fmt: str, streamed: bool, rss: float, fit: float | None = None, rnd: int | None = None) -> dict:
    run = {"rows": rows, "format": fmt, "streaming": streamed, "round": rnd, "peak_rss_mib": rss, "wall_s": 9.0,
           "cpu_s": 8.0, "rc": 0, "load": 1.0}
    if fit is not None:
        run["train_s"] = fit
    return run


def _streaming() -> dict:
    runs = []
    for rnd, (pq_stream, pq_mem) in enumerate([(12.0, 10.0), (13.0, 10.0)]):  # parquet ratios 1.2 and 1.3
        runs += [_run(1000, "parquet", True, 1100, pq_stream, rnd), _run(1000, "parquet", False, 1800, pq_mem, rnd),
                 _run(1000, "csv", True, 1150, 20.0, rnd), _run(1000, "csv", False, 2300, 10.0, rnd)]
    runs += [_run(2000, "parquet", True, 1100, 1.0), _run(4000, "parquet", True, 1210, 1.0),  # 1.10: flat
             _run(2000, "csv", True, 1000, 1.0), _run(4000, "csv", True, 1200, 1.0),  # 1.20: not flat
             _run(2000, "parquet", False, 3000, 1.0), _run(2000, "csv", False, 4000, 1.0)]
    return {"shard_rows": 500, "stream_rows": [2000, 4000], "memory_rows": [1000, 2000], "rounds": 2, "runs": runs,
            "bytes": {f"{f}-{n}": 10**6 * n for f in ("parquet", "csv") for n in (1000, 2000, 4000)},
            "learning_pass": [{"format": "parquet", "rows": 2000, "seconds": 0.5, "rows_per_s": 4000.0},
                              {"format": "csv", "error": "boom"}]}


def test_streaming_targets_and_markdown() -> None:
    data = _streaming()
    data["targets"] = streaming.targets(data)
    by = {(t["what"].split(",")[0], t["format"]): t for t in data["targets"]}
    assert by[("peak RSS streamed", "parquet")]["pass"] is True
    assert abs(by[("peak RSS streamed", "csv")]["ratio"] - 1.2) < 1e-9 and by[("peak RSS streamed", "csv")]["pass"] is False
    epoch = by[("epoch time (fit) streamed / in memory", "parquet")]
    assert epoch["ratios"] == [1.2, 1.3] and abs(epoch["ratio"] - 1.25) < 1e-9 and epoch["pass"] is True
    assert by[("epoch time (fit) streamed / in memory", "csv")]["target"] is None  # CSV: reported only
    assert abs(by[("peak RSS streamed / in memory", "parquet")]["ratio"] - 1100 / 3000) < 1e-9
    text = "\n".join(streaming.markdown(data))
    assert "| epoch time (fit) streamed / in memory, 1,000 rows | parquet | 1.25× (rounds: 1.20, 1.30) | ≤ 1.3× | **pass** |" in text
    assert "| peak RSS streamed, 4,000 / 2,000 rows | csv | 1.20× | ≤ 1.15× | **FAIL** |" in text
    assert "| 1,000 | parquet | 1,000 MB | streamed | 1,100 (1,100–1,100, n=2) MiB | 12.5 (12.0–13.0, n=2) s |" in text
    assert "parquet 4,000 rows/s (2,000 rows, 0.5 s); csv failed: boom" in text


def _arm(wall: float, **extra) -> dict:
    return {"wall": wall, "cpu": wall / 2, "rss": 500.0, "load": 1.0, "rc": 0, **extra}


def _backends() -> dict:
    mlp = {"rows": 5000, "nnrun-jax-epochs": {"epoch_seconds": [1.0, 0.3, 0.5]},
           "xla_limit": {"steady_epoch_seconds": 0.2}}
    for name, wall, train in (("nnrun-jax", 4.0, 1.0), ("nnrun-tensorflow", 10.0, 2.0), ("plain-jax", 3.9, 1.0),
                              ("plain-tensorflow", 10.0, 3.0)):
        mlp[name] = [_arm(wall, train_seconds=train, loss=0.5)]
    cnn = {"wall": 30.0, "train_seconds": None, "rc": 124, "timed_out": True, "timeout": 30, "metric": None,
           "value": None, "subset": None}
    iris = {"wall": 9.0, "train_seconds": 2.0, "rc": 0, "timed_out": False, "timeout": 30, "metric": "accuracy",
            "subset": "validation"}
    return {"xor": {"jax": [_arm(2.0, train_seconds=0.5)], "tensorflow": [_arm(4.0, train_seconds=1.0)],
                    "seed_script": [_arm(40.0, train_seconds=35.0, correct=4)], "seed_epochs": 1000},
            "seeds": {"correct": [4] * 9 + [3]}, "mlp": mlp,
            "predict": {"jax": [_arm(3.0)], "tensorflow": [_arm(5.0)]},
            "configs": {"iris": {"tensorflow": {**iris, "value": 0.93}, "jax": {**iris, "value": 0.80}},
                        "digits_cnn": {"tensorflow": {**cnn, "timed_out": False, "rc": 0, "value": 0.97,
                                                      "metric": "accuracy"}, "jax": cnn}}}


def test_backends_targets_and_markdown() -> None:
    data = _backends()
    data["targets"] = backends.targets(data)
    shown = {t["what"]: (round(t["value"], 4), t["pass"]) for t in data["targets"]}
    assert shown["`nnrun train configs/xor.yaml` on JAX, whole command"] == (2.0, True)
    assert shown["… / the seed script (1000 epochs), whole command"] == (0.05, True)
    assert shown["XOR on JAX, seeds 0–9 with 4/4"] == (9, False)
    assert shown["MLP: nnrun on JAX / plain TF-Keras script, training time"] == (0.3333, True)
    assert shown["MLP: nnrun on JAX / plain TF-Keras script, whole command"] == (0.4, True)
    assert shown["MLP: steady epoch on JAX / fused XLA loop (bench/xla_limit.py)"] == (2.0, True)
    assert shown["MLP: nnrun / plain script, both on jax, whole command"] == (round(4.0 / 3.9, 4), True)
    assert shown["one-row `nnrun predict` of the iris run on JAX, whole command"] == (3.0, False)
    text = "\n".join(backends.markdown(data))
    assert "| one-row `nnrun predict` of the iris run on JAX, whole command | 3.00 s | ≤ 2.5 s | **FAIL** |" in text
    assert "| XOR on JAX, seeds 0–9 with 4/4 | 9/10 | 10/10 | **FAIL** |" in text
    assert "| iris | accuracy (validation) | 0.9300 | 0.8000 | **no** |" in text
    assert "| digits_cnn | accuracy | 0.9700 | timed out (30 s) | timed out |" in text


def test_report_generates_both_sections_between_the_markers(tmp_path) -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    results["sections"]["streaming"] = {**_streaming(), "mode": "quick", "measured": "2026-12-07T10:00:00+00:00",
                                        "seconds": 60.0, "load_avg_1min": [1.0, 2.0]}
    results["sections"]["streaming"]["targets"] = streaming.targets(results["sections"]["streaming"])
    results["sections"]["backends"] = {**_backends(), "mode": "quick", "measured": "2026-12-07T10:05:00+00:00",
                                       "seconds": 60.0, "load_avg_1min": [2.0, 3.0]}
    results["sections"]["backends"]["targets"] = backends.targets(results["sections"]["backends"])
    doc = tmp_path / "benchmarks.md"
    doc.write_text("hand-written head\n" + report.BEGIN + "\nold\n" + report.END + "\nhand-written tail\n")
    report.write(results, doc)
    text = doc.read_text()
    assert text.startswith("hand-written head\n") and text.endswith("hand-written tail\n") and "\nold\n" not in text
    assert "| streaming | 2026-12-07 10:00 |" in text and "| 1.0 min | 1.0 → 2.0 |" in text
    assert "*Generated by `bench/run.py --only backends` from its quick run of 2026-12-07 10:05.*" in text
    assert "| 8. Streaming: peak RSS streamed, 4,000 / 2,000 rows (csv) |  |  | 1.20× | ≤ 1.15× | **FAIL** |" in text
