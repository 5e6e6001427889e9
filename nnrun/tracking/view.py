"""What a tracker logs for a finished run directory, read from its files alone (no tracker import here).

A run directory is the source of truth; a tracker run mirrors it. ``views(run_dir)`` reads one directory
as a tree of ``RunView``: a ``train`` run is one view; a ``cv`` run a parent with one child per ``fold_<i>/``;
a ``tune`` search a parent with one child per ``trial_<n>/``. Each view holds:

- ``params``: the resolved config flattened to ``--set`` key paths (``model.layers.0.units``: MLflow refuses
  ``[0]`` in a key), values written as YAML scalars (``true``, ``null``, ``0.01``);
- ``history``: per-epoch metrics from ``history.csv`` (step = epoch);
- ``final``: the numbers in ``metrics.json`` plus each evaluation's metrics (``val_roc_auc``, ``test_accuracy``);
- ``tags``: nnrun version, run directory, config and data SHA-256, status, gate outcome;
- ``files``: the directory's own files (not checkpoints nor the lock); ``model``: the model.keras logged as an
  MLflow model (a train run's own; a search's best trial's; none for a cv run and for folds and trials, whose
  model.keras is among their files).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnrun import __version__, rundir
from nnrun.errors import UsageError

#: MLflow's limit on a parameter value's length (longer values are cut, with "…").
PARAM_VALUE_LIMIT = 6000


@dataclass
class RunView:
    """One tracker run: see the module doc. ``kind`` is train, cv, fold, tune or trial."""

    name: str
    kind: str
    path: Path
    params: dict[str, str] = field(default_factory=dict)
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    model: Path | None = None
    children: list[RunView] = field(default_factory=list)


def run_kind(run_dir: Path) -> str:
    """``train``, ``cv`` or ``tune`` for a finished run directory.

    Raises:
        UsageError: no such directory, or not one nnrun made.
    """
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    if (run_dir / rundir.TUNE_JSON).is_file():
        return "tune"
    if (run_dir / rundir.CV).is_file():
        return "cv"
    if (run_dir / rundir.RUN).is_file() and (run_dir / rundir.METRICS).is_file():
        return "train"
    raise UsageError(f"{run_dir}: not a finished nnrun run (no {rundir.METRICS}, {rundir.CV} or {rundir.TUNE_JSON}); "
                     "pass a directory made by nnrun train, cv or tune")


def views(run_dir: Path) -> RunView:
    """The tree of views for ``run_dir`` (see the module doc).

    Raises:
        UsageError: not a finished nnrun run directory.
    """
    run_dir = Path(run_dir).resolve()
    kind = run_kind(run_dir)
    if kind == "train":
        return train_view(run_dir, "train")
    view = train_view(run_dir, kind)
    prefix = rundir.FOLD_PREFIX if kind == "cv" else rundir.TRIAL_PREFIX
    subdirs = sorted((p for p in run_dir.glob(f"{prefix}*") if p.is_dir() and (p / rundir.METRICS).is_file()),
                     key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    for sub in subdirs:
        child = train_view(sub, "fold" if kind == "cv" else "trial", inherit=view)
        child.name = f"{view.name}/{sub.name}"
        child.model = None  # its model.keras is an artifact; a model per fold or trial would crowd MLflow's list
        view.children.append(child)
    if kind == "tune":
        doc = _json(run_dir / rundir.TUNE_JSON)
        view.final.update(_tune_metrics(doc))
        best = Path(str((doc.get("best") or {}).get("run_dir") or "")) / rundir.MODEL
        view.model = best if best.is_file() else None  # the search's model: its best trial's
    else:  # cv: metrics.json holds the means; the spread across folds is in cv.json
        view.final.update({f"{k}_std": v for k, v in _numbers(_json(run_dir / rundir.CV).get("std") or {}).items()})
    return view


def train_view(path: Path, kind: str, inherit: RunView | None = None) -> RunView:
    """One directory's view; a fold (no config.yaml, no run.json) takes its params and tags from ``inherit``."""
    info = _json(path / rundir.RUN)
    config_file = path / (rundir.BEST_YAML if kind == "tune" else rundir.CONFIG)
    params = flatten(_yaml(config_file)) if config_file.is_file() else dict(inherit.params if inherit else {})
    view = RunView(name=path.name, kind=kind, path=path, params=params)
    view.history = read_history(path / rundir.HISTORY)
    view.final = final_metrics(path, info)
    view.tags = {**(inherit.tags if inherit else {}), **run_tags(path, info, kind)}
    view.files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                        and p.name not in rundir.NOT_TRACKED)
    view.model = path / rundir.MODEL if (path / rundir.MODEL).is_file() else None
    return view


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A config as ``{key path: value}``, key paths as ``--set`` takes them (list items by index).

    Example:
        >>> flatten({"model": {"layers": [{"units": 16}]}, "seed": 0, "gates": {}})
        {'model.layers.0.units': '16', 'seed': '0', 'gates': '{}'}
    """
    items = (value.items() if isinstance(value, dict) else enumerate(value)
             if isinstance(value, list) else None)
    if items is None or not value:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text = text if len(text) <= PARAM_VALUE_LIMIT else text[: PARAM_VALUE_LIMIT - 1] + "…"
        return {prefix: text}
    out: dict[str, str] = {}
    for key, sub in items:
        safe = re.sub(r"[^\w.\- /]", "_", str(key))  # MLflow's allowed key characters
        out.update(flatten(sub, f"{prefix}.{safe}" if prefix else safe))
    return out


def read_history(path: Path) -> list[tuple[int, dict[str, float]]]:
    """``history.csv`` as (epoch, {metric: value}) rows; empty cells left out; [] without the file."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows, start=1):
        step = int(float(row.pop("epoch", i) or i))
        out.append((step, {k: float(v) for k, v in row.items() if k and v not in ("", None)}))
    return out


def final_metrics(path: Path, info: dict) -> dict[str, float]:
    """The numbers in ``metrics.json`` (booleans and text left out), then each evaluation's metrics named as
    the train table names them: ``val_<m>`` for the validation split, ``train_<m>`` when training data was
    evaluated, ``<label>_<m>`` for ``evaluation-<label>.json``; a name metrics.json already has is kept."""
    out = _numbers(_json(path / rundir.METRICS))
    evaluations = info.get("evaluations") or [{"file": rundir.EVALUATION}]
    for entry in evaluations:
        doc = _json(path / str(entry.get("file", "")))
        if not doc:
            continue
        label = Path(entry["file"]).stem.partition("-")[2]
        prefix = f"{label}_" if label else {"validation": "val_", "training": "train_"}.get(doc.get("subset"), "")
        for key, value in _numbers(doc.get("metrics") or {}).items():
            out.setdefault(prefix + key, value)
    return out


def run_tags(path: Path, info: dict, kind: str) -> dict[str, str]:
    """nnrun's tags for a tracker run (``nnrun.*``), from run.json, gates.json (``nnrun.gates``) and each later
    evaluation's gates-<label>.json (``nnrun.gates.<label>``); ``mlflow.note.content`` (the
    run's description in MLflow's UI) is its report.md."""
    def outcome(gates: dict) -> str:
        return "none" if not gates.get("gates") else "passed" if gates.get("passed") else "failed"

    tags = {
        "nnrun.kind": kind,
        "nnrun.run_dir": str(path),
        "nnrun.version": str(info.get("nnrun_version") or __version__),
        "nnrun.gates": outcome(_json(path / rundir.GATES)),  # the training-time gates
    }
    for later in sorted(path.glob(rundir.labelled(rundir.GATES, "*"))):  # gates-<label>.json: a later evaluation's
        tags[f"nnrun.gates.{later.stem.removeprefix('gates-')}"] = outcome(_json(later))
    for key, name in (("status", "status"), ("started", "started"), ("resolved_config_sha256", "config_sha256"),
                      ("data_sha256", "data_sha256"), ("command", "command"),
                      ("tensorflow_version", "tensorflow_version"), ("keras_version", "keras_version")):
        if info.get(key) is not None:
            tags[f"nnrun.{name}"] = str(info[key])
    if (path / rundir.REPORT).is_file():
        tags["mlflow.note.content"] = (path / rundir.REPORT).read_text(encoding="utf-8", errors="replace")
    return tags


def _tune_metrics(doc: dict) -> dict[str, float]:
    """A search's numbers: ``best_<metric>``, the best trial's number, and its trial counts per state."""
    best = doc.get("best") or {}
    out = {f"best_{doc.get('metric', 'value')}": best.get("value"), "best_trial": best.get("number"),
           **{f"trials_{state.lower()}": n for state, n in (doc.get("states") or {}).items()}}
    return _numbers(out)


def _numbers(doc: dict) -> dict[str, float]:
    return {k: float(v) for k, v in doc.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _json(path: Path) -> dict:
    """A JSON object from ``path``; {} when the file is missing or not an object (a view is best effort)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
