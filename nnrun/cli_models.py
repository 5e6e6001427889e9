"""The commands that work with a trained run beyond ``predict``: ``explain``, ``serve``, ``export``, ``track``.
Registered on the ``nnrun`` group by ``cli.py``; like it, they parse, call one ``api_models`` function and render
(no TensorFlow import here)."""

from __future__ import annotations

from pathlib import Path

import click

from nnrun.cli_options import json_option, no_plots_option


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path),
              help="A file with the training file's columns (target included); default: the test split, else the "
                   "validation split.")
@click.option("--repeats", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Shuffles per column (with the run's seed).")
@click.option("--layer", default=None, metavar="NAME_OR_INDEX",
              help="Also draw layer_<L>_pca.png: that config layer's activations on two principal components.")
@no_plots_option("Do not write importance.png (nor the layer's PCA plot).")
@json_option("Print explanation.json on stdout instead of a table.")
def explain(run_dir: Path, data: Path | None, repeats: int, layer: str | None, no_plots: bool,
            as_json: bool) -> None:
    """Which inputs a trained run relies on: permutation importance of every input column, and a depth-4
    decision tree fitted to the model's own predictions (its fidelity and rules); writes explanation.json and
    importance.png in the run. Example:

        nnrun explain runs/iris --layer 0
    """
    from nnrun import api_models, console

    doc = api_models.explain(run_dir, data, repeats=repeats, layer=layer, plots=not no_plots, warn=console.warn)
    if as_json:
        console.print_json(doc)
        return
    console.out.print(console.importance_table(doc))
    tree = doc["surrogate"]
    if tree is not None:
        what = "R²" if tree["fidelity_metric"] == "r2" else "agreement"
        click.echo(f"surrogate tree (depth {tree['depth']}, {what} with the model {tree['fidelity']:.4f}):")
        click.echo(tree["rules"], nl=False)
    console.info(f"wrote {', '.join(doc['files'])} in {doc['run_dir']}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every "
              "interface; there is no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="TCP port (0: a free one, printed at start).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes answering requests, each with its own copy of the model.")
@click.option("--max-body-bytes", type=click.IntRange(1), default=10_000_000, show_default=True,
              help="Larger POST /predict bodies are answered 413.")
def serve(run_dir: Path, host: str, port: int, workers: int, max_body_bytes: int) -> None:
    """Serve a trained run over HTTP: POST /predict answers what predict --format json writes for the same
    rows; GET /health, GET /metadata, OpenAPI docs at /docs. Ctrl-C or SIGTERM stops it (requests in flight
    finish; exit 0). A port in use exits 2. Example:

    \b
        nnrun serve runs/iris --port 8000
        curl -s localhost:8000/predict -d '{"rows": [[5.1, 3.5, 1.4, 0.2]]}'
    """
    from nnrun import api_models, console

    api_models.serve(run_dir, host=host, port=port, workers=workers, max_body_bytes=max_body_bytes,
              announce=console.info)
    import gc

    gc.freeze()  # the process ends now: its final garbage collection of TensorFlow's objects took 5 s


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(["saved_model", "onnx", "litert"]),
              help="saved_model (TensorFlow), onnx (onnxruntime) or litert (.tflite, the LiteRT interpreter).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="The folder to write (default: RUN_DIR/export/<format>).")
@click.option("--tolerance", type=float, default=1e-5, show_default=True,
              help="Largest absolute difference from the Keras model's outputs; above it the export fails (exit 1).")
@click.option("--force", is_flag=True, help="Replace an earlier export at the output folder.")
@json_option("Print export.json on stdout instead of a summary.")
def export(run_dir: Path, fmt: str, output: Path | None, tolerance: float, force: bool, as_json: bool) -> None:
    """Export a trained run's model for other runtimes, and prove it agrees with the Keras model on up to
    1,000 of the run's validation (else training) rows; writes export.json beside it. Example:

        nnrun export runs/iris --format onnx
    """
    from nnrun import api_models, console

    doc = api_models.export(run_dir, fmt, output, tolerance=tolerance, force=force, warn=console.warn)
    if as_json:
        console.print_json(doc)
    else:
        console.show_export(doc)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--mlflow", metavar="URI", default=None,
              help="MLflow tracking URI (default: the run's config tracking.mlflow.tracking_uri).")
@json_option()
def track(run_dir: Path, mlflow: str | None, as_json: bool) -> None:
    """Log a finished run (train, cv or tune directory) to MLflow: params, per-epoch and final metrics, tags,
    files and the model; also for runs trained without tracking. A run logged before is updated (its new
    evaluations and files), not duplicated. Needs: pip install 'nnrun[mlflow]'. Example:

        nnrun track runs/iris --mlflow sqlite:///mlflow.db
    """
    from nnrun import api_models, console

    summary = api_models.track(run_dir, mlflow)
    if as_json:
        console.print_json(summary)
        return
    console.show_tracking({"tracking": summary}, stdout=True)


COMMANDS = (explain, serve, export, track)
