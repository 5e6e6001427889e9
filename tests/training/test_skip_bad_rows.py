"""``nnrun train --skip-bad-rows``: bad rows (a text cell in a numeric column, a missing target) are left out,
warned about with their file:line and counted in dataset.json, in memory and streamed (the same rows in every
epoch, at evaluate and at resume); without the flag the first bad row stops the run (exit 2) before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

ROWS = 240


def _write(tmp: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a,b,colour,label"]
    for _ in range(ROWS):
        a, b = rng.random(2)
        lines.append(f"{a:.4f},{b:.4f},{rng.choice(['red', 'blue'])},{int(a + b > 1)}")
    lines[40] = "0.5,oops,red,1"  # file line 41: not a number
    lines[200] = "0.3,0.2,blue,"  # file line 201: no target
    path = tmp / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(tmp: Path, streaming: bool) -> Path:
    config = tmp / "bad.yaml"
    config.write_text(
        f"name: bad\nseed: 0\ndata: {{path: '{_write(tmp)}', target: label, streaming: {str(streaming).lower()}, "
        "shuffle_buffer: 32}\nmodel:\n  layers:\n    - {type: Dense, units: 4, activation: relu}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n  metrics: [accuracy]\n"
        "training: {epochs: 1, batch_size: 32, validation_split: 0.2, test_split: 0.2}\n")
    return config


@pytest.mark.parametrize("streaming", [False, True])
def test_without_the_flag_the_first_bad_row_stops_training(tmp_path, streaming):
    result = invoke("train", _config(tmp_path, streaming), "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2
    assert "bad.csv:41: column 'b': expected a number, got 'oops'" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("streaming", [False, True])
def test_bad_rows_are_skipped_counted_and_skipped_again_at_evaluate_and_resume(tmp_path, streaming):
    from nnrun.config.load import load_config
    from nnrun.data.stream_read import TRAIN
    from nnrun.data.stream_source import from_run

    config = _config(tmp_path, streaming)
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--skip-bad-rows", "--json", "--quiet",
                    "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert "2 bad row(s) skipped" in result.stderr
    assert "skipped " + str(tmp_path / "bad.csv") + ":41: column 'b': expected a number, got 'oops'" in result.stderr
    assert "bad.csv:201: target column 'label'" in result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["skipped_rows"] == 2 and meta["skip_bad_rows"] is True
    assert meta["num_train"] + meta["num_validation"] + meta["num_test"] == ROWS - 2
    assert ("streaming" in meta) is streaming
    if streaming:  # every later read of the shards leaves out the same rows: the training rows recounted
        source = from_run(meta, load_config(config).config)
        assert sum(len(y) for _, y, _ in source.encoded(TRAIN)) == meta["num_train"]
    else:
        split = json.loads((run / "split.json").read_text())
        assert len(split["train"]) == meta["num_train"]

    evaluated = invoke("evaluate", run, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    resumed = invoke("train", "--resume", run, "--set", "training.epochs=2", "--json", "--quiet", "--no-plots")
    assert resumed.exit_code == 0, resumed.stderr
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2


def test_rows_with_the_wrong_number_of_fields_are_skipped_alike_in_memory_and_streamed(tmp_path):
    lines = ["a,b,label"] + [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{i % 2}" for i in range(40)]
    lines[5] = "0.1,0.2,0.3,1"  # file line 6: one field too many
    lines[9] = "0.4,1"  # file line 10: one field short
    lines[12] = "x,0.5,0"  # file line 13: a bad cell
    lines[20] = '"0.5\n0.6",0.1,0.2,1'  # file lines 21-22: a quoted record over two lines, one field too many
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n")
    got = {}
    for streaming in (False, True):
        config = tmp_path / f"ragged-{streaming}.yaml"
        config.write_text(
            f"name: r\nseed: 0\ndata: {{path: ragged.csv, target: label, normalize: true, "
            f"streaming: {str(streaming).lower()}}}\n"
            "model:\n  layers: [{type: Dense, units: 1, activation: sigmoid}]\n  loss: binary_crossentropy\n"
            "training: {epochs: 1}\n")
        result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--skip-bad-rows", "--json", "--quiet",
                        "--no-plots")
        assert result.exit_code == 0, result.stderr
        assert "ragged.csv:10: expected 3 fields like the first line, got 2; every row needs the same number of " \
            "columns" in result.stderr
        meta = json.loads((Path(json.loads(result.stdout)["run_dir"]) / "dataset.json").read_text())
        skipped = sorted(int(line.split("ragged.csv:")[1].split(":")[0]) for line in result.stderr.splitlines()
                         if line.startswith("warning: skipped "))
        got[streaming] = (skipped, meta["skipped_rows"], meta["num_examples"], meta["features"]["mean"],
                          meta["features"]["variance"])
    assert got[False][0] == [6, 10, 13, 21]
    assert got[False][1:3] == (4, 40 - 4)
    assert got[False][:3] == got[True][:3]
    np.testing.assert_allclose(got[False][3], got[True][3], atol=1e-6)
    np.testing.assert_allclose(got[False][4], got[True][4], atol=1e-6)
