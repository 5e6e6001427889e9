"""Mirror a finished run directory into MLflow (``tracking.mlflow`` / ``--mlflow URI`` / ``nnrun track``).

MLflow's own client does the work (``MlflowClient.log_batch``, ``log_artifacts``, ``mlflow.keras.log_model``);
this module only maps a ``RunView`` onto it. Each part (params, metrics, artifacts, model) is logged on its own,
so a refusal costs that part only, and the tracker run is marked FAILED when a part is missing. Nothing here
raises for a tracker problem: the caller gets a summary with ``not_logged`` (the run directory is complete
either way, and ``nnrun track`` logs it later).

The run found again (same ``nnrun.run_dir`` and ``nnrun.started`` tags) is updated, not duplicated: a later
``nnrun evaluate`` adds its metrics and files to the run ``train`` logged.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnrun.tracking.view import RunView

#: MLflow's HTTP defaults retry 7 times with backoff and wait 120 s per request: an unreachable server
#: would hold a finished training for minutes. Ours (a user's environment wins): 1 retry, 15 s.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "15", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
#: The model's folder in the tracker run (``runs:/<id>/model``).
MODEL_NAME = "model"


def mlflow_module() -> Any:
    """``import mlflow`` with nnrun's HTTP defaults and MLflow's INFO/WARNING chatter off (``--debug`` shows it)."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import mlflow

    if not os.environ.get("NNRUN_DEBUG"):
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


def mirror(view: RunView, uri: str, experiment: str) -> dict:
    """Log ``view`` (and its children) to the MLflow store at ``uri``, experiment ``experiment``.

    Returns:
        ``{"tracking_uri", "experiment", "experiment_id", "run_id", "children": [run ids], "updated": bool,
        "not_logged": ["what (why)", …]}``; ``run_id`` is None when nothing could be logged.
    """
    summary: dict[str, Any] = {"tracking_uri": uri, "experiment": experiment, "experiment_id": None,
                               "run_id": None, "children": [], "updated": False, "not_logged": []}
    try:
        mlflow = mlflow_module()
        client = mlflow.MlflowClient(tracking_uri=uri)
        summary["experiment_id"] = exp_id = _experiment_id(client, experiment, uri)
        found = _find(client, exp_id, view)
    except Exception as exc:  # any failure of the store: the run stays complete, the caller warns
        summary["not_logged"].append(f"everything ({reason(exc)})")
        return summary
    logger = _Logger(mlflow, client, exp_id, uri, summary["not_logged"])
    if found is not None:
        summary.update(run_id=found, updated=True)
        logger.update(found, view)
        return summary
    summary["run_id"] = logger.log(view)
    summary["children"] = [logger.log(child, parent=summary["run_id"]) for child in view.children
                           if summary["run_id"] is not None]
    return summary


def reason(exc: BaseException) -> str:
    """An exception's first line, short (MLflow's messages can carry whole HTTP bodies)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


class _Logger:
    """Logs views into one experiment, collecting what could not be logged in ``not_logged``."""

    def __init__(self, mlflow: Any, client: Any, exp_id: str, uri: str, not_logged: list[str]) -> None:
        self.mlflow, self.client, self.exp_id, self.uri, self.not_logged = mlflow, client, exp_id, uri, not_logged

    def log(self, view: RunView, parent: str | None = None) -> str | None:
        """A new tracker run for ``view``: tags, params, metrics, artifacts, model. Returns its id (None:
        the run could not even be created)."""
        tags = {**view.tags, **({"mlflow.parentRunId": parent} if parent else {})}
        try:
            run_id = self.client.create_run(self.exp_id, tags=tags, run_name=view.name).info.run_id
        except Exception as exc:
            self.not_logged.append(f"{view.name} ({reason(exc)})")
            return None
        before = len(self.not_logged)
        self._part(view, "params", lambda: self._params(run_id, view))
        self._part(view, "metrics", lambda: self._metrics(run_id, view.history, view.final))
        self._part(view, "artifacts", lambda: self._files(run_id, view))
        if view.model is not None:
            self._part(view, "model", lambda: self._model(run_id, view))
        status = "FINISHED" if len(self.not_logged) == before else "FAILED"
        self._part(view, "status", lambda: self.client.set_terminated(run_id, status))
        return run_id

    def update(self, run_id: str, view: RunView) -> None:
        """Add what a finished run gained since it was logged (evaluations, gates): final metrics not yet
        logged, changed tags, and the files again."""
        logged = self.client.get_run(run_id).data.metrics
        new = {k: v for k, v in view.final.items() if logged.get(k) != v}
        last = view.history[-1][0] if view.history else 0
        self._part(view, "metrics", lambda: self._metrics(run_id, [], new, last))
        self._part(view, "tags", lambda: self._batch(run_id, tags=view.tags))
        self._part(view, "artifacts", lambda: self._files(run_id, view))

    def _part(self, view: RunView, what: str, step: Callable[[], Any]) -> None:
        try:
            step()
        except Exception as exc:  # one part refused: the others are still logged
            self.not_logged.append(f"{view.name} {what} ({reason(exc)})")

    def _params(self, run_id: str, view: RunView) -> None:
        self._batch(run_id, params=view.params)

    def _metrics(self, run_id: str, history: list, final: dict, step: int | None = None) -> None:
        """Per-epoch values at step = epoch; then each final value at the last epoch, unless the history's
        last value is that same number already (metrics.json repeats the last epoch's Keras metrics)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        last_step = history[-1][0] if history else (step or 0)
        last = history[-1][1] if history else {}
        metrics = [Metric(k, v, now, epoch) for epoch, row in history for k, v in row.items()]
        metrics += [Metric(k, v, now + 1, last_step) for k, v in final.items() if last.get(k) != v]
        for i in range(0, len(metrics), 1000):  # MLflow's limit per batch
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def _batch(self, run_id: str, params: dict | None = None, tags: dict | None = None) -> None:
        from mlflow.entities import Param, RunTag

        params_list = [Param(k, v) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
        for i in range(0, max(len(params_list), len(tag_list)), 100):  # MLflow's limit per batch
            self.client.log_batch(run_id, params=params_list[i:i + 100], tags=tag_list[i:i + 100])

    def _files(self, run_id: str, view: RunView) -> None:
        for path in view.files:
            self.client.log_artifact(run_id, str(path))

    def _model(self, run_id: str, view: RunView) -> None:
        """``mlflow.keras.log_model`` of the run's model.keras (loaded as ``nnrun predict`` loads it), with its
        signature when it takes one table of numbers, and pinned TensorFlow/Keras (no slow inference)."""
        from nnrun.inference.predictor import load_model
        from nnrun.tracking.signature import model_signature

        model = load_model(view.model.parent, view.model.name)
        requirements = [f"tensorflow=={view.tags.get('nnrun.tensorflow_version', '')}".rstrip("="),
                        f"keras=={view.tags.get('nnrun.keras_version', '')}".rstrip("=")]
        with _active_run(self.mlflow, self.uri, run_id):
            self.mlflow.keras.log_model(model, name=MODEL_NAME, pip_requirements=requirements,
                                        signature=model_signature(model, view.model.parent))


def _experiment_id(client: Any, name: str, uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=artifact_location(uri, name))
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment keeps its files: for a local ``sqlite:///`` store, ``mlruns/<experiment>`` beside
    the database file (MLflow's default, ``./mlruns`` in the working directory, would scatter one store's files
    over every directory nnrun ran in); None (the store's default) for any other store.

    Example:
        >>> artifact_location("sqlite:////tmp/m.db", "iris")
        'file:///tmp/mlruns/iris'
    """
    if not uri.startswith("sqlite:///") or uri == "sqlite:///:memory:":
        return None
    database = Path(uri[len("sqlite:///"):].split("?", 1)[0]).resolve()
    return (database.parent / "mlruns" / re.sub(r"[^A-Za-z0-9._-]+", "_", experiment)).as_uri()


def _find(client: Any, exp_id: str, view: RunView) -> str | None:
    """The tracker run logged before for this run directory (same directory, same start time), or None."""
    started = view.tags.get("nnrun.started")
    path = view.tags["nnrun.run_dir"]
    if started is None or "'" in path:
        return None
    runs = client.search_runs([exp_id], max_results=1, filter_string=(
        f"tags.`nnrun.run_dir` = '{path}' and tags.`nnrun.started` = '{started}'"))
    return runs[0].info.run_id if runs else None


@contextmanager
def _active_run(mlflow: Any, uri: str, run_id: str) -> Any:
    """``mlflow.keras.log_model`` logs to the fluent API's active run at the global tracking URI: point both
    at ours for the call, then put the URI back."""
    old = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
            yield
    finally:
        mlflow.set_tracking_uri(old)
