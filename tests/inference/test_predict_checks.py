"""Issue 18: predict refuses what would be silently wrong (a NaN threshold) and says what it did with
unseen categories; a model file that is not the run's is named, not dumped as stack frames."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, invoke


@pytest.mark.parametrize("value", ["nan", "-inf", "inf"])
def test_a_non_finite_threshold_is_refused(xor_run, value):
    result = invoke("predict", xor_run, "--input", ROOT / "data" / "xor.csv", "--threshold", value)
    assert result.exit_code == 2, result.stdout
    assert "--threshold" in result.stderr
    assert result.stdout == ""


def test_a_model_copied_from_another_run_is_named(xor_run, iris_run, tmp_path):
    run = tmp_path / "xor"
    shutil.copytree(xor_run, run)
    shutil.copy(iris_run / "model.keras", run / "model.keras")
    result = invoke("predict", run, "--input", ROOT / "data" / "xor.csv")
    assert result.exit_code == 2, result.stderr
    assert "this model does not fit the run's data: it takes" in result.stderr
    assert "(4,)" in result.stderr and "needs (2,)" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("content", "what"), [
    (b"", "an empty file (0 bytes)"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "an HDF5 file (the legacy .h5 format)"),
    (b"garbage" * 10, "a 70-byte file that is not a zip archive"),
])
def test_a_broken_model_file_says_what_it_is(xor_run, tmp_path, content, what):
    run = tmp_path / "xor"
    shutil.copytree(xor_run, run)
    (run / "model.keras").write_bytes(content)
    result = invoke("evaluate", run, "--json")
    assert result.exit_code == 1, result.stderr
    assert f"model.keras: {what}, not a .keras model archive" in result.stderr
    assert "File not found" not in result.stderr


def test_predict_json_reports_unseen_categories_per_column(signal_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("a,n1,b,colour,n2\n1,0,1,red,0\n1,0,1,purple,0\n-1,0,-1,mauve,0\n0,0,0,blue,0\n")
    out = tmp_path / "out.csv"
    result = invoke("predict", signal_run, "--input", rows, "--output", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"output": str(out), "format": "csv", "rows": 4, "skipped": 0,
                                         "unseen_categories": {"colour": 2}}
    assert "column 'colour': 2 value(s) not seen in training (e.g. 'purple')" in result.stderr
    assert len(out.read_text().splitlines()) == 5
    result = invoke("predict", signal_run, "--input", rows, "--json")  # stdout carries the predictions
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["message"].endswith("--json needs --output FILE (stdout carries the "
                                                                  "predictions)")


def test_a_parquet_file_for_a_headerless_run_is_told_how_columns_are_named(iris_run, tmp_path):
    import pandas as pd

    frame = pd.read_csv(ROOT / "data" / "iris.csv", header=None).iloc[:3]
    frame.columns = [str(c) for c in frame.columns]  # '0'…'4': a Parquet file names its columns
    frame.insert(0, "id", ["a", "b", "c"])
    frame.to_parquet(tmp_path / "rows.parquet")
    result = invoke("predict", iris_run, "--input", tmp_path / "rows.parquet")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'rows.parquet'}: expected 4 features, got 6 (the model takes: col0, col1, col2, col3)",
        "  hint: the run was trained on a file without a header, so its columns are named by position: col0, col1, "
        "col2, col3 (the file's '0' is not 'col0'); name the file's columns so (extra columns are then ignored), or "
        "give exactly 4 columns in training order",
    ]
    frame.columns = ["id", "col0", "col1", "col2", "col3", "col4"]  # as the hint says
    frame.to_parquet(tmp_path / "rows.parquet")
    result = invoke("predict", iris_run, "--input", tmp_path / "rows.parquet", "--keep", "id")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:2] for line in result.stdout.splitlines()[1:]] == [[i, "Iris-setosa"] for i in "abc"]
