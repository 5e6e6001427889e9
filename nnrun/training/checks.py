"""The checks every trained model passes, in ``run.train_one`` (train, resume and each cv fold): the monitored
metrics exist, the model runs on one batch (dry run), the saved model loads back alike; and the gates' names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnrun.config.load import LoadedConfig
from nnrun.errors import ConfigError, NnrunError, RunError
from nnrun.training.prepare import Prepared


def dry_run(loaded: LoadedConfig, model: Any, x: Any, y: Any) -> None:
    """Evaluate the untrained model on one batch, so that what Keras only finds when it runs (a metric
    that does not fit the labels, a label outside the head's range) is a config error before any file
    is written, not a failed run.

    Raises:
        ConfigError: at ``model``: ``the model cannot run on this data: <Keras' line>``.
    """
    from nnrun.data.features import nrows, take

    batch = min(nrows(x), loaded.config.training.batch_size, 256)
    try:
        # Eagerly (no tf.function to trace: that cost ~0.5 s and the traced function was not reused):
        # the forward pass, the compiled loss and the compiled metrics, as Keras' test step runs them.
        from nnrun.backend import backend_name
        from nnrun.inference.predictor import keras_inputs

        if backend_name() != "tensorflow":  # JAX runs eager ops one compiled kernel each: a jitted test step
            # costs a third of that (0.34 vs 0.97 CPU-s for XOR), and evaluating the training rows reuses it
            model.evaluate(take(x, slice(0, batch)), y[:batch], batch_size=batch, verbose=0)
            model.reset_metrics()
            return
        import tensorflow as tf

        xb = tf.nest.map_structure(tf.convert_to_tensor, keras_inputs(take(x, slice(0, batch))))
        yb = tf.convert_to_tensor(y[:batch])
        y_pred = model(xb, training=False)
        model.compute_loss(x=xb, y=yb, y_pred=y_pred, training=False)
        model.compute_metrics(xb, yb, y_pred)
        model.reset_metrics()
    except Exception as exc:
        raise loaded.error(("model",), f"the model cannot run on this data: {_keras_message(exc)}") from None


def _keras_message(exc: Exception) -> str:
    """The informative line of a Keras/TensorFlow error (graph errors bury it under a trace; a layer's error
    is ``Exception encountered when calling L.call().`` + the reason + its arguments: ``L.call(): reason``)."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # Keras makes the reason bold with terminal escapes
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if any(k in ln for k in ("Received a label value", "Incompatible shapes", "must be", "expected", "Expected")):
            return ln
    noise = ("File ", "[[", "Traceback", "Detected at node", "Graph execution", "Exception encountered when calling",
             "Arguments received by", "•")
    useful = [ln for ln in lines if not ln.startswith(noise)]
    call = re.match(r"Exception encountered when calling (\S+?)\.?$", lines[0]) if lines else None
    if call and useful:
        return f"{call.group(1)}: {useful[0]}"[:500]
    return (useful[-1] if useful else type(exc).__name__)[:500]


def check_monitors(prep: Prepared) -> None:
    """The metrics EarlyStopping/best weights and ReduceLROnPlateau monitor must be ones the run logs.

    Raises:
        ConfigError: at the monitor's key, naming the metrics the run logs.
    """
    from nnrun.training.callbacks import default_monitor

    training = prep.config.training
    check_monitor(prep.loaded, default_monitor(training, prep.has_validation), prep.has_validation)
    rlr_monitor = (training.reduce_lr_on_plateau or {}).get("monitor")
    if rlr_monitor is not None:
        check_monitor(prep.loaded, rlr_monitor, prep.has_validation, ("training", "reduce_lr_on_plateau", "monitor"))


def check_monitor(loaded: LoadedConfig, monitor: str, has_validation: bool, at: tuple | None = None) -> None:
    """The monitored metric must be one the run logs (before any training).

    Args:
        loaded: the loaded config. monitor: a metric name (``val_loss``). has_validation: val_ metrics exist.
        at: the key path to report; default ``training.early_stopping.monitor`` (or ``training``).

    Raises:
        ConfigError: unknown metric, with the closest name and the list of logged ones.
    """
    from nnrun.config.checks import monitor_problem

    message = monitor_problem(loaded.config, monitor, has_validation)
    if message:
        path = at or (("training", "early_stopping", "monitor") if loaded.config.training.early_stopping
                      else ("training",))
        raise loaded.error(path, message)


def check_reload(run_dir: Path, model: Any, prep: Prepared, target: Any) -> None:
    """Load the saved model back and compare its outputs with the trained model's on a few rows (validation
    rows, else training rows).

    Models with vocabularies (StringLookup, TextVectorization) keep them as assets beside the weights; a
    vocabulary that does not survive the round trip would otherwise surface only at predict time.

    Raises:
        RunError: the saved model does not load, or predicts differently (``target.finish`` records it failed).
    """
    import numpy as np

    from nnrun.data.features import take
    from nnrun.inference.predictor import keras_inputs, load_model

    idx = prep.val_idx if prep.has_validation else prep.train_idx
    rows = take(prep.table.x, idx[:32])
    try:
        loaded = load_model(run_dir)
        same = np.allclose(np.asarray(model.predict(keras_inputs(rows), verbose=0)),
                           np.asarray(loaded.predict(keras_inputs(rows), verbose=0)), atol=1e-5)
    except NnrunError as exc:
        target.finish("failed", exc.message)
        raise RunError(f"{run_dir}: the saved model does not load back: {exc.message}") from None
    if not same:
        target.finish("failed", "the saved model predicts differently from the trained one")
        raise RunError(f"{run_dir}: the saved model predicts differently from the trained one after loading")


def train_gates(loaded: LoadedConfig, gates: tuple[str, ...], has_validation: bool) -> list:
    """The config's gates plus ``--gate`` ones, names checked before training.

    Raises:
        ConfigError: a malformed gate or an unknown metric name (exit 2).
    """
    from nnrun.config.checks import gate_metric_names
    from nnrun.config.load import config_gates
    from nnrun.evaluation.gates import check_names, parse_gates

    every = config_gates(loaded) + parse_gates(gates, "--gate")
    unknown = check_names(every, set(gate_metric_names(loaded.config, has_validation)))
    if unknown:
        raise ConfigError("\n".join(unknown))
    return every


