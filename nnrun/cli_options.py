"""The options several ``nnrun`` commands share, as Click decorators (sqlite-utils' ``output_options`` shape).

One flag and one parameter name everywhere; where commands word the help differently, the command passes
its own text. Click only: no nnrun import, so ``nnrun --help`` stays fast.

Example:
    >>> @click.command()
    ... @json_option()
    ... @quiet_option("No per-epoch progress.")
    ... def report(as_json: bool, quiet: bool) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

GATE_HELP = "Quality gate, e.g. 'val_accuracy>=0.9' (repeatable; operators >= <= > < ==); a failure exits 3."
SET_HELP = "Override a config value: key.path=value (repeatable; list items by index: model.layers.0.units=16)."
JSON_HELP = "Print one JSON document on stdout instead of a table."

#: What each function here returns: a decorator that adds one option to a Click command.
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def json_option(help: str = JSON_HELP) -> Decorator:
    """``--json`` (parameter ``as_json``): one JSON document on stdout instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def set_option() -> Decorator:
    """``--set KEY=VALUE`` (parameter ``overrides``, repeatable): config overrides."""
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)


def gate_option() -> Decorator:
    """``--gate METRIC>=N`` (parameter ``gates``, repeatable): quality gates; a failure exits 3."""
    return click.option("--gate", "gates", multiple=True, metavar="METRIC>=N", help=GATE_HELP)


def runs_dir_option(help: str) -> Decorator:
    """``--runs-dir`` (parameter ``runs_dir``, default ``runs``): where run directories go."""
    return click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
                        help=help)


def quiet_option(help: str = "No progress output on stderr.") -> Decorator:
    """``--quiet``/``-q`` (parameter ``quiet``): no progress on stderr."""
    return click.option("--quiet", "-q", is_flag=True, help=help)


def no_plots_option(help: str = "Do not write the PNG plots.") -> Decorator:
    """``--no-plots`` (parameter ``no_plots``): skip the PNG plots."""
    return click.option("--no-plots", is_flag=True, help=help)


def mlflow_option() -> Decorator:
    """``--mlflow URI`` (parameter ``mlflow``): mirror the finished run into MLflow (needs ``nnrun[mlflow]``)."""
    return click.option("--mlflow", metavar="URI", default=None,
                        help="Also log the finished run to this MLflow tracking URI (sqlite:///mlflow.db, "
                             "http://host:5000); overrides the config's tracking.mlflow. A tracker failure is a "
                             "warning, never the outcome.")


def backend_option() -> Decorator:
    """``--backend tensorflow|jax`` (parameter ``backend``): the Keras backend that loads the run's model."""
    return click.option("--backend", type=click.Choice(["tensorflow", "jax"]), default=None,
                        help="Keras backend to load the model on (default: jax when installed and the model "
                             "allows it, else tensorflow; env NNRUN_BACKEND).")
