"""``nnrun export``: a run's model in a format other runtimes load (SavedModel, ONNX, LiteRT).

Every format starts from one SavedModel whose ``serve`` signature calls the model with ``training=False``:
Keras' own ``model.export(format="tf_saved_model")`` traces ``model(x)`` with ``training`` unset, so random
augmentation layers (``RandomRotation`` in configs/digits_cnn.yaml) stay active in the exported graph
(measured: up to 0.198 from the Keras model's probabilities, and the random ops then block ONNX and LiteRT).
ONNX is that SavedModel converted by tf2onnx (Keras' ``format="onnx"`` turns Normalization's statistics into
graph inputs and writes invalid graphs for StringLookup); LiteRT is it converted by ``TFLiteConverter``.

The exported model takes what ``nnrun predict`` feeds the Keras model: one float32 tensor ``inputs``
(num_rows, num_features) (images: (num_rows, height, width, channels); texts: (num_rows, 1) strings), or
for runs with categorical columns the named inputs ``numeric`` (float32) and ``cat_<i>`` ((num_rows, 1)
strings); its one output ``output_0`` is the model's (num_rows, num_outputs) float32 output.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.backend import debug_enabled
from nnrun.errors import RunError, UsageError

FORMATS = ("saved_model", "onnx", "litert")
#: The one input's name when the model has a single (unnamed) input; named inputs keep their names.
SINGLE_INPUT = "inputs"
OUTPUT = "output_0"
#: Layers a format cannot hold -> the formats that can. Measured (TF 2.21, tf2onnx 1.17, LiteRT 2.3, configs/
#: sms_spam.yaml): tf2onnx has no mapping for TextVectorization's StaticRegexReplace and StringSplitV2 (it writes
#: a graph onnxruntime refuses to load), and LiteRT needs Flex ops for RaggedTensorToTensor, StaticRegexReplace,
#: StringLower and StringSplitV2, which the ``ai-edge-litert`` interpreter does not ship.
ONLY_IN = {"TextVectorization": ("saved_model",)}


def check_options(fmt: str, tolerance: float) -> None:
    """Raises UsageError: ``fmt`` is not one of ``FORMATS``, or ``tolerance`` is not a number >= 0."""
    import math

    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise UsageError(f"--tolerance: expected a number >= 0, got {tolerance}")


def layers_of(model: Any) -> list[Any]:
    """Every layer of ``model``, nested models' and wrappers' layers included, in order."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(layers_of(layer))
        inner = getattr(layer, "layer", None)  # Bidirectional, TimeDistributed
        if inner is not None and inner is not layer:
            found.append(inner)
    return found


def check_exportable(model: Any, fmt: str) -> None:
    """Refuse, before anything is written, a model that ``fmt`` cannot hold.

    Raises:
        UsageError: naming the layer, its class and the formats that can hold it (exit 2).
    """
    for layer in layers_of(model):
        holds = ONLY_IN.get(type(layer).__name__)
        if holds is not None and fmt not in holds:
            raise UsageError(
                f"--format {fmt}: the model's layer {layer.name!r} ({type(layer).__name__}) cannot be exported "
                f"to {fmt}: its string ops have no {fmt} equivalent; formats that can hold it: {', '.join(holds)}",
                hint=f"export it with --format {holds[0]}")


def serving_signature(model: Any) -> list[Any]:
    """The ``serve`` function's input signature: ``[TensorSpec]`` for one input (named ``SINGLE_INPUT``),
    ``[{name: TensorSpec}]`` for named inputs (the batch axis left free)."""
    import tensorflow as tf

    def spec(tensor: Any, name: str) -> Any:
        return tf.TensorSpec([None, *tensor.shape[1:]], tf.dtypes.as_dtype(tensor.dtype), name=name)

    inputs = list(model.inputs)
    if len(inputs) == 1 and not isinstance(getattr(model, "input", None), dict):
        return [spec(inputs[0], SINGLE_INPUT)]
    return [{str(t.name): spec(t, str(t.name)) for t in inputs}]


def signature_doc(model: Any) -> dict:
    """The exported model's inputs and output for ``export.json``: name, dtype, shape (null: any size)."""
    specs = serving_signature(model)[0]
    specs = specs if isinstance(specs, dict) else {SINGLE_INPUT: specs}
    inputs = [{"name": name, "dtype": s.dtype.name, "shape": list(s.shape.as_list())} for name, s in specs.items()]
    out = [None, *list(model.output_shape)[1:]]
    return {"inputs": inputs, "outputs": [{"name": OUTPUT, "dtype": "float32", "shape": out}]}


def write_saved_model(model: Any, folder: Path) -> None:
    """A SavedModel of ``model(x, training=False)`` in ``folder`` (created), signatures ``serve`` and
    ``serving_default``, through Keras' ``ExportArchive`` (see the module docstring for why not ``export``)."""
    from nnrun.backend import keras as _keras

    keras = _keras()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False), input_signature=serving_signature(model))
    archive.write_out(str(folder), verbose=False)


class _Unsupported(logging.Handler):
    """Collects tf2onnx's 'Unsupported ops' log record: tf2onnx logs them and still writes a graph that
    onnxruntime then refuses to load."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "nsupported" in text or "is not supported" in text:
            self.messages.append(text)


def write_onnx(saved_model: Path, path: Path) -> None:
    """Convert the SavedModel in ``saved_model`` to ONNX at ``path`` with tf2onnx, as its command line
    (``python -m tf2onnx.convert --saved-model``) does: its hash tables (StringLookup) become ONNX ops.

    Raises:
        UsageError: tf2onnx has no mapping for some TensorFlow ops (named with the layers they come from).
    """
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common  # the public from_* functions take no SavedModel tables

    graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(saved_model), None, None, "serve", ["serving_default"], None, False,
        return_initialized_tables=True, return_tensors_to_rename=True)
    catcher = _Unsupported()
    logger = logging.getLogger("tf2onnx")
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate = [catcher], debug_enabled()  # its warnings are noise to users
    logger.setLevel(logging.DEBUG if debug_enabled() else logging.ERROR)
    try:
        _convert_common(graph_def, name="nnrun", input_names=inputs, output_names=outputs,
                        tensors_to_rename=renames, initialized_tables=tables, output_path=str(path))
    except OSError:
        raise
    except Exception as exc:  # tf2onnx raises ValueError/KeyError/… for a graph it cannot map
        raise UsageError(f"--format onnx: tf2onnx cannot convert this model: {_first_line(exc)}",
                         hint="export it as saved_model") from None
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
    if catcher.messages:
        raise UsageError(f"--format onnx: tf2onnx cannot convert this model: {'; '.join(catcher.messages)}",
                         hint="export it as saved_model (it holds every TensorFlow op)")


def write_litert(saved_model: Path, path: Path) -> None:
    """Convert the SavedModel in ``saved_model`` to a LiteRT flatbuffer (``.tflite``) at ``path``, with
    TensorFlow's builtin ops only (no Flex delegate: the ``ai-edge-litert`` interpreter cannot run it).

    Raises:
        UsageError: the converter needs ops LiteRT does not have (named).
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    try:
        flat = converter.convert()
    except Exception as exc:
        text = str(exc)
        marker = "TF Select ops:"
        ops = text[text.index(marker) + len(marker):].splitlines()[0].strip() if marker in text else _first_line(exc)
        raise UsageError(f"--format litert: LiteRT has no builtin ops for: {ops}",
                         hint="export it as saved_model or onnx") from None
    with rundir.AtomicWrite(path) as tmp:
        tmp.write_bytes(flat)


def write_format(model: Any, fmt: str, folder: Path) -> None:
    """Write ``model`` in format ``fmt`` into the (new, empty) ``folder``: the SavedModel itself, or
    ``model.onnx`` / ``model.tflite`` converted from a SavedModel in a temporary folder (then removed).

    Raises:
        UsageError: the converter refuses an op (see ``write_onnx``, ``write_litert``).
        RunError: a file cannot be written.
    """
    if fmt == "saved_model":
        write_saved_model(model, folder)
        return
    with tempfile.TemporaryDirectory(prefix=".nnrun-export-", dir=folder) as tmp:
        write_saved_model(model, Path(tmp) / "saved_model")
        writer = write_onnx if fmt == "onnx" else write_litert
        writer(Path(tmp) / "saved_model", folder / rundir.EXPORT_FILES[fmt])


def file_list(folder: Path) -> list[dict]:
    """The exported files under ``folder`` (export.json left out), sorted: relative path, bytes, SHA-256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != rundir.EXPORT_JSON)
    return [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": rundir.sha256(p)}
            for p in files]


def versions() -> dict:
    """The versions of the libraries that wrote and checked an export."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("nnrun", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def describe(model: Any, fmt: str, meta: dict, parity: dict) -> dict:
    """The body of ``export.json`` (without ``files``): format, signature, classes, the run's feature spec,
    the parity check's figures, versions."""
    import datetime

    return {"format": fmt, **signature_doc(model), "task": meta["task"], "classes": meta.get("classes"),
            "target_encoding": meta.get("target_encoding"), "from_logits": bool(meta.get("from_logits")),
            "features": meta.get("features"), **parity, "versions": versions(),
            "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}



def write_checked(  # 7 parameters: the export's parts, one to one
    model: Any, meta: dict, fmt: str, target: Path, rows: Any, tolerance: float, force: bool = False,
) -> dict:
    """Write ``model`` as ``fmt`` to the folder ``target`` atomically with its ``export.json``, once its own
    runtime has given the Keras model's outputs on ``rows`` (``parity.Rows``) within ``tolerance``; an export
already at ``target`` is replaced only with ``force`` (see ``staging.staged``).

    Returns:
        The export.json document.

    Raises:
        UsageError: a converter refuses an op; something appeared at ``target`` while exporting.
        RunError: parity above ``tolerance`` (``target`` is left as it was), or a file cannot be written.
    """
    from nnrun.inference import parity
    from nnrun.inference.predictor import Predictor
    from nnrun.inference.staging import staged

    reference = Predictor(model, meta).raw(rows.x).astype("float64")
    names = [i["name"] for i in signature_doc(model)["inputs"]]
    with staged(target, force) as tmp:
        write_format(model, fmt, tmp)
        diff = parity.compare(fmt, tmp / rundir.EXPORT_FILES.get(fmt, ""), reference, rows.x, names)
        if not diff <= tolerance:
            raise RunError(f"{target}: the {fmt} export disagrees with the Keras model: max abs difference "
                           f"{diff:.3g} on {rows.count} {rows.subset} rows, above --tolerance {tolerance:g}; "
                           "nothing was written", hint="report it with the run's model; or raise --tolerance")
        checked = {"max_abs_diff": diff, "tolerance": tolerance, "rows_checked": rows.count,
                   "rows_subset": rows.subset, "runtime": parity.RUNTIMES[fmt][0]}
        doc = {**describe(model, fmt, meta, checked), "files": file_list(tmp)}
        rundir.write_json(tmp / rundir.EXPORT_JSON, doc)
    return doc
