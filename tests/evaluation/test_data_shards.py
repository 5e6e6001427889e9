"""``evaluate --data`` takes a folder or a glob of shards (read as one file, as data.validation/test do);
``predict --input`` takes one file: a folder of shards or a glob is refused in words (exit 2)."""

from __future__ import annotations

import json
import shutil

from tests.conftest import ROOT, invoke


def _iris_shards(tmp_path):
    folder = tmp_path / "sh"
    folder.mkdir()
    rows = (ROOT / "data/iris.csv").read_text().splitlines()
    (folder / "part-0.csv").write_text("\n".join(rows[:70]) + "\n")
    (folder / "part-1.csv").write_text("\n".join(rows[70:]) + "\n")
    return folder


def test_evaluate_data_takes_a_glob_or_a_folder_of_shards(iris_run, tmp_path):
    folder = _iris_shards(tmp_path)
    run = shutil.copytree(iris_run, tmp_path / "iris")
    whole = json.loads(invoke("evaluate", run, "--data", ROOT / "data/iris.csv", "--no-plots", "--json").stdout)
    for data in (folder / "*.csv", folder):
        result = invoke("evaluate", run, "--data", data, "--no-plots", "--json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["num_examples"] == whole["num_examples"] == 150 and doc["metrics"]["accuracy"] == whole["metrics"]["accuracy"]
    assert (run / "evaluation-sh.json").is_file()  # the glob's folder names it
    missing = invoke("evaluate", run, "--data", tmp_path / "nope" / "*.csv", "--no-plots")
    assert missing.exit_code == 2 and "no file matches this pattern" in missing.stderr


def test_predict_refuses_a_folder_of_shards_or_a_glob_in_words(iris_run, tmp_path):
    folder = _iris_shards(tmp_path)
    result = invoke("predict", iris_run, "--input", folder)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {folder}: is a folder; predict takes one file (CSV/TSV, JSON Lines, Parquet, "
                             "JSON or NPZ), not a folder of shards (predict each shard, or join them); a folder is "
                             "read as images only when the model takes images, and this one takes examples of "
                             "shape (4,)\n")
    pattern = f"{folder}/*.csv"
    result = invoke("predict", iris_run, "--input", pattern)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {pattern}: no such input file; predict takes one file and does not expand "
                             "globs (predict each file, or join them)\n")
