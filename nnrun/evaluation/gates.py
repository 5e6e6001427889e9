"""Quality gates for CI: ``val_accuracy>=0.9`` checked against a run's final metrics. No TensorFlow import.

A gate is a metric name, a comparison operator and a number. It is written either as one string
(``--gate val_accuracy>=0.9``, ``val_loss <= 0.4``) or as a config mapping item whose value is the condition
(``{val_accuracy: ">= 0.9"}``; a bare number is refused: ``>=`` suits accuracy, ``<=`` a loss). Every gate is
evaluated and reported, so one failing gate does not hide the others; a missing, NaN or infinite metric fails.
A failed gate is exit code 3 (``GateFailed``).

Example:
    >>> gates = [parse_gate("val_accuracy>=0.9", "--gate"), parse_gate("<= 0.4", "gates.val_loss", metric="val_loss")]
    >>> results = evaluate_gates(gates, {"val_accuracy": 0.93, "val_loss": 0.52})
    >>> [r["passed"] for r in results]
    [True, False]
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun.config.registry import suggest
from nnrun.errors import ConfigError, GateFailed

#: Comparison operators, longest first so that ``>=`` is not read as ``>``.
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": lambda value, threshold: math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12),
    ">": operator.gt,
    "<": operator.lt,
}

_OPS = "(?:>=|<=|==|>|<)"
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_METRIC = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_FULL = re.compile(rf"\s*({_METRIC})\s*({_OPS})\s*({_NUMBER})\s*")
_CONDITION = re.compile(rf"\s*({_OPS})?\s*({_NUMBER})\s*")
_OPERATOR_LIST = "operators >=, <=, >, <, =="


@dataclass(frozen=True)
class Gate:
    """One quality gate.

    Attributes:
        metric: the metric name as Keras' history writes it (``val_accuracy``, ``loss``).
        op: one of ``>=``, ``<=``, ``>``, ``<``, ``==``.
        threshold: the number the metric is compared with (finite).
        source: where the gate was written (``--gate``, ``configs/iris.yaml:14:3: gates.val_accuracy``),
            used in error messages.
    """

    metric: str
    op: str
    threshold: float
    source: str

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {_number(self.threshold)}"

    def check(self, value: float) -> bool:
        """Whether ``value`` passes the gate."""
        return OPERATORS[self.op](value, self.threshold)


def parse_gate(text: str | float, where: str, metric: str | None = None) -> Gate:
    """Parse one gate.

    Args:
        text: ``METRIC OP NUMBER`` (``val_accuracy>=0.9``, ``val_loss <= 0.4``); or, when ``metric`` is
            given, the condition alone (``">= 0.9"``); a bare number is refused (which way is "good"?).
        where: the place the gate comes from, for messages (``--gate``, ``file.yaml:12:5: gates.val_loss``).
        metric: the metric name of a config mapping item ``{metric: condition}``.

    Returns:
        The Gate; ``source`` is ``where``.

    Raises:
        ConfigError: bad syntax, or a threshold that is not a finite number (exit code 2).

    Example:
        >>> parse_gate("val_accuracy>=0.9", "--gate")
        Gate(metric='val_accuracy', op='>=', threshold=0.9, source='--gate')
        >>> parse_gate(">= 0.9", "gates.val_accuracy", metric="val_accuracy").op
        '>='
    """
    prefix = f"{where}: " if where else ""
    if metric is not None:
        if not re.fullmatch(_METRIC, metric):
            raise ConfigError(f"{prefix}expected a metric name such as val_accuracy, got {metric!r}")
        match = _CONDITION.fullmatch(text) if isinstance(text, str) else None
        bare = (isinstance(text, numbers.Real) and not isinstance(text, bool)) or (match and not match.group(1))
        if bare:
            raise ConfigError(
                f"{prefix}a gate needs an operator, got {text!r}",
                hint=f"write '>= {text}' for a metric that should be high, '<= {text}' for a loss or error",
            )
        if match is None:
            raise ConfigError(
                f"{prefix}expected OPERATOR NUMBER such as '>= 0.9' ({_OPERATOR_LIST}), got {text!r}",
                hint=_hint(str(text)),
            )
        return Gate(metric, match.group(1) or ">=", _finite(float(match.group(2)), prefix, text), where)
    match = _FULL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"{prefix}expected METRIC>=NUMBER such as val_accuracy>=0.9 ({_OPERATOR_LIST}), got {text!r}",
            hint=_hint(str(text)),
        )
    name, op, number = match.groups()
    return Gate(name, op, _finite(float(number), prefix, text), where)


def parse_gates(texts: Iterable[str], where: str) -> list[Gate]:
    """Parse several ``METRIC OP NUMBER`` gates (e.g. repeated ``--gate``), reporting every bad one at once.

    Raises:
        ConfigError: one line per bad gate.
    """
    gates, errors = [], []
    for text in texts:
        try:
            gates.append(parse_gate(text, where))
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        hints = [e.hint for e in errors if e.hint]
        raise ConfigError("\n".join(e.message for e in errors), hint=hints[0] if len(hints) == 1 else None)
    return gates


def check_names(gates: Iterable[Gate], available: set[str]) -> list[str]:
    """Messages for gates on metrics the run does not have, with the closest name and the available ones.

    Call this before training, with the metric names the config will produce, so a typo costs nothing.

    Returns:
        One line per unknown metric (empty when all are known), e.g.
        ``--gate: unknown metric 'val_acuracy' (did you mean 'val_accuracy'?); available: accuracy, loss, …``.
    """
    names = sorted(available)
    shown = ", ".join(names) if names else "none"
    messages = []
    for gate in gates:
        if gate.metric in available:
            continue
        prefix = f"{gate.source}: " if gate.source else ""
        no_validation = not any(n.startswith("val_") for n in names)
        if gate.metric.startswith("val_") and gate.metric[4:] in available and no_validation:
            extra = " (the run has no validation data: set training.validation_split or gate on the training metric)"
        else:
            extra = suggest(gate.metric, names)
        messages.append(f"{prefix}unknown metric {gate.metric!r}{extra}; available: {shown}")
    return messages


def evaluate_gates(gates: Iterable[Gate], metrics: Mapping[str, Any]) -> list[dict]:
    """Check every gate against the final metrics; all gates are evaluated, in order.

    Args:
        gates: the gates.
        metrics: metric name -> value (``metrics.json`` or an evaluation result). A missing, non-numeric,
            NaN or infinite value fails its gate and is reported as ``value: None``.

    Returns:
        One dict per gate: ``{"gate": "val_accuracy >= 0.9", "metric", "op", "threshold", "value", "passed"}``.
    """
    results = []
    for gate in gates:
        raw = metrics.get(gate.metric)
        value = None
        if isinstance(raw, numbers.Real) and not isinstance(raw, bool) and math.isfinite(float(raw)):
            value = float(raw)
        results.append({
            "gate": str(gate),
            "metric": gate.metric,
            "op": gate.op,
            "threshold": gate.threshold,
            "value": value,
            "passed": value is not None and gate.check(value),
        })
    return results


def gates_json(results: list[dict]) -> dict:
    """The ``gates.json`` document: ``{"passed": bool, "gates": results}`` (no gates: passed)."""
    return {"passed": all(r["passed"] for r in results), "gates": list(results)}


def failure_message(results: list[dict]) -> str | None:
    """One line naming the failed gates and their values, or None when all passed.

    Example: ``quality gates failed (1 of 2): val_loss <= 0.4 (got 0.5200)``.
    """
    failed = [r for r in results if not r["passed"]]
    if not failed:
        return None
    parts = [f"{r['gate']} (got {format_value(r['value'])})" for r in failed]
    return f"quality gates failed ({len(failed)} of {len(results)}): " + "; ".join(parts)


def raise_if_failed(results: list[dict]) -> None:
    """Raise GateFailed (exit code 3) when any gate failed; print the results first.

    Raises:
        GateFailed: the message of ``failure_message``.
    """
    message = failure_message(results)
    if message is not None:
        raise GateFailed(message)




def _finite(value: float, prefix: str, text: object) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{prefix}the threshold must be a finite number, got {text!r}")
    return value


def _hint(text: str) -> str | None:
    """A targeted fix for the usual slips; None when there is nothing specific to say."""
    if "=>" in text or "=<" in text:
        return "write the operator as >= or <= (not => or =<)"
    if re.search(r"(?<![<>=!])=(?!=)", text):
        return "use == for equality, or >= / <= for a bound: val_accuracy>=0.9"
    if "!=" in text:
        return "!= is not supported; use >, <, >= or <="
    if "%" in text:
        return "write the threshold as a fraction: val_accuracy>=0.9, not 90%"
    return None


def _number(x: float) -> str:
    return f"{x:.15g}"


def format_value(value: float | None) -> str:
    """A gate's metric value as shown in messages and tables: 4 decimals, ``n/a`` when missing or NaN."""
    return "n/a" if value is None else f"{value:.4f}"


def check_gates(run: Path, gate_list: list, values: dict, label: str | None = None) -> list[dict]:
    """Evaluate gates (all of them) and write gates.json; the caller exits 3 on a failure.

    Args:
        run: the run directory. gate_list: parsed gates. values: metric name -> value.
        label: a later evaluation's name (``rundir.evaluation_label``): its results go to ``gates-<label>.json``,
            so that they never replace the training-time ``gates.json`` (which ``nnrun runs`` reads).

    Returns:
        One result per gate (see ``evaluation.gates.evaluate_gates``); [] without gates.

    Raises:
        ConfigError: a gate names a metric that ``values`` lacks.
    """
    if not gate_list:
        return []
    unknown = check_names(gate_list, {k for k, v in values.items() if isinstance(v, (int, float))
                                      and not isinstance(v, bool)})
    if unknown:
        raise ConfigError("\n".join(unknown))
    results = evaluate_gates(gate_list, values)
    from nnrun import rundir

    rundir.write_json(run / rundir.labelled(rundir.GATES, label), gates_json(results))
    return results
