"""One reader for every path: each bad table file gives the SAME first error line (file:line and words) through
``train`` (as the config's data), ``evaluate RUN --data FILE`` and ``predict RUN --input FILE``; a file with
comment lines trains, evaluates and predicts like the same file without them.

The bad files are those the rest of the suite uses (tests/test_cli_files.py, test_data.py, test_formats.py,
test_predict_scale.py), in the two column layouts the runs below were trained on.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from conftest import invoke

PLAIN_ROWS = ["1,2,0", "3,4,1", "5,6,0", "7,8,1", "2,1,0", "4,3,1", "6,5,0", "8,7,1"]
NAMED_ROWS = ["a,b,y", *PLAIN_ROWS]
MODEL = "model: {layers: [{type: Dense, units: 1, activation: sigmoid}], loss: binary_crossentropy}\n"
TRAINING = "training: {epochs: 1, batch_size: 4}\n"
# the named layout's run reads with comment "#": predict and evaluate must apply it too (dataset.json)
DATA_OPTIONS = {"plain": "delimiter: ','", "named": "comment: '#'"}


def _config(tmp: Path, data: Path, layout: str, name: str = "t") -> Path:
    c = tmp / f"{name}.yaml"
    c.write_text(f"name: {name}\ndata: {{path: {data}, {DATA_OPTIONS[layout]}}}\n{MODEL}{TRAINING}")
    return c


def _lines(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One small run per column layout: ``plain`` (no header: col0, col1, target col2) and ``named`` (header
    a, b, y; trained on a file with comment lines)."""
    tmp = tmp_path_factory.mktemp("readers")
    out = {}
    for layout, body in (("plain", _lines(PLAIN_ROWS)),
                         ("named", b"# measured 2024\n" + _lines(NAMED_ROWS[:3]) + b"# a note\n"
                          + _lines(NAMED_ROWS[3:]))):
        data = tmp / f"{layout}.csv"
        data.write_bytes(body)
        result = invoke("train", _config(tmp, data, layout, layout), "--runs-dir", tmp / "runs", "--json", "--quiet")
        assert result.exit_code == 0, result.stderr
        out[layout] = Path(json.loads(result.stdout)["run_dir"])
    return out


def _gzip_cut(rows: list[str]) -> bytes:
    return gzip.compress(_lines(rows) * 20)[:-12]


def _parquet_bytes(frame_dict: dict) -> bytes:
    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame(frame_dict).to_parquet(buf)
    return buf.getvalue()


#: name -> (layout, file name, bytes, the expected first error line with {f} for the file)
CASES = {
    "ragged_wider": ("plain", "wider.csv", b"1,2,0\n3,4,1\n5,6,7,1\n",
                     "{f}:3: expected 3 fields like the first line, got 4; every row needs the same number of columns"),
    "ragged_truncated": ("plain", "truncated.csv", b"1,2,0\n3,4,1\n5,6",
                         "{f}:3: expected 3 fields like the first line, got 2; every row needs the same number of "
                         "columns"),
    "ragged_after_blank_lines": ("plain", "blank.csv", b"0,0,0\n\n\n1,1,1\n\n0,1\n",
                                 "{f}:6: expected 3 fields like the first line, got 2; every row needs the same "
                                 "number of columns"),
    "duplicate_header": ("named", "dup.csv", b"a,a,y\n1,2,0\n3,4,1\n",
                         "{f}:1: duplicate column names in the header: a; rename them"),
    "duplicate_header_after_blank_lines": ("named", "dup_blank.csv", b"\n\na,a,y\n1,2,0\n3,4,1\n",
                                           "{f}:3: duplicate column names in the header: a; rename them"),
    "duplicate_header_after_comments": ("named", "dup_comment.csv", b"# made by hand\na,a,y\n1,2,0\n3,4,1\n",
                                        "{f}:2: duplicate column names in the header: a; rename them"),
    "duplicate_header_with_bom": ("named", "dup_bom.csv", b"\xef\xbb\xbfa,a,y\n1,2,0\n3,4,1\n",
                                  "{f}:1: duplicate column names in the header: a; rename them"),
    "trailing_commas": ("named", "trailing_commas.csv", b"a,b,y,\n1,2,0,\n3,4,1,\n",
                        "{f}:1: header column 4 has no name (the line ends with the delimiter: remove the trailing "
                        "delimiters); name every column"),
    "missing_cell": ("named", "missing.csv", b"a,b,y\n1,2,0\n3,,1\n5,6,0\n",
                     "{f}:3: column 'b': missing value ('') in 1 row(s): 3; set data.missing (drop, mean, median, "
                     "most_frequent, constant; for all columns or as {{b: median}}) or fix the rows"),
    "missing_cells_na": ("named", "na.csv", b"a,b,y\n1,2,0\n3,NA,1\n5,?,0\n",
                         "{f}:3: column 'b': missing value ('NA') in 2 row(s): 3, 4; set data.missing (drop, mean, "
                         "median, most_frequent, constant; for all columns or as {{b: median}}) or fix the rows"),
    "missing_nan_headerless": ("plain", "nan.csv", b"1,nan,0\n3,4,1\n",
                               "{f}:1: column 'col1': missing value ('nan') in 1 row(s): 1; set data.missing (drop, "
                               "mean, median, most_frequent, constant; for all columns or as {{col1: median}}) or fix "
                               "the rows"),
    "text_in_number_column": ("plain", "text.csv", b"1,two,0\n3,4,1\n",
                              "{f}:1: column 'col1': expected a number, got 'two' (1 of the 2 cells read in this "
                              "column are text, the others numbers); fix the cell, add it to data.na_values if it means 'missing', or list the "
                              "column in data.categorical"),
    "text_after_blank_lines_and_comments": ("named", "text_commented.csv",
                                            b"\n# a comment\na,b,y\n1,2,0\n# another\n3,x,1\n5,6,0\n",
                                            "{f}:6: column 'b': expected a number, got 'x' (1 of the 3 cells read in "
                                            "this column are text, the others numbers); fix the cell, add it to data.na_values if it "
                                            "means 'missing', or list the column in data.categorical"),
    "infinite": ("plain", "inf.csv", b"1,inf,0\n3,4,1\n",
                 "{f}:1: column 'col1': expected a finite number within float32 range (\u00b13.4e38), got 'inf'"),
    "latin1": ("plain", "latin1.csv", b"1,2,0\n3,\xe9,1\n", "{f}:2: not UTF-8 text (byte 8); save the file as UTF-8"),
    "empty": ("plain", "empty.csv", b"", "{f}: the file is empty"),
    "binary": ("plain", "garbage.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
               "{f}: holds NUL bytes: this is a binary file, not CSV text"),
    "gzip_damaged": ("plain", "cut.csv.gz", _gzip_cut(PLAIN_ROWS),
                     "{f}: a damaged gzip file: Compressed file ended before the end-of-stream marker was reached"),
    "jsonl_bad_line": ("named", "bad.jsonl", b'{"a": 1, "b": 2, "y": 0}\n{"a": 3, "b": \n',
                       "{f}:2:15: invalid JSON: Expecting value"),
    "jsonl_not_an_object": ("named", "list.jsonl", b'{"a": 1, "b": 2, "y": 0}\n[3, 4, 1]\n',
                            "{f}:2: expected a JSON object {{\"column\": value, \u2026}} per line, got list"),
    "jsonl_duplicate_key": ("named", "dup.jsonl", b'{"a": 1, "b": 2, "y": 0}\n{"a": 3, "b": 4, "b": 5, "y": 1}\n',
                            "{f}:2: the key 'b' appears twice in one object; keep one (JSON readers disagree on "
                            "which one wins)"),
    "jsonl_nested": ("named", "nested.jsonl", b'{"a": 1, "b": 2, "y": 0}\n{"a": 3, "b": [4], "y": 1}\n',
                     "{f}:2: 'b': expected a number, string or null, got list"),
    "jsonl_text_in_number_column": ("named", "text.jsonl",
                                    b'{"a": 1, "b": 2, "y": 0}\n{"a": 3, "b": "x", "y": 1}\n{"a": 5, "b": 6, "y": 0}\n',
                                    "{f}:2: column 'b': expected a number, got 'x' (1 of the 3 cells read in this "
                                    "column are text, the others numbers); fix the cell, add it to data.na_values if it means 'missing', or list "
                                    "the column in data.categorical"),
    "parquet_nested": ("named", "nested.parquet", None,
                       "{f}: column 'b': holds nested values (ndarray); expected numbers or strings"),
}


def _error_line(result) -> str:
    assert result.exit_code != 0, result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert lines, result.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_file_gives_the_same_first_error_line_on_every_path(runs, tmp_path, case):
    layout, file_name, body, expected = CASES[case]
    f = tmp_path / file_name
    if body is None:  # parquet_nested
        body = _parquet_bytes({"a": [1.0, 3.0], "b": [[2.0], [4.0]], "y": [0, 1]})
    f.write_bytes(body)
    trained = invoke("train", _config(tmp_path, f, layout), "--runs-dir", tmp_path / "runs", "--quiet")
    evaluated = invoke("evaluate", runs[layout], "--data", f, "--no-plots")
    predicted = invoke("predict", runs[layout], "--input", f)
    want = "error: " + expected.format(f=f)
    assert [_error_line(trained), _error_line(evaluated), _error_line(predicted)] == [want, want, want]


def test_a_file_with_comment_lines_trains_evaluates_and_predicts_like_the_same_file_without(runs, tmp_path):
    run = runs["named"]
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["reading"] == {"format": None, "header": None, "delimiter": None, "comment": "#", "quotechar": '"',
                               "na_values": None}
    commented = tmp_path / "commented.csv"
    commented.write_bytes(b"# predicted on Monday\n" + _lines(NAMED_ROWS[:4]) + b"  # mid-file note\n"
                          + _lines(NAMED_ROWS[4:]))
    plain = tmp_path / "plain.csv"
    plain.write_bytes(_lines(NAMED_ROWS))
    a = invoke("predict", run, "--input", commented)
    b = invoke("predict", run, "--input", plain)
    assert a.exit_code == b.exit_code == 0, a.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 1 + len(PLAIN_ROWS)
    e1 = invoke("evaluate", run, "--data", commented, "--json", "--no-plots")
    e2 = invoke("evaluate", run, "--data", plain, "--json", "--no-plots")
    assert e1.exit_code == e2.exit_code == 0, e1.stderr
    assert json.loads(e1.stdout)["metrics"] == json.loads(e2.stdout)["metrics"]


def test_a_run_without_recorded_reading_options_still_predicts(runs, tmp_path):
    """Runs trained before ``reading`` was recorded in dataset.json: the run's config supplies the options."""
    import shutil

    run = tmp_path / "old"
    shutil.copytree(runs["named"], run)
    meta = json.loads((run / "dataset.json").read_text())
    del meta["reading"]
    (run / "dataset.json").write_text(json.dumps(meta))
    f = tmp_path / "in.csv"
    f.write_bytes(b"# comment\n" + _lines(NAMED_ROWS))
    result = invoke("predict", run, "--input", f)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 + len(PLAIN_ROWS)


def test_a_run_trained_with_another_quotechar_predicts_and_evaluates_its_own_file(tmp_path):
    """``data.quotechar`` is a reading option too: predict and evaluate read the quoted cells as training did."""
    f = tmp_path / "quoted.csv"
    f.write_bytes(_lines(["a,b,y", *[",".join(f"'{v}'" if i == 0 else v for i, v in enumerate(r.split(",")))
                                     for r in PLAIN_ROWS]]))
    c = tmp_path / "q.yaml"
    c.write_text(f"name: q\ndata: {{path: {f}, quotechar: \"'\"}}\n{MODEL}{TRAINING}")
    trained = invoke("train", c, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert trained.exit_code == 0, trained.stderr
    run = Path(json.loads(trained.stdout)["run_dir"])
    predicted = invoke("predict", run, "--input", f)
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 1 + len(PLAIN_ROWS)
    evaluated = invoke("evaluate", run, "--data", f, "--no-plots")
    assert evaluated.exit_code == 0, evaluated.stderr


def _gzip_flipped(rows: list[str]) -> bytes:
    """A gzip file whose header is intact but whose body is damaged (zlib fails mid-stream)."""
    body = bytearray(gzip.compress(_lines(rows) * 20))
    for i in (30, 40):
        body[i] ^= 0xFF
    return bytes(body)


def _parquet_damaged(cut: bool) -> bytes:
    """A Parquet file cut short (no footer) or with a damaged row group (readable footer)."""
    body = bytearray(_parquet_bytes({"a": [float(i) for i in range(400)], "b": [float(i) for i in range(400)],
                                     "y": [i % 2 for i in range(400)]}))
    if cut:
        return bytes(body[: len(body) // 2])
    for i in range(4, 400):
        body[i] ^= 0x5A
    return bytes(body)


#: damage whose words come from zlib, pyarrow or Python: the same first line on every path, with nnrun's prefix
DAMAGED = {
    "gzip_body": ("plain", "flipped.csv.gz", _gzip_flipped(PLAIN_ROWS), "{f}: a damaged gzip file: "),
    "parquet_cut": ("named", "cut.parquet", _parquet_damaged(True), "{f}: not a readable Parquet file: "),
    "parquet_body": ("named", "body.parquet", _parquet_damaged(False), "{f}: not a readable Parquet file: "),
    "jsonl_huge_integer": ("named", "huge.jsonl", b'{"a": 1, "b": 2, "y": 0}\n{"a": ' + b"9" * 5000 + b', "b": 4, "y": 1}\n',
                           "{f}:2: invalid JSON: "),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_files_are_data_errors_with_the_same_first_line_on_every_path(runs, tmp_path, case):
    """Found by trying to break nnrun: these were 'internal error' (exit 1) on some paths, and a cut Parquet
    file named pyarrow's buffer ('<Buffer>') in the whole read only."""
    layout, file_name, body, prefix = DAMAGED[case]
    f = tmp_path / file_name
    f.write_bytes(body)
    results = [invoke("train", _config(tmp_path, f, layout), "--runs-dir", tmp_path / "runs", "--quiet"),
               invoke("evaluate", runs[layout], "--data", f, "--no-plots"),
               invoke("predict", runs[layout], "--input", f)]
    assert [r.exit_code for r in results] == [2, 2, 2], [r.stderr for r in results]
    lines = [_error_line(r) for r in results]
    assert lines[0].startswith("error: " + prefix.format(f=f)), lines[0]
    assert lines[1:] == [lines[0], lines[0]]
    assert "<Buffer>" not in lines[0] and "internal error" not in lines[0]
