"""The reports of a streamed run cover every validation/test row, read from the shards, not only the first
``stream_source.EVAL_ROWS`` (set to 50 here so that 360 generated rows exceed it): the metrics equal those of the
same model on the same rows held in memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import invoke

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data"))
from test_shards import write_shards  # noqa: E402  (the generated shards of the data tests)


def _in_memory_metrics(run: Path, meta: dict, role: int, subset: str) -> dict:
    """The same model's report on the same rows, every one held in memory (``first_rows`` without a cap)."""
    from nnrun.config.load import load_config
    from nnrun.data.stream_source import first_rows, from_run
    from nnrun.evaluation.evaluate import EvalData, EvalOptions, evaluate_model
    from nnrun.inference.predictor import load_model

    cfg = load_config(run / "config.yaml").config
    x, y = first_rows(from_run(meta, cfg), role, 10**9)
    doc = evaluate_model(run, load_model(run, meta=meta), meta, EvalData(x, y, subset, meta["source"]),
                         EvalOptions(cfg.training.batch_size, plots=False, label=f"mem-{subset}"))
    return doc


def test_a_streamed_runs_reports_cover_every_row(tmp_path, monkeypatch):
    from nnrun.data import stream_source
    from nnrun.data.stream_read import TEST, VALIDATION

    monkeypatch.setattr(stream_source, "EVAL_ROWS", 50)
    shards = write_shards(tmp_path / "parts")
    config = tmp_path / "r.yaml"
    config.write_text(
        f"name: r\nseed: 3\ndata: {{path: '{shards}/*.csv', target: label, streaming: true, normalize: true, "
        "missing: {x2: mean, colour: most_frequent}}\nmodel:\n  layers:\n    - {type: Dense, units: 8, "
        "activation: relu}\n    - {type: Dense, units: 3, activation: softmax}\n  loss: "
        "sparse_categorical_crossentropy\n  metrics: [accuracy]\ntraining: {epochs: 1, batch_size: 32, "
        "validation_split: 0.3, test_split: 0.3}\n")
    trained = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    assert trained.exit_code == 0, trained.stderr
    run = Path(json.loads(trained.stdout)["run_dir"])
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["num_validation"] > 50 and meta["num_test"] > 50

    report = json.loads((run / "evaluation.json").read_text())  # the training-time report: validation rows
    assert report["subset"] == "validation" and report["num_examples"] == meta["num_validation"]
    evaluated = invoke("evaluate", run, "--json", "--no-plots")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "first 50" not in evaluated.stderr
    doc = json.loads(evaluated.stdout)
    assert doc["subset"] == "test" and doc["num_examples"] == meta["num_test"]
    assert f"{meta['num_test']} examples" in (run / doc["report_file"]).read_text()

    for streamed, role in ((report, VALIDATION), (doc, TEST)):
        memory = _in_memory_metrics(run, meta, role, streamed["subset"])
        assert memory["num_examples"] == streamed["num_examples"]
        assert memory["report"]["confusion_matrix"] == streamed["report"]["confusion_matrix"]
        assert memory["metrics"].keys() == streamed["metrics"].keys()
        for name, value in memory["metrics"].items():
            assert streamed["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
