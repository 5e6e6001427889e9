"""Rich consoles (results on stdout; progress, warnings and errors on stderr) and every rich table nnrun prints:
metrics, evaluation, quality gates, cross-validation, ``nnrun runs`` and ``nnrun compare``. No logic here: the
tables render dicts made by ``nnrun.evaluation`` (imported lazily, so that importing this module stays light)."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nnrun.rundir import json_safe

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    err.print(f"[yellow]warning:[/] {escape(message)}", markup=True, highlight=False)


def info(message: str) -> None:
    """Print an informational line on stderr."""
    err.print(message, markup=False, highlight=False)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(json_safe(data), indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def cv_table(title: str, doc: dict) -> Table:
    """Cross-validation results: one row per metric, one column per fold, then mean and std."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for fold in doc["folds"]:
        table.add_column(f"fold {fold['fold']}", justify="right")
    table.add_column("mean", justify="right", style="bold")
    table.add_column("std", justify="right")
    for name, mean in doc["mean"].items():
        if name in ("best_epoch",):
            continue
        cells = [_fmt(f["metrics"].get(name)) for f in doc["folds"]]
        table.add_row(escape(name), *cells, _fmt(mean), _fmt(doc["std"][name]))
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    """A two-column table of metric name and value (floats to 4 decimals)."""
    table = Table(title=escape(title), title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(escape(str(key)), f"{value:.4f}" if isinstance(value, float) else escape(str(value)))
    return table


def evaluation_table(result: dict) -> Table:
    """The table ``nnrun evaluate`` prints: Keras' loss, then the report's headline rows (``format_rows``).

    Args:
        result: the evaluation document (``run_dir``, ``subset``, ``num_examples``, ``metrics``, ``report``,
            ``task``).
    """
    from nnrun.evaluation.markdown import format_rows

    title = f"{result['run_dir']}: {result['subset']} data, {result['num_examples']} examples"
    rows = {"loss": f"{result['metrics']['loss']:.4f}", **dict(format_rows(result["report"], result["task"]))}
    return metrics_table(title, rows)


def gates_table(results: list[dict]) -> Table:
    """A rich table of gate results: ✓/✗, the gate, the value (4 decimals; ``n/a`` when missing or NaN)."""
    from nnrun.evaluation.gates import format_value

    failed = sum(not r["passed"] for r in results)
    title = "quality gates: passed" if not failed else f"quality gates: {failed} of {len(results)} failed"
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("gate")
    table.add_column("value", justify="right")
    for r in results:
        mark = Text("✓", style="green") if r["passed"] else Text("✗", style="bold red")
        table.add_row(mark, Text(r["gate"]), Text(format_value(r["value"])))
    return table


#: Metric columns ``nnrun runs`` shows at most (``--json`` has them all).
RUNS_TABLE_METRICS = 6


def runs_table(runs: list[dict], title: str) -> Table:
    """A rich table: name, started (UTC), status, epochs, and one column per metric (4 decimals): the
    ``RUNS_TABLE_METRICS`` metrics most runs have (a cv run's many averaged report metrics would otherwise
    make the table too wide to read), the others counted in the caption."""
    from nnrun.evaluation.compare import metric_names

    names = metric_names(runs)
    hidden = 0
    if len(names) > RUNS_TABLE_METRICS:
        count = {n: sum(n in run["metrics"] for run in runs) for n in names}
        keep = set(sorted(names, key=lambda n: (-count[n], names.index(n)))[:RUNS_TABLE_METRICS])
        hidden, names = len(names) - len(keep), [n for n in names if n in keep]
    styles = {"completed": "green", "gates failed": "red",  # a finished run whose quality gates failed
              "failed": "red", "died": "red", "unreadable": "red", "interrupted": "yellow"}
    rows = [
        [Text(run["name"]), Text(_short_time(run["started"])), Text(run["status"], style=styles.get(run["status"], "")),
         Text(_epochs_cell(run["epochs"])), *(Text(_cell(run["metrics"].get(n))) for n in names)]
        for run in runs
    ]
    table = _table(title, ["name", "started (UTC)", "status", "epochs", *names], rows, right_from=3)
    if hidden:
        table.caption = f"{hidden} more metric(s) in nnrun runs --json"
    return table


def _table(title: str, headers: list[str], rows: list[list[Text]], right_from: int) -> Table:
    """A table whose cells and headers are never cut or wrapped (wider than a narrow console if need be)."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        width = max([len(row[i].plain) for row in rows] + [len(header)])
        table.add_column(header, justify="right" if i >= right_from else "left", min_width=min(width, 40),
                         overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def compare_tables(result: dict) -> tuple[Table | Text, Table]:
    """Two renderables for ``compare_runs``'s result: the config differences (a table, or the line "configs are
    identical", followed by its notes), and the metrics with their deltas."""
    config_rows = [
        [Text(r["key"]), Text(_config_cell(r["a"])), Text(_config_cell(r["b"]))] for r in result["config_diff"]
    ]
    notes = "".join(f"\n  note: {note}" for note in result.get("notes", []))
    config: Table | Text = Text("configs are identical" + notes)
    if config_rows:
        config = _table("config differences", ["key", result["a"], result["b"]], config_rows, right_from=3)
        config.caption, config.caption_justify = (notes.strip() or None), "left"
    metric_rows = [
        [Text(r["metric"]), Text(_cell(r["a"])), Text(_cell(r["b"])),
         Text("" if r["delta"] is None else _cell(r["delta"], signed=True))]
        for r in result["metrics"]
    ]
    metrics = _table("metrics", ["metric", result["a"], result["b"], "delta (b - a)"], metric_rows, right_from=1)
    return config, metrics



def _short_time(started: str | None) -> str:
    if not started:
        return "-"
    when = dt.datetime.fromisoformat(started)
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")



def _cell(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:+d}" if signed else str(value)
    return str(value)


def _epochs_cell(value: Any) -> str:
    """Epochs: a whole number, or a cv run's mean over folds with one decimal."""
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else f"{value:.1f}"
    return _cell(value)


def _config_cell(value: Any) -> str:
    """A config value as written in YAML flow style (``1e-05``, ``true``, ``{type: Dense, units: 8}`` as JSON)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value if _reads_as_string(value) else json.dumps(value)
    return json.dumps(value, default=str)


def _reads_as_string(text: str) -> bool:
    """Whether YAML would read ``text`` back as this string (``relu``: yes; ``0.9``, ``true``, ``-``: no)."""
    import yaml

    if text in ("", "-") or text != text.strip():
        return False
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


class EpochProgress:
    """Per-epoch progress on stderr: a rich progress bar on a terminal, else plain lines.

    Plain mode prints about 20 lines per run (every ``epochs // 20`` epochs, and the last), so logs of
    long runs stay readable.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.live = err.is_terminal
        self._progress: Any = None
        self._task: Any = None
        self._pending: str | None = None  # plain mode: the last epoch's line when it was not printed

    def __call__(self, epoch: int, epochs: int, logs: dict) -> None:
        shown = "  ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, (int, float)))
        if self.live:
            if self._progress is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                self._progress = Progress(
                    TextColumn(f"[bold]{self.title}[/]"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[logs]}"), console=err, transient=False,
                )
                self._progress.start()
                self._task = self._progress.add_task("train", total=epochs, logs="")
            self._progress.update(self._task, completed=epoch, logs=shown)
            if epoch >= epochs:
                self.close()
        elif epoch == 1 or epoch == epochs or epoch % max(1, epochs // 20) == 0:
            err.print(f"epoch {epoch}/{epochs}  {shown}", markup=False, highlight=False)
            self._pending = None
        else:
            self._pending = f"epoch {epoch}/{epochs}  {shown}"

    def close(self) -> None:
        """Stop the live bar; in plain mode print the last epoch if it was skipped (an early stop)."""
        if self._pending is not None:
            err.print(self._pending, markup=False, highlight=False)
            self._pending = None
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def tune_table(doc: dict) -> Table:
    """``nnrun tune``'s table: the best trials (rank, trial, metric, drawn values, epochs, seconds), the
    counts per state in the title."""
    counts = ", ".join(f"{n} {state.lower()}" for state, n in doc["states"].items())
    keys = list(doc["top"][0]["params"]) if doc["top"] else []
    rows = [[Text(str(rank)), Text(str(t["number"])), Text(_cell(t["value"])),
             *(Text(f"{v:.4g}" if isinstance(v := t["params"][k], float) else _cell(v)) for k in keys),
             Text(_epochs_cell(t["epochs"])),
             Text(_cell(t["seconds"]))] for rank, t in enumerate(doc["top"], 1)]
    return _table(f"{doc['tune_dir']} ({counts}; {doc['direction']} {doc['metric']})",
                  ["rank", "trial", doc["metric"], *keys, "epochs", "seconds"], rows, right_from=1)


def importance_table(doc: dict) -> Table:
    """``nnrun explain``: one row per input column (rank, mean and std of the metric's drop when shuffled)."""
    title = (f"{doc['run_dir']}: permutation importance on {doc['rows']} {doc['subset']} rows "
             f"({doc['metric']} {doc['score']:.4f}, {doc['repeats']} repeats, seed {doc['seed']})")
    table = Table(title=title, title_justify="left")
    for name in ("rank", "column", f"drop in {doc['metric']}", "std"):
        table.add_column(name, justify="left" if name == "column" else "right")
    for c in doc["columns"]:
        table.add_row(str(c["rank"]), escape(c["column"]), f"{c['mean']:.4f}", f"{c['std']:.4f}")
    return table


def show_training(result: dict, quiet: bool) -> None:
    """The train table (Keras' final metrics and the report's headline figures), its warnings, and where
    the run went."""
    from nnrun.evaluation.compare import REPORT_HEADLINE

    best = f", best epoch {result['best_epoch']} by {result['monitor']}" if result.get("best_epoch") else ""
    where = result["run_dir"] if result.get("worker") is None else f"worker {result['worker']}"
    title = f"{where} ({result['epochs']} epochs{best}, {result['train_seconds']:.2f} s)"
    evaluation = result["evaluation"]
    prefix = "val_" if evaluation["subset"] == "validation" else ""
    headline = {prefix + k: v for k, v in evaluation["metrics"].items() if k in REPORT_HEADLINE}
    out.print(metrics_table(title, {**result["metrics"], **headline}))
    for line in evaluation["warnings"]:
        warn(line)
    if result.get("stopped_early") and not quiet:
        info(f"early stopping ended training after epoch {result['epochs']}; the model keeps the "
                     f"weights of epoch {result['best_epoch']}, the best by {result['monitor']}")
    if not quiet and result.get("worker") is not None:
        info(f"worker {result['worker']}: done; the chief (task 0) saved the run")
    elif not quiet:
        info(f"saved run to {result['run_dir']} (report: {result['run_dir']}/report.md)")


def show_evaluation(result: dict) -> None:
    """The evaluate table (loss and the report's rows) and the report's warnings."""
    out.print(evaluation_table(result))
    for line in result["report"].get("warnings", []):
        warn(line)


def show_export(doc: dict) -> None:
    """``nnrun export``'s summary: where, parity, the inputs and output to feed and read."""
    table = Table(title=f"{doc['path']} ({doc['format']})", title_justify="left")
    table.add_column("")
    table.add_column("value")
    table.add_row("max abs diff", f"{doc['max_abs_diff']:.3g} (tolerance {doc['tolerance']:g})")
    table.add_row("checked on", f"{doc['rows_checked']} {doc['rows_subset']} rows, by {doc['runtime']}")
    for item in doc["inputs"]:
        table.add_row(f"input {escape(item['name'])}", f"{item['dtype']} {_dims(item['shape'])}")
    for item in doc["outputs"]:
        table.add_row(f"output {escape(item['name'])}", f"{item['dtype']} {_dims(item['shape'])}")
    for item in doc["files"]:
        table.add_row(escape(item["path"]), f"{item['bytes']:,} bytes, sha256 {item['sha256'][:12]}…")
    out.print(table)


def _dims(shape: list) -> str:
    return "(" + ", ".join("n" if d is None else str(d) for d in shape) + ")"


def tracking_line(summary: dict | None) -> str | None:
    """One line saying where a run was mirrored in MLflow; None when tracking was not asked or nothing was
    logged (the warnings said so)."""
    if not summary or summary.get("run_id") is None:
        return None
    children = f" with {len(summary['children'])} child runs" if summary.get("children") else ""
    return (f"MLflow: {'updated' if summary.get('updated') else 'logged'} {summary['run_dir']} as run "
            f"{summary['run_id']}{children} in experiment {summary['experiment']!r} at {summary['tracking_uri']}")


def show_tracking(doc: dict, stdout: bool = False) -> None:
    """Where the run was mirrored in MLflow (``doc["tracking"]``), on stderr; on stdout for ``nnrun track``."""
    line = tracking_line(doc.get("tracking"))
    if line and stdout:
        print(line, flush=True)
    elif line:
        info(line)
