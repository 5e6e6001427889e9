"""Quality gates: parsing, name checks, evaluation, gates.json and the table. No TensorFlow."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys

import pytest
from rich.console import Console

from nnrun.console import gates_table
from nnrun.errors import EXIT_GATE, ConfigError
from nnrun.evaluation.gates import (
    Gate,
    GateFailed,
    check_names,
    evaluate_gates,
    failure_message,
    gates_json,
    parse_gate,
    parse_gates,
    raise_if_failed,
)

METRICS = {"loss": 0.3, "accuracy": 0.9, "val_loss": 0.4, "val_accuracy": 0.85}


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("val_accuracy>=0.9", "val_accuracy", ">=", 0.9),
        ("val_loss <= 0.4", "val_loss", "<=", 0.4),
        ("  loss<1  ", "loss", "<", 1.0),
        ("accuracy > .5", "accuracy", ">", 0.5),
        ("epochs==100", "epochs", "==", 100.0),
        ("val_loss<=1e-3", "val_loss", "<=", 0.001),
        ("delta>=-0.25", "delta", ">=", -0.25),
        ("auc_1>=0.8", "auc_1", ">=", 0.8),
    ],
)
def test_parse_every_operator_and_spacing(text, metric, op, threshold):
    gate = parse_gate(text, "--gate")
    assert gate == Gate(metric, op, threshold, "--gate")


@pytest.mark.parametrize(
    ("value", "op", "threshold"),
    [(">= 0.9", ">=", 0.9), ("<=0.4", "<=", 0.4), (" > 0.5 ", ">", 0.5), ("< 2", "<", 2.0), ("== 1", "==", 1.0)],
)
def test_parse_config_mapping_form(value, op, threshold):
    where = "c.yaml:7:17: gates.val_accuracy"
    assert parse_gate(value, where, metric="val_accuracy") == Gate("val_accuracy", op, threshold, where)


def test_gate_renders_as_written():
    assert str(parse_gate("val_accuracy>=0.90", "")) == "val_accuracy >= 0.9"
    assert str(parse_gate("val_loss<1e-05", "")) == "val_loss < 1e-05"
    assert str(parse_gate("epochs==100", "")) == "epochs == 100"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("val_accuracy", None),
        ("val_accuracy>=", None),
        (">=0.9", None),
        ("val_accuracy>=high", None),
        ("val_accuracy>=0.9x", None),
        ("val_accuracy >= 0.9 0.8", None),
        ("val_accuracy=0.9", "use == for equality, or >= / <= for a bound: val_accuracy>=0.9"),
        ("val_accuracy=>0.9", "write the operator as >= or <= (not => or =<)"),
        ("val_accuracy!=0.9", "!= is not supported; use >, <, >= or <="),
        ("val_accuracy>=90%", "write the threshold as a fraction: val_accuracy>=0.9, not 90%"),
        ("", None),
    ],
)
def test_bad_syntax_message_is_exact(text, hint):
    with pytest.raises(ConfigError) as info:
        parse_gate(text, "--gate")
    assert info.value.message == (
        f"--gate: expected METRIC>=NUMBER such as val_accuracy>=0.9 (operators >=, <=, >, <, ==), got {text!r}"
    )
    assert info.value.hint == hint
    assert info.value.exit_code == 2


@pytest.mark.parametrize("value", [">= high", ">=", "at least 0.9", True, None, [0.9]])
def test_bad_mapping_value_message_is_exact(value):
    with pytest.raises(ConfigError) as info:
        parse_gate(value, "c.yaml:7:17: gates.val_accuracy", metric="val_accuracy")
    assert info.value.message == (
        "c.yaml:7:17: gates.val_accuracy: expected OPERATOR NUMBER such as '>= 0.9' (operators >=, <=, >, <, ==), "
        f"got {value!r}"
    )


def test_bad_mapping_metric_name():
    with pytest.raises(ConfigError, match=r"^g: expected a metric name such as val_accuracy, got 'val acc'$"):
        parse_gate(">= 0.9", "g", metric="val acc")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_threshold_is_refused(value):
    with pytest.raises(ConfigError) as info:
        parse_gate(f"<= {value}", "g", metric="loss")
    assert info.value.message.endswith(f"got '<= {value}'")  # nan/inf are not numbers a gate accepts


def test_huge_threshold_overflowing_to_inf_is_refused():
    with pytest.raises(ConfigError, match="the threshold must be a finite number"):
        parse_gate("loss<1e999", "--gate")


def test_parse_gates_reports_every_bad_gate_at_once():
    with pytest.raises(ConfigError) as info:
        parse_gates(["loss<1", "acc", "val_loss=0.4"], "--gate")
    assert str(info.value).splitlines() == [
        "--gate: expected METRIC>=NUMBER such as val_accuracy>=0.9 (operators >=, <=, >, <, ==), got 'acc'",
        "--gate: expected METRIC>=NUMBER such as val_accuracy>=0.9 (operators >=, <=, >, <, ==), got 'val_loss=0.4'",
        "  hint: use == for equality, or >= / <= for a bound: val_accuracy>=0.9",
    ]
    assert parse_gates(["loss<1", "accuracy>=0.5"], "--gate") == [
        Gate("loss", "<", 1.0, "--gate"), Gate("accuracy", ">=", 0.5, "--gate")
    ]


def test_unknown_metric_names_with_suggestion_and_available_list():
    gates = [parse_gate("val_acuracy>=0.9", "--gate"), parse_gate("loss<1", "--gate"),
             parse_gate("<= 0.5", "c.yaml:9:3: gates.f1", metric="f1")]
    assert check_names(gates, set(METRICS)) == [
        "--gate: unknown metric 'val_acuracy' (did you mean 'val_accuracy'?); "
        "available: accuracy, loss, val_accuracy, val_loss",
        "c.yaml:9:3: gates.f1: unknown metric 'f1'; available: accuracy, loss, val_accuracy, val_loss",
    ]


def test_unknown_val_metric_without_validation_data_says_why():
    messages = check_names([parse_gate("val_precision>=0.9", "--gate")], {"loss", "precision"})
    assert messages == [
        "--gate: unknown metric 'val_precision' (the run has no validation data: set training.validation_split "
        "or gate on the training metric); available: loss, precision"
    ]


def test_known_names_give_no_message():
    assert check_names([parse_gate("val_loss<1", "g")], set(METRICS)) == []
    assert check_names([parse_gate("loss<1", "g")], set()) == ["g: unknown metric 'loss'; available: none"]


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("val_accuracy>=0.85", True), ("val_accuracy>=0.86", False),
        ("val_accuracy>0.85", False), ("val_accuracy>0.84", True),
        ("val_loss<=0.4", True), ("val_loss<=0.39", False),
        ("val_loss<0.4", False), ("val_loss<0.41", True),
        ("val_loss==0.4", True), ("val_loss==0.41", False),
    ],
)
def test_every_operator_evaluates(text, passed):
    [result] = evaluate_gates([parse_gate(text, "--gate")], METRICS)
    assert result["passed"] is passed


def test_equality_tolerates_float_rounding():
    [result] = evaluate_gates([parse_gate("x==0.3", "g")], {"x": 0.1 + 0.2})
    assert result["passed"] is True


def test_result_fields():
    [result] = evaluate_gates([parse_gate("val_accuracy >= 0.9", "--gate")], METRICS)
    assert result == {"gate": "val_accuracy >= 0.9", "metric": "val_accuracy", "op": ">=", "threshold": 0.9,
                      "value": 0.85, "passed": False}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None, "0.9", True])
def test_nan_missing_or_non_numeric_value_fails_with_value_none(value):
    for text in ("loss<=1", "loss>=0", "loss==1"):
        [result] = evaluate_gates([parse_gate(text, "g")], {"loss": value})
        assert result["passed"] is False
        assert result["value"] is None


def test_missing_metric_fails():
    [result] = evaluate_gates([parse_gate("val_auc>=0.5", "g")], METRICS)
    assert (result["passed"], result["value"]) == (False, None)


def test_numpy_values_are_plain_floats():
    np = pytest.importorskip("numpy")
    [result] = evaluate_gates([parse_gate("loss<1", "g")], {"loss": np.float32(0.5)})
    assert result["passed"] is True and type(result["value"]) is float


def test_all_gates_are_reported_together():
    gates = [parse_gate(t, "--gate") for t in ("val_accuracy>=0.9", "loss<1", "val_loss<=0.3", "nope>0")]
    results = evaluate_gates(gates, METRICS)
    assert [(r["gate"], r["passed"]) for r in results] == [
        ("val_accuracy >= 0.9", False), ("loss < 1", True), ("val_loss <= 0.3", False), ("nope > 0", False),
    ]
    doc = gates_json(results)
    assert doc["passed"] is False
    assert doc["gates"] == results
    json.dumps(doc, allow_nan=False)  # valid JSON: NaN never leaks into gates.json
    assert failure_message(results) == (
        "quality gates failed (3 of 4): val_accuracy >= 0.9 (got 0.8500); val_loss <= 0.3 (got 0.4000); "
        "nope > 0 (got n/a)"
    )
    with pytest.raises(GateFailed) as info:
        raise_if_failed(results)
    assert info.value.exit_code == EXIT_GATE == 3
    assert str(info.value) == failure_message(results)


def test_all_passed():
    results = evaluate_gates([parse_gate("loss<1", "g"), parse_gate("accuracy>=0.9", "g")], METRICS)
    assert gates_json(results) == {"passed": True, "gates": results}
    assert failure_message(results) is None
    raise_if_failed(results)
    assert gates_json([]) == {"passed": True, "gates": []}


def _render(table) -> str:
    console = Console(width=100, file=io.StringIO())
    console.print(table)
    return console.file.getvalue()


def test_gates_table_marks_pass_and_fail():
    results = evaluate_gates([parse_gate("loss<1", "g"), parse_gate("val_loss<=0.3", "g"),
                              parse_gate("x>0", "g")], METRICS | {"x": math.nan})
    text = _render(gates_table(results))
    assert "quality gates: 2 of 3 failed" in text
    lines = [line for line in text.splitlines() if "loss" in line or "x >" in line]
    assert "✓" in lines[0] and "loss < 1" in lines[0] and "0.3000" in lines[0]
    assert "✗" in lines[1] and "val_loss <= 0.3" in lines[1] and "0.4000" in lines[1]
    assert "✗" in lines[2] and "n/a" in lines[2]
    assert "quality gates: passed" in _render(gates_table(results[:1]))


def test_gate_names_with_markup_are_shown_verbatim():
    results = evaluate_gates([Gate("[red]x", ">=", 1.0, "g")], {})
    assert "[red]x >= 1" in _render(gates_table(results))


def test_no_tensorflow_import():
    code = "import sys, nnrun.evaluation.gates; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("value", ["0.9", 0.9, 1])
def test_bare_number_needs_an_operator(value):
    with pytest.raises(ConfigError) as e:
        parse_gate(value, "c.yaml:7:17: gates.val_loss", metric="val_loss")
    assert str(e.value).startswith(f"c.yaml:7:17: gates.val_loss: a gate needs an operator, got {value!r}")
    assert "'<= " in str(e.value)
