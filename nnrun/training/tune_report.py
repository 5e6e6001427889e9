"""What a finished (or stopped) search leaves in its directory: ``trials.csv``, ``best.yaml``, ``tune.json`` and
the plots (Optuna's matplotlib visualisation: optimization history, parameter importances)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.config.load import LoadedConfig
from nnrun.config.search import Search
from nnrun.config.yamlsrc import dump_yaml, read_yaml_file
from nnrun.errors import RunError

TRIALS_CSV, BEST_YAML, TUNE_JSON = rundir.TRIALS_CSV, rundir.BEST_YAML, rundir.TUNE_JSON  # names: rundir's
HISTORY_PNG, IMPORTANCE_PNG = rundir.TUNE_HISTORY_PNG, rundir.PARAM_IMPORTANCES_PNG


def write_results(study: Any, loaded: LoadedConfig, search: Search, tune_dir: Path, plots: bool) -> dict:
    """Write trials.csv, best.yaml (when a trial completed), tune.json and the plots.

    Returns:
        The tune.json document plus ``gates`` (the best trial's gate results) and ``warnings``.

    Raises:
        RunError: no trial completed (trials.csv and tune.json are written first).
    """
    trials = study.get_trials(deepcopy=False)
    rundir.write_text(tune_dir / TRIALS_CSV, trials_csv(trials, search))
    doc = summary(study, search, tune_dir)
    warnings: list[str] = []
    if doc["best"] is not None:
        write_best_yaml(Path(doc["best"]["run_dir"]), loaded.config.name, tune_dir / BEST_YAML)
        if plots:
            warnings = write_plots(study, tune_dir)
    rundir.write_json(tune_dir / TUNE_JSON, doc)
    if doc["best"] is None:
        raise RunError(f"{tune_dir}: no trial completed ({doc['states']}); see {tune_dir / TRIALS_CSV} for "
                       "each trial's error")
    best = next(t for t in trials if t.number == doc["best"]["number"])
    return {**doc, "gates": best.user_attrs.get("gates", []), "warnings": warnings}


def summary(study: Any, search: Search, tune_dir: Path) -> dict:
    """tune.json: ``{"tune_dir", "metric", "direction", "trials", "states": {COMPLETE: n, …}, "best":
    {"number", "value", "params", "run_dir"} or None, "top": [the best five completed trials]}``."""
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("interrupted")]
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    done.sort(key=lambda t: (-t.value if search.direction == "maximize" else t.value, t.number))
    top = [_row(t) for t in done[:5]]
    return {"tune_dir": str(tune_dir), "metric": search.metric, "direction": search.direction,
            "trials": len(trials), "requested": search.trials, "states": states,
            "best": top[0] if top else None, "top": top}


def _row(trial: Any) -> dict:
    """One trial as tune.json lists it."""
    return {"number": trial.number, "value": trial.value, "params": dict(trial.params),
            "epochs": trial.user_attrs.get("epochs"), "seconds": trial.user_attrs.get("seconds"),
            "run_dir": trial.user_attrs.get("run_dir")}


def trials_csv(trials: list, search: Search) -> str:
    """One row per trial: number, state, the drawn values, the metric, epochs, seconds, run dir, error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = [p.key for p in search.params]
    writer.writerow(["number", "state", *keys, search.metric, "epochs", "seconds", "run_dir", "error"])
    for t in trials:
        attrs = t.user_attrs
        state = "KILLED" if attrs.get("interrupted") else t.state.name
        writer.writerow([t.number, state, *[t.params.get(k, "") for k in keys],
                         "" if t.value is None else t.value, attrs.get("epochs", ""), attrs.get("seconds", ""),
                         attrs.get("run_dir", ""), attrs.get("error", "")])
    return out.getvalue()


def write_best_yaml(run_dir: Path, name: str, path: Path) -> None:
    """best.yaml: the best trial's resolved config.yaml (absolute data path) under the search's name and
    without its search: section, runnable as ``nnrun train best.yaml``."""
    data, _ = read_yaml_file(run_dir / rundir.CONFIG)
    if not isinstance(data, dict):
        raise RunError(f"{run_dir / rundir.CONFIG}: damaged; expected a config mapping")
    data["name"] = name
    data.pop("search", None)
    rundir.write_text(path, f"# the best trial of `nnrun tune` ({run_dir.name}); train it with: nnrun train "
                            f"{path.name}\n" + dump_yaml(data))


def write_plots(study: Any, tune_dir: Path) -> list[str]:
    """The metric per trial with the running best, and the parameters' importances (Optuna's matplotlib
    visualisation). Returns warnings for plots that could not be drawn (too few trials)."""
    import warnings as py_warnings

    import matplotlib

    matplotlib.use("Agg")  # Optuna's matplotlib plots go through pyplot
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    problems = []
    for name, draw in ((HISTORY_PNG, ovm.plot_optimization_history), (IMPORTANCE_PNG, ovm.plot_param_importances)):
        try:
            with py_warnings.catch_warnings():
                py_warnings.simplefilter("ignore")  # ExperimentalWarning on every call
                axes = draw(study)
            figure = axes.figure
            figure.set_size_inches(7, 4.5)
            figure.tight_layout()
            with rundir.AtomicWrite(tune_dir / name, "cannot write the plot") as tmp:
                figure.savefig(tmp, dpi=100, format="png")
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            problems.append(f"{name} not drawn: {exc}")
    return problems
