"""Property-based tests: no config, mutation or --set string gets past nnrun without either validating or
failing with a located ConfigError (exit 2 at the CLI). No TensorFlow here."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnrun.cli import cli
from nnrun.config.load import load_config_text
from nnrun.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
SHIPPED = {p.name: yaml.safe_load(p.read_text()) for p in CONFIGS}
NAME = "fuzz.yaml"

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["no", "off", "yes", "1e-3", "softmax", "Dense", "adam", "../x", "", "ü", "\t"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(st.text(max_size=12), children, max_size=5)),
    max_leaves=30,
)
nasty = st.one_of(
    scalars, st.just([]), st.just({}), st.just([[[[[[1]]]]]]), st.just({"type": "Nope"}),
    st.just(-1), st.just(0), st.just(10**30), st.just(float("nan")), st.just("ユニコード"),
)


def _check(text: str, overrides: tuple[str, ...] = ()) -> None:
    """Either the config loads, or a ConfigError is raised whose every line is located."""
    try:
        load_config_text(text, NAME, overrides)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            if line.startswith("  hint:"):
                continue
            assert line.startswith((f"{NAME}:", NAME, "--set ")), line
            assert ": " in line, line


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _dump(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@FAST
@given(documents)
def test_random_yaml_documents_validate_or_fail_located(doc):
    _check(_dump(doc))


@FAST
@given(st.sampled_from(sorted(SHIPPED)), st.data(), nasty, st.sampled_from(["replace", "delete", "add"]))
def test_mutated_shipped_configs_validate_or_fail_located(name, data, value, action):
    doc = copy.deepcopy(SHIPPED[name])
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=10))] = value
    else:
        parent.append(value)
    _check(_dump(doc))


set_keys = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(["model", "layers", "0", "-1", "7", "units", "training", "epochs", "data", "x", "", "name",
                              "optimizer", "learning_rate", "loss", "type"]), min_size=1, max_size=5).map(".".join),
)


@settings(max_examples=300, deadline=None)
@given(set_keys, st.one_of(st.text(max_size=20), scalars.map(lambda v: yaml.safe_dump(v).strip().removesuffix("..."))))
@example(key="¹", value="null\n")  # a Unicode digit that int() refuses: was an internal error
def test_random_set_strings_validate_or_fail_located(key, value):
    text = (ROOT / "configs/xor.yaml").read_text()
    _check(text, (f"{key}={value}",))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_set_strings_without_structure(item):
    _check((ROOT / "configs/iris.yaml").read_text(), (item,))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_cli_validate_never_shows_a_traceback(tmp_path, doc):
    path = tmp_path / NAME
    path.write_text(_dump(doc))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.exit_code == 2:
        assert all(line.startswith(f"error: {path}") for line in result.stderr.splitlines() if line.startswith("error"))


def test_nan_and_huge_numbers_in_a_shipped_config_are_refused():
    doc = copy.deepcopy(SHIPPED["iris.yaml"])
    doc["training"]["validation_split"] = math.nan
    doc["training"]["epochs"] = 10**30
    try:
        load_config_text(_dump(doc), NAME)
    except ConfigError as exc:
        lines = str(exc).splitlines()
    else:
        raise AssertionError("accepted NaN validation_split")
    assert any("training.validation_split" in line for line in lines)
