"""Streaming training (``data.streaming``): a run trained from CSV or Parquet shards read from disk each epoch
stores the feature spec the in-memory path learns on the same rows, predicts, evaluates and resumes; a bad row in
a late shard stops it before training with the shard and line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data"))
from test_shards import write_shards  # noqa: E402  (the generated shards of the data tests)

MODEL = ("model:\n  layers:\n    - {type: Dense, units: 8, activation: relu}\n"
         "    - {type: Dense, units: 3, activation: softmax}\n"
         "  loss: sparse_categorical_crossentropy\n  optimizer: {type: adam, learning_rate: 0.01}\n"
         "  metrics: [accuracy]\n")


def _config(tmp: Path, data: str, name: str, streaming: str = "true", split: float = 0.0, epochs: int = 1) -> Path:
    c = tmp / f"{name}.yaml"
    c.write_text(f"name: {name}\nseed: 3\ndata: {{path: '{data}', target: label, normalize: true, "
                 f"streaming: {streaming}, shuffle_buffer: 64, missing: {{x2: mean, colour: most_frequent}}}}\n"
                 f"{MODEL}training: {{epochs: {epochs}, batch_size: 32, validation_split: {split}, "
                 "deterministic: true}\n")
    return c


def _train(config: Path, runs: Path, *extra: str) -> Path:
    result = invoke("train", config, "--runs-dir", runs, "--json", "--quiet", "--no-plots", *extra)
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("stream") / "parts")


@pytest.mark.parametrize("pattern", ["", "*.parquet"])
def test_a_streamed_run_stores_the_in_memory_spec(shards, tmp_path, pattern):
    from nnrun.config.schema import DataConfig
    from nnrun.data.dataset import read_table

    folder = tmp_path / "csv"  # "": a folder of CSV shards
    folder.mkdir()
    for p in shards.glob("*.csv"):
        (folder / p.name).write_bytes(p.read_bytes())
    run = _train(_config(tmp_path, str(shards / pattern if pattern else folder), "s"), tmp_path)
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["streaming"]["shards"] == [f"part-000{k}.{'parquet' if pattern else 'csv'}" for k in range(3)]
    data = DataConfig(path=str(shards / (pattern or "*.csv")), target="label", normalize=True,
                      missing={"x2": "mean", "colour": "most_frequent"})
    table = read_table(data)
    spec = table.encode(np.arange(len(table.y)), data)
    assert meta["classes"] == ["a", "b", "c"] and meta["num_train"] == 360
    assert meta["features"]["categorical"] == spec["categorical"]
    np.testing.assert_allclose(meta["features"]["mean"], spec["mean"], rtol=1e-6)
    np.testing.assert_allclose(meta["features"]["variance"], spec["variance"], rtol=1e-6)


def test_a_streamed_run_predicts_evaluates_and_resumes(shards, tmp_path):
    whole = _train(_config(tmp_path, str(shards / "*.csv"), "whole", split=0.25, epochs=2), tmp_path / "a")
    run = _train(_config(tmp_path, str(shards / "*.csv"), "part", split=0.25, epochs=1), tmp_path / "b")
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["num_train"] + meta["num_validation"] == 360 and 60 < meta["num_validation"] < 120

    resumed = invoke("train", "--resume", run, "--set", "training.epochs=2", "--json", "--quiet", "--no-plots")
    assert resumed.exit_code == 0, resumed.stderr
    assert (run / "history.csv").read_text() == (whole / "history.csv").read_text()

    evaluated = invoke("evaluate", run, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    trained = json.loads((run / "evaluation.json").read_text())
    assert json.loads(evaluated.stdout)["metrics"]["accuracy"] == trained["metrics"]["accuracy"]

    out = tmp_path / "pred.csv"
    predicted = invoke("predict", run, "--input", shards / "part-0001.csv", "--output", out)
    assert predicted.exit_code == 0, predicted.stderr
    assert len(out.read_text().splitlines()) == 1 + 120
    # rows go to a split by hash: split.json lists no indices (a list would name rows the run never used)
    assert json.loads((run / "split.json").read_text()) == {
        "split": "hash of (shard, row) of data.path: training, validation",
        "rows": {"train": meta["num_train"], "validation": meta["num_validation"], "test": 0}}
    explained = invoke("predict", run, "--input", shards / "part-0001.csv", "--explain", "--format", "json")
    assert explained.exit_code == 0, explained.stderr
    for row in json.loads(explained.stdout)[:5]:  # completeness: baseline + attributions = the explained output
        total = row["attr_baseline"] + sum(v for k, v in row.items() if k.startswith("attr_") and k != "attr_baseline")
        assert total == pytest.approx(row["probabilities"][row["prediction"]], rel=0.01, abs=1e-3)


def test_a_bad_row_in_a_late_shard_stops_streaming_before_training(shards, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for p in sorted(shards.glob("*.csv")):
        lines = p.read_text().splitlines()
        if p.name == "part-0002.csv":
            lines[100] = "1.5,2.5,3.5,red,"  # line 101: no label
        (folder / p.name).write_text("\n".join(lines) + "\n")
    result = invoke("train", _config(tmp_path, str(folder), "bad"), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {folder / 'part-0002.csv'}:101: target column 'label': expected a "
                                    "label or a finite number, got ''")
    assert not (tmp_path / "runs").exists()


def test_streaming_auto_streams_only_past_the_memory_budget(shards, tmp_path):
    from nnrun.config.load import load_config
    from nnrun.training.stream import memory_budget, streamed_source

    config = _config(tmp_path, str(shards / "*.parquet"), "auto", streaming="auto")
    assert streamed_source(load_config(config), print) is None  # a few KiB: in memory
    small = load_config(config, overrides=("data.memory_budget=1KB",))
    assert [p.name for p in streamed_source(small, print).paths] == [f"part-000{k}.parquet" for k in range(3)]
    assert memory_budget("512MiB") == 512 * 2**20 and memory_budget("8GB") == 8 * 10**9


def testsplit_rule_names_the_roles_read_from_their_own_files():
    from types import SimpleNamespace

    from nnrun.training.stream import split_rule

    cfg = SimpleNamespace(training=SimpleNamespace(validation_split=0.2, test_split=0.1))
    assert split_rule(cfg, {}) == "hash of (shard, row) of data.path: training, validation, test"
    assert split_rule(cfg, {"validation": object()}) == \
        "hash of (shard, row) of data.path: training, test; validation: data.validation"
    assert split_rule(cfg, {"validation": object(), "test": object()}) == \
        "every row of data.path is a training row; validation: data.validation; test: data.test"
