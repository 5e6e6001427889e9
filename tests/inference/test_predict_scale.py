"""`nnrun predict` at scale: chunked reading, the input and output formats, --keep, --skip-bad-rows,
categorical inputs from raw strings. Small files, with the chunk size made small to force many chunks."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, invoke

pytestmark = pytest.mark.slow

PIMA = ROOT / "data/pima-indians-diabetes.csv"


def _pima_features(tmp_path: Path, header: bool = True) -> Path:
    """The Pima rows without their target, with a header col0..col7 and an ``id`` column in front."""
    rows = [r.rsplit(",", 1)[0] for r in PIMA.read_text().splitlines() if r.strip()]
    f = tmp_path / "pima.csv"
    lines = [f"{i},{r}" for i, r in enumerate(rows)]
    f.write_text(("id," + ",".join(f"col{j}" for j in range(8)) + "\n" if header else "") + "\n".join(lines) + "\n")
    return f


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_streamed_predictions_equal_one_chunk(pima_run, tmp_path, monkeypatch):
    import nnrun.data.table

    f = _pima_features(tmp_path)
    whole = invoke("predict", pima_run, "--input", f, "--keep", "id")
    monkeypatch.setattr(nnrun.data.table, "PREDICT_CHUNK_ROWS", 50)  # 768 rows: about 16 chunks
    streamed = invoke("predict", pima_run, "--input", f, "--keep", "id")
    assert whole.exit_code == streamed.exit_code == 0, streamed.stderr
    rows, once = _csv(streamed.stdout), _csv(whole.stdout)
    assert [(r["id"], r["prediction"]) for r in rows] == [(r["id"], r["prediction"]) for r in once]
    # the model sees other batch sizes, so float sums may differ in the last bit: 1e-6 after rounding
    assert np.allclose([float(r["prob_1"]) for r in rows], [float(r["prob_1"]) for r in once], atol=1.01e-6)
    assert len(rows) == 768
    assert [r["id"] for r in rows] == [str(i) for i in range(768)]
    assert list(rows[0]) == ["id", "prediction", "prob_0", "prob_1"]
    for r in rows[:50]:
        p0, p1 = float(r["prob_0"]), float(r["prob_1"])
        assert abs(p0 + p1 - 1) <= 2e-6
        assert r["prediction"] == ("1" if p1 >= 0.5 else "0")


def test_predictions_equal_the_models_own(pima_run, tmp_path):
    import pandas as pd

    from nnrun.inference.predictor import load_model

    f = _pima_features(tmp_path)
    result = invoke("predict", pima_run, "--input", f, "--output", tmp_path / "out.parquet")
    assert result.exit_code == 0, result.stderr
    out = pd.read_parquet(tmp_path / "out.parquet")
    x = pd.read_csv(f).drop(columns=["id"]).to_numpy(np.float32)
    p1 = load_model(pima_run).predict(x, verbose=0)[:, 0]
    assert list(out.columns) == ["prediction", "prob_0", "prob_1"]
    assert np.max(np.abs(out["prob_1"].to_numpy() - p1)) <= 1e-6
    assert out["prediction"].tolist() == (p1 >= 0.5).astype(int).tolist()


def test_jsonl_and_parquet_inputs_and_outputs_round_trip(pima_run, tmp_path, monkeypatch):
    import pandas as pd

    import nnrun.data.table

    f = _pima_features(tmp_path)
    frame = pd.read_csv(f)
    frame["name"] = [f"p{i}" for i in range(len(frame))]
    frame.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "in.parquet")
    want = _csv(invoke("predict", pima_run, "--input", f, "--keep", "id").stdout)
    monkeypatch.setattr(nnrun.data.table, "PREDICT_CHUNK_ROWS", 100)
    for source in ("in.jsonl", "in.parquet"):
        for out in ("out.csv", "out.ndjson", "out.parquet"):
            target = tmp_path / out
            result = invoke("predict", pima_run, "--input", tmp_path / source, "--keep", "id,name", "--output", target,
                            "--force")
            assert result.exit_code == 0, (source, out, result.stderr)
            if out.endswith(".parquet"):
                got = pd.read_parquet(target)
            elif out.endswith(".ndjson"):
                got = pd.read_json(target, lines=True)
            else:
                got = pd.read_csv(target)
            assert list(got.columns) == ["id", "name", "prediction", "prob_0", "prob_1"], (source, out)
            assert got["id"].tolist() == list(range(768))
            assert got["name"].tolist() == [f"p{i}" for i in range(768)]
            assert got["prediction"].astype(str).tolist() == [r["prediction"] for r in want]
            assert np.allclose(got["prob_1"].to_numpy(), [float(r["prob_1"]) for r in want], atol=1e-6)


def test_stdin_jsonl_and_format_choice(pima_run, tmp_path):
    rows = [dict(zip([f"col{j}" for j in range(8)], map(float, r.split(",")[:8]), strict=True))
            for r in PIMA.read_text().splitlines()[:3]]
    text = "\n".join(json.dumps({"id": i, **r}) for i, r in enumerate(rows)) + "\n"
    result = invoke("predict", pima_run, "--input", "-", "--keep", "id", "--format", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["id"] for d in lines] == [0, 1, 2]
    assert list(lines[0]) == ["id", "prediction", "prob_0", "prob_1"]
    result = invoke("predict", pima_run, "--input", "-", "--format", "parquet", input=text)
    assert result.exit_code == 2
    assert result.stderr == "error: --format parquet needs --output FILE (Parquet is a binary file format, not for stdout)\n"


def test_keep_on_json_rows_is_refused(xor_run):
    result = invoke("predict", xor_run, "--input", "-", "--keep", "a", input="[[0, 1]]")
    assert result.exit_code == 2
    assert result.stderr == ("error: --keep needs a table input (CSV, TSV, JSON Lines, Parquet): JSON rows have no "
                             "column names\n")


def _bad_file(tmp_path: Path) -> Path:
    good = [r.rsplit(",", 1)[0] for r in PIMA.read_text().splitlines()[:300]]
    good[9] = "1,2,x,4,5,6,7,8"           # line 10: not a number
    good[19] = "1,2,3,4,5,6,7"            # line 20: a field short
    good[199] = "1,2,3,4,5,6,7,,"         # line 200: a field too many (and an empty one)
    good[249] = "1,2,3,,5,6,7,8"          # line 250: missing value, no fill learnt
    f = tmp_path / "bad.csv"
    f.write_text("\n".join(good) + "\n")
    return f


def test_skip_bad_rows_reports_lines_and_count(pima_run, tmp_path, monkeypatch):
    import nnrun.data.table

    monkeypatch.setattr(nnrun.data.table, "PREDICT_CHUNK_ROWS", 64)
    f = _bad_file(tmp_path)
    out = tmp_path / "out.csv"
    result = invoke("predict", pima_run, "--input", f, "--skip-bad-rows", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: skipped {f}:10: column 'col2': expected a number, got 'x'",
        f"warning: skipped {f}:20: expected 8 fields like the first line, got 7; every row needs the same number "
        "of columns",
        f"warning: skipped {f}:200: expected 8 fields like the first line, got 9; every row needs the same number "
        "of columns",
        f"warning: skipped {f}:250: column 'col3': missing value; set data.missing (drop, mean, median, "
        "most_frequent, constant) or fill the cell",
        "warning: 4 bad row(s) skipped",
    ]
    assert len(out.read_text().splitlines()) == 1 + 296


def test_bad_row_without_skip_is_exit_2_and_leaves_no_output(pima_run, tmp_path, monkeypatch):
    import nnrun.data.table

    monkeypatch.setattr(nnrun.data.table, "PREDICT_CHUNK_ROWS", 64)
    f = _bad_file(tmp_path)
    out = tmp_path / "out.csv"
    result = invoke("predict", pima_run, "--input", f, "--output", out)
    assert result.exit_code == 2
    assert result.stderr == f"error: {f}:10: column 'col2': expected a number, got 'x'\n"
    assert not out.exists() and list(tmp_path.iterdir()) == [f]  # no temporary file left either
    out.write_text("old\n")
    assert invoke("predict", pima_run, "--input", f, "--output", out, "--force").exit_code == 2
    assert out.read_text() == "old\n"


def test_quoted_kept_text_and_line_numbers_after_a_multiline_cell(pima_run, tmp_path):
    rows = PIMA.read_text().splitlines()[:3]
    f = tmp_path / "quoted.csv"
    f.write_text("note," + ",".join(f"col{j}" for j in range(8)) + "\n"
                 f'"plain",{rows[0].rsplit(",", 1)[0]}\n'
                 f'"two\nlines, and a comma",{rows[1].rsplit(",", 1)[0]}\n'
                 f'"say ""hi""",1,2,x,4,5,6,7,8\n')
    result = invoke("predict", pima_run, "--input", f, "--keep", "note", "--skip-bad-rows")
    assert result.exit_code == 0, result.stderr
    got = _csv(result.stdout)
    assert [r["note"] for r in got] == ["plain", "two\nlines, and a comma"]
    assert f"warning: skipped {f}:5: column 'col2': expected a number, got 'x'" in result.stderr
    first = result.stdout.splitlines()[1]  # text is quoted, the numbers are not
    assert first.startswith('"plain",') and '"' not in first[len('"plain",'):]
    assert abs(float(got[0]["prob_0"]) + float(got[0]["prob_1"]) - 1) < 2e-6


def test_classifier_probabilities_sum_to_one(iris_run, tmp_path):
    result = invoke("predict", iris_run, "--input", ROOT / "data/iris.csv", "--output", tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    rows = _csv((tmp_path / "p.csv").read_text())
    classes = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    assert list(rows[0]) == ["prediction", *(f"prob_{c}" for c in classes)]
    probs = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    assert len(rows) == 150
    assert np.all(np.abs(probs.sum(axis=1) - 1) <= 3e-6)
    assert [r["prediction"] for r in rows] == [classes[i] for i in probs.argmax(axis=1)]
    assert sum(r["prediction"] == "Iris-setosa" for r in rows[:50]) >= 45


def test_categorical_model_predicts_raw_strings_with_an_unseen_category(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 200
    size = rng.normal(size=n).round(3)
    color = rng.choice(["red", "green", "blue"], size=n)
    label = np.where((color == "red") | (size > 1), "yes", "no")
    data = tmp_path / "train.csv"
    pd.DataFrame({"size": size, "color": color, "label": label}).to_csv(data, index=False)
    config = tmp_path / "cat.yaml"
    config.write_text(
        f"name: cat\ndata: {{path: {data}, header: true, target: label}}\n"
        "model:\n  layers:\n    - {type: Dense, units: 8, activation: relu}\n"
        "    - {type: Dense, units: 2, activation: softmax}\n  loss: sparse_categorical_crossentropy\n"
        "  optimizer: {type: adam, learning_rate: 0.05}\ntraining: {epochs: 30, batch_size: 32}\n"
    )
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--quiet", "--json", "--no-plots")
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    rows = tmp_path / "rows.csv"
    rows.write_text("id,color,size\na,red,0.1\nb,blue,-0.5\nc,purple,0.0\nd,green,2.5\ne,orange,0.0\n"
                    "f,blue,0.0\n")
    result = invoke("predict", run, "--input", rows, "--keep", "id,color")
    assert result.exit_code == 0, result.stderr
    got = _csv(result.stdout)
    assert [r["id"] for r in got] == ["a", "b", "c", "d", "e", "f"]
    assert [r["color"] for r in got] == ["red", "blue", "purple", "green", "orange", "blue"]
    assert list(got[0]) == ["id", "color", "prediction", "prob_no", "prob_yes"]
    assert got[0]["prediction"] == "yes" and got[1]["prediction"] == "no"
    # an unseen color goes to the one out-of-vocabulary slot: two unseen colors give the same probabilities,
    # a known color at the same size another
    assert (got[2]["prob_yes"], got[2]["prediction"]) == (got[4]["prob_yes"], got[4]["prediction"])
    assert got[2]["prob_yes"] != got[5]["prob_yes"]
    assert "column 'color': 2 value(s) not seen in training (e.g. 'purple')" in result.stderr  # said (issue 18)
    for r in got:
        assert abs(float(r["prob_no"]) + float(r["prob_yes"]) - 1) <= 2e-6
