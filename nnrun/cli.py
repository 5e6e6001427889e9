"""The ``nnrun`` command line: parse, call one ``api`` function, render. No TensorFlow import here.

Exit codes (``nnrun.errors.ExitStatus``): 0 ok, 1 runtime failure, 2 usage/config/data error, 3 quality gate
failed, 130 interrupted (see README). Errors are translated in one place, ``cli_errors.exit_status``: the message on
stderr, the exit code from the error's kind, a traceback only with ``--debug`` (``nnrun.cli_errors``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nnrun import __version__, cli_models
from nnrun.cli_errors import NnrunGroup
from nnrun.cli_options import (
    backend_option,
    gate_option,
    json_option,
    mlflow_option,
    no_plots_option,
    quiet_option,
    runs_dir_option,
    set_option,
)


# ---------------------------------------------------------------------------------- commands
@click.group(cls=NnrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@set_option()
@runs_dir_option("Where run directories are created.")
@click.option("--resume", type=click.Path(path_type=Path), metavar="RUN_DIR",
              help="Continue an interrupted run from its last checkpoint (CONFIG optional; only "
                   "training.epochs may change, with --set).")
@gate_option()
@no_plots_option("Do not write the PNG plots of the final report.")
@mlflow_option()
@json_option()
@quiet_option()
@click.option("--cluster", metavar="HOST:PORT,...", help="training.distribute multi_worker: every worker's address, "
              "the chief (task 0) first; nnrun sets TF_CONFIG from it.")
@click.option("--task-index", type=click.IntRange(0), help="With --cluster: this process's index in it.")
@click.option("--skip-bad-rows", "skip_bad", is_flag=True, help="Leave out rows with a bad cell (not a number, "
              "missing without a fill, a bad target; streamed: also a wrong field count), each warned about (the "
              "first 20) and counted in dataset.json, instead of stopping at the first.")
def train(config: Path | None, overrides: tuple[str, ...], runs_dir: Path, resume: Path | None,  # Click: one
          gates: tuple[str, ...], no_plots: bool, mlflow: str | None, as_json: bool,  # parameter per option
          quiet: bool, cluster: str | None, task_index: int | None, skip_bad: bool) -> None:
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
    if (cluster is None) != (task_index is None):
        raise click.UsageError("give --cluster and --task-index together")
    progress = None if quiet else console.EpochProgress(config.stem if config is not None else resume.name)
    _graceful_stop()
    try:
        result = api.train(config, overrides, runs_dir, progress=progress, warn=console.warn, resume=resume,
                           gates=gates, plots=not no_plots, mlflow=mlflow, info=console.info,
                           cluster=(cluster, task_index) if cluster is not None else None, skip_bad=skip_bad)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        console.print_json(result)
    else:
        console.show_training(result, quiet)
        console.show_tracking(result)
    _finish_gates(result["gates"], as_json)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--folds", "-k", type=click.IntRange(2, 100), default=5, show_default=True, help="Number of folds K.")
@set_option()
@runs_dir_option("Parent directory of the run directory (<name>-cv).")
@mlflow_option()
@json_option("Print cv.json on stdout instead of a table.")
@quiet_option("No per-epoch progress.")
def cv(config: Path, folds: int, overrides: tuple[str, ...], runs_dir: Path, mlflow: str | None,  # Click: one
       as_json: bool, quiet: bool) -> None:  # parameter per option
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
        doc = api.cv(config, folds, overrides, runs_dir, warn=console.warn, on_fold=on_fold, mlflow=mlflow,
                     progress=lambda e, n, logs: progress[0](e, n, logs) if progress[0] else None)
    finally:
        if progress[0] is not None:
            progress[0].close()
    if as_json:
        console.print_json(doc)
        return
    console.out.print(console.cv_table(f"{doc['run_dir']} ({doc['k']}-fold"
                                       f"{', stratified' if doc['stratified'] else ''})", doc))
    console.show_tracking(doc)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path),
              help="A file with the training file's columns (target included).")
@gate_option()
@no_plots_option()
@mlflow_option()
@json_option()
@backend_option()
def evaluate(run_dir: Path, data: Path | None, gates: tuple[str, ...], no_plots: bool, mlflow: str | None,
             as_json: bool, backend: str | None) -> None:
    """Evaluate a trained run: metrics, per-class report, plots; writes evaluation.json and report.md (for
    --data FILE or the test split: evaluation-<stem or test>.json and report-<…>.md, next to the training report).

    Default data: the run's test split (test_split or data.test), else its validation split, else its
    training data. Example:

        nnrun evaluate runs/iris --data data/iris.csv --gate 'accuracy>=0.9'
    """
    from nnrun import api, console

    result = api.evaluate(run_dir, data, warn=console.warn, plots=not no_plots, gates=gates, mlflow=mlflow,
                          backend=backend)
    if as_json:
        console.print_json(result)
    else:
        console.show_evaluation(result)
        console.show_tracking(result)
    _finish_gates(result["gates"], as_json)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "source", required=True, metavar="FILE|-",
              help="CSV/TSV (with or without the target column), JSON Lines, Parquet, JSON or NPZ rows; - reads "
                   "stdin.")
@click.option("--output", "-o", default="-", metavar="FILE|-", show_default=True, help="Where to write predictions.")
@click.option("--force", is_flag=True, help="Replace an existing --output file (else an existing path is refused).")
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
@click.option("--explain", is_flag=True, help="Add integrated-gradients attributions of the predicted class's "
              "probability (or the value): attr_<column> per input column and attr_baseline.")
@click.option("--layer", default=None, metavar="NAME_OR_INDEX", help="Write that config layer's activations "
              "(f0, f1, …) instead of predictions; an index counts the config's model.layers from 0.")
@json_option("With --output FILE: print a JSON summary on stdout (rows written, rows skipped, values per "
             "categorical column not seen in training).")
@backend_option()
def predict(run_dir: Path, source: str, output: str, force: bool, fmt: str | None, keep: str | None,  # Click:
            threshold: float, skip_bad: bool, in_format: str | None, explain: bool,  # one parameter per option
            layer: str | None, as_json: bool, backend: str | None) -> None:
    """Predict with a trained run: class names and probabilities, or values. Tables are streamed in chunks
    (memory stays flat however long the file is).

    \b
        nnrun predict runs/iris --input new_flowers.csv --output predictions.csv
        nnrun predict runs/iris --input rows.parquet --keep id --output predictions.parquet
        nnrun predict runs/iris --input data/iris.csv --explain
    """
    from nnrun import api, console
    from nnrun.inference.writers import check_new_output, check_output, output_format

    fmt = output_format(fmt, output)  # before reading anything: Parquet to stdout is refused at once
    check_output(output, source)  # never over the input or a run's files
    check_new_output(output, force)  # nor (without --force) over any existing file
    if as_json and output == "-":
        raise click.UsageError("--json needs --output FILE (stdout carries the predictions)")
    meta, _, batches = api.predict(run_dir, source, keep=keep, threshold=threshold, skip_bad=skip_bad,
                                   input_format=in_format, warn=console.warn, explain=explain, layer=layer,
                                   backend=backend)
    rows, skipped = _write_predictions(batches, meta, output, fmt, force)
    if skip_bad:
        console.warn(f"{skipped} bad row(s) skipped" + (" (the first 20 listed)" if skipped > 20 else ""))
    if as_json:
        console.print_json({"output": output, "format": fmt, "rows": rows, "skipped": skipped,
                            "unseen_categories": dict(batches.unseen.counts)})


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@set_option()
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

    from nnrun import api

    click.echo(json.dumps(api.schema(), indent=2))


@cli.command()
@click.argument("runs_dir", required=False, default="runs", type=click.Path(path_type=Path))
@json_option()
def runs(runs_dir: Path, as_json: bool) -> None:
    """List the runs in RUNS_DIR (default: runs), oldest first: status, epochs and final metrics.

    Reads only run.json and metrics.json (no TensorFlow); a killed run shows as died. Example:

        nnrun runs runs --json
    """
    from nnrun import api, console

    entries = api.list_runs(runs_dir)
    for entry in entries:
        for problem in entry["problems"]:
            console.warn(problem)
    if as_json:
        console.print_json(entries)
        return
    console.out.print(console.runs_table(entries, f"{runs_dir} ({len(entries)} runs)"))


@cli.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@json_option("Print one JSON document on stdout instead of tables.")
def compare(run_a: Path, run_b: Path, as_json: bool) -> None:
    """Compare two runs: every config value that differs, and each final metric with its delta (B - A).

        nnrun compare runs/iris runs/iris-2
    """
    from nnrun import api, console

    result = api.compare_runs(run_a, run_b)
    if as_json:
        console.print_json(result)
        return
    for table in console.compare_tables(result):
        console.out.print(table)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--trials", type=click.IntRange(1, 100_000), default=None, help="Number of trials (default: the "
              "config's search.trials, else 20).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Start no new trial after this many seconds (a running trial finishes).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Trials at once, each in its own process (one SQLite study).")
@set_option()
@runs_dir_option("Parent directory of the search's directory (<name>-tune).")
@click.option("--resume", type=click.Path(path_type=Path), metavar="TUNE_DIR",
              help="Continue an interrupted search (same CONFIG and --set; finished trials are kept).")
@no_plots_option("Do not write plots (the trials' reports and the search's).")
@mlflow_option()
@json_option("Print tune.json on stdout instead of a table.")
@quiet_option("No per-epoch progress (a line per trial still goes to stderr).")
def tune(config: Path, trials: int | None, timeout: float | None, jobs: int, overrides: tuple[str, ...],  # Click:
         runs_dir: Path, resume: Path | None, no_plots: bool, mlflow: str | None, as_json: bool,  # one per
         quiet: bool) -> None:  # option
    """Hyperparameter search over the config's search: section (Optuna): every trial is a normal training
    in RUNS_DIR/<name>-tune/trial_<n>; writes study.db, trials.csv, best.yaml (train it with nnrun train),
    tune.json and plots. Gates in the config apply to the best trial (exit 3). Examples:

    \b
        nnrun tune configs/iris_tune.yaml --trials 10
        nnrun tune configs/iris_tune.yaml --resume runs/iris_tune-tune
    """
    from nnrun import api, console

    def progress(number: int) -> Any:
        return None if quiet else console.EpochProgress(f"trial {number}")

    options = api.TuneOptions(trials=trials, timeout=timeout, jobs=jobs, plots=not no_plots, progress=progress,
                          announce=console.info)
    _graceful_stop()
    doc = api.tune(config, overrides, runs_dir, options, resume, mlflow=mlflow)
    for line in doc.pop("warnings"):
        console.warn(line)
    if as_json:
        console.print_json(doc)
    else:
        console.out.print(console.tune_table(doc))
        console.info(f"best config: {doc['tune_dir']}/best.yaml (train it with: nnrun train "
                     f"{doc['tune_dir']}/best.yaml)")
        console.show_tracking(doc)
    _finish_gates(doc["gates"], as_json)



for _command in cli_models.COMMANDS:  # explain, serve, export, track: what is done with a trained model
    cli.add_command(_command)


# ---------------------------------------------------------------------------------- rendering helpers
def _write_predictions(batches: Any, meta: dict, output: str, fmt: str, force: bool) -> tuple[int, int]:
    """Write ``api.predict``'s batches to ``output`` (a file is only complete once every batch is written);
    warn about the first 20 skipped rows. Returns (rows written, rows skipped)."""
    from nnrun import console
    from nnrun.inference import writers

    writer = writers.open_writer(output, fmt, meta, replace=force)
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
    return writer.count, skipped


def _finish_gates(results: list[dict], as_json: bool) -> None:
    """Show the gate table (stderr when stdout carries JSON) and exit 3 if any gate failed."""
    if not results:
        return
    from nnrun import console
    from nnrun.evaluation.gates import raise_if_failed

    (console.err if as_json else console.out).print(console.gates_table(results))
    raise_if_failed(results)


def _graceful_stop() -> None:
    """First Ctrl-C or SIGTERM: finish the epoch, save a checkpoint, mark the run interrupted (exit 130).
    A second one stops at once."""
    import signal

    from nnrun import api, console

    def handler(signum: int, frame: object) -> None:
        if api.request_stop():
            raise KeyboardInterrupt
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
