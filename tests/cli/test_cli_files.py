"""Bad data files through the CLI: exit code 2, the exact error line on stderr, no traceback, no run written.

Every case here fails before TensorFlow is imported (data is read and checked first)."""

from __future__ import annotations

import pytest
from conftest import invoke

CASES = {
    "missing.csv": (None, "{f}: no such data file"),
    "empty.csv": (b"", "{f}: the file is empty"),
    "garbage.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "{f}: holds NUL bytes: this is a binary file, not CSV text"),
    "latin1.csv": (b"1,2,0\n3,\xe9,1\n", "{f}:2: not UTF-8 text (byte 8); save the file as UTF-8"),
    "truncated.csv": (b"1,2,0\n3,4,1\n5,6", "{f}:3: expected 3 fields like the first line, got 2; every row needs the same number of columns"),
    "wider.csv": (b"1,2,0\n3,4,1\n5,6,7,1\n", "{f}:3: expected 3 fields like the first line, got 4; every row needs the same number of columns"),
    "semicolons.csv": (b"1;2;0\n3;4;1\n", "{f}: found 1 column (delimiter ','); expected features and a target column. Set data.delimiter if the file uses another separator"),
    "header_only.csv": (b"a,b,label\n", "{f}: the file has a header but no data rows"),
    "nan.csv": (b"1,nan,0\n3,4,1\n", "{f}:1: column 'col1': missing value ('nan') in 1 row(s): 1; set data.missing (drop, mean, median, most_frequent, constant; for all columns or as {{col1: median}}) or fix the rows"),
    "inf.csv": (b"1,inf,0\n3,4,1\n", "{f}:1: column 'col1': expected a finite number within float32 range (±3.4e38), got 'inf'"),
    "text.csv": (b"1,two,0\n3,4,1\n", "{f}:1: column 'col1': expected a number, got 'two' (1 of the 2 cells read in this column are text, the others numbers); fix the cell, add it to data.na_values if it means 'missing', or list the column in data.categorical"),
    "one_class.csv": (b"1,2,0\n3,4,0\n", "{c}:2:7: data: the target has 1 distinct value(s) (0); classification needs at least 2"),
    "three_classes.csv": (b"1,2,0\n3,4,1\n5,6,2\n", "{c}:3:71: model.loss: binary_crossentropy needs exactly 2 classes, the data has 3 (0, 1, 2); the rarest, '0' (1 row), first occurs at {f}:1; fix the labels, or use sparse_categorical_crossentropy with a softmax head of units: 3"),
    "typo_label.csv": (b"1,2,0\n3,4,1\n5,6,1\n7,8,0\n9,1,abc\n2,3,1\n", "{c}:3:71: model.loss: binary_crossentropy needs exactly 2 classes, the data has 3 (0, 1, abc); the rarest, 'abc' (1 row), first occurs at {f}:5; fix the labels, or use sparse_categorical_crossentropy with a softmax head of units: 3"),
    "trailing_commas.csv": (b"a,b,label,\n1,2,0,\n3,4,1,\n", "{f}:1: header column 4 has no name (the line ends with the delimiter: remove the trailing delimiters); name every column"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_data_file_gives_the_exact_error_line(tmp_path, name):
    raw, expected = CASES[name]
    f = tmp_path / name
    if raw is not None:
        f.write_bytes(raw)
    c = tmp_path / "c.yaml"
    c.write_text(
        f"name: t\ndata: {{path: {f}, delimiter: ','}}\n"
        "model: {layers: [{type: Dense, units: 1, activation: sigmoid}], loss: binary_crossentropy}\n"
    )
    result = invoke("train", c, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: " + expected.format(f=f, c=c)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_data_path_that_is_a_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    c = tmp_path / "c.yaml"
    c.write_text(f"name: t\ndata: {{path: {tmp_path / 'd.csv'}}}\nmodel: {{layers: [{{type: Dense, units: 1}}], loss: mse}}\n")
    result = invoke("train", c, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {tmp_path / 'd.csv'}: is a directory without class subfolders; expected one "
                             "subfolder per class (e.g. data/pets/cat/*.png, data/pets/dog/*.png) or a data file\n")


def test_regression_loss_on_text_labels(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,cat\n3,4,dog\n")
    c = tmp_path / "c.yaml"
    c.write_text(f"name: t\ndata: {{path: {f}}}\nmodel: {{layers: [{{type: Dense, units: 1}}], loss: mse}}\n")
    result = invoke("train", c, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {f}: the target column 'col2' holds text ('cat') but mse is a regression loss; use a classification loss\n"
    )


def test_config_file_problems(tmp_path):
    cases = {
        "missing.yaml": (None, "{f}: no such config file"),
        "empty.yaml": (b"", "{f}: the config is empty; expected a mapping with name, data and model"),
        "binary.yaml": (b"\x00\x01\x02", "{f}: the file holds NUL bytes: it is binary, not a YAML config"),
    }
    for name, (raw, expected) in cases.items():
        f = tmp_path / name
        if raw is not None:
            f.write_bytes(raw)
        result = invoke("train", f, "--runs-dir", tmp_path / "runs")
        assert result.exit_code == 2, name
        assert result.stderr.splitlines()[0] == "error: " + expected.format(f=f), name
