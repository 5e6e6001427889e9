"""nnrun.config.yamlsrc: safe YAML with YAML 1.2 floats, duplicate keys refused, and a location for every value.

No TensorFlow here: these run in milliseconds.
"""

from __future__ import annotations

import os

import pytest
import yaml

from nnrun.config.load import load_config
from nnrun.config.yamlsrc import MAX_NODES, dump_yaml, format_path, load_yaml, read_yaml_file
from nnrun.errors import ConfigError


def _load(text: str) -> object:
    return load_yaml(text, "c.yaml")[0]


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "c.yaml")
    return str(info.value)


# ----------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", 0.001),
        ("5e-4", 0.0005),
        ("1E-2", 0.01),
        ("+1e-3", 0.001),
        ("-2e-3", -0.002),
        ("1e2", 100.0),
        ("3E+2", 300.0),
        ("1.0e-3", 0.001),
        ("0.001", 0.001),
        ("+.5", 0.5),
        (".5", 0.5),
        ("1.", 1.0),
    ],
)
def test_yaml12_floats_load_as_floats(text, value):
    loaded = _load(f"learning_rate: {text}\n")["learning_rate"]
    assert type(loaded) is float
    assert loaded == value


def test_pyyaml_alone_reads_exponents_without_a_dot_as_strings():
    # The trap this loader closes (case 4); also proves the global SafeLoader is left untouched.
    assert yaml.safe_load("a: [1e-3, 5e-4, 1E-2, +1e-3, 1.0e-3]") == {"a": ["1e-3", "5e-4", "1E-2", "+1e-3", 0.001]}


@pytest.mark.parametrize(
    "text",
    ["1_000", "42", "-7", "+3", "0x10", "012", "1:30", "09", "1_000.5", "1.5", ".inf", "-.inf", "true", "no",
     "off", "null", "~", "abc", "1e", "e3", "1e-", ".", "1.2.3", "--1e3", "1e3e3", "0b101", "2020-01-01"],
)
def test_scalars_without_a_dotless_exponent_load_as_pyyaml_loads_them(text):
    assert _load(f"v: {text}\n") == yaml.safe_load(f"v: {text}\n")


def test_yaml11_integers_are_unchanged():
    assert _load("a: [1_000, 0x10, 012, 1:30, 09]") == {"a": [1000, 16, 10, 90, "09"]}


def test_nan_loads_as_float_nan():
    value = _load("v: .nan\n")["v"]
    assert type(value) is float and value != value


def test_booleans_stay_booleans_but_keep_their_source_text():
    data, source = load_yaml("a: no\nb: On\nc: true\n", "c.yaml")
    assert data == {"a": False, "b": True, "c": True}
    assert source.text(("a",)) == "no"
    assert source.text(("b",)) == "On"
    assert source.text(("missing",)) is None


def test_boolean_looking_keys_stay_strings():
    assert _load("no: 1\nyes: 2\n") == {"no": 1, "yes": 2}


def test_dump_yaml_quotes_strings_that_would_load_as_numbers():
    data = {"name": "1e3", "target": "5e-4", "flag": "no", "lr": 1e-5, "n": 100}
    text = dump_yaml(data)
    assert "'1e3'" in text and "'5e-4'" in text and "'no'" in text
    assert _load(text) == data


# ---------------------------------------------------------------------------------- duplicate keys
def test_duplicate_top_level_key_names_both_lines():
    assert _error("epochs: 5\nbatch_size: 4\nepochs: 50\n") == (
        "c.yaml:3:1: epochs: duplicate key (first defined at line 1); remove one of them"
    )


def test_duplicate_nested_key_names_both_lines_and_the_path():
    text = "model:\n  layers:\n    - type: Dense\n      units: 3\n      units: 4\n"
    assert _error(text) == (
        "c.yaml:5:7: model.layers[0].units: duplicate key (first defined at line 4); remove one of them"
    )


def test_duplicate_key_in_flow_mapping():
    assert _error("a: {x: 1, x: 2}\n") == (
        "c.yaml:1:11: a.x: duplicate key (first defined at line 1); remove one of them"
    )


# ------------------------------------------------------------------------------------------- merge keys
def test_merge_key_copies_the_anchored_mapping():
    text = "base: &base {units: 8, activation: relu}\nlayer:\n  <<: *base\n  type: Dense\n"
    assert _load(text)["layer"] == {"units": 8, "activation": "relu", "type": "Dense"}


def test_key_next_to_a_merge_key_overrides_the_merged_value():
    # Regression: the merged key was reported as a duplicate of the explicit one.
    text = "base: &base {units: 8, activation: relu}\nlayer:\n  <<: *base\n  units: 16\n"
    data, source = load_yaml(text, "c.yaml")
    assert data["layer"] == {"units": 16, "activation": "relu"}
    assert source.where(("layer", "units")) == "c.yaml:4:10"
    assert source.where(("layer", "activation")) == "c.yaml:1:36"


def test_merge_of_several_mappings_first_listed_wins():
    text = "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n"
    assert _load(text)["c"] == {"x": 1, "y": 2, "z": 3}


def test_merged_mapping_that_itself_overrides_a_merge_can_be_merged_again():
    text = "a: &a {x: 1}\nb: &b\n  inner: {<<: *a, x: 2}\nc:\n  <<: *b\n"
    assert _load(text) == {"a": {"x": 1}, "b": {"inner": {"x": 2}}, "c": {"inner": {"x": 2}}}


def test_merge_key_with_a_scalar_is_refused():
    assert _error("c:\n  <<: 5\n") == (
        "c.yaml:2:7: c: the merge key << expects a mapping or a list of mappings (such as *defaults), got a scalar"
    )


# ------------------------------------------------------------------------------------------- safety
def test_python_object_apply_tag_is_refused_without_running_it(monkeypatch):
    def boom(*args):  # pragma: no cover - must never run
        raise AssertionError("os.system was called")

    monkeypatch.setattr(os, "system", boom)
    assert _error('cmd: !!python/object/apply:os.system ["echo hacked"]\n') == (
        "c.yaml:1:6: cmd: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; "
        "only plain YAML data is"
    )


def test_python_name_tag_on_a_value_is_refused():
    assert _error("f: !!python/name:os.system\n") == (
        "c.yaml:1:4: f: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'; "
        "only plain YAML data (mappings, lists, strings, numbers, booleans) is allowed"
    )


def test_python_tag_on_a_key_is_refused():
    # Regression: this escaped as a raw yaml.constructor.ConstructorError.
    assert _error("!!python/name:os.system : 1\n") == (
        "c.yaml:1:1: <top level>: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'; only plain YAML data is allowed"
    )


def test_set_tag_is_refused():
    assert _error("a: !!set {x, y}\n") == (
        "c.yaml:1:4: a: tag 'tag:yaml.org,2002:set' is not allowed; only plain YAML data is"
    )


def test_complex_key_is_refused():
    assert _error("? [a, b]\n: 1\n") == "c.yaml:1:3: <top level>: keys must be plain strings"


def test_alias_bomb_is_refused():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    message = _error("\n".join(lines) + "\n")
    assert message == (
        f"c.yaml:1:1: the document expands to more than {MAX_NODES:,} values "
        "(anchors and aliases expanding exponentially?); refusing to load it"
    )


def test_aliases_below_the_limit_are_expanded():
    data = _load("a: &a [1, 2]\nb: [*a, *a, *a]\n")
    assert data == {"a": [1, 2], "b": [[1, 2], [1, 2], [1, 2]]}


def test_recursive_alias_is_refused():
    # Regression: the size check looped forever on a node that contains itself.
    assert _error("a: &a [*a]\n") == (
        "c.yaml:1:4: an alias refers to the anchor that contains it (a recursive document); configs must be plain trees"
    )


def test_recursive_merge_is_refused():
    assert "recursive document" in _error("a: &a {<<: *a}\n")


def test_deep_nesting_is_refused():
    # Regression: a RecursionError escaped.
    assert _error("a: " + "[" * 600 + "]" * 600 + "\n") == "c.yaml: the document is nested too deeply to be a config"


# ------------------------------------------------------------------------------------------- syntax
def test_syntax_error_is_located():
    assert _error("a: [1, 2\n") == "c.yaml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>'"


def test_tab_indentation_is_located():
    assert _error("a:\n\tb: 1\n") == "c.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token"


def test_control_character_is_located():
    # Regression: a yaml.reader.ReaderError escaped.
    assert _error("a: 1\nb: x\x07y\n") == "c.yaml:2:5: invalid YAML: control character U+0007 is not allowed; remove it"


def test_two_documents_are_refused():
    assert _error("a: 1\n---\nb: 2\n") == (
        "c.yaml:2:1: invalid YAML: expected a single document in the stream, but found another document"
    )


def test_empty_and_comment_only_text_is_none():
    assert load_yaml("", "c.yaml")[0] is None
    assert load_yaml("# nothing\n\n", "c.yaml")[0] is None


# ----------------------------------------------------------------------------------------- locations
LOCATED = """\
name: demo
model:
  layers:
    - type: Dense
      units: 8
    - {type: Dropout, rate: 0.5}
  metrics: [accuracy, auc]
training:
  epochs: 5
"""


def test_locations_of_nested_keys_and_list_items():
    data, source = load_yaml(LOCATED, "c.yaml")
    assert data["model"]["layers"][1] == {"type": "Dropout", "rate": 0.5}
    expected = {
        (): "c.yaml:1:1",
        ("name",): "c.yaml:1:7",
        ("model",): "c.yaml:3:3",
        ("model", "layers"): "c.yaml:4:5",
        ("model", "layers", 0): "c.yaml:4:7",
        ("model", "layers", 0, "type"): "c.yaml:4:13",
        ("model", "layers", 0, "units"): "c.yaml:5:14",
        ("model", "layers", 1): "c.yaml:6:7",
        ("model", "layers", 1, "type"): "c.yaml:6:14",
        ("model", "layers", 1, "rate"): "c.yaml:6:29",
        ("model", "metrics"): "c.yaml:7:12",
        ("model", "metrics", 0): "c.yaml:7:13",
        ("model", "metrics", 1): "c.yaml:7:23",
        ("training", "epochs"): "c.yaml:9:11",
    }
    assert {path: source.where(path) for path in expected} == expected
    assert source.text(("model", "layers", 0, "units")) == "8"


def test_where_falls_back_to_the_nearest_ancestor():
    _, source = load_yaml(LOCATED, "c.yaml")
    assert source.where(("model", "layers", 1, "activation")) == "c.yaml:6:7"
    assert source.where(("nothing", "here")) == "c.yaml:1:1"


def test_prefix_places_the_document_under_a_key_path():
    data, source = load_yaml("{units: 4}", "v", prefix=("model", "layers", 0))
    assert data == {"units": 4}
    assert source.where(("model", "layers", 0, "units")) == "v:1:9"


def test_unlocated_text_names_only_the_source():
    name = "--set x={a: 1, a: 2}"
    with pytest.raises(ConfigError) as info:
        load_yaml("{a: 1, a: 2}", name, prefix=("x",), located=False)
    assert str(info.value) == "--set x={a: 1, a: 2}: x.a: duplicate key (first defined at line 1); remove one of them"


def test_format_path():
    assert format_path(("model", "layers", 2, "units")) == "model.layers[2].units"
    assert format_path(()) == "<top level>"


# ------------------------------------------------------------------------------------------- files
def test_read_yaml_file_reads_utf8_with_bom(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffname: café\n".encode())
    data, source = read_yaml_file(path)
    assert data == {"name": "café"}
    assert source.where(("name",)) == f"{path}:1:7"


def test_non_utf8_file_is_refused_naming_the_file_and_position(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\ntarget: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        read_yaml_file(path)
    assert str(info.value) == f"{path}:2:12: the file is not UTF-8 text (byte 0xe9 at offset 19); save it as UTF-8"


def test_nul_bytes_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04\x00\x00name: x\n")
    with pytest.raises(ConfigError) as info:
        read_yaml_file(path)
    assert str(info.value) == f"{path}: the file holds NUL bytes: it is binary, not a YAML config"


def test_missing_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        read_yaml_file(path)
    assert str(info.value) == f"{path}: no such config file"


def test_directory_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_yaml_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a YAML config file"


def test_empty_config_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# all commented out\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: the config is empty; expected a mapping with name, data and model"


def test_invalid_yaml_file_is_located_in_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodel: [\n")
    with pytest.raises(ConfigError) as info:
        read_yaml_file(path)
    assert str(info.value) == f"{path}:3:1: invalid YAML: expected the node content, but found '<stream end>'"


def test_config_error_exit_code_is_2():
    assert ConfigError("x").exit_code == 2
