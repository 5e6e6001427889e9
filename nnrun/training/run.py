"""The training workflow behind ``nnrun train``: read and check the data, build or restore the model,
fit with checkpoints, then write the run's artifacts, report and gates.

``api.train`` is the public entry point; this module holds its steps.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnrun import __version__, rundir
from nnrun.config.checks import data_problems, target_encoding, text_input
from nnrun.config.load import LoadedConfig, dump_resolved, load_config
from nnrun.errors import ConfigError, DataError, Interrupted, NnrunError, RunError

Warn = Callable[[str], None]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _prepare(loaded: LoadedConfig, warn: Warn) -> dict:
    """Read the data, check it against the config, split it (validation/test: fractions or files), learn the
    feature spec on the training rows and encode every row with it. No TensorFlow."""
    import numpy as np

    from nnrun.data.table import class_list, encode_targets, read_table, split_three

    cfg = loaded.config
    table = read_table(cfg.data, loaded.path, text=text_input(cfg))
    if table.dropped:
        warn(f"{table.source}: {table.dropped} row(s) with a missing value left out (missing: drop)")
    encoding = target_encoding(cfg)
    _onehot_targets(loaded, table, encoding)
    classes = class_list(table.y) if encoding != "regression" else None
    if encoding == "regression" and table.y.dtype == object:
        raise DataError(
            f"{table.source}: the target column {table.target_name!r} holds text ({table.y[0]!r}) but "
            f"{cfg.model.loss.type} is a regression loss; use a classification loss"
        )
    problems = data_problems(cfg, classes, _rarest(table) if classes and len(classes) > 2 else "")
    if problems:
        raise ConfigError("\n".join(loaded.error(p, m).message for p, m in problems))
    t = cfg.training
    tr, va, te = split_three(table.y, t.validation_split, t.test_split, cfg.seed, stratify=encoding != "regression")
    if t.validation_split > 0 and len(va) == 0:
        warn(f"validation_split {t.validation_split} of {len(table.y)} examples is empty; no validation")
    if t.test_split > 0 and len(te) == 0:
        warn(f"test_split {t.test_split} of {len(table.y)} examples is empty; no test set")
    if len(tr) == 0:
        raise DataError(f"{table.source}: no training examples left after the validation/test split")
    spec = table.encode(tr, cfg.data)
    meta = _meta(cfg, table, encoding, classes, spec)
    files = {}
    for role in ("validation", "test"):
        ref = getattr(cfg.data, role)
        if ref is not None:
            from nnrun.data.table import read_like, resolve_path

            path = resolve_path(ref.path, loaded.path)
            extra = read_like(path, meta, cfg.data)
            _onehot_targets(loaded, extra, encoding)
            if classes is not None:  # a label the training rows do not have: named in this file
                from nnrun.data.table import encode_labels

                encode_labels(extra.y, classes, extra.source, extra.where_row)
            start = table.append(extra)
            idx = np.arange(start, start + len(extra.y))
            va, te = (idx, te) if role == "validation" else (va, idx)
            files[role] = {"path": str(path.resolve()), "sha256": extra.sha256, "rows": int(len(extra.y))}
    if cfg.training.batch_size > len(tr):
        warn(
            f"batch_size {cfg.training.batch_size} > the {len(tr)} training examples: each epoch is "
            "a single gradient update"
        )
    y = encode_targets(table.y, encoding, classes, table.source)
    meta.update(num_examples=int(len(table.y)), num_train=int(len(tr)), num_validation=int(len(va)),
                num_test=int(len(te)), files=files)
    return {"table": table, "y": y, "train_idx": tr, "val_idx": va, "test_idx": te, "meta": meta}


def _meta(cfg: Any, table: Any, encoding: str, classes: list | None, spec: dict) -> dict:
    """The run's dataset.json: how the data was read and encoded (predict and evaluate read it back)."""
    return {
        "task": "regression" if encoding == "regression" else "classification",
        "target_encoding": encoding,
        "classes": classes,
        "from_logits": bool(cfg.model.loss.kwargs.get("from_logits", False)),
        "feature_names": table.feature_names,
        "target_name": table.target_name,
        "columns": table.columns,
        "target_index": table.target_index,
        "header": table.header,
        "delimiter": table.delimiter,
        "format": table.fmt,
        "quotechar": getattr(cfg.data, "quotechar", '"'),
        "reading": table.read_options(),
        "source": str(Path(table.source).resolve()) if table.source != "inline" else "inline",
        "sha256": table.sha256,
        "dropped_rows": table.dropped,
        "features": spec,
    }


def _onehot_targets(loaded: LoadedConfig, table: Any, encoding: str) -> None:
    """One-hot target rows (NPZ ``y`` of shape (num_samples, num_classes)) become class indices 0..K-1; they
    need ``categorical_crossentropy`` (a sparse or binary loss would read them wrongly)."""
    import numpy as np

    if table.y.ndim != 2:
        return
    if encoding != "categorical":
        raise loaded.error(("model", "loss"), f"the targets are one-hot rows of {table.y.shape[1]} classes but "
                           f"{loaded.config.model.loss.type} expects "
                           f"{'class indices' if encoding == 'sparse' else 'single values'}; "
                           "use categorical_crossentropy (or give y as class indices)")
    if not np.isin(table.y, (0, 1)).all() or not (table.y.sum(axis=1) == 1).all():
        raise DataError(f"{table.source}: y has shape {table.y.shape} but its rows are not one-hot (one 1, rest 0)")
    table.y = np.argmax(table.y, axis=1).astype(np.int64)


def train_run(
    config_path: Path | str | None,
    overrides: tuple[str, ...] = (),
    runs_dir: Path | str = "runs",
    progress: Callable[[int, int, dict], None] | None = None,
    warn: Warn = lambda m: None,
    resume: Path | str | None = None,
    gates: tuple[str, ...] = (),
    plots: bool = True,
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

    Returns:
        ``{"run_dir", "status", "metrics", "epochs", "train_seconds", "params", "best_epoch", …}``.

    Raises:
        ConfigError, DataError: before any file is written.
        RunError: training diverged (run marked failed) or files could not be written.
        Interrupted: stopped by Ctrl-C/SIGTERM after a checkpoint (exit 130); resume it with ``resume``.
    """
    from nnrun.training import fit as training

    training.STOP_REQUESTED.clear()
    if resume is not None:
        run_dir = rundir.check_run_dir(Path(resume), need_model=False)
        if rundir.status(run_dir) == "running":
            pid = rundir.read_json(run_dir / rundir.RUN).get("pid")
            raise RunError(f"{run_dir}: is still training (process {pid}); stop it first (Ctrl-C or kill -TERM), "
                           "then resume")
        loaded = _resume_config(run_dir, config_path, overrides)
    else:
        loaded = load_config(config_path, overrides)
    cfg = loaded.config
    prep = _prepare(loaded, warn)
    table, meta = prep["table"], prep["meta"]
    x, y, tr, va, te = table.x, prep["y"], prep["train_idx"], prep["val_idx"], prep["test_idx"]
    monitor = training.default_monitor(cfg.training, len(va) > 0)
    _check_monitor(loaded, monitor, len(va) > 0)
    rlr_monitor = (cfg.training.reduce_lr_on_plateau or {}).get("monitor")
    if rlr_monitor is not None:
        _check_monitor(loaded, rlr_monitor, len(va) > 0, ("training", "reduce_lr_on_plateau", "monitor"))
    gate_list = _train_gates(loaded, gates, len(va) > 0)
    weights = _sample_weights(loaded, prep, warn)

    from nnrun.backend import keras as _keras
    from nnrun.data.features import take
    from nnrun.training.build import adapt_preprocessing, build_model, count_params, input_shape

    keras = _keras()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.training.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if resume is None:
        model = build_model(loaded, input_shape(meta["features"]), meta["features"])
        adapted = adapt_preprocessing(loaded, model, take(x, tr))
        _dry_run(loaded, model, take(x, tr), y[tr])
        run_dir = rundir.create(Path(runs_dir), cfg.name)
        run_info = _run_info(loaded, meta, table, keras)
        run_info["preprocessing"] = adapted
        rundir.write_json(run_dir / rundir.RUN, run_info)
        rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(_with_data_facts(cfg, meta)))
        rundir.write_json(run_dir / rundir.DATASET, meta)
        rundir.write_indices(run_dir / rundir.SPLIT, {"train": tr, "validation": va, "test": te})
        state = None
    else:
        run_info = rundir.read_json(run_dir / rundir.RUN)
        if run_info.get("data_sha256") != table.sha256:
            raise DataError(f"{meta['source']}: the data changed since {run_dir} started (SHA-256 differs); "
                            "cannot resume; train a new run")
        model, state = _load_checkpoint(run_dir, cfg)
        more = any(o.strip().startswith("training.epochs=") for o in overrides)
        if run_info.get("status") == "completed" and not more:
            raise ConfigError(f"{run_dir}: the run is completed", hint=f"to train longer: nnrun train --resume "
                              f"{run_dir} --set training.epochs={state.epoch + 10}")
        (run_dir / rundir.MODEL).unlink(missing_ok=True)  # the run is no longer complete until it finishes
        run_info.setdefault("resumed", []).append({"at": _now(), "from_epoch": state.epoch})
        run_info.update(status="running", ended=None, error=None, pid=os.getpid(), host=platform.node())
        rundir.write_json(run_dir / rundir.RUN, run_info)
        rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(cfg))

    def finish(status: str, error: str | None = None) -> None:
        run_info.update(status=status, ended=_now(), error=error)
        rundir.write_json(run_dir / rundir.RUN, run_info)

    try:
        result = training.fit(
            model, take(x, tr), y[tr], (take(x, va), y[va]) if len(va) else None, cfg.training, progress, seed=cfg.seed,
            run_dir=run_dir, sample_weight=weights, resume=state,
        )
    except KeyboardInterrupt:
        finish("interrupted", "interrupted by the user (the last checkpoint is kept)")
        raise
    except Exception as exc:
        finish("failed", f"{type(exc).__name__}: {exc}")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"training failed: {first}") from exc

    try:
        outcome = _after_fit(loaded, model, result, run_dir, finish, x, table, meta, tr, va, gate_list, plots)
    except KeyboardInterrupt:
        finish("interrupted", "interrupted by the user while writing the results; a checkpoint is saved")
        raise
    except NnrunError as exc:
        if run_info.get("status") == "running":
            finish("failed", exc.message)
        raise
    except Exception as exc:
        finish("failed", f"{type(exc).__name__}: {exc}")
        raise RunError(f"{run_dir}: writing the results failed: {type(exc).__name__}: {exc}") from exc
    metrics, subset, doc, gate_results = outcome
    trainable, frozen = count_params(model)
    return {
        "run_dir": str(run_dir),
        "status": "completed",
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, float) and k in result.history},
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        "stopped_early": result.stopped_early,
        "train_seconds": round(result.seconds, 3),
        "params": {"trainable": trainable, "non_trainable": frozen},
        "evaluation": {"subset": subset, "metrics": doc["metrics"], "warnings": doc["report"].get("warnings", [])},
        "gates": gate_results,
    }


def _train_gates(loaded: LoadedConfig, gates: tuple[str, ...], has_validation: bool) -> list:
    """The config's gates plus ``--gate`` ones, names checked before training (exit 2 on a problem)."""
    from nnrun.config.checks import gate_metric_names
    from nnrun.config.load import config_gates
    from nnrun.evaluation.gates import check_names, parse_gates

    every = config_gates(loaded) + parse_gates(gates, "--gate")
    unknown = check_names(every, set(gate_metric_names(loaded.config, has_validation)))
    if unknown:
        raise ConfigError("\n".join(unknown))
    return every


def _with_data_facts(cfg: Any, meta: dict) -> Any:
    """The config with what reading the data decided: absolute path, header, delimiter (so the run's
    config.yaml trains the same way from any working directory)."""
    if cfg.data.path is None:
        return cfg
    facts = {"path": meta["source"]}
    if meta.get("format") in ("csv", "tsv"):
        facts.update(header=meta["header"], delimiter=meta["delimiter"])
    for role, info in (meta.get("files") or {}).items():
        facts[role] = getattr(cfg.data, role).model_copy(update={"path": info["path"]})
    data = cfg.data.model_copy(update=facts)
    return cfg.model_copy(update={"data": data})


def _after_fit(
    loaded: LoadedConfig, model: Any, result: Any, run_dir: Path, finish: Callable[..., None], x: Any, table: Any,
    meta: dict, tr: Any, va: Any, gate_list: list, plots: bool,
) -> tuple[dict, str, dict, list[dict]]:
    """Write history, summary, metrics, model, report and gates; mark the run's status.

    Returns:
        (metrics, evaluated subset, evaluation document, gate results).

    Raises:
        RunError: training diverged. Interrupted: stopped on request (after writing what it has).
    """
    cfg = loaded.config
    rundir.write_text(run_dir / rundir.HISTORY, _history_csv(result.history))
    rundir.write_text(run_dir / rundir.SUMMARY, _summary(model))
    metrics = {k: v[-1] for k, v in result.history.items()}
    if result.restored_best and result.best_epoch:
        metrics = {k: v[result.best_epoch - 1] for k, v in result.history.items()}
    metrics.update(
        epochs=result.epochs_run, train_seconds=round(result.seconds, 3), monitor=result.monitor,
        best_epoch=result.best_epoch, best_value=result.best_value, restored_best_weights=result.restored_best,
        stopped_early=result.stopped_early,
    )
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    if result.diverged:
        message = (
            f"the loss became NaN/infinite at epoch {result.epochs_run}; training stopped and no model was saved. "
            "Lower the learning rate or normalize the features"
        )
        finish("failed", message)
        raise RunError(f"{run_dir}: {message}")
    if result.interrupted:
        finish("interrupted", f"stopped by the user after epoch {result.epochs_run}")
        raise Interrupted(
            f"{run_dir}: interrupted after epoch {result.epochs_run} of {cfg.training.epochs} (checkpoint saved)",
            hint=f"continue with: nnrun train --resume {run_dir}",
        )
    rundir.save_model(model, run_dir / rundir.MODEL)
    if meta["features"].get("text") or meta["features"].get("categorical"):
        _check_reload(run_dir, model, x, va if len(va) else tr, finish)
    from nnrun.evaluation.evaluate import evaluate as evaluate_model

    subset, idx = ("validation", va) if len(va) else ("training", tr)
    from nnrun.data.features import take

    doc = evaluate_model(run_dir, model, take(x, idx), table.y[idx], meta, subset=subset, source=meta["source"],
                         batch_size=cfg.training.batch_size, plots=plots)
    prefix = "val_" if subset == "validation" else ""
    values = {**{prefix + k: v for k, v in doc["metrics"].items()}, **metrics}
    gate_results = check_gates(run_dir, gate_list, values)
    finish("completed")
    return metrics, subset, doc, gate_results


def _check_reload(run_dir: Path, model: Any, x: Any, idx: Any, finish: Callable[..., None]) -> None:
    """Load the saved model back and compare its outputs with the trained model's on a few rows.

    Models with vocabularies (StringLookup, TextVectorization) keep them as assets beside the weights; a
    vocabulary that does not survive the round trip would otherwise surface only at predict time.

    Raises:
        RunError: the saved model does not load, or predicts differently (the run is marked failed).
    """
    import numpy as np

    from nnrun.data.features import take
    from nnrun.inference.predictor import keras_inputs, load_model

    rows = take(x, idx[:32])
    try:
        loaded = load_model(run_dir)
        same = np.allclose(np.asarray(model.predict(keras_inputs(rows), verbose=0)),
                           np.asarray(loaded.predict(keras_inputs(rows), verbose=0)), atol=1e-5)
    except NnrunError as exc:
        finish("failed", exc.message)
        raise RunError(f"{run_dir}: the saved model does not load back: {exc.message}") from None
    if not same:
        finish("failed", "the saved model predicts differently from the trained one")
        raise RunError(f"{run_dir}: the saved model predicts differently from the trained one after loading")


def _rarest(table: Any) -> str:
    """Where the rarest label first occurs, for class-count messages: ``; the rarest, 'abc' (1 row), first
    occurs at data.csv:12``."""
    import numpy as np

    values, first, counts = np.unique(table.y.astype(str), return_index=True, return_counts=True)
    i = int(np.argmin(counts))
    rows = "row" if counts[i] == 1 else "rows"
    return f"; the rarest, {str(values[i])!r} ({counts[i]} {rows}), first occurs at {table.where_row(int(first[i]))}"


def _dry_run(loaded: LoadedConfig, model: Any, x: Any, y: Any) -> None:
    """Evaluate the untrained model on one batch, so that what Keras only finds when it runs (a metric
    that does not fit the labels, a label outside the head's range) is a config error before any file
    is written, not a failed run."""
    from nnrun.data.features import nrows, take

    batch = min(nrows(x), loaded.config.training.batch_size, 256)
    try:
        # Eagerly (no tf.function to trace: that cost ~0.5 s and the traced function was not reused):
        # the forward pass, the compiled loss and the compiled metrics, as Keras' test step runs them.
        import tensorflow as tf

        from nnrun.inference.predictor import keras_inputs

        xb = tf.nest.map_structure(tf.convert_to_tensor, keras_inputs(take(x, slice(0, batch))))
        yb = tf.convert_to_tensor(y[:batch])
        y_pred = model(xb, training=False)
        model.compute_loss(x=xb, y=yb, y_pred=y_pred, training=False)
        model.compute_metrics(xb, yb, y_pred)
        model.reset_metrics()
    except Exception as exc:
        raise loaded.error(("model",), f"the model cannot run on this data: {_keras_message(exc)}") from None


def _keras_message(exc: Exception) -> str:
    """The informative line of a Keras/TensorFlow error (graph errors bury it under a trace)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if any(k in ln for k in ("Received a label value", "Incompatible shapes", "must be", "expected", "Expected")):
            return ln
    noise = ("File ", "[[", "Traceback", "Detected at node", "Graph execution")
    useful = [ln for ln in lines if not ln.startswith(noise)]
    return (useful[-1] if useful else type(exc).__name__)[:500]


def _run_info(loaded: LoadedConfig, meta: dict, table: Any, keras: Any) -> dict:
    cfg = loaded.config
    return {
        "status": "running",
        "nnrun_version": __version__,
        "tensorflow_version": _tf_version(),
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join(["nnrun", *sys.argv[1:]]) if sys.argv else "nnrun",
        "config_file": str(loaded.path) if loaded.path else None,
        "config_file_sha256": hashlib.sha256(loaded.path.read_bytes()).hexdigest() if loaded.path else None,
        "resolved_config_sha256": hashlib.sha256(dump_resolved(cfg).encode()).hexdigest(),
        "seed": cfg.seed,
        "data_file": meta["source"],
        "data_sha256": table.sha256,
        "started": _now(),
        "ended": None,
        "error": None,
        "pid": os.getpid(),
        "host": platform.node(),
    }


def _resume_config(run_dir: Path, config_path: Path | str | None, overrides: tuple[str, ...]) -> LoadedConfig:
    """The run's own config plus ``--set`` overrides; refuse any change but ``training.epochs``."""
    from nnrun.config.load import config_diff

    original = load_config(run_dir / rundir.CONFIG)
    if config_path is not None:
        given = load_config(config_path)
        facts = rundir.read_json(run_dir / rundir.DATASET)
        changed = config_diff(original.config, _with_data_facts(given.config, facts))
        if changed:
            lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed)
            raise ConfigError(
                f"{config_path}: differs from the config of {run_dir}: {lines}",
                hint="resume with the run's own config (omit CONFIG), or train a new run",
            )
    loaded = load_config(run_dir / rundir.CONFIG, overrides)
    changed = [d for d in config_diff(original.config, loaded.config) if d[0] != "training.epochs"]
    if changed:
        lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changed)
        raise ConfigError(f"--set: only training.epochs can change when resuming; changed: {lines}",
                          hint="train a new run to change anything else")
    return loaded


def _load_checkpoint(run_dir: Path, cfg: Any) -> tuple[Any, Any]:
    """Load last.keras (model + optimizer state), best weights and the training state of a checkpoint."""
    from nnrun.inference.predictor import load_model
    from nnrun.training import fit as training

    record = training.recover(run_dir)
    if record["epoch"] >= cfg.training.epochs:
        raise ConfigError(
            f"{run_dir}: the run already has {record['epoch']} epochs (training.epochs is {cfg.training.epochs})",
            hint=f"to train longer: nnrun train --resume {run_dir} --set training.epochs={record['epoch'] + 10}",
        )
    model = load_model(run_dir, training.LAST)
    best = load_model(run_dir, training.BEST).get_weights() if training.BEST in record["files"] else None
    state = training.ResumeState(
        epoch=record["epoch"], history=record["history"], seconds=record.get("seconds", 0.0),
        best_epoch=record.get("best_epoch"), best_value=record.get("best_value"),
        callbacks=record.get("callbacks", {}), best_weights=best, rng_states=record.get("rng_states"),
    )
    training.set_rng_states(model, state.rng_states)
    return model, state


def _check_monitor(loaded: LoadedConfig, monitor: str, has_validation: bool, at: tuple | None = None) -> None:
    """The monitored metric must be one the run logs (before any training)."""
    from nnrun.config.checks import metric_names

    available = metric_names(loaded.config, has_validation)
    if monitor in available:
        return
    path = at or (("training", "early_stopping", "monitor") if loaded.config.training.early_stopping else ("training",))
    from nnrun.config.registry import suggest

    extra = "; it needs a validation split (training.validation_split)" if monitor.startswith("val_") else ""
    raise loaded.error(path, f"unknown metric {monitor!r}{suggest(monitor, available)}{extra}; "
                             f"the run logs: {', '.join(available)}")


def _sample_weights(loaded: LoadedConfig, prep: dict, warn: Warn) -> Any:
    """Per-example weights from ``training.class_weight``, shape (num_train,), or None.

    ``balanced`` gives class c the weight n_samples / (n_classes * count_c) (scikit-learn's formula,
    sklearn.utils.class_weight.compute_class_weight), computed on the training split.
    """
    import numpy as np

    spec = loaded.config.training.class_weight
    if spec is None:
        return None
    meta = prep["meta"]
    if meta["task"] != "classification":
        raise loaded.error(("training", "class_weight"), "class weights need a classification loss")
    classes = meta["classes"]
    from nnrun.data.table import encode_labels

    idx = encode_labels(prep["table"].y[prep["train_idx"]], classes, meta["source"])
    counts = np.bincount(idx, minlength=len(classes)).astype(np.float64)
    if spec == "balanced":
        per_class = np.where(counts > 0, len(idx) / (len(classes) * np.maximum(counts, 1)), 0.0)
    else:
        keys = {str(k): float(v) for k, v in spec.items()}
        unknown = [k for k in keys if k not in {str(c) for c in classes}]
        if unknown:
            raise loaded.error(("training", "class_weight", unknown[0]),
                               f"no class {unknown[0]!r}; classes are: {', '.join(map(str, classes))}")
        per_class = np.array([keys.get(str(c), 1.0) for c in classes])
    return per_class[idx].astype(np.float32)


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__


def _history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def _summary(model: Any) -> str:
    """Keras' model summary (its Total includes optimizer state), then nnrun's own parameter count."""
    from nnrun.training.build import count_params

    lines: list[str] = []
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # Keras renders with rich at the terminal's width; the file must not be cut
    try:
        model.summary(print_fn=lambda line, **_: lines.append(line), line_length=100)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    trainable, frozen = count_params(model)
    lines.append(f"Model parameters (weights and biases): {trainable + frozen:,} "
                 f"(trainable {trainable:,}, non-trainable {frozen:,})")
    return "\n".join(lines) + "\n"



def check_gates(run: Path, gate_list: list, values: dict) -> list[dict]:
    """Evaluate gates (all of them) and write gates.json; the caller exits 3 on a failure."""
    if not gate_list:
        return []
    from nnrun.evaluation.gates import check_names, evaluate_gates, gates_json

    unknown = check_names(gate_list, {k for k, v in values.items() if isinstance(v, (int, float))
                                      and not isinstance(v, bool)})
    if unknown:
        raise ConfigError("\n".join(unknown))
    results = evaluate_gates(gate_list, values)
    rundir.write_json(run / rundir.GATES, gates_json(results))
    return results
