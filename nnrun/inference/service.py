"""A run's model kept loaded to answer prediction requests (``nnrun serve``), with no HTTP in it.

A request body is turned into model inputs and its predictions into records by the same functions as
``nnrun predict --format json`` (``data.batches.document_inputs``, ``Predictor``, ``writers.json_records``), so
both answer the same rows with the same records; a bad body is answered with the message predict would print.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun import __version__, rundir
from nnrun.errors import DataError, NnrunError, UsageError, error_document

#: The name requests have in messages (``request: row 2: expected 4 features, got 3``).
REQUEST = "request"

#: Keys a ``POST /predict`` body may have.
BODY_KEYS = ("rows", "texts", "threshold")


@dataclass
class Answer:
    """An HTTP answer: its status code and its JSON body (bytes)."""

    status: int
    body: bytes


class Service:
    """The loaded model of one run, ready to answer ``POST /predict`` bodies from several threads.

    Args:
        run_dir: a directory made by ``nnrun train``.

    Raises:
        UsageError: not a run directory, or its model does not fit its data. RunError: the model cannot be
            loaded (safe mode) or the run's files are damaged.
    """

    def __init__(self, run_dir: Path | str) -> None:
        from nnrun.evaluation.examples import load_run
        from nnrun.inference.predictor import Predictor, load_model

        self.run, loaded, self.meta = load_run(run_dir)
        self.name = loaded.config.name
        self.model = load_model(self.run, meta=self.meta)
        self.predictor = Predictor(self.model, self.meta)
        self.classes = list(self.meta["classes"]) if self.meta["task"] == "classification" else None
        self.warm_up()
        self.info = self.describe()

    def warm_up(self) -> None:
        """Call the model on made-up rows of 1 and 2 rows (0 for numbers, a training category, a short text),
        so that the first request does not pay for tracing the model's function."""
        spec = self.meta.get("features") or {}
        cats = {c["name"]: (c.get("vocabulary") or ["?"])[0] for c in spec.get("categorical") or []}
        row = ["warm up" if spec.get("text") else cats.get(f, 0) for f in self.meta["feature_names"]]
        for rows in ([row], [row, row]):
            try:
                self.predict({"rows": rows})
            except Exception:  # noqa: BLE001 (made-up rows a model refuses: the first request traces instead)
                return

    def answer(self, body: bytes) -> Answer:
        """A ``POST /predict`` body's answer: 200 with ``{"predictions": [...], "warnings": [...]}``; 400 for a
        body that is not JSON; 422 for rows predict would refuse (its message, in ``error_document``'s shape);
        500 when the model fails. Never raises."""
        try:
            doc = self.parse(body)
        except NnrunError as exc:
            return _error(400, exc)
        try:
            return Answer(200, self.predict(doc))
        except NnrunError as exc:
            return _error(422 if isinstance(exc, (DataError, UsageError)) else 500, exc)
        except Exception as exc:  # noqa: BLE001 (a bug: answered, and the server goes on)
            message = f"internal error: {type(exc).__name__}: {exc}"
            return Answer(500, json.dumps(error_document("InternalError", message, 1)).encode())

    @staticmethod
    def parse(body: bytes) -> dict:
        """A body as a JSON object with ``rows`` (or ``texts``) and an optional ``threshold``.

        Raises:
            DataError: not UTF-8, empty, invalid JSON (line:column), not an object, unknown keys.
        """
        from nnrun.data.readers.common import decode
        from nnrun.data.readers.jsondoc import parse_json

        if not body.strip():
            raise DataError(f'{REQUEST}: the body is empty; send {{"rows": [[...], ...]}} as JSON')
        doc = parse_json(decode(body, REQUEST), REQUEST)
        if not isinstance(doc, dict) or not ({"rows", "texts"} & set(doc)):
            raise DataError(f'{REQUEST}: expected a JSON object {{"rows": [[...], ...]}} (rows in feature order, '
                            'or objects keyed by feature name), or {"texts": [...]} for a text model')
        unknown = [k for k in doc if k not in BODY_KEYS]
        if unknown:
            raise DataError(f"{REQUEST}: unknown key {unknown[0]!r}; a body has: {', '.join(BODY_KEYS)}")
        return doc

    def predict(self, doc: dict) -> bytes:
        """The predictions for a parsed body, as the JSON bytes of ``{"predictions", "warnings"}``.

        Raises:
            DataError, UsageError: the rows (as ``nnrun predict`` words it), a bad threshold.
        """
        from nnrun.data.batches import document_inputs
        from nnrun.inference.unseen import UnseenCategories
        from nnrun.inference.writers import json_records

        threshold = doc.get("threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise UsageError(f"{REQUEST}: threshold must be a number from 0 to 1, got {json.dumps(threshold)}")
        rows = doc["rows"] if "rows" in doc else self.text_rows(doc["texts"])
        x, _ = document_inputs(rows, REQUEST, self.meta)
        unseen = UnseenCategories(self.meta.get("features") or {})
        unseen.add(x)
        preds = self.predictor(x, float(threshold))
        records = ",".join(json_records(preds, None, self.classes))
        return f'{{"predictions":[{records}],"warnings":{json.dumps(unseen.notes())}}}'.encode()

    def text_rows(self, texts: Any) -> list:
        """``{"texts": [...]}`` as rows of one text each (text models only).

        Raises:
            DataError: not a text model, or not a non-empty list.
        """
        if not (self.meta.get("features") or {}).get("text"):
            raise DataError(f'{REQUEST}: "texts" is for text models; this model takes "rows" of '
                            f"{len(self.meta['feature_names'])} feature(s): {', '.join(self.meta['feature_names'])}")
        if not isinstance(texts, list) or not texts:
            raise DataError(f"{REQUEST}: texts: expected a non-empty list of strings")
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise DataError(f"{REQUEST}: texts[{bad}]: expected a string, got {json.dumps(texts[bad])[:40]}")
        return [[t] for t in texts]

    def describe(self) -> dict:
        """``GET /metadata``: the run, its task, features (kind; categories for categorical columns), classes,
        the versions of nnrun and Keras (serving and trained), the backends (and their versions) that trained and
        that serve it, and the model file's SHA-256."""
        from nnrun.backend import keras as _keras

        info = rundir.read_json(self.run / rundir.RUN) if (self.run / rundir.RUN).exists() else {}
        spec = self.meta.get("features") or {}
        kinds = {c["name"]: c["kind"] for c in spec.get("columns") or []}
        vocab = {c["name"]: c.get("vocabulary") for c in spec.get("categorical") or []}
        features = [{"name": f, "kind": "text" if spec.get("text") else kinds.get(f, "numeric"),
                     **({"categories": vocab[f]} if f in vocab else {})} for f in self.meta["feature_names"]]
        keras = _keras()
        backend = keras.backend.backend()  # only that backend's library is asked (on JAX, TensorFlow is not loaded)
        library = __import__(backend)
        return {
            "run": self.name, "run_dir": str(self.run), "task": self.meta["task"], "classes": self.classes,
            "target": self.meta["target_name"], "features": features,
            "model": {"file": rundir.MODEL, "sha256": _sha256(self.run / rundir.MODEL), "trained": info.get("ended"),
                      "nnrun_version": info.get("nnrun_version"), "keras_version": info.get("keras_version"),
                      "tensorflow_version": info.get("tensorflow_version"), "backend": info.get("backend")},
            "server": {"nnrun_version": __version__, "keras_version": keras.__version__, "backend": backend,
                       f"{backend}_version": library.__version__},
        }


def _error(status: int, exc: NnrunError) -> Answer:
    doc = error_document(type(exc).__name__, str(exc), int(exc.exit_code))
    return Answer(status, json.dumps(doc).encode())


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
