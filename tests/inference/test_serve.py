"""nnrun serve: POST /predict answers what `nnrun predict --format json` writes for the same rows; bad bodies get
predict's message and a 4xx, and the server goes on; a real server process on a free port stops on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def iris_client(iris_run):
    from fastapi.testclient import TestClient

    from nnrun.inference.server import make_app

    return TestClient(make_app(iris_run, max_body_bytes=100_000))


def _predict_json(run: Path, doc: object, tmp_path: Path, *extra: str) -> tuple[int, object, str]:
    """`nnrun predict --format json` on ``doc`` written to rows.json: (exit code, the JSON written, stderr)."""
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(doc))
    result = invoke("predict", run, "--input", path, "--format", "json", *extra)
    return result.exit_code, (json.loads(result.stdout) if result.exit_code == 0 else None), result.stderr


def test_predict_answers_what_predict_json_writes(iris_run, iris_client, tmp_path):
    code, written, _ = _predict_json(iris_run, IRIS_ROWS, tmp_path)
    assert code == 0
    answer = iris_client.post("/predict", json={"rows": IRIS_ROWS})
    assert answer.status_code == 200
    assert answer.json() == {"predictions": written, "warnings": []}
    assert [p["prediction"] for p in written] == ["Iris-setosa", "Iris-virginica", "Iris-versicolor"]
    names = ["col0", "col1", "col2", "col3"]  # rows as objects (any key order) give the same records
    objects = [dict(reversed(list(zip(names, row, strict=True)))) for row in IRIS_ROWS]
    assert iris_client.post("/predict", json={"rows": objects}).json()["predictions"] == written


@pytest.mark.parametrize("rows", [
    [[5.1, 3.5, 1.4]],  # a wrong feature count
    [[5.1, "wide", 1.4, 0.2]],  # a non-number
    [],  # an empty list
    [{"col0": 5.1, "col1": 3.5, "col2": 1.4, "petal": 0.2}],  # an unknown column instead of a feature
    [[5.1, 3.5, None, 0.2]],  # a missing value, no fill
    [[5.1, 3.5, [1.4], 0.2]],  # a nested value
])
def test_bad_rows_get_predicts_message_and_the_server_goes_on(iris_run, iris_client, tmp_path, rows):
    code, _, stderr = _predict_json(iris_run, rows, tmp_path)
    assert code == 2
    expected = stderr.strip().removeprefix("error: ").replace(str(tmp_path / "rows.json"), "request")
    answer = iris_client.post("/predict", json={"rows": rows})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == expected
    assert answer.json()["error"]["kind"] == "DataError"
    assert iris_client.post("/predict", json={"rows": IRIS_ROWS[:1]}).status_code == 200


@pytest.mark.parametrize(("body", "status", "message"), [
    (b'{"rows": [[5.1, 3.5', 400, "request:1:20: invalid JSON: Expecting ',' delimiter"),
    (b"", 400, 'request: the body is empty; send {"rows": [[...], ...]} as JSON'),
    (b"[[5.1, 3.5, 1.4, 0.2]]", 400, 'request: expected a JSON object {"rows": [[...], ...]}'),
    (b'{"rows": [[5.1, 3.5, 1.4, 0.2]], "treshold": 0.3}', 400, "request: unknown key 'treshold'"),
    (b'{"rows": [[5.1, 3.5, 1.4, 0.2]], "threshold": 1.5}', 422, "request: threshold must be a number from 0 to 1"),
    (b'{"texts": ["a flower"]}', 422, 'request: "texts" is for text models; this model takes "rows" of 4'),
    (b"\xff\xfe{}", 400, "request:1: not UTF-8 text (byte 0)"),
])
def test_bad_bodies_are_answered_4xx(iris_client, body, status, message):
    answer = iris_client.post("/predict", content=body)
    assert answer.status_code == status
    assert answer.json()["error"]["message"].startswith(message)
    assert iris_client.get("/health").json() == {"status": "ok", "run": "iris"}


def test_a_body_over_the_limit_is_413_and_the_next_is_answered(iris_client):
    rows = IRIS_ROWS * 3000  # ~80 KB with spaces, over the fixture's 100,000 bytes with the key
    body = json.dumps({"rows": rows}, indent=1).encode()
    assert len(body) > 100_000
    answer = iris_client.post("/predict", content=body)
    assert answer.status_code == 413
    assert "over 100,000 bytes (--max-body-bytes)" in answer.json()["error"]["message"]
    assert len(iris_client.post("/predict", json={"rows": IRIS_ROWS * 1000}).json()["predictions"]) == 3000


def test_metadata_health_and_openapi(iris_run, iris_client):
    meta = iris_client.get("/metadata").json()
    assert meta["run"] == "iris" and meta["task"] == "classification"
    assert meta["classes"] == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    assert [f["name"] for f in meta["features"]] == ["col0", "col1", "col2", "col3"]
    assert {f["kind"] for f in meta["features"]} == {"numeric"}
    run = json.loads((iris_run / "run.json").read_text())
    assert meta["model"]["keras_version"] == run["keras_version"] and len(meta["model"]["sha256"]) == 64
    assert meta["server"]["nnrun_version"] == run["nnrun_version"]
    assert meta["server"]["backend"] == "tensorflow" and meta["server"]["tensorflow_version"] == run["tensorflow_version"]
    spec = iris_client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/predict", "/health", "/metadata"}
    assert "413" in spec["paths"]["/predict"]["post"]["responses"]


def test_categorical_rows_unseen_categories_and_threshold_match_predict(signal_run, tmp_path):
    from fastapi.testclient import TestClient

    from nnrun.inference.server import make_app

    rows = [{"a": 0.3, "n1": 0.1, "b": 0.2, "colour": "red", "n2": -1.0},
            {"a": -0.3, "n1": 0.1, "b": 0.1, "colour": "purple", "n2": 0.5},
            {"a": 0.05, "n1": 2.0, "b": 0.0, "colour": "blue", "n2": 0.0}]
    client = TestClient(make_app(signal_run))
    for threshold in (0.5, 0.9):
        code, written, stderr = _predict_json(signal_run, rows, tmp_path, "--threshold", str(threshold))
        assert code == 0
        answer = client.post("/predict", json={"rows": rows, "threshold": threshold}).json()
        assert answer["predictions"] == written
        note = "column 'colour': 1 value(s) not seen in training (e.g. 'purple') were predicted as an unknown"
        assert len(answer["warnings"]) == 1 and answer["warnings"][0].startswith(note)
        assert note in stderr
    assert set(written[0]["probabilities"]) == {"no", "yes"}
    assert client.get("/metadata").json()["features"][3] == {
        "name": "colour", "kind": "categorical", "categories": ["blue", "green", "red"]}


def _start(run: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """`nnrun serve RUN --port 0` in its own process; returns it and its port (from its first stderr line)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "nnrun", "serve", str(run), "--port", "0", *args], cwd=ROOT,
                            env=env, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # written once the model is loaded
    found = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
    if found is None:
        proc.kill()
        pytest.fail(f"no address in nnrun serve's first line: {line!r} {proc.stderr.read()}")
    return proc, int(found[1])


def test_serve_process_answers_like_predict_survives_bad_requests_and_stops_on_sigterm(iris_run, tmp_path):
    import httpx

    proc, port = _start(iris_run, "--max-body-bytes", "2000000")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:  # one keep-alive connection
            assert http.get("/health").json() == {"status": "ok", "run": "iris"}
            _, written, _ = _predict_json(iris_run, IRIS_ROWS, tmp_path)
            assert http.post("/predict", json={"rows": IRIS_ROWS}).json()["predictions"] == written
            assert http.post("/predict", content=b'{"rows": [[1, 2]').status_code == 400
            assert http.post("/predict", json={"rows": [[1, 2, 3]]}).json()["error"]["message"] == \
                "request: row 1: expected 4 features, got 3"
            big = b'{"rows": [' + b",".join([b"[5.1, 3.5, 1.4, 0.2]"] * 600_000) + b"]}"  # 12 MB
            assert http.post("/predict", content=big).status_code == 413
            assert http.post("/predict", content=big[:2_000_001]).status_code == 413  # one byte over
            assert len(http.post("/predict", json={"rows": IRIS_ROWS * 30_000}).json()["predictions"]) == 90_000
            assert http.post("/predict", json={"rows": IRIS_ROWS}).json()["predictions"] == written
        taken = subprocess.run([sys.executable, "-m", "nnrun", "serve", str(iris_run), "--port", str(port)],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                               timeout=60)
        assert taken.returncode == 2
        assert f"error: --port {port}: 127.0.0.1:{port} is already in use" in taken.stderr
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - start < 30
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_refuses_a_bad_run_dir_before_starting(tmp_path):
    result = invoke("serve", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'nope'}: no such run directory")


def test_help_does_not_import_fastapi_or_tensorflow():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom nnrun.cli import cli\n"
            "assert CliRunner().invoke(cli, ['serve', '--help']).exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'fastapi', 'uvicorn')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


def test_texts_of_a_text_model_match_predict_on_a_text_file(tmp_path):
    from fastapi.testclient import TestClient

    from nnrun.inference.server import make_app

    lines = [("spam", "win a free prize now"), ("ham", "see you at lunch"), ("spam", "free entry win cash"),
             ("ham", "call me when you are home"), ("spam", "claim your prize today"), ("ham", "lunch at noon?")] * 4
    (tmp_path / "t.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in lines))
    (tmp_path / "t.yaml").write_text(
        "name: tiny_text\nseed: 0\ndata: {path: t.tsv, header: false, quotechar: null, target: 0}\n"
        "model:\n  layers:\n    - {type: TextVectorization, max_tokens: 50, output_sequence_length: 6}\n"
        "    - {type: Embedding, input_dim: 50, output_dim: 4}\n    - {type: GlobalAveragePooling1D}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n  metrics: [accuracy]\n"
        "training: {epochs: 1, batch_size: 8}\n")
    trained = invoke("train", tmp_path / "t.yaml", "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    run = Path(json.loads(trained.stdout)["run_dir"])
    texts = ["free prize, win now", "see you at home", "a text with words never seen"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    written = json.loads(invoke("predict", run, "--input", tmp_path / "texts.txt", "--format", "json").stdout)
    client = TestClient(make_app(run))
    assert client.post("/predict", json={"texts": texts}).json() == {"predictions": written, "warnings": []}
    assert client.post("/predict", json={"rows": [[t] for t in texts]}).json()["predictions"] == written
    refused = client.post("/predict", json={"texts": ["fine", 5]})
    assert refused.status_code == 422 and refused.json()["error"]["message"] == "request: texts[1]: expected a string, got 5"
    assert client.get("/metadata").json()["features"] == [{"name": "col1", "kind": "text"}]
