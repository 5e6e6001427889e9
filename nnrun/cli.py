"""The ``nnrun`` command line: parse, call one ``api`` function, render. No TensorFlow import here.

Exit codes: 0 ok, 1 runtime failure, 2 usage/config/data error, 3 quality gate failed (see README).
"""

from __future__ import annotations

import io
import os
import sys
import traceback
from pathlib import Path

import click

from nnrun import __version__
from nnrun.errors import EXIT_RUNTIME, NnrunError

#: Report figures the train table adds to Keras' metrics.
_HEADLINE = ("f1_macro", "roc_auc", "baseline_accuracy", "rmse", "r2", "baseline_mae")
_GATE_HELP = "Quality gate, e.g. 'val_accuracy>=0.9' (repeatable; operators >= <= > < ==); a failure exits 3."
_SET_HELP = "Override a config value: key.path=value (repeatable; list items by index: model.layers.0.units=16)."


def _debug() -> bool:
    return os.environ.get("NNRUN_DEBUG", "") not in ("", "0")


class _Group(click.Group):
    """Translates NnrunError into 'error: …' lines on stderr and its exit code; no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NnrunError as exc:
            if _debug():
                traceback.print_exc()
            for line in str(exc).splitlines():
                click.echo(f"error: {line}" if not line.startswith("  hint:") else line, err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # stdout closed early (`nnrun predict … | head`): stop quietly
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
            ctx.exit(EXIT_RUNTIME)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: say so briefly, keep the traceback for --debug
            if _debug():
                raise
            click.echo(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", err=True)
            ctx.exit(EXIT_RUNTIME)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nnrun")
@click.option("--debug", is_flag=True, help="Show TensorFlow's logs and Python tracebacks.")
def cli(debug: bool) -> None:
    """Train, evaluate and use Keras models described by one YAML config.

    \b
    Examples:
      nnrun train configs/xor.yaml
      nnrun predict runs/xor --input data/xor.csv
      nnrun evaluate runs/iris
    """
    if debug:
        os.environ["NNRUN_DEBUG"] = "1"


@cli.command()
@click.argument("config", type=click.Path(path_type=Path), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where run directories are created.")
@click.option("--resume", type=click.Path(path_type=Path), metavar="RUN_DIR",
              help="Continue an interrupted run from its last checkpoint (CONFIG optional; only "
                   "training.epochs may change, with --set).")
@click.option("--gate", "gates", multiple=True, metavar="METRIC>=N", help=_GATE_HELP)
@click.option("--no-plots", is_flag=True, help="Do not write the PNG plots of the final report.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")
def train(config: Path | None, overrides: tuple[str, ...], runs_dir: Path, resume: Path | None,
          gates: tuple[str, ...], no_plots: bool, as_json: bool, quiet: bool) -> None:
    """Train the model described by CONFIG and save it in a new run directory.

    The run goes to RUNS_DIR/<name> (then <name>-2, … : never overwritten). Ctrl-C or SIGTERM stops after
    the current epoch with a checkpoint (press again to stop at once); --resume continues it. Examples:

    \b
        nnrun train configs/iris.yaml --set training.epochs=50
        nnrun train --resume runs/iris --set training.epochs=200
    """
    from nnrun import api, console

    if config is None and resume is None:
        raise click.UsageError("give a CONFIG file, or --resume RUN_DIR")
    title = config.stem if config is not None else resume.name
    progress = None if quiet else console.EpochProgress(title)
    _graceful_stop()
    try:
        result = api.train(config, overrides, runs_dir, progress=progress, warn=console.warn, resume=resume,
                           gates=gates, plots=not no_plots)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        console.print_json(result)
    else:
        best = f", best epoch {result['best_epoch']} by {result['monitor']}" if result.get("best_epoch") else ""
        title = f"{result['run_dir']} ({result['epochs']} epochs{best}, {result['train_seconds']:.2f} s)"
        evaluation = result["evaluation"]
        prefix = "val_" if evaluation["subset"] == "validation" else ""
        headline = {prefix + k: v for k, v in evaluation["metrics"].items() if k in _HEADLINE}
        console.out.print(console.metrics_table(title, {**result["metrics"], **headline}))
        for line in evaluation["warnings"]:
            console.warn(line)
        if result.get("stopped_early") and not quiet:
            console.info(f"early stopping ended training after epoch {result['epochs']}; the model keeps the "
                         f"weights of epoch {result['best_epoch']}, the best by {result['monitor']}")
        if not quiet:
            console.info(f"saved run to {result['run_dir']} (report: {result['run_dir']}/report.md)")
    _finish_gates(result["gates"], as_json)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--folds", "-k", type=click.IntRange(2, 100), default=5, show_default=True, help="Number of folds K.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Parent directory of the run directory (<name>-cv).")
@click.option("--json", "as_json", is_flag=True, help="Print cv.json on stdout instead of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress.")
def cv(config: Path, folds: int, overrides: tuple[str, ...], runs_dir: Path, as_json: bool, quiet: bool) -> None:
    """K-fold cross-validation of CONFIG (stratified for classification): trains K models, each validated on
    its held-out fold; writes cv.json (per-fold metrics, mean, std) in RUNS_DIR/<name>-cv. Example:

    \b
        nnrun cv configs/iris.yaml --folds 5
    """
    from nnrun import api, console

    progress: list = [None]

    def on_fold(i: int, k: int) -> None:
        if progress[0] is not None:
            progress[0].close()
        progress[0] = None if quiet else console.EpochProgress(f"{config.stem} fold {i}/{k}")

    _graceful_stop()
    try:
        doc = api.cv(config, folds, overrides, runs_dir, warn=console.warn, on_fold=on_fold,
                     progress=lambda e, n, logs: progress[0](e, n, logs) if progress[0] else None)
    finally:
        if progress[0] is not None:
            progress[0].close()
    if as_json:
        console.print_json(doc)
        return
    console.out.print(console.cv_table(f"{doc['run_dir']} ({doc['k']}-fold"
                                       f"{', stratified' if doc['stratified'] else ''})", doc))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path),
              help="A file with the training file's columns (target included).")
@click.option("--gate", "gates", multiple=True, metavar="METRIC>=N", help=_GATE_HELP)
@click.option("--no-plots", is_flag=True, help="Do not write the PNG plots.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
def evaluate(run_dir: Path, data: Path | None, gates: tuple[str, ...], no_plots: bool, as_json: bool) -> None:
    """Evaluate a trained run: metrics, per-class report, plots; writes evaluation.json and report.md.

    Default data: the run's test split (test_split or data.test), else its validation split, else its
    training data. Example:

        nnrun evaluate runs/iris --data data/iris.csv --gate 'accuracy>=0.9'
    """
    from nnrun import api, console
    from nnrun.evaluation.report import format_rows

    result = api.evaluate(run_dir, data, warn=console.warn, plots=not no_plots, gates=gates)
    if as_json:
        console.print_json(result)
    else:
        title = f"{result['run_dir']}: {result['subset']} data, {result['num_examples']} examples"
        rows = dict(format_rows(result["report"], result["task"]))
        rows = {"loss": f"{result['metrics']['loss']:.4f}", **rows}
        console.out.print(console.metrics_table(title, rows))
        for line in result["report"].get("warnings", []):
            console.warn(line)
    _finish_gates(result["gates"], as_json)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "source", required=True, metavar="FILE|-",
              help="CSV/TSV (with or without the target column), JSON Lines, Parquet, JSON or NPZ rows; - reads "
                   "stdin.")
@click.option("--output", "-o", default="-", metavar="FILE|-", show_default=True, help="Where to write predictions.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet", "json"]), default=None,
              help="Output format (default: from --output's extension .csv .jsonl .ndjson .parquet .json, else csv).")
@click.option("--keep", default=None, metavar="COLS",
              help="Input columns to copy to the output (comma-separated names, or * for all); table inputs only.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Binary classifiers: predict the second class when its probability is >= this.")
@click.option("--skip-bad-rows", "skip_bad", is_flag=True,
              help="Leave out rows that cannot be read (reported on stderr with their line) instead of stopping.")
@click.option("--input-format", "in_format",
              type=click.Choice(["csv", "tsv", "jsonl", "parquet", "json", "npz", "lines"]),
              default=None, help="Input format (default: from the extension; a text model reads .txt files and "
              "stdin as one text per line: lines).")
def predict(run_dir: Path, source: str, output: str, fmt: str | None, keep: str | None, threshold: float,
            skip_bad: bool, in_format: str | None) -> None:
    """Predict with a trained run: class names and probabilities, or values. Tables are streamed in chunks
    (memory stays flat however long the file is).

    \b
        nnrun predict runs/iris --input new_flowers.csv --output predictions.csv
        nnrun predict runs/iris --input rows.parquet --keep id --output predictions.parquet
    """
    from nnrun import api, console
    from nnrun.inference import writers as render

    fmt = render.output_format(fmt, output)
    meta, _, batches = api.predict(run_dir, source, keep=keep, threshold=threshold, skip_bad=skip_bad,
                                   input_format=in_format)
    writer = render.PredictionWriter(output, fmt, meta)
    ok, skipped = False, 0
    try:
        for predictions, rows, problems in batches:
            for message in problems[: max(0, 20 - skipped)]:
                console.warn(f"skipped {message}")
            skipped += len(problems)
            writer.write(predictions, rows)
        ok = True
    finally:
        writer.close(ok)
    if skip_bad:
        console.warn(f"{skipped} bad row(s) skipped" + (" (the first 20 listed)" if skipped > 20 else ""))


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--print", "show", is_flag=True, help="Print the resolved config (defaults filled in).")
def validate(config: Path, overrides: tuple[str, ...], show: bool) -> None:
    """Check CONFIG without training (no TensorFlow import): schema, Keras names, cross-checks.

        nnrun validate configs/iris.yaml --set training.epochs=5
    """
    from nnrun import api
    from nnrun.config.load import dump_resolved

    loaded = api.validate(config, overrides)
    if show:
        click.echo(dump_resolved(loaded.config), nl=False)
    else:
        cfg = loaded.config
        click.echo(f"{config}: ok ({len(cfg.model.layers)} layers, loss {cfg.model.loss.type}, "
                   f"{cfg.training.epochs} epochs)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the config file (for editors' YAML support)."""
    import json

    from nnrun.config.load import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.argument("runs_dir", required=False, default="runs", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
def runs(runs_dir: Path, as_json: bool) -> None:
    """List the runs in RUNS_DIR (default: runs), oldest first: status, epochs and final metrics.

    Reads only run.json and metrics.json (no TensorFlow); a killed run shows as died. Example:

        nnrun runs runs --json
    """
    from nnrun import console
    from nnrun.evaluation import compare as overview

    entries = overview.list_runs(runs_dir)
    for entry in entries:
        for problem in entry["problems"]:
            console.warn(problem)
    if as_json:
        console.print_json(entries)
        return
    console.out.print(overview.runs_table(entries, f"{runs_dir} ({len(entries)} runs)"))


@cli.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
def compare(run_a: Path, run_b: Path, as_json: bool) -> None:
    """Compare two runs: every config value that differs, and each final metric with its delta (B - A).

        nnrun compare runs/iris runs/iris-2
    """
    from nnrun import console
    from nnrun.evaluation import compare as overview

    result = overview.compare_runs(run_a, run_b)
    if as_json:
        console.print_json(result)
        return
    for table in overview.compare_tables(result):
        console.out.print(table)


def _finish_gates(results: list[dict], as_json: bool) -> None:
    """Show the gate table (stderr when stdout carries JSON) and exit 3 if any gate failed."""
    if not results:
        return
    from nnrun import console
    from nnrun.evaluation.gates import gates_table, raise_if_failed

    (console.err if as_json else console.out).print(gates_table(results))
    raise_if_failed(results)


def _graceful_stop() -> None:
    """First Ctrl-C or SIGTERM: finish the epoch, save a checkpoint, mark the run interrupted (exit 130).
    A second one stops at once."""
    import signal

    from nnrun import console
    from nnrun.training import fit as training

    def handler(signum: int, frame: object) -> None:
        if training.STOP_REQUESTED.is_set():
            raise KeyboardInterrupt
        training.STOP_REQUESTED.set()
        console.info("stopping after this epoch (a checkpoint is saved); press Ctrl-C again to stop at once")

    try:
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread (embedded use): leave the defaults
        pass


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="nnrun")


if __name__ == "__main__":
    main()
    sys.exit(0)
