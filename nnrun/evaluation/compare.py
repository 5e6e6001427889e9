"""Overview of run directories: ``nnrun runs`` lists them, ``nnrun compare`` diffs two. No TensorFlow, no rich
(the tables are in ``nnrun.console``).

Only the small JSON/YAML artifacts are read (``run.json``, ``metrics.json``, ``config.yaml``), never the model,
so listing hundreds of runs takes milliseconds. A damaged run is listed as ``unreadable``, never a crash.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from pathlib import Path
from typing import Any

import yaml

from nnrun import rundir
from nnrun.config.yamlsrc import format_path
from nnrun.errors import RunError, UsageError

#: Keys of metrics.json that describe the run, not a metric (non-numeric ones such as ``monitor`` or
#: ``stopped_early`` are never metrics either).
RUN_KEYS = ("epochs", "train_seconds", "best_epoch", "best_value")

#: The evaluation report's headline metrics that ``train`` prints (``val_`` prefixed on the validation split),
#: listed by ``runs`` and ``compare`` next to metrics.json's.
REPORT_HEADLINE = ("f1_macro", "roc_auc", "baseline_accuracy", "rmse", "r2", "baseline_mae")

#: Keras' short metric names, listed under their long names (``acc`` and ``accuracy`` are one column).
ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}

#: The status of a completed run whose quality gates failed (gates.json ``passed: false``).
GATES_FAILED = "gates failed"

#: Config keys a cross-validation run does not use: its folds replace the validation split (cv trains with
#: ``validation_split: 0``), so a difference there between a run and a cv run of one config is not one.
CV_UNUSED = ("training.validation_split",)

#: The data keys whose ``null`` means "detect from the file": a run records what detection found, so a null
#: against a value on the same data file is no difference.
DETECTED_KEYS = ("header", "delimiter")

#: The data keys holding a file path (``data.validation.path`` and ``data.test.path`` are found by walking).
PATH_KEYS = ("path", "target_path")


def list_runs(runs_dir: Path) -> list[dict]:
    """Every run directory (a directory holding ``run.json``) directly under ``runs_dir``, oldest first.

    Args:
        runs_dir: the parent of the run directories (``runs``).

    Returns:
        One dict per run: ``{"name", "path", "started", "status", "epochs", "train_seconds", "metrics",
        "error", "problems"}``. ``status`` is ``rundir.status`` (``died`` for a killed run, ``unreadable`` when
        ``run.json`` is corrupt); ``metrics`` holds the final ``loss``, ``val_loss`` and every other numeric
        metric of ``metrics.json`` (not ``epochs``, ``best_epoch``…; empty when it is missing); ``error`` is the
        error the run recorded; ``problems`` lists files that could not be read. Runs without a readable start
        time come last, by name.

    Raises:
        UsageError: ``runs_dir`` does not exist, is not a directory, or is itself a run directory.
        RunError: ``runs_dir`` cannot be listed.

    Example:
        >>> [(r["name"], r["status"], r["metrics"].get("val_loss")) for r in list_runs(Path("runs"))]
        [('iris', 'completed', 0.1487), ('iris-2', 'died', None)]
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise UsageError(f"{runs_dir}: no such runs directory", hint="pass the --runs-dir used by nnrun train")
    if not runs_dir.is_dir():
        raise UsageError(f"{runs_dir}: not a directory; pass a directory of runs such as runs")
    if (runs_dir / rundir.RUN).is_file():
        raise UsageError(f"{runs_dir}: this is one run, not a directory of runs; pass {runs_dir.parent}")
    try:
        candidates = [p for p in runs_dir.iterdir() if p.is_dir() and (p / rundir.RUN).exists()]
    except OSError as exc:
        raise RunError(f"{runs_dir}: cannot list: {exc.strerror}") from None
    entries = [_entry(p) for p in candidates]
    entries.sort(key=lambda e: (e["started"] is None, _timestamp(e["started"]) or 0.0, e["name"]))
    return entries


def metric_names(runs: list[dict]) -> list[str]:
    """The metric names of several runs, each metric followed by its ``val_`` twin, ``loss`` first."""
    names = {name for run in runs for name in run["metrics"]}
    return _ordered(names)


def compare_runs(a: Path, b: Path) -> dict:
    """Differences between two runs: their resolved configs, leaf by leaf, and their final metrics.

    Args:
        a, b: run directories (made by ``nnrun train``; they need not have a model).

    The configs are compared as resolved (``resolved_config``): a relative and an absolute path to one data file,
    or a default written in one config and left out of the other, are no difference.

    Returns:
        ``{"a": path, "b": path, "config_diff": [{"key": "model.layers[0].units", "a": 8, "b": 16}, …],
        "metrics": [{"metric", "a", "b", "delta"}, …], "notes": [str, …]}``. A key or list item present in one
        run only has ``None`` on the other side (a whole missing list item is one entry); ``notes`` says which
        keys were left out (a cv run's ``training.validation_split``). ``metrics`` covers the union of the
        two ``metrics.json`` (``epochs`` and ``train_seconds`` included); ``delta`` is ``b - a``, or None when
        either value is missing or not a finite number.

    Raises:
        UsageError: a path is missing or not a run directory.
        RunError: a run's ``config.yaml`` or ``metrics.json`` is missing or corrupt.

    Example:
        >>> compare_runs(Path("runs/iris"), Path("runs/iris-2"))["config_diff"]
        [{'key': 'training.epochs', 'a': 100, 'b': 50}]
    """
    a, b = Path(a), Path(b)
    for run in (a, b):
        rundir.check_run_dir(run, need_model=False)
    config_a, config_b = resolved_config(a), resolved_config(b)
    _share_detected(config_a, config_b)
    cv_runs = [str(run) for run in (a, b) if _is_cv(run)]
    config_diff = [d for d in diff(config_a, config_b) if not (cv_runs and d["key"] in CV_UNUSED)]
    notes = [f"{key} not compared: {cv_runs[0]} is a cross-validation (its folds replace the validation split)"
             for key in CV_UNUSED if cv_runs]
    metrics_a, metrics_b = with_report(a, _read_metrics(a)), with_report(b, _read_metrics(b))
    rows = []
    for name in list(metrics_a) + [k for k in metrics_b if k not in metrics_a]:
        va, vb = metrics_a.get(name), metrics_b.get(name)
        delta = vb - va if _is_number(va) and _is_number(vb) else None
        rows.append({"metric": name, "a": va, "b": vb, "delta": delta})
    return {"a": str(a), "b": str(b), "config_diff": config_diff, "metrics": rows, "notes": notes}


def resolved_config(run: Path) -> Any:
    """A run's ``config.yaml`` as training resolves it: every schema default filled in (when the file still
    validates; else as written), and each relative data path made absolute the way ``nnrun train`` finds it.

    A relative path is resolved, in order, to: the run's recorded data file (``run.json`` ``data_file``) when
    that ends with the path; the working directory; the directory of the config file the run was made from.
    A path found nowhere stays as written.

    Raises:
        RunError: ``config.yaml`` is missing or is not YAML.
    """
    from nnrun.config.load import dump_resolved, validate_data
    from nnrun.config.yamlsrc import read_yaml_file
    from nnrun.errors import ConfigError

    data = _read_config(run)
    try:
        raw, source = read_yaml_file(run / rundir.CONFIG)
        data = yaml.safe_load(dump_resolved(validate_data(raw, source).config))
    except ConfigError:
        pass  # an old or hand-edited config that no longer validates: compared as written
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        _absolute_paths(data["data"], _run_info(run))
    return data


def _absolute_paths(data: dict, info: dict) -> None:
    """Make the relative paths of a config's ``data`` section (and of its ``validation``/``test`` files)
    absolute in place (see ``resolved_config``)."""
    recorded = info.get("data_file") if isinstance(info.get("data_file"), str) else None
    config_file = info.get("config_file") if isinstance(info.get("config_file"), str) else None
    for section in (data, data.get("validation"), data.get("test")):
        if not isinstance(section, dict):
            continue
        for key in PATH_KEYS:
            value = section.get(key)
            if not isinstance(value, str) or not value or Path(value).expanduser().is_absolute():
                continue
            rel = Path(value)
            candidates = [Path(recorded)] if recorded and Path(recorded).parts[-len(rel.parts):] == rel.parts else []
            candidates += [Path.cwd() / rel] + ([Path(config_file).parent / rel] if config_file else [])
            found = next((c for c in candidates if c.exists()), None)
            if found is not None:
                section[key] = str(found.resolve())


def _share_detected(a: Any, b: Any) -> None:
    """When both configs read the same data file, fill a detected key (``DETECTED_KEYS``) left null in one with
    the other's recorded value, in place."""
    da = a.get("data") if isinstance(a, dict) else None
    db = b.get("data") if isinstance(b, dict) else None
    if not (isinstance(da, dict) and isinstance(db, dict)) or da.get("path") in (None, "") \
            or da.get("path") != db.get("path"):
        return
    for key in DETECTED_KEYS:
        if da.get(key) is None and db.get(key) is not None:
            da[key] = db[key]
        elif db.get(key) is None and da.get(key) is not None:
            db[key] = da[key]


def _run_info(run: Path) -> dict:
    try:
        info = rundir.read_json(run / rundir.RUN)
    except RunError:
        return {}
    return info if isinstance(info, dict) else {}


def _is_cv(run: Path) -> bool:
    return _run_info(run).get("command_kind") == "cv" or (run / rundir.CV).is_file()


def diff(a: Any, b: Any, path: tuple = ()) -> list[dict]:
    """Every differing leaf of two YAML/JSON documents: ``[{"key": "model.layers[0].units", "a": 8, "b": 16}]``.

    Mappings are compared key by key, lists item by item; a value present on one side only is one entry with
    ``None`` on the other. ``true`` and ``1`` differ (Python's ``True == 1`` does not count).
    """
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            if key in a and key in b:
                out += diff(a[key], b[key], (*path, key))
            else:
                out.append({"key": format_path((*path, key)), "a": a.get(key), "b": b.get(key)})
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            if i < len(a) and i < len(b):
                out += diff(a[i], b[i], (*path, i))
            else:
                out.append({"key": format_path((*path, i)), "a": a[i] if i < len(a) else None,
                            "b": b[i] if i < len(b) else None})
        return out
    if type(a) is bool or type(b) is bool:
        same = type(a) is type(b) and a == b
    else:
        same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [{"key": format_path(path), "a": a, "b": b}]




def _entry(run: Path) -> dict:
    entry: dict[str, Any] = {
        "name": run.name, "path": str(run), "started": None, "status": "unreadable", "epochs": None,
        "train_seconds": None, "metrics": {}, "error": None, "problems": [],
    }
    try:
        info = rundir.read_json(run / rundir.RUN)
        if not isinstance(info, dict):
            raise RunError(f"{run / rundir.RUN}: cannot read: expected a JSON object, got {type(info).__name__}")
    except RunError as exc:
        entry["problems"].append(str(exc))
        return entry
    entry["status"] = rundir.status(run)
    if entry["status"] == "completed" and _gates_failed(run):
        entry["status"] = GATES_FAILED
    started = info.get("started")
    entry["started"] = started if isinstance(started, str) and _timestamp(started) is not None else None
    entry["error"] = info.get("error") if isinstance(info.get("error"), str) else None
    metrics_path = run / rundir.METRICS
    if not metrics_path.exists():
        if entry["status"] == "completed":
            entry["problems"].append(f"{metrics_path}: missing; the run is incomplete")
        entry["epochs"] = epochs_done(run)  # a died, failed or interrupted run: what it got through
        return entry
    try:
        metrics = _metrics_object(metrics_path)
    except RunError as exc:
        entry["problems"].append(str(exc))
        return entry
    entry["epochs"], entry["train_seconds"] = metrics.get("epochs"), metrics.get("train_seconds")
    values = {k: v for k, v in with_report(run, metrics).items() if k not in RUN_KEYS and (v is None or _is_number(v))}
    entry["metrics"] = {k: values[k] for k in _ordered(set(values))}
    return entry


def epochs_done(run: Path) -> int | None:
    """The epochs a run without ``metrics.json`` finished (it died, failed or was stopped): the last epoch of
    ``history.csv`` (appended after each epoch), else the checkpoint's epoch; None when neither is readable."""
    try:
        with open(run / rundir.HISTORY, encoding="utf-8") as fh:
            lines = [line for line in fh.read().splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].split(",")[0] == "epoch":
            return int(float(lines[-1].split(",")[0]))
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    try:
        epoch = rundir.read_json(run / rundir.CHECKPOINT).get("epoch") if (run / rundir.CHECKPOINT).is_file() else None
    except (RunError, AttributeError):
        return None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def with_report(run: Path, metrics: dict) -> dict:
    """metrics.json's values under their long names (``acc`` as ``accuracy``), plus the evaluation report's
    headline metrics (``val_roc_auc``, ``val_f1_macro``, …) as ``train`` prints them; an unreadable
    evaluation.json adds nothing."""
    out = {ALIASES.get(k, k) if ALIASES.get(k, k) not in metrics else k: v for k, v in metrics.items()}
    path = run / rundir.EVALUATION
    try:
        doc = rundir.read_json(path) if path.is_file() else {}
    except RunError:
        return out
    report = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(report, dict):
        return out
    prefix = "val_" if doc.get("subset") == "validation" else ""
    for name in REPORT_HEADLINE:
        value = report.get(name)
        if _is_number(value) and prefix + name not in out:
            out[prefix + name] = value
    return out


def _gates_failed(run: Path) -> bool:
    try:
        doc = rundir.read_json(run / rundir.GATES) if (run / rundir.GATES).is_file() else {}
    except RunError:
        return False
    return isinstance(doc, dict) and doc.get("passed") is False


def _read_config(run: Path) -> Any:
    path = run / rundir.CONFIG
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; the run is incomplete") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RunError(f"{path}: cannot read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _read_metrics(run: Path) -> dict:
    """``metrics.json`` of a run; empty when the run wrote none (it failed or is still running)."""
    path = run / rundir.METRICS
    return _metrics_object(path) if path.exists() else {}


def _metrics_object(path: Path) -> dict:
    """A metrics.json object; NaN and infinities (which Python's json reads) become None, as nnrun writes them."""
    data = rundir.read_json(path)
    if not isinstance(data, dict):
        raise RunError(f"{path}: cannot read: expected a JSON object, got {type(data).__name__}")
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()}


def _ordered(names: set[str]) -> list[str]:
    """``loss, val_loss`` first, then each other metric followed by its ``val_`` twin, alphabetically."""
    bases = sorted({n[4:] if n.startswith("val_") and n[4:] in names else n for n in names},
                   key=lambda n: (n != "loss", n))
    out = []
    for base in bases:
        out += [n for n in (base, f"val_{base}") if n in names and n not in out]
    return out


def _timestamp(started: str | None) -> float | None:
    """Seconds since the epoch of an ISO time (naive times are UTC); None when absent or unparseable."""
    if not started:
        return None
    try:
        when = dt.datetime.fromisoformat(started)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
