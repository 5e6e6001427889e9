"""Experiment trackers that mirror a finished run directory (MLflow); the run directory stays the truth.

Asked for by ``--mlflow URI`` (train, cv, tune, evaluate, track) or the config's ``tracking.mlflow``. MLflow is
an optional extra (``pip install 'nnrun[mlflow]'``) and is imported only when tracking is asked for. The
tracker never decides a command's outcome: a store that is unreachable or refuses leaves the run complete,
with a warning that says what was not logged and how to log it later (``nnrun track RUN_DIR --mlflow URI``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nnrun import rundir
from nnrun.errors import RunError, UsageError

INSTALL_HINT = "pip install 'nnrun[mlflow]' (or: pip install mlflow)"


@dataclass(frozen=True)
class Target:
    """Where to log: an MLflow tracking URI and experiment name (None: the run's config name)."""

    uri: str
    experiment: str | None = None


def target(flag: str | None, config: Any) -> Target | None:
    """The MLflow target asked for: ``--mlflow URI`` (``flag``) wins over the config's ``tracking.mlflow``
    (``config``: a resolved config as a dict, or a ``Config``); None when neither asks.
    """
    section = _mlflow_section(config)
    if flag is not None:
        return Target(flag, section.get("experiment"))
    if section.get("tracking_uri"):
        return Target(section["tracking_uri"], section.get("experiment"))
    return None


def require(flag: str | None, config: Any = None) -> None:
    """Check, before any work, that MLflow can be imported when tracking is asked for, and that it has a store
    for the URI's scheme (``uri.check_scheme``: MLflow is imported only when tracking is asked for).

    Raises:
        UsageError: tracking asked for and MLflow not installed, or an unknown URI scheme (exit 2).
    """
    goal = target(flag, config)
    if goal is None:
        return
    where = "--mlflow" if flag is not None else "the config's tracking.mlflow"
    if importlib.util.find_spec("mlflow") is None:
        raise UsageError(f"{where} needs MLflow, which is not installed", hint=INSTALL_HINT)
    from nnrun.tracking.uri import check_scheme

    check_scheme(goal.uri, where)


def track_finished(run_dir: Path | str, flag: str | None, warn: Callable[[str], None]) -> dict | None:
    """Mirror a finished run into the tracker asked for by ``flag`` or the run's own config; never raises.

    Returns:
        None when no tracking is asked; else ``mlflow_log.mirror``'s summary (a warning was given for each
        part in its ``not_logged``).
    """
    run_dir = Path(run_dir)
    try:
        goal = target(flag, run_config(run_dir))
        if goal is None:
            return None
        summary = _mirror(run_dir, goal)
    except Exception as exc:  # noqa: BLE001 (the tracker never decides the outcome: any failure is a warning)
        warn(f"MLflow: {run_dir} not logged ({exc})")
        return {"not_logged": [f"everything ({exc})"], "run_id": None}
    for line in summary["not_logged"]:
        warn(f"MLflow ({goal.uri}): not logged: {line}; the run is complete in {run_dir}; log it later with: "
             f"nnrun track {run_dir} --mlflow {goal.uri}")
    return summary


def attach(doc: dict, run_dir: Path | str | None, flag: str | None, warn: Callable[[str], None]) -> dict:
    """``doc`` (a command's result) with ``tracking``: the finished run mirrored into MLflow when asked for
    (``track_finished``; never raises). ``run_dir`` None (a multi_worker worker other than the chief, which
    writes no run): nothing is logged."""
    if run_dir is None:
        return doc
    summary = track_finished(run_dir, flag, warn)
    if summary is not None:
        doc["tracking"] = summary
    return doc


def track(run_dir: Path | str, flag: str | None) -> dict:
    """Log a finished run (train, cv or tune directory) to MLflow now (``nnrun track``); a run logged before is
    updated (new evaluations, gates, files), not duplicated. Imports MLflow, and TensorFlow to log the model.

    Returns:
        ``{"run_dir", "tracking_uri", "experiment", "experiment_id", "run_id", "children", "updated",
        "not_logged"}``.

    Raises:
        UsageError: not a finished run; no ``--mlflow`` and no ``tracking.mlflow`` in its config; MLflow not
            installed. RunError: the store could not log all of it (what is missing named).
    """
    from nnrun.tracking.view import run_kind

    run_dir = Path(run_dir)
    run_kind(run_dir)
    goal = target(flag, run_config(run_dir))
    if goal is None:
        raise UsageError(f"{run_dir}: where to? give --mlflow URI (its config has no tracking.mlflow)",
                         hint="e.g. --mlflow sqlite:///mlflow.db")
    require(flag, run_config(run_dir))
    summary = _mirror(run_dir, goal)
    if summary["not_logged"]:
        raise RunError(f"MLflow ({goal.uri}): not logged: " + "; ".join(summary["not_logged"]))
    return summary


def run_config(run_dir: Path) -> dict:
    """The resolved config a run directory holds (``config.yaml``; a search's ``best.yaml``), {} if none."""
    for name in (rundir.CONFIG, rundir.BEST_YAML):
        if (run_dir / name).is_file():
            try:
                doc = yaml.safe_load((run_dir / name).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                return {}
            return doc if isinstance(doc, dict) else {}
    return {}


def _mirror(run_dir: Path, goal: Target) -> dict:
    from nnrun.tracking.mlflow_log import mirror
    from nnrun.tracking.view import views

    view = views(run_dir)
    experiment = goal.experiment or str(run_config(run_dir).get("name") or view.name)
    summary = mirror(view, goal.uri, experiment)
    summary["run_dir"] = str(view.path)
    return summary


def _mlflow_section(config: Any) -> dict:
    if config is None:
        return {}
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    section = ((config.get("tracking") or {}).get("mlflow") or {}) if isinstance(config, dict) else {}
    return section if isinstance(section, dict) else {}
