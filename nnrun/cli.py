"""The ``nnrun`` command line: parse, call one ``api`` function, render. No TensorFlow import here.

Exit codes: 0 ok, 1 runtime failure, 2 usage/config/data error, 3 quality gate failed (see README).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from nnrun import __version__
from nnrun.errors import EXIT_RUNTIME, NnrunError

_SET_HELP = "Override a config value: key.path=value (repeatable; list items by index: model.layers.0.units=16)."


class _Group(click.Group):
    """Translates NnrunError into 'error: …' lines on stderr and its exit code; no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NnrunError as exc:
            if os.environ.get("NNRUN_DEBUG"):
                raise
            for line in str(exc).splitlines():
                click.echo(f"error: {line}" if not line.startswith("  hint:") else line, err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: say so briefly, keep the traceback for --debug
            if os.environ.get("NNRUN_DEBUG"):
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
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where run directories are created.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")
def train(config: Path, overrides: tuple[str, ...], runs_dir: Path, as_json: bool, quiet: bool) -> None:
    """Train the model described by CONFIG and save it in a new run directory.

    The run goes to RUNS_DIR/<name> (then <name>-2, … : never overwritten). Example:

        nnrun train configs/iris.yaml --set training.epochs=50
    """
    from nnrun import api, console

    progress = None if quiet else console.EpochProgress(config.stem)
    _sigterm_as_interrupt()
    try:
        result = api.train(config, overrides, runs_dir, progress=progress, warn=console.warn)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        console.print_json(result)
        return
    table = console.metrics_table(f"{result['run_dir']} ({result['epochs']} epochs, {result['train_seconds']:.2f} s)",
                                  result["metrics"])
    console.out.print(table)
    console.info(f"saved run to {result['run_dir']}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="A file with the training file's columns.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
def evaluate(run_dir: Path, data: Path | None, as_json: bool) -> None:
    """Compute the loss and metrics of a trained run and write evaluation.json.

    Default data: the run's validation split, or its training data when it had none. Example:

        nnrun evaluate runs/iris --data data/iris.csv
    """
    from nnrun import api, console

    result = api.evaluate(run_dir, data, warn=console.warn)
    if as_json:
        console.print_json(result)
        return
    title = f"{result['run_dir']}: {result['subset']} data, {result['num_examples']} examples"
    console.out.print(console.metrics_table(title, result["metrics"]))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "source", required=True, metavar="FILE|-",
              help="CSV (with or without the target column) or JSON rows; - reads stdin.")
@click.option("--output", "-o", default="-", metavar="FILE|-", show_default=True, help="Where to write predictions.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="Output format (default: from --output's extension, else the input's format).")
@click.option("--keep", default=None, metavar="COLS",
              help="Input columns to copy to the output (comma-separated names, or * for all); CSV input only.")
def predict(run_dir: Path, source: str, output: str, fmt: str | None, keep: str | None) -> None:
    """Predict with a trained run: class names and probabilities, or values.

        nnrun predict runs/iris --input new_flowers.csv --output predictions.csv
    """
    from nnrun import api, render

    records, rows, meta, in_fmt = api.predict(run_dir, source)
    if fmt is None:
        fmt = output.rsplit(".", 1)[-1].lower() if output.lower().endswith((".csv", ".json")) else in_fmt
    text = render.predictions(records, rows, meta, fmt, keep)
    render.write_output(output, text)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--print", "show", is_flag=True, help="Print the resolved config (defaults filled in).")
def validate(config: Path, overrides: tuple[str, ...], show: bool) -> None:
    """Check CONFIG without training (no TensorFlow import): schema, Keras names, cross-checks.

        nnrun validate configs/iris.yaml --set training.epochs=5
    """
    from nnrun import api
    from nnrun.config import dump_resolved

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

    from nnrun.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _sigterm_as_interrupt() -> None:
    """Treat SIGTERM (CI cancelling a job, `kill`) like Ctrl-C, so the run is marked interrupted."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread (embedded use): leave the default
        pass


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="nnrun")


if __name__ == "__main__":
    main()
    sys.exit(0)
