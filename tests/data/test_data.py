"""Reading tables and predict input, labels and splits (NumPy/pandas only, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from nnrun.config.load import DataConfig
from nnrun.data.batches import read_predict_input
from nnrun.data.dataset import read_table
from nnrun.data.labels import class_list, encode_labels, encode_targets
from nnrun.data.readers.csv import detect_header
from nnrun.data.splits import split_indices
from nnrun.errors import DataError


def _cfg(path, **kw) -> DataConfig:
    return DataConfig(path=str(path), **kw)


def test_headerless_csv_target_by_index(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,a\n3,4,b\n5,6,a\n")
    t = read_table(_cfg(f, target=2))
    assert t.x.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert t.y.tolist() == ["a", "b", "a"]
    assert t.feature_names == ["col0", "col1"] and t.target_name == "col2"
    assert t.header is False
    assert len(t.sha256) == 64


def test_header_is_detected_and_target_found_by_name(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text(" width , height ,kind\n1,2,a\n3,4,b\n")
    t = read_table(_cfg(f, target="kind"))
    assert t.header is True
    assert t.feature_names == ["width", "height"]
    assert t.y.tolist() == ["a", "b"]


def test_semicolon_and_tab_delimiters_are_detected(tmp_path):
    for sep in (";", "\t"):
        f = tmp_path / "d.csv"
        f.write_text(f"1{sep}2{sep}0\n3{sep}4{sep}1\n")
        t = read_table(_cfg(f))
        assert t.delimiter == sep and t.x.shape == (2, 2)


def test_target_name_without_header_is_explained(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n3,4,1\n")
    with pytest.raises(DataError) as e:
        read_table(_cfg(f, target="label"))
    assert "the file has no header row; give the column index (0..2) or set data.header: true" in str(e.value)


def test_unknown_target_name_suggests_the_closest(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError) as e:
        read_table(_cfg(f, target="lable"))
    assert str(e.value) == f"{f}: data.target: no column named 'lable' (did you mean 'label'?); columns are: a, b, label"


def test_target_index_out_of_range(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n")
    with pytest.raises(DataError, match=r"column index 5 is out of range; the file has 3 columns \(0..2"):
        read_table(_cfg(f, target=5))


def test_missing_value_names_column_and_lines(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n3,?,1\n5,,0\n")
    with pytest.raises(DataError) as e:
        read_table(_cfg(f))
    assert str(e.value) == (
        f"{f}:2: column 'col1': missing value ('?') in 2 row(s): 2, 3; set data.missing (drop, mean, median, "
        "most_frequent, constant; for all columns or as {col1: median}) or fix the rows"
    )


def test_text_in_a_feature_column(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n3,red,1\n")
    with pytest.raises(DataError, match=r":2: column 'col1': expected a number, got 'red'"):
        read_table(_cfg(f))


def test_changing_column_count_names_the_line(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n3,4,1\n5,6\n")
    with pytest.raises(DataError) as e:
        read_table(_cfg(f))
    assert str(e.value).startswith(f"{f}:3: expected 3 fields like the first line, got 2")


def test_infinite_value_is_refused(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("1,2,0\n3,inf,1\n")
    with pytest.raises(DataError, match=r"expected a finite number within float32 range \(±3.4e38\), got 'inf'"):
        read_table(_cfg(f))


def test_empty_binary_and_non_utf8_files(tmp_path):
    cases = {b"": "the file is empty", b"\x00\x01\x02": "binary file", b"1,2\n\xff\xfe,3\n": ":2: not UTF-8 text"}
    for raw, message in cases.items():
        f = tmp_path / "d.csv"
        f.write_bytes(raw)
        with pytest.raises(DataError, match=message):
            read_table(_cfg(f))


def test_header_only_file(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(_cfg(f, header=True))


def test_relative_path_falls_back_to_the_config_directory(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "d.csv").write_text("1,2,0\n3,4,1\n")
    monkeypatch.chdir(tmp_path)
    t = read_table(_cfg("d.csv"), config_path=tmp_path / "cfg" / "c.yaml")
    assert t.x.shape == (2, 2)
    with pytest.raises(DataError, match=r"no such data file \(looked in"):
        read_table(_cfg("nope.csv"), config_path=tmp_path / "cfg" / "c.yaml")


def test_detect_header():
    assert detect_header([["a", "b", "c"], ["1", "2", "x"]]) is True
    assert detect_header([["5.1", "3.5", "Iris-setosa"], ["4.9", "3.0", "Iris-setosa"]]) is False
    assert detect_header([["1", "2"], ["3", "4"]]) is False
    assert detect_header([["1", "two", "0"], ["3", "4", "1"]]) is False  # text in a data row is not a header
    assert detect_header([["a", "b"], ["x", "y"]]) is False  # no numeric column: cannot tell, assume data


def test_integer_labels_keep_their_values():
    y = np.array([3, 1, 2, 2])
    classes = class_list(y)
    assert classes == [1, 2, 3]
    assert encode_labels(y, classes, "f").tolist() == [2, 0, 1, 1]


def test_unseen_label_is_reported():
    with pytest.raises(DataError) as e:
        encode_labels(np.array(["a", "z"], dtype=object), ["a", "b"], "f.csv")
    assert str(e.value) == "f.csv: row 2: label 'z' was not seen in training; known classes: a, b"


def test_encode_targets_shapes():
    y = np.array(["b", "a", "c"], dtype=object)
    classes = ["a", "b", "c"]
    assert encode_targets(y, "sparse", classes, "f").tolist() == [1, 0, 2]
    assert encode_targets(y, "categorical", classes, "f").tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert encode_targets(np.array([0, 1]), "binary", [0, 1], "f").shape == (2, 1)
    assert encode_targets(np.array([1.5, 2.0]), "regression", None, "f").tolist() == [[1.5], [2.0]]


def test_stratified_split_keeps_class_proportions():
    y = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20, dtype=object)
    train, val = split_indices(y, 0.2, seed=0, stratify=True)
    assert len(val) == 20 and len(train) == 80
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
    vals = y[val].tolist()
    assert (vals.count("a"), vals.count("b"), vals.count("c")) == (10, 6, 4)
    again = split_indices(y, 0.2, seed=0, stratify=True)
    assert again[1].tolist() == val.tolist()
    assert split_indices(y, 0.2, seed=1, stratify=True)[1].tolist() != val.tolist()


def test_no_split_when_fraction_is_zero():
    train, val = split_indices(np.zeros(5), 0.0, seed=0, stratify=False)
    assert train.tolist() == [0, 1, 2, 3, 4] and val.tolist() == []


META = {
    "feature_names": ["a", "b"], "columns": ["a", "b", "y"], "target_index": 2, "target_name": "y",
    "header": True, "delimiter": ",", "source": "x.csv",
}


def test_predict_input_by_header_names_in_any_order(tmp_path):
    f = tmp_path / "in.csv"
    f.write_text("b,id,a\n2,x,1\n4,y,3\n")
    x, rows, fmt = read_predict_input(str(f), META)
    assert x.tolist() == [[1, 2], [3, 4]] and fmt == "csv"
    assert rows[0] == {"b": "2", "id": "x", "a": "1"}


def test_predict_input_json_forms(tmp_path):
    f = tmp_path / "in.json"
    for text in ("[[1, 2], [3, 4]]", '{"x": [[1, 2], [3, 4]]}'):
        f.write_text(text)
        assert read_predict_input(str(f), META)[0].tolist() == [[1, 2], [3, 4]]
    f.write_text("[1, 2]")
    assert read_predict_input(str(f), META)[0].tolist() == [[1, 2]]
    f.write_text("[[1, 2, 3]]")
    with pytest.raises(DataError, match="row 1: expected 2 features, got 3"):
        read_predict_input(str(f), META)
    f.write_text("[[1, true]]")
    with pytest.raises(DataError, match="row 1, feature 1: expected a number or a string, got true"):
        read_predict_input(str(f), META)


def test_blank_lines_keep_line_numbers_right(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("0,0,0\n\n\n1,1,1\n\n0,x,1\n")
    with pytest.raises(DataError, match=r":6: column 'col1': expected a number, got 'x'"):
        read_table(_cfg(f))


def test_question_mark_first_row_is_data_not_a_header(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("?,1,0\n1,1,1\n0,1,0\n")
    with pytest.raises(DataError, match=r":1: column 'col0': missing value"):
        read_table(_cfg(f))


def test_duplicate_header_names_are_refused(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,a,c\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match=r":1: duplicate column names in the header: a; rename them"):
        read_table(_cfg(f, target="c"))


def test_non_finite_targets_and_float32_overflow(tmp_path):
    f = tmp_path / "d.csv"
    for text, message in (("1,2,nan\n3,4,1\n", ":1: target column 'col2': expected a label or a finite number"),
                          ("1,2,0\n3,4,inf\n", ":2: target column 'col2'"),
                          ("1,2e39,0\n3,4,1\n", ":1: column 'col1': expected a finite number within float32")):
        f.write_text(text)
        with pytest.raises(DataError, match=message):
            read_table(_cfg(f))


def test_device_files_are_not_read(tmp_path):
    with pytest.raises(DataError, match="not a regular file"):
        read_table(_cfg("/dev/zero"))
