"""nnrun export (issue 13): every kind of model the shipped configs make, in every format that can hold it, with
parity measured by the format's own runtime; refusals, no overwrite, atomic output, --json documents."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, invoke

#: What the shipped configs build, and the runs that build it: plain Dense (xor, iris), BatchNormalization
#: (pima), categorical one-hot (signal: StringLookup), normalize + embedding (mixed: Normalization,
#: StringLookup + Embedding; abalone's kind), a CNN with RandomRotation (configs/digits_cnn.yaml).
RUNS = ("xor_run", "iris_run", "pima_run", "signal_run", "mixed_run", "cnn_run")
FORMATS = ("saved_model", "onnx", "litert")

MIXED = """name: mixed
seed: 0
data:
  path: {path}
  target: label
  normalize: true
  categorical: {{shade: {{encoding: embedding, output_dim: 3}}, size: {{encoding: one_hot}}}}
model:
  layers:
    - {{type: Dense, units: 8, activation: relu}}
    - {{type: Dense, units: 3, activation: softmax}}
  loss: sparse_categorical_crossentropy
  optimizer: {{type: adam, learning_rate: 0.02}}
  metrics: [accuracy]
training: {{epochs: 2, batch_size: 32, validation_split: 0.25}}
"""


def _train(config: Path, runs: Path, *extra: str) -> Path:
    result = invoke("train", config, "--runs-dir", runs, "--json", "--quiet", "--no-plots", *extra)
    assert result.exit_code in (0, 3), result.stderr  # 3: digits_cnn's accuracy gate fails after 1 epoch
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    """Numeric columns normalized, one embedded and one one-hot categorical column (2 epochs)."""
    tmp = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(1)
    rows = [f"{rng.normal():.3f},{rng.choice(['dark', 'light', 'pale'])},{rng.normal() * 50 + 100:.2f},"
            f"{rng.choice(['S', 'M', 'L'])},{rng.choice(['a', 'b', 'c'])}" for _ in range(200)]
    (tmp / "mixed.csv").write_text("x1,shade,x2,size,label\n" + "\n".join(rows) + "\n")
    (tmp / "mixed.yaml").write_text(MIXED.format(path=tmp / "mixed.csv"))
    return _train(tmp / "mixed.yaml", tmp / "runs")


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory) -> Path:
    """configs/digits_cnn.yaml (Rescaling, RandomRotation, Conv2D, pooling, Dropout) trained for 1 epoch."""
    return _train(ROOT / "configs" / "digits_cnn.yaml", tmp_path_factory.mktemp("cnn"), "--set", "training.epochs=1")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    """configs/sms_spam.yaml's layers (TextVectorization, Embedding) on 60 short texts, 1 epoch."""
    tmp = tmp_path_factory.mktemp("text")
    words = ["great", "good", "bad", "awful"]
    (tmp / "t.tsv").write_text("".join(f"ham\tthis was {words[i % 4]} {i}\n" if i % 2 else
                                       f"spam\twin {words[i % 4]} prize {i}\n" for i in range(60)))
    config = (ROOT / "configs" / "sms_spam.yaml").read_text().replace("data/text/sms_spam.tsv", str(tmp / "t.tsv"))
    (tmp / "t.yaml").write_text(config)
    return _train(tmp / "t.yaml", tmp / "runs", "--set", "training.epochs=1")


def _export(run: Path, fmt: str, *extra: str):
    return invoke("export", run, "--format", fmt, "--json", *extra)


def _copy(run: Path, tmp_path: Path) -> Path:
    """A copy of a session run (other tests check the session runs' exact files)."""
    return Path(shutil.copytree(run, tmp_path / run.name))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", RUNS)
def test_every_model_kind_exports_to_every_format_with_parity(name, request, tmp_path):
    run = _copy(request.getfixturevalue(name), tmp_path)  # never write into the session's runs
    split = json.loads((run / "split.json").read_text())
    expected_rows = min(1000, len(split["validation"] or split["train"]))
    for fmt in FORMATS:
        result = _export(run, fmt)
        assert result.exit_code == 0, (fmt, result.stderr)
        doc = json.loads(result.stdout)
        folder = run / "export" / fmt
        assert doc["path"] == str(folder) and doc["format"] == fmt
        assert 0 <= doc["max_abs_diff"] < 1e-5 and doc["tolerance"] == 1e-5
        assert doc["rows_checked"] == expected_rows
        assert doc["rows_subset"] == ("validation" if split["validation"] else "training")
        stored = json.loads((folder / "export.json").read_text())
        assert stored == {k: v for k, v in doc.items() if k not in ("path", "run_dir")}
        assert stored["files"] and all(_sha(folder / f["path"]) == f["sha256"] for f in stored["files"])
        listed = {f["path"] for f in stored["files"]} | {"export.json"}
        assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == listed
        assert not list(folder.parent.glob(".*"))  # no temporary folder left
    names = sorted(i["name"] for i in doc["inputs"])
    assert names == (sorted(["numeric", *[c["input"] for c in doc["features"]["categorical"]]])
                     if doc["features"]["categorical"] else ["inputs"])


def test_onnx_export_run_by_onnxruntime_answers_as_nnrun_predict(signal_run, tmp_path):
    import onnxruntime

    result = _export(signal_run, "onnx", "--output", tmp_path / "onnx")
    assert result.exit_code == 0, result.stderr
    doc = json.loads((tmp_path / "onnx" / "export.json").read_text())
    source = json.loads((signal_run / "dataset.json").read_text())["source"]
    predicted = invoke("predict", signal_run, "--input", source, "--format", "json")
    assert predicted.exit_code == 0, predicted.stderr
    expected = json.loads(predicted.stdout)
    import pandas as pd

    # the raw rows fed as export.json says: the numeric columns in the spec's order, each category as a string
    frame = pd.read_csv(source)
    spec = doc["features"]
    feed = {"numeric": frame[spec["numeric"]].to_numpy(np.float32)}
    feed.update({c["input"]: frame[[c["name"]]].to_numpy(str).astype(object) for c in spec["categorical"]})
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
    assert sorted(i.name for i in session.get_inputs()) == sorted(feed)
    p_yes = session.run(["output_0"], feed)[0][:, 0]
    want = np.array([r["probabilities"]["yes"] for r in expected])  # predict rounds to 6 decimals
    assert len(expected) == len(frame) == 600
    assert np.abs(p_yes - want).max() <= 6e-7
    assert list(np.where(p_yes >= 0.5, "yes", "no")) == [r["prediction"] for r in expected]


def test_text_model_is_refused_by_onnx_and_litert_before_writing(text_run):
    for fmt in ("onnx", "litert"):
        result = _export(text_run, fmt)
        assert result.exit_code == 2
        message = json.loads(result.stdout)["error"]["message"]
        assert re.search(rf"--format {fmt}: the model's layer 'text_vectorization(_\d+)?' \(TextVectorization\) "
                         "cannot be exported", message), message  # Keras numbers the name after an earlier model
        assert "formats that can hold it: saved_model" in message
        assert message.splitlines()[0] in result.stderr
    assert not (text_run / "export").exists()
    result = _export(text_run, "saved_model")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["inputs"] == [{"name": "inputs", "dtype": "string", "shape": [None, 1]}]
    assert doc["max_abs_diff"] < 1e-5 and doc["rows_checked"] == 12  # validation_split 0.2 of 60


def test_export_never_overwrites_without_force_nor_a_folder_it_did_not_write(iris_run, tmp_path):
    target = tmp_path / "out"
    assert _export(iris_run, "litert", "--output", target).exit_code == 0
    model = target / "model.tflite"
    before = _sha(model), (target / "export.json").read_text()
    again = _export(iris_run, "litert", "--output", target)
    assert again.exit_code == 2
    assert json.loads(again.stdout)["error"]["message"].startswith(
        f"{target}: an export is already there; add --force to replace it")
    assert (_sha(model), (target / "export.json").read_text()) == before
    forced = _export(iris_run, "litert", "--output", target, "--force")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["files"][0]["sha256"] == before[0]
    (target / "notes.txt").write_text("mine")  # a file nnrun did not write: never removed, --force or not
    refused = _export(iris_run, "litert", "--output", target, "--force")
    assert refused.exit_code == 2 and "holds notes.txt, which nnrun export did not write" in refused.stderr
    assert (target / "notes.txt").read_text() == "mine" and _sha(model) == before[0]
    (tmp_path / "model.keras").write_text("mine")
    over_file = _export(iris_run, "onnx", "--output", tmp_path / "model.keras", "--force")
    assert over_file.exit_code == 2 and "exists and is not an export folder" in over_file.stderr
    in_run = _export(iris_run, "onnx", "--output", iris_run / "model.keras", "--force")
    assert in_run.exit_code == 2 and "but not under its export/ folder" in in_run.stderr


def test_parity_above_tolerance_fails_with_nothing_written(iris_run, tmp_path, monkeypatch):
    from nnrun.inference import parity

    monkeypatch.setattr(parity, "compare", lambda *a: 0.25)
    result = _export(iris_run, "onnx", "--output", tmp_path / "bad")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "RunError"
    assert error["message"].startswith(f"{tmp_path / 'bad'}: the onnx export disagrees with the Keras model: max "
                                       "abs difference 0.25 on 30 validation rows, above --tolerance 1e-05")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one


def test_export_text_output_and_bad_options(xor_run, tmp_path):
    result = invoke("export", xor_run, "--format", "onnx", "--output", tmp_path / "x")
    assert result.exit_code == 0, result.stderr
    assert f"{tmp_path / 'x'} (onnx)" in result.stdout and "4 training rows, by onnxruntime" in result.stdout
    assert "input inputs" in result.stdout and "float32 (n, 2)" in result.stdout
    bad = invoke("export", xor_run, "--format", "onnx", "--tolerance", "-1", "--json")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["message"] == \
        "--tolerance: expected a number >= 0, got -1.0"
    missing = invoke("export", tmp_path / "nope", "--format", "onnx", "--json")
    assert missing.exit_code == 2 and "no such run directory" in json.loads(missing.stdout)["error"]["message"]


def test_export_takes_the_run_lock_and_clears_a_dead_exports_leftovers(iris_run, tmp_path):
    from nnrun import rundir

    iris_run = _copy(iris_run, tmp_path)

    with rundir.RunLock(iris_run):
        held = _export(iris_run, "saved_model", "--force")
    assert held.exit_code == 2 and f"{iris_run}: process" in held.stderr and "is writing this run" in held.stderr
    stale = iris_run / "export" / ".saved_model.k2j4.tmp"  # what a killed export leaves
    (stale / "variables").mkdir(parents=True)
    result = _export(iris_run, "saved_model", "--force")
    assert result.exit_code == 0, result.stderr
    assert not stale.exists() and (iris_run / "export" / "saved_model" / "saved_model.pb").is_file()
