"""The workflows behind the commands that take a model out of nnrun or explain it: explain, serve, export and
track (the CLI's ``cli_models``). Same contract as ``api``: paths and plain values in, plain data out,
NnrunError subclasses raised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nnrun import rundir, tracking
from nnrun.evaluation.examples import examples as load_examples
from nnrun.evaluation.examples import load_run
from nnrun.writable import check_writable

Warn = Callable[[str], None]


def serve(  # 6 parameters: the serve command's options, one to one
    run_dir: Path | str, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
    max_body_bytes: int | None = None, announce: Callable[[str], None] = lambda m: None,
) -> None:
    """Serve a run's model over HTTP until SIGINT/SIGTERM (``nnrun serve``): ``POST /predict`` answers what
    ``nnrun predict --format json`` writes for the same rows; ``GET /health``, ``GET /metadata``, ``/docs``.

    The run directory is checked and the port bound before TensorFlow is imported, so that those errors come at
    once; then the model is loaded (safe mode) and called on made-up rows, and the server starts.

    Args:
        host, port: where to listen (port 0: a free port, named by ``announce``).
        workers: processes, each with its own copy of the model. max_body_bytes: larger bodies are answered 413
            (default ``inference.server.MAX_BODY_BYTES``, 10 MB). announce: called with the address line.

    Raises:
        UsageError: not a run directory, a port in use, a bad host. RunError: the model cannot be loaded.
    """
    from nnrun.inference import server
    from nnrun.inference.predictor import check_archive

    run, loaded, _ = load_run(run_dir)
    check_archive(run / rundir.MODEL)
    limit = max_body_bytes or server.MAX_BODY_BYTES
    sock = server.bind(host, port)
    with sock:
        app = server.make_app(run, limit)  # loads the model (with workers > 1: proves it loads; each loads its own)
        target = app if workers == 1 else run
        del app
        shown = f"[{host}]" if ":" in host else host
        announce(f"serving {run} ({loaded.config.name}) on http://{shown}:{sock.getsockname()[1]} "
                 f"({workers} worker{'s' if workers > 1 else ''}): POST /predict, GET /health, GET /metadata, "
                 "docs at /docs; Ctrl-C stops")
        server.run(sock, target, workers, limit)


def track(run_dir: Path | str, mlflow: str | None = None) -> dict:
    """Log a finished train, cv or tune directory to MLflow now (``nnrun track``): see ``nnrun.tracking.track``."""
    return tracking.track(run_dir, mlflow)


def explain(  # 6 parameters: the explain command's options, one to one
    run_dir: Path | str, data: Path | str | None = None, repeats: int = 10, layer: str | None = None,
    plots: bool = True, warn: Warn = lambda m: None,
) -> dict:
    """Which inputs a run's model relies on (``nnrun explain``): permutation importance of every raw input
    column (``repeats`` shuffles with the run's seed) and a depth-4 decision tree fitted to the model's own
    predictions; writes ``explanation.json`` and ``importance.png`` (and ``layer_<L>_pca.png`` with
    ``layer``) in the run.

    Args:
        data: a file with the training file's columns (target included); default: the run's test split,
            else its validation split. layer: a config layer (index in ``model.layers`` or name) whose
            activations are drawn on two principal components.

    Returns:
        The ``explanation.json`` document (see ``nnrun.evaluation.explain.explain_rows``) plus ``subset``,
        ``source``, ``run_dir`` and ``files``.

    Raises:
        UsageError: not a run directory; no test or validation split and no ``data``; no such layer.
        DataError: unusable data. RunError: the model cannot be loaded.
    """
    from nnrun.evaluation.explain import explain_rows, write_plots
    from nnrun.inference.predictor import load_model

    run, loaded, meta = load_run(run_dir)
    rows = load_examples(run, loaded.config, meta, data, warn, training=False)
    x, y_raw, subset, source = rows.x, rows.y_raw, rows.subset, rows.source
    model = load_model(run, meta=meta)
    seed = loaded.config.seed if loaded.config.seed is not None else 0
    with rundir.RunLock(run, "write the explanation there"):  # one writer per run
        doc = {"run_dir": str(run), "subset": subset, "source": source,
               **explain_rows(model, meta, x, y_raw, repeats, seed), "files": [rundir.EXPLANATION]}
        if layer is not None:
            from nnrun.evaluation.explain import layer_projection

            name, points, share = layer_projection(model, meta, x, layer)
            doc["layer"] = {"layer": str(layer), "name": name, "pca_variance_explained": share}
        if plots:
            doc["files"] += write_plots(run, meta, doc, y_raw, points if layer is not None else None)
        rundir.write_json(run / rundir.EXPLANATION, doc)
    return doc


def export(  # 6 parameters: the export command's options, one to one
    run_dir: Path | str, fmt: str, output: Path | str | None = None, tolerance: float = 1e-5, force: bool = False,
    warn: Warn = lambda m: None,
) -> dict:
    """Export a run's model as ``saved_model``, ``onnx`` or ``litert`` (``nnrun export``), holding the run's lock,
    and prove it agrees: the export, loaded by its own runtime, is run on up to 1,000 of the run's validation
    (else training) rows and compared with the Keras model.

    Args:
        fmt: one of ``nnrun.inference.export.FORMATS``. output: the folder to write (default
            ``RUN_DIR/export/<fmt>``), written atomically. tolerance: the largest absolute difference allowed.
        force: replace an earlier export at ``output`` (only a folder nnrun export wrote).

    Returns:
        The ``export.json`` document (``format``, ``files`` with SHA-256, ``inputs``, ``outputs``, ``classes``,
        ``features``, ``max_abs_diff``, ``tolerance``, ``rows_checked``, ``versions``, …) plus ``path``.

    Raises:
        UsageError: not a run directory (a cv run: one per fold); a bad format or tolerance; the output exists
            (without ``force``), is not an nnrun export, appeared while exporting, or is inside a run directory
            (the run's own only under ``RUN_DIR/export/``); a layer the format cannot hold (before anything is
            written).
        RunError: the export disagrees with the model beyond ``tolerance`` (nothing is left at ``output``).
    """
    from nnrun.inference import export as exporting
    from nnrun.inference import parity, staging
    from nnrun.inference.predictor import load_model

    exporting.check_options(fmt, tolerance)
    run, loaded, meta = load_run(run_dir)
    target = Path(output) if output is not None else run / rundir.EXPORT_DIR / fmt
    staging.check_location(target, run)
    check_writable(target.parent, f"--output {target}" if output is not None else f"export to {target}",
                   f"create {target.name} there")
    staging.check_target(target, force)
    model = load_model(run, meta=meta)
    exporting.check_exportable(model, fmt)  # before anything is written
    rows = parity.check_rows(run, loaded.config, meta, warn)
    with rundir.RunLock(run, "export its model"):  # one writer per run
        staging.remove_stale(target, run)
        staging.check_target(target, force)  # again, holding the lock
        doc = exporting.write_checked(model, meta, fmt, target, rows, tolerance, force)
    return {**doc, "path": str(target), "run_dir": str(run)}
