"""Bad JSON bodies and input files (found by the break-it pass): nesting too deep for Python's parser, a lone
surrogate escape, a key twice in one row object, and Starlette's own errors (405, 404) are answered with nnrun's
error document (serve: 4xx; predict: exit 2), never an internal error."""

from __future__ import annotations

import json

import pytest

from nnrun.data.readers.jsondoc import parse_json
from nnrun.errors import DataError
from tests.conftest import invoke

DEEP = '{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}"
SURROGATE = '{"rows": [[5.1, 3.5, 1.4, "caf\\udcff free"]]}'
TWICE = '{"rows": [{"col0": 5.1, "col1": 3.5, "col2": 1.4, "col3": 0.2, "col3": 9}]}'


@pytest.mark.parametrize("text, message", [
    (DEEP, "request: invalid JSON: nested too deeply"),
    (SURROGATE, "request: rows[0][3]: the string holds a lone surrogate escape"),
    ('{"texts": ["ok", "caf\\udcff"]}', "request: texts[1]: the string holds a lone surrogate"),
    ('[{"a\\ud800": 1}]', "request: [0]: key 'a\\\\ud800': the string holds a lone surrogate"),
    (TWICE, "request: the key 'col3' appears twice in one object; keep one"),
])
def test_parse_json_refuses_as_data_errors(text, message):
    with pytest.raises(DataError) as err:
        parse_json(text, "request")
    assert str(err.value).startswith(message)


def test_parse_json_keeps_surrogate_pairs_and_plain_text():
    assert parse_json('{"texts": ["\\ud83d\\ude00", "caf\\u00e9"]}', "r") == {"texts": ["\U0001F600", "café"]}


@pytest.fixture(scope="module")
def client(iris_run):
    from fastapi.testclient import TestClient

    from nnrun.inference.server import make_app

    return TestClient(make_app(iris_run))


@pytest.mark.parametrize("body, phrase", [(DEEP, "nested too deeply"), (SURROGATE, "lone surrogate"),
                                          (TWICE, "appears twice")])
def test_serve_answers_400_with_the_error_document(client, body, phrase):
    answer = client.post("/predict", content=body.encode(), headers={"content-type": "application/json"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["kind"] == "DataError" and phrase in error["message"] and error["exit_code"] == 2


@pytest.mark.parametrize("method, path, status", [("GET", "/predict", 405), ("GET", "/nowhere", 404),
                                                  ("POST", "/health", 405)])
def test_starlettes_own_errors_are_the_error_document(client, method, path, status):
    answer = client.request(method, path)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["kind"] == "UsageError" and error["message"].startswith(f"request: {method} {path}: ")
    assert "POST /predict" in error["message"]
    if status == 405:
        assert answer.headers["allow"] == ("POST" if path == "/predict" else "GET")


@pytest.mark.parametrize("body, phrase", [(DEEP, "nested too deeply"), (SURROGATE, "lone surrogate"),
                                          (TWICE, "appears twice")])
def test_predict_on_a_bad_json_file_exits_2(iris_run, tmp_path, body, phrase):
    path = tmp_path / "rows.json"
    path.write_text(body)
    result = invoke("predict", iris_run, "--input", path, "--input-format", "json", "--json",
                    "--output", tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "DataError" and phrase in error["message"], error
    assert "Traceback" not in result.stderr
