"""The workflows behind the commands: validate, train, cv, evaluate, predict, tune, runs, compare (and, from
``api_models``: explain, serve, export and track).

Each function takes paths and plain values, returns plain data (dicts) and raises NnrunError subclasses;
the CLI only parses arguments and renders. TensorFlow is imported inside train/evaluate/predict only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nnrun import rundir, tracking
from nnrun.config.load import LoadedConfig, load_config
from nnrun.errors import UsageError
from nnrun.evaluation import plot_jobs
from nnrun.evaluation.examples import examples as load_examples
from nnrun.evaluation.examples import load_run, training_means
from nnrun.training.tune import TuneOptions  # light: Optuna and TensorFlow are imported when a search runs
from nnrun.writable import check_writable

# nnrun.data (NumPy, pandas) is imported inside the functions that read data, so that `nnrun validate`
# stays fast.

Warn = Callable[[str], None]


def validate(config_path: Path | str, overrides: tuple[str, ...] = ()) -> LoadedConfig:
    """Check a config (schema, Keras names, cross-checks, its ``search:`` section) without importing TensorFlow.

    Raises:
        ConfigError: every problem found, located; a data file that does not exist (``config.paths``).
    """
    from nnrun.config.paths import check_data_files

    loaded = load_config(config_path, overrides)
    check_data_files(loaded)
    if loaded.config.search is not None:
        from nnrun.config.search import check_search

        check_search(loaded)
    return loaded


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the config file, for editors (``nnrun schema``)."""
    from nnrun.config.load import json_schema

    return json_schema()


def list_runs(runs_dir: Path | str) -> list[dict]:
    """The runs under ``runs_dir``, oldest first (``nnrun runs``); reads only run.json and metrics.json.

    See ``nnrun.evaluation.compare.list_runs`` for the entries' keys.
    """
    from nnrun.evaluation.compare import list_runs as list_run_dirs

    return list_run_dirs(Path(runs_dir))


def compare_runs(run_a: Path | str, run_b: Path | str) -> dict:
    """Every config value and final metric where two runs differ (``nnrun compare``).

    See ``nnrun.evaluation.compare.compare_runs`` for the result and errors.
    """
    from nnrun.evaluation.compare import compare_runs as compare_run_dirs

    return compare_run_dirs(Path(run_a), Path(run_b))


def train(  # 12 parameters: the train command's options, one to one (+ the info sink)
    config_path: Path | str | None,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Warn = lambda m: None,
    resume: Path | str | None = None,
    gates: tuple[str, ...] = (),
    plots: bool = True,
    mlflow: str | None = None,
    info: Warn = lambda m: None,
    cluster: tuple[str, int] | None = None,
    skip_bad: bool = False,
) -> dict:
    """Train the model a config describes and write a new run directory, or resume an interrupted run.

    Args:
        config_path: the YAML config (optional with ``resume``: it must then equal the run's config).
        overrides: ``--set key.path=value`` strings (with ``resume``, only ``training.epochs`` may change).
        runs_dir: parent of the run directory (``runs/<name>``, then ``<name>-2``, …).
        progress: called after each epoch with (epoch, epochs, logs).
        warn: called with each warning line.
        resume: a run directory to continue from its last checkpoint.
        gates: ``--gate`` strings, checked with the config's ``gates:`` after training (results in
            ``gates.json``; the CLI exits 3 when one fails).
        plots: write the report's PNG plots.
        mlflow: an MLflow tracking URI to mirror the finished run into (``--mlflow``; else the config's
            ``tracking.mlflow``, if any). A tracker failure is a warning, never the outcome.
        info: called with each informational line (the devices and replicas of ``training.distribute``).
        cluster: ``("HOST:PORT,HOST:PORT", task_index)``: sets ``TF_CONFIG`` for ``multi_worker``.
        skip_bad: leave out bad rows (``--skip-bad-rows``: warned about, counted in ``dataset.json``).

    Returns:
        ``{"run_dir", "status", "metrics", "epochs", "train_seconds", "params", "best_epoch", …}``, plus
        ``tracking`` (see ``nnrun.tracking.track_finished``) when tracking was asked for.

    Raises:
        ConfigError, DataError: before any file is written.
        RunError: training diverged (run marked failed) or files could not be written.
        Interrupted: stopped by Ctrl-C/SIGTERM after a checkpoint (exit 130); resume it with ``resume``.
    """
    from nnrun.training import run
    from nnrun.training.fit import STOP_REQUESTED

    STOP_REQUESTED.clear()
    if cluster is not None:
        import os

        from nnrun.training.cluster import tf_config

        os.environ["TF_CONFIG"] = tf_config(*cluster)
    options = run.Options(progress=progress, warn=warn, gates=gates, plots=plots, info=info, skip_bad=skip_bad)
    with plot_jobs.session(plots):  # the plot worker imports matplotlib while this imports Keras
        loaded = load_config(config_path, overrides) if resume is None else None
        tracking.require(mlflow, loaded.config if loaded is not None else None)
        if resume is not None:
            result = run.resume(Path(resume), config_path, overrides, options)
        else:  # before the data is read and the model trained
            check_writable(runs_dir, f"--runs-dir {runs_dir}", "create the run directory there")
            result = run.train(loaded, Path(runs_dir), options)
    return tracking.attach(result, result["run_dir"], mlflow, warn)


def cv(  # 8 parameters: the cv command's options and its three callbacks, one to one
    config_path: Path | str,
    folds: int,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Warn = lambda m: None,
    on_fold: Callable[[int, int], None] | None = None,
    mlflow: str | None = None,
) -> dict:
    """K-fold cross-validation of a config: K models, each trained as ``train`` trains one (same checks, dry
    run and reload check) and validated on its held-out fold; writes a ``<name>-cv`` run directory.

    Args:
        config_path: the YAML config. folds: K, 2..100. overrides: ``--set`` strings.
        runs_dir: parent of the run directory. progress: per-epoch callback (epoch, epochs, logs).
        warn: called with each warning line. on_fold: called with (fold, K) before each fold trains.
        mlflow: an MLflow tracking URI (as for ``train``): a parent run with one child run per fold.

    Returns:
        The ``cv.json`` document (see ``nnrun.training.crossval.cross_validate``), plus ``tracking`` when
        tracking was asked for.

    Raises:
        ConfigError, DataError: before any file is written (fold 1's model is checked before the run directory
            is made). RunError: a fold failed or diverged. Interrupted: Ctrl-C/SIGTERM.
    """
    from nnrun.training.crossval import CvHooks, check_folds, cross_validate
    from nnrun.training.fit import STOP_REQUESTED

    STOP_REQUESTED.clear()
    check_folds(folds)
    loaded = load_config(config_path, overrides)
    tracking.require(mlflow, loaded.config)
    doc = cross_validate(loaded, folds, Path(runs_dir), CvHooks(progress=progress, warn=warn, on_fold=on_fold))
    return tracking.attach(doc, doc["run_dir"], mlflow, warn)




def evaluate(  # 6 parameters: the evaluate command's options, one to one
    run_dir: Path | str,
    data: Path | str | None = None,
    warn: Warn = lambda m: None,
    plots: bool = True,
    gates: tuple[str, ...] = (),
    mlflow: str | None = None,
    backend: str | None = None,
) -> dict:
    """Evaluate a run's model; write its report in the run directory, holding the run's lock: ``evaluation.json``,
    ``report.md`` and plots for the training-time split, ``evaluation-<name>.json``, ``report-<name>.md``, … for
    the test split (``test``) or a ``data`` file (its stem); each is listed in run.json's ``evaluations``.

    Args:
        run_dir: a directory made by ``train``.
        data: a file with the training file's columns (target included); default: the run's validation
            split, or its training data when it had none.
        plots: write PNG plots.
        gates: ``--gate`` strings (``val_accuracy>=0.9``); a ``val_`` gate reads the same metric on the
            validation split. The config's ``gates:`` are checked too; results go to ``gates.json``, or
            ``gates-<name>.json`` beside ``evaluation-<name>.json``.
        mlflow: an MLflow tracking URI (as for ``train``): the evaluation's metrics and files are added to
            the MLflow run of this run directory (the whole run is logged if it was not yet).
        backend: the Keras backend to load the model on (None: see ``inference.backend_choice``).

    Returns:
        The evaluation document (``metrics``, ``report``, ``subset``, …) plus ``gates`` results (and
        ``tracking`` when tracking was asked for).

    Raises:
        UsageError: not a run directory, or another process is writing it. DataError: unusable data.
        RunError: the model cannot be loaded.
        ConfigError: a malformed gate.
    """
    from nnrun.config.load import config_gates
    from nnrun.evaluation.evaluate import EvalOptions, evaluate_model
    from nnrun.evaluation.gates import check_gates, parse_gates
    from nnrun.inference.backend_choice import inference_backend
    from nnrun.inference.predictor import load_model

    run, loaded, meta = load_run(run_dir)
    inference_backend(loaded, meta, backend)
    cfg = loaded.config
    tracking.require(mlflow, cfg)
    gate_list = config_gates(loaded) + parse_gates(gates, "--gate")
    with plot_jobs.session(plots):  # the plot worker imports matplotlib while this reads the data and Keras
        examples = load_examples(run, cfg, meta, data, warn, every=True)
        options = EvalOptions(batch_size=cfg.training.batch_size, plots=plots,
                              label=rundir.evaluation_label(examples.subset, data))  # never over the training report
        with rundir.RunLock(run, "write the evaluation's report there"):  # one writer per run
            doc = evaluate_model(run, load_model(run, meta=meta), meta, examples, options)
            doc["gates"] = check_gates(run, gate_list, _gate_values(run, doc["metrics"]), options.label)
            rundir.write_json(run / rundir.RUN, rundir.with_evaluation(rundir.read_json(run / rundir.RUN), doc))
    return tracking.attach(doc, run, mlflow, warn)


def _gate_values(run: Path, metrics: dict) -> dict:
    """The values gates read after ``evaluate``: each metric as itself and as ``val_<metric>`` (a gate written
    for train reads the same metric on the data evaluated here), plus the run-level numbers (epochs,
    train_seconds, best_epoch) from metrics.json."""
    values = dict(metrics)
    values.update({f"val_{k}": v for k, v in metrics.items()})
    if (run / rundir.METRICS).exists():
        trained = rundir.read_json(run / rundir.METRICS)
        values.update({k: trained[k] for k in ("epochs", "train_seconds", "best_epoch") if k in trained})
    return values


def predict(  # 10 parameters: the predict command's options, one to one
    run_dir: Path | str, source: str, keep: str | None = None, threshold: float = 0.5, skip_bad: bool = False,
    input_format: str | None = None, warn: Warn = lambda m: None, explain: bool = False, layer: str | None = None,
    backend: str | None = None,
) -> tuple[dict, str, Iterator[tuple[Any, Any, list[str]]]]:
    """Predict rows from a table (CSV/TSV, JSON Lines, Parquet), JSON, NPZ, or ``-`` for stdin, batch by batch.

    Tables are read in chunks, so memory stays flat however long the file is; the next chunk is read and
    encoded (in a second thread) while the model predicts the current one. The run's feature spec is applied
    to each row as in training (fills for missing values, categories as text).

    Args:
        keep: input columns to copy to the output (``--keep``: comma-separated names or ``*``), None for none.
        threshold: binary classifiers predict the second class when its probability is >= threshold.
        skip_bad: leave out rows that cannot be encoded (wrong type, missing value without a fill, wrong
            number of fields) and yield their messages, instead of stopping at the first.
        input_format: csv, tsv, jsonl, parquet, json, npz; None = from the extension.
        warn: a sink for warnings (a column matched by position, pixel values out of range; after the last
            batch, how many values per categorical column were not seen in training); default: ignored.
        explain: add integrated-gradients attributions per row (``attr_<column>``, ``attr_baseline``; see
            ``nnrun.inference.attributions``) to the predictions' ``extra`` columns.
        layer: instead of predictions, that config layer's activations (``extra`` columns ``f0``…).
        backend: the Keras backend to load the model on (None: see ``inference.backend_choice``).

    Returns:
        (meta, input_format, batches): the run's dataset description, the input format, and an iterator of
        (predictions, kept_rows, problems) per batch: ``inference.Predictions`` (class labels and
        probabilities, or values, as arrays), the kept input columns of the predicted rows (a DataFrame, or
        None) and one message per bad row.

    Raises:
        UsageError, DataError, RunError: as for ``evaluate`` (data errors may come while iterating).
    """
    from nnrun.data.batches import predict_batches
    from nnrun.inference.backend_choice import inference_backend

    if not 0.0 <= threshold <= 1.0:  # NaN fails every comparison: it would predict class 0 for every row
        raise UsageError(f"--threshold must be a number from 0 to 1, got {threshold}")
    if explain and backend == "jax":
        raise UsageError("--explain needs TensorFlow (its gradients are taken with tf.GradientTape); "
                         "drop --backend jax")
    run, loaded, meta = load_run(run_dir)
    inference_backend(loaded, meta, backend or ("tensorflow" if explain else None))
    fmt, batches = predict_batches(source, meta, keep=keep, skip_bad=skip_bad, fmt=input_format, warn=warn)
    from nnrun.inference.attributions import extra_columns
    from nnrun.inference.predictor import Predictor, load_model
    from nnrun.inference.unseen import CountedBatches, UnseenCategories

    model = load_model(run, meta=meta)
    predictor = Predictor(model, meta)
    unseen = UnseenCategories(meta.get("features") or {})
    means = None
    if explain and layer is None and meta["features"].get("mean") is None and meta["features"].get("numeric"):
        means = training_means(run, loaded, meta, warn)  # the baseline: the training means
    extra = extra_columns(model, meta, explain, layer, means)

    def predicted() -> Iterator[tuple[Any, Any, list[str]]]:
        for x, rows, problems in _read_ahead(batches):
            unseen.add(x)
            preds = predictor(x, threshold) if layer is None else None
            yield (extra(x, preds, threshold) if extra else preds), rows, problems
        for note in unseen.notes():
            warn(note)

    return meta, fmt, CountedBatches(predicted(), unseen)  # iterated as predicted(); keeps the counts


def tune(  # 6 parameters: the tune command's options, one to one
    config_path: Path | str,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    options: TuneOptions | None = None,
    resume: Path | str | None = None,
    mlflow: str | None = None,
) -> dict:
    """A hyperparameter search (the config's ``search:`` section, Optuna): every trial an ordinary training
    into ``<name>-tune/trial_<n>``; writes study.db, trials.csv, best.yaml, tune.json and plots.

    Args:
        config_path: the YAML config with a ``search:`` section. overrides: ``--set`` strings (every trial).
        runs_dir: parent of ``<name>-tune``. options: ``nnrun.training.tune.TuneOptions`` (trials, timeout,
            jobs, plots, progress), None for the defaults. resume: a search's directory to continue.
        mlflow: an MLflow tracking URI (as for ``train``): a parent run with one child run per trial.

    Returns:
        The tune.json document (``best``, ``top``, ``states``, …) plus the best trial's ``gates`` (and
        ``tracking`` when tracking was asked for; its warnings join ``warnings``).

    Raises:
        ConfigError: before any trial. UsageError: a bad --resume or --jobs. RunError: no trial completed.
        Interrupted: Ctrl-C/SIGTERM (continue with ``resume``).
    """
    from nnrun.training.fit import STOP_REQUESTED
    from nnrun.training.tune import tune as run_search

    STOP_REQUESTED.clear()
    tracking.require(mlflow, load_config(config_path, overrides).config)
    doc = run_search(Path(config_path), tuple(overrides), Path(runs_dir), options or TuneOptions(),
                     Path(resume) if resume is not None else None)
    return tracking.attach(doc, doc["tune_dir"], mlflow, doc.setdefault("warnings", []).append)


def request_stop() -> bool:
    """Ask a running ``train`` or ``cv`` to stop after the current epoch, with a checkpoint (the CLI's
    SIGINT/SIGTERM handler).

    Returns:
        True when a stop had already been requested (a second Ctrl-C: the caller stops at once).
    """
    from nnrun.training.fit import STOP_REQUESTED

    already = STOP_REQUESTED.is_set()
    STOP_REQUESTED.set()
    return already


def _read_ahead(items: Iterator[Any]) -> Iterator[Any]:
    """The items of ``items``, the next one produced in a worker thread while the caller uses this one
    (reading and parsing release the GIL for much of their time, as does TensorFlow). Errors surface in order."""
    from concurrent.futures import ThreadPoolExecutor

    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix="nnrun-read") as pool:
        pending = pool.submit(next, items, end)
        while True:
            item = pending.result()
            if item is end:
                return
            pending = pool.submit(next, items, end)
            yield item
