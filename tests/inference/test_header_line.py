"""``predict`` on a run trained without a header: an input's header line is not predicted as a row (text runs:
the cells are names; numeric runs: names over numbers), and a note names the line (``data.header_line``)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import invoke

from nnrun.data.header_line import header_options, is_header
from nnrun.data.readers import ReadOptions


def test_a_text_runs_input_with_a_header_line_does_not_predict_the_header(tmp_path):
    rows = [("ham", "see you at lunch"), ("spam", "win cash now call"), ("ham", "ok thanks"), ("spam", "free prize")]
    (tmp_path / "sms.tsv").write_text("".join(f"{lab}\t{msg}\n" for lab, msg in rows * 5))
    (tmp_path / "t.yaml").write_text(
        "name: t\nseed: 0\ndata: {path: sms.tsv, header: false, quotechar: null, target: 0}\nmodel:\n  layers:\n"
        "    - {type: TextVectorization, max_tokens: 50, output_sequence_length: 4}\n"
        "    - {type: Embedding, input_dim: 50, output_dim: 2}\n    - {type: GlobalAveragePooling1D}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\ntraining: {epochs: 1}\n")
    trained = invoke("train", tmp_path / "t.yaml", "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    assert trained.exit_code == 0, trained.stderr
    run = Path(json.loads(trained.stdout)["run_dir"])
    (tmp_path / "in.tsv").write_text("label\tmessage\nham\tsee you\nspam\twin cash\n")
    result = invoke("predict", run, "--input", tmp_path / "in.tsv", "--keep", "message")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 2 and "see you" in lines[1] and "win cash" in lines[2], result.stdout
    assert "in.tsv:1 read as a header line and not predicted ('label', 'message')" in result.stderr
    (tmp_path / "plain.tsv").write_text("ham\tsee you\nspam\twin cash\n")  # no header: both lines predicted
    plain = invoke("predict", run, "--input", tmp_path / "plain.tsv")
    assert plain.exit_code == 0 and len(plain.stdout.splitlines()) == 1 + 2 and "header" not in plain.stderr


def test_a_numeric_headerless_runs_input_header_gets_the_same_note(tmp_path):
    meta = {"header": False, "columns": ["col0", "col1", "col2"], "feature_names": ["col0", "col1"],
            "target_index": 2, "classes": [0, 1]}
    notes: list[str] = []
    (tmp_path / "x.csv").write_text("width,height,kind\n1.5,2,0\n3,4,1\n")
    assert header_options(tmp_path / "x.csv", "csv", ReadOptions(), meta, notes.append) == ReadOptions()
    assert notes == [f"{tmp_path / 'x.csv'}:1 read as a header line (names over numbers): the run was trained "
                     "without a header"]
    assert is_header(["col0", "col1", "col2"], [], meta)
    assert not is_header(["1", "2", "0"], [["3", "4", "1"]], meta)
    assert not is_header(["a", "b", "2"], [["a", "b", "1"]], {**meta, "classes": ["1", "2"]})
    notes.clear()
    (tmp_path / "data.csv").write_text("1.5,2,0\n3,4,1\n")
    assert header_options(tmp_path / "data.csv", "csv", ReadOptions(), meta, notes.append) == ReadOptions()
    assert notes == []
