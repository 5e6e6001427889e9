"""Rich consoles: results on stdout, progress, warnings and errors on stderr. No logic here."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

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
