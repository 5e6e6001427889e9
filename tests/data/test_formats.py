"""Input quirks and formats (issue 3): each quirky file is written in the test, read, and its values checked.
NumPy/pandas/pyarrow only, no TensorFlow."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnrun.config.load import DataConfig, load_config_text
from nnrun.data.dataset import read_table
from nnrun.data.features import transform
from nnrun.data.spec import fit
from nnrun.data.splits import split_three
from nnrun.errors import ConfigError, DataError

ROWS = [["1.5", "a", "x", "0"], ["2.5", "b", "y", "1"], ["3.5", "a", "z", "0"], ["4.5", "b", "x", "1"]]


def _cfg(path, **kw) -> DataConfig:
    return DataConfig(path=str(path), **kw)


def test_tsv_by_extension_with_header_spaces_crlf_comments_and_blank_tail(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_bytes(b"# exported 2026-11-29\r\n  size \t colour\t label \r\n1.5\tred\t0\r\n# a note\r\n2.5\tblue\t1\r\n\r\n\r\n")
    t = read_table(_cfg(f, target="label", comment="#"))
    assert t.fmt == "tsv" and t.delimiter == "\t" and t.header is True
    assert t.feature_names == ["size", "colour"] and t.target_name == "label"
    assert t.kinds == {"size": "numeric", "colour": "categorical"}
    assert t.y.tolist() == [0, 1]
    assert t.x["numeric"].ravel().tolist() == [1.5, 2.5]
    assert t.x["cat_0"].ravel().tolist() == ["red", "blue"]


def test_comment_lines_keep_error_line_numbers(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("# one\n# two\n1,2,0\n3,x,1\n5,6,0\n")
    with pytest.raises(DataError, match=r"d.csv:4: column 'col1': expected a number, got 'x'"):
        read_table(_cfg(f, comment="#"))


def test_delimiter_is_detected_and_quoted_fields_keep_their_delimiters(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text('id;name;v;y\n1;"Smith; J";0.5;0\n2;"Doe; A";1.5;1\n')
    t = read_table(_cfg(f, target="y", drop=["id"]))
    assert t.delimiter == ";" and t.feature_names == ["name", "v"]
    assert t.x["cat_0"].ravel().tolist() == ["Smith; J", "Doe; A"]


def test_features_by_name_or_index_in_the_given_order_and_drop(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("id,a,b,c,y\n7,1,2,3,0\n8,4,5,6,1\n")
    t = read_table(_cfg(f, target="y", features=["c", 1]))
    assert t.feature_names == ["c", "a"] and t.x.tolist() == [[3, 1], [6, 4]]
    t = read_table(_cfg(f, target=-1, drop=["id", 2]))
    assert t.feature_names == ["a", "c"]
    with pytest.raises(DataError, match=r"data.drop\[0\]: no column named 'ids' \(did you mean 'id'\?\)"):
        read_table(_cfg(f, target="y", drop=["ids"]))


def test_parquet_jsonl_npz_and_npy_read_the_same_values(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"v": [1.5, 2.5, 3.5, 4.5], "kind": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]})
    frame.to_parquet(tmp_path / "d.parquet")
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n\n")
    for name in ("d.parquet", "d.jsonl"):
        t = read_table(_cfg(tmp_path / name, target="y"))
        assert t.fmt == name.split(".")[1]
        assert t.x["numeric"].ravel().tolist() == [1.5, 2.5, 3.5, 4.5]
        assert t.x["cat_0"].ravel().tolist() == ["a", "b", "a", "b"]
        assert t.y.tolist() == [0, 1, 0, 1]
    images = np.arange(4 * 3 * 3 * 1, dtype=np.float32).reshape(4, 3, 3, 1)
    np.savez(tmp_path / "d.npz", x=images, y=np.array([0, 1, 0, 1]))
    t = read_table(_cfg(tmp_path / "d.npz"))
    assert t.x.shape == (4, 3, 3, 1) and t.y.tolist() == [0, 1, 0, 1]
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.array([1.0, 2.0, 3.0, 4.0]))
    t = read_table(_cfg(tmp_path / "x.npy", target_path=str(tmp_path / "y.npy")))
    assert t.x.shape == (4, 3, 3, 1) and t.y.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.array([[1, "a"]], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="holds object arrays, which are refused"):
        read_table(_cfg(tmp_path / "d.npz"))


def test_jsonl_bad_line_is_named(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"a": 1, "y": 0}\n{"a": 2, "y": 1}\n{"a": 3, "y": \n')
    with pytest.raises(DataError, match=r"d.jsonl:3:\d+: invalid JSON"):
        read_table(_cfg(f, target="y"))


def test_missing_values_by_default_name_the_column_and_first_rows(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,y\n1,?,0\n2,NA,1\n3,,0\n4,5,1\n")
    with pytest.raises(DataError) as e:
        read_table(_cfg(f, target="y"))
    assert str(e.value).startswith(f"{f}:2: column 'b': missing value ('?') in 3 row(s): 2, 3, 4; set data.missing")


def test_missing_policies_learn_fill_values_on_the_training_rows_only(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,c,y\n1,r,0\n,g,1\n3,,0\n100,g,1\n")
    d = _cfg(f, target="y", missing="median")
    t = read_table(d)
    spec = t.encode(np.array([0, 1, 2]), d)  # row 3 (a=100) is not a training row
    by_name = {c["name"]: c for c in spec["columns"]}
    assert by_name["a"]["fill"] == 2.0  # median of 1 and 3, not of 1, 3, 100
    assert by_name["c"]["fill"] == "g" and by_name["c"]["missing"] == "most_frequent"  # text: most frequent
    assert t.x["numeric"].ravel().tolist() == [1, 2, 3, 100]
    assert t.x["cat_0"].ravel().tolist() == ["r", "g", "g", "g"]
    assert spec["categorical"][0]["vocabulary"] == ["g", "r"]


def test_missing_policy_per_column_drop_and_constant(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,y\n1,?,0\n,5,1\n3,6,0\n4,7,1\n")
    d = _cfg(f, target="y", missing={"a": "drop", "b": "constant"}, fill_value={"b": -1})
    t = read_table(d)
    assert t.dropped == 1 and t.y.tolist() == [0, 0, 1]
    t.encode(np.arange(3), d)
    assert t.x.tolist() == [[1, -1], [3, 6], [4, 7]]
    d = _cfg(f, target="y", missing={"a": "mean"})  # b still errors
    with pytest.raises(DataError, match=r":2: column 'b': missing value"):
        read_table(d)


def test_mean_mode_and_constant_values(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,y\n1,0\n2,1\n2,0\n7,1\n?,0\n")
    for policy, expected in (("mean", 3.0), ("most_frequent", 2.0)):
        d = _cfg(f, target="y", missing=policy)
        t = read_table(d)
        t.encode(np.arange(5), d)
        assert t.x[4, 0] == expected


def test_a_mostly_numeric_column_with_a_word_is_an_error_not_a_category(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,y\n1,0\n2,1\nthree,0\n")
    with pytest.raises(DataError, match=r"d.csv:4: column 'a': expected a number, got 'three'.*data.categorical"):
        read_table(_cfg(f, target="y"))
    t = read_table(_cfg(f, target="y", categorical=["a"]))
    assert t.kinds == {"a": "categorical"} and t.x["cat_0"].ravel().tolist() == ["1", "2", "three"]


def test_unseen_category_is_kept_for_the_out_of_vocabulary_bucket(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("c,y\nred,0\nblue,1\n")
    t = read_table(_cfg(f, target="y"))
    spec = t.encode(np.arange(2), _cfg(f, target="y"))
    import pandas as pd

    x, ok, problems = transform(pd.DataFrame({"c": ["green", " red "]}), spec, lambda i: f"in:{i + 1}")
    assert x["cat_0"].ravel().tolist() == ["green", "red"] and ok.all() and problems == []


def test_skip_bad_rows_reports_each_bad_row(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"a": ["1", "x", "", "4"], "b": ["1", "2", "3", "?"]})
    spec = fit(frame.iloc[[0]], ["a", "b"], {"a": "numeric", "b": "numeric"}, _cfg(tmp_path / "d.csv"), "d.csv")
    x, ok, problems = transform(frame, spec, lambda i: f"in.csv:{i + 2}", skip_bad=True)
    assert ok.tolist() == [True, False, False, False] and x.tolist() == [[1, 1]]
    assert problems == ["in.csv:3: column 'a': expected a number, got 'x'",
                        "in.csv:4: column 'a': missing value; set data.missing (drop, mean, median, most_frequent, "
                        "constant) or fill the cell",
                        "in.csv:5: column 'b': missing value; set data.missing (drop, mean, median, most_frequent, "
                        "constant) or fill the cell"]


def test_normalize_statistics_come_from_the_training_rows(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,y\n1,5,0\n3,5,1\n100,5,0\n")
    d = _cfg(f, target="y", normalize=True)
    spec = read_table(d).encode(np.array([0, 1]), d)
    assert spec["mean"] == [2.0, 5.0] and spec["variance"] == [1.0, 0.0]


@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_stratified_test_and_validation_splits_keep_class_proportions(fraction):
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    tr, va, te = split_three(y, fraction, 0.1, seed=3, stratify=True)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    assert np.bincount(y[te]).tolist() == [6, 3, 1]
    assert np.bincount(y[va], minlength=3).tolist() == [round(fraction * 60), round(fraction * 30),
                                                       round(fraction * 10)]
    again = split_three(y, fraction, 0.1, seed=3, stratify=True)
    assert all((a == b).all() for a, b in zip((tr, va, te), again, strict=True))


def test_zero_test_split_is_the_old_validation_split():
    from nnrun.data.splits import split_indices

    y = np.array([0, 1] * 20)
    tr, va, te = split_three(y, 0.25, 0.0, seed=1, stratify=True)
    old_tr, old_va = split_indices(y, 0.25, 1, True)
    assert (tr == old_tr).all() and (va == old_va).all() and te.size == 0


BASE = """name: t
data: {path: d.csv, target: y%s}
model:
  layers: [{type: Dense, units: 1, activation: sigmoid}]
  loss: binary_crossentropy
training: {epochs: 1%s}
"""


@pytest.mark.parametrize("data,training,message", [
    (", missing: constant", "", "data.missing: missing: constant needs data.fill_value"),
    (", fill_value: 0", "", "data.fill_value: fill_value is used only with missing: constant"),
    ("", ", validation_split: 0.6, test_split: 0.4", "training.test_split: validation_split + test_split = 1"),
    (", validation: {path: v.csv}", ", validation_split: 0.2", "data.validation: give a validation file or"),
    (", features: [a, y]", "", "data.features: the target 'y' is also listed as a feature"),
    (", drop: [y]", "", "data.drop: the target 'y' is in drop"),
    (", format: npz, categorical: [a]", "", "data.categorical: categorical applies to tables, not to npz arrays"),
    (", missing: {a: avg}", "", "data.missing.a: "),
    (", categorical: {a: {encoding: one_hot, output_dim: 4}}", "", "output_dim goes with encoding: embedding"),
])
def test_data_section_mistakes_are_config_errors(data, training, message):
    with pytest.raises(ConfigError) as e:
        load_config_text(BASE % (data, training), "c.yaml")
    assert message in str(e.value)


# ------------------------------------------------------------------------------- fast path (issue 6)
def _careful(path, **kw):
    """The same file read by the careful path (quotechar other than '"' skips the fast path)."""
    return read_table(_cfg(path, quotechar="'", **kw))


@pytest.mark.parametrize("body, labels, dtype", [
    ("a,b,y\n1,2.5,1\n3, 4 ,0\n5,6e-1,1\n", [1, 0, 1], np.int64),
    ("a,b,y\n1,2.5,1.0\n3,4,0.0\n5,6,1.0\n", [1.0, 0.0, 1.0], np.float64),
    ("a,b,y\n1,2.5, yes\n3,4,no \n5,6,yes\n", ["yes", "no", "yes"], object),
    ("a,b,y\n1,2.5,007\n3,4,-2\n5,6,+3\n", [7, -2, 3], np.int64),
])
def test_clean_numeric_csv_reads_the_same_on_the_fast_and_the_careful_path(tmp_path, body, labels, dtype):
    f = tmp_path / "d.csv"
    f.write_text(body)
    fast, careful = read_table(_cfg(f, target="y")), _careful(f, target="y")
    assert fast.raw.frame["b"].dtype == np.float64 and careful.raw.frame["b"].dtype != np.float64  # the two paths
    assert fast.raw.frame.attrs["first_line"] == careful.raw.frame.attrs["first_line"] == 2
    assert fast.y.tolist() == careful.y.tolist() == labels
    assert fast.y.dtype == careful.y.dtype == dtype
    assert fast.x.dtype == np.float32 and fast.x.tolist() == careful.x.tolist()
    assert fast.x.tolist() == [[1.0, 2.5], [3.0, 4.0], [5.0, pytest.approx(6 if "6e" not in body else 0.6)]]


@pytest.mark.parametrize("body, message", [
    ("a,b,y\n1,2,0\n3,,1\n", r"d.csv:3: column 'b': missing value \(''\)"),
    ("a,b,y\n1,2,0\n3,NA,1\n", r"d.csv:3: column 'b': missing value \('NA'\)"),
    ("a,b,y\n1,2,0\n3,4\n", r"d.csv:3: expected 3 fields like the first line, got 2"),
    ("a,b,y\n1,2,0\n3,4,\n", r"d.csv:3: target column 'y': expected a label or a finite number, got ''"),
    ("a,b,y\n1,2,0\n3,inf,1\n", r"d.csv:3: column 'b': expected a finite number"),
    ("a,b,y\n1,2,0\n3,True,1\n", r"d.csv:3: column 'b': expected a number, got 'True'"),
])
def test_unclean_files_leave_the_fast_path_and_name_the_line(tmp_path, body, message):
    f = tmp_path / "d.csv"
    f.write_text(body)
    with pytest.raises(DataError, match=message):
        read_table(_cfg(f, target="y"))


def test_labels_are_encoded_by_value_text_or_not_at_all():
    from nnrun.data.labels import encode_labels

    assert encode_labels(np.array([3, 1, 2, 3]), [1, 2, 3], "f").tolist() == [2, 0, 1, 2]
    assert encode_labels(np.array(["3", "1"], dtype=object), [1, 2, 3], "f").tolist() == [2, 0]
    assert encode_labels(np.array([2.0, 1.0]), [1, 2], "f").tolist() == [1, 0]
    assert encode_labels(np.array(["b", "a"], dtype=object), ["a", "b"], "f").tolist() == [1, 0]
    with pytest.raises(DataError, match=r"f: row 3: label 4 was not seen in training; known classes: 1, 2"):
        encode_labels(np.array([1, 2, 4]), [1, 2], "f")


def test_predict_columns_by_name_refuse_a_missing_named_feature():
    from nnrun.data.table import match_columns

    meta = {"feature_names": ["a", "b", "c"], "columns": ["a", "b", "c", "y"], "target_index": 3,
            "target_name": "y", "header": True}
    notes: list[str] = []
    assert match_columns(["id", "c", "a", "b"], True, meta, "in.csv", warn=notes.append) == ["a", "b", "c"]
    with pytest.raises(DataError, match=r"^in.csv: missing feature column\(s\) 'b'; the model takes: a, b, c$"):
        match_columns(["id", "a", "c", "y"], True, meta, "in.csv", warn=notes.append)
    # a header that names none of the features: matched by position, the target's position dropped, with a note
    assert match_columns(["p", "q", "r", "s"], True, meta, "in.csv", warn=notes.append) == ["p", "q", "r"]
    assert len(notes) == 1
    assert "by position: column 3 ('s', where the training file had its target 'y') is ignored" in notes[0]
