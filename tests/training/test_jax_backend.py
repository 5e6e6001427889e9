"""backend: jax — training without TensorFlow, byte-identical resume, and predict parity between backends.

The Keras backend is fixed per process, and the test process runs TensorFlow: JAX runs in one subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, csv_shards, invoke

pytest.importorskip("jax", reason="JAX is not installed (pip install 'nnrun[jax]'; make test installs it)")

# Runs in a fresh process: train XOR on JAX (40 epochs), train 20 + resume to 40, cross-validate iris, predict a TensorFlow-trained
# run's rows on the backend chosen by default; writes what the test checks into out.json and .npy files.
JAX_SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np
from nnrun import api

out, iris_run, runs = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[1]) / "runs"
sets = ("backend=jax", "training.epochs=40")
full = api.train("configs/xor.yaml", sets, runs_dir=runs / "full", plots=False)
half = api.train("configs/xor.yaml", ("backend=jax", "training.epochs=20"), runs_dir=runs / "half", plots=False)
resumed = api.train(None, ("training.epochs=40",), resume=half["run_dir"], plots=False)
import shutil
shutil.copytree(iris_run, out / "iris-copy")
evaluated = api.evaluate(out / "iris-copy", plots=False)
cv = api.cv("configs/iris.yaml", 2, ("backend=jax", "training.epochs=3"), runs_dir=runs / "cv")
_, _, batches = api.predict(iris_run, "data/iris.csv")
np.save(out / "iris_jax.npy", np.concatenate([p.probabilities for p, _, _ in batches]))
_, _, batches = api.predict(full["run_dir"], "data/xor.csv")
np.save(out / "xor_jax.npy", np.concatenate([p.probabilities for p, _, _ in batches]))
import keras
from nnrun.config.load import load_config
from nnrun.inference.predictor import load_model
from nnrun.training.build import build_model
digits = build_model(load_config("configs/digits_cnn.yaml"), (8, 8, 1))  # RandomRotation: no XLA by Keras' default
jit = {"digits_cnn": digits.jit_compile, "iris_trained_on_tensorflow": load_model(Path(iris_run)).jit_compile}
(out / "out.json").write_text(json.dumps({
    "tensorflow_imported": "tensorflow" in sys.modules, "keras_backend": keras.backend.backend(), "jit": jit,
    "full": full, "resumed": resumed, "cv": cv, "evaluated": evaluated["metrics"]}))
"""


@pytest.fixture(scope="module")
def jax_process(tmp_path_factory, iris_run) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("jax")
    env = {k: v for k, v in os.environ.items() if k not in ("NNRUN_BACKEND", "KERAS_BACKEND")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(out), str(iris_run)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "out.json").read_text())


def test_jax_training_never_imports_tensorflow_and_records_the_backend(jax_process):
    _, doc = jax_process
    assert doc["tensorflow_imported"] is False and doc["keras_backend"] == "jax"
    assert doc["full"]["status"] == "completed" and doc["full"]["epochs"] == 40
    assert doc["full"]["evaluation"]["metrics"]["accuracy"] == 1.0
    info = json.loads((Path(doc["full"]["run_dir"]) / "run.json").read_text())
    assert info["backend"] == "jax" and info["jax_version"]
    assert "backend: jax" in (Path(doc["full"]["run_dir"]) / "config.yaml").read_text()


def test_jax_compiles_random_image_layers_and_tensorflow_saved_models_with_xla(jax_process):
    _, doc = jax_process  # without XLA, JAX runs a model op by op (digits_cnn: 30x slower per step)
    assert doc["jit"] == {"digits_cnn": True, "iris_trained_on_tensorflow": True}


def test_jax_cross_validation_trains_every_fold(jax_process):
    _, doc = jax_process
    folds = doc["cv"]["folds"]
    assert doc["cv"]["k"] == 2 and doc["cv"]["folds_done"] == 2 and doc["tensorflow_imported"] is False
    assert folds[0]["validation"] + folds[1]["validation"] == folds[0]["train"] + folds[0]["validation"]
    assert all(f["metrics"] for f in folds)


def test_jax_resume_is_byte_identical_to_an_uninterrupted_run(jax_process):
    _, doc = jax_process
    full, resumed = Path(doc["full"]["run_dir"]), Path(doc["resumed"]["run_dir"])
    assert doc["resumed"]["epochs"] == 40
    assert (resumed / "history.csv").read_text() == (full / "history.csv").read_text()
    import keras

    a, b = (keras.models.load_model(r / "model.keras", compile=False).get_weights() for r in (full, resumed))
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_predict_gives_the_same_outputs_on_both_backends(jax_process, iris_run):
    from nnrun import api

    out, doc = jax_process
    for run, data, name in ((iris_run, "data/iris.csv", "iris"), (doc["full"]["run_dir"], "data/xor.csv", "xor")):
        _, _, batches = api.predict(run, data, backend="tensorflow")  # this process runs TensorFlow
        on_tf = np.concatenate([p.probabilities for p, _, _ in batches])
        on_jax = np.load(out / f"{name}_jax.npy")
        assert on_tf.shape == on_jax.shape and on_tf.shape[0] in (150, 4)
        assert np.abs(on_tf - on_jax).max() <= 1e-5, name


def test_predict_backend_option_forces_one_and_refuses_a_switch_in_a_running_process(iris_run, tmp_path):
    ok = invoke("predict", iris_run, "--input", "data/iris.csv", "--backend", "tensorflow", "-o", tmp_path / "p.csv")
    assert ok.exit_code == 0, ok.stderr
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 151
    refused = invoke("predict", iris_run, "--input", "data/iris.csv", "--backend", "jax")
    assert refused.exit_code == 2
    assert "the jax backend was asked for, but Keras already runs on tensorflow in this process" in refused.stderr


def test_evaluate_on_jax_gives_the_tensorflow_metrics_of_a_tensorflow_run(jax_process, iris_run):
    _, doc = jax_process
    on_tf = json.loads((iris_run / "evaluation.json").read_text())["metrics"]
    assert doc["evaluated"].keys() == on_tf.keys()
    for name, value in on_tf.items():
        assert abs(doc["evaluated"][name] - value) <= 1e-5, name


def test_validate_refuses_layers_that_need_tensorflow_on_jax(tmp_path):
    config = tmp_path / "text.yaml"
    config.write_text("name: t\nbackend: jax\ndata: {x: [[1], [2]], y: [0, 1]}\nmodel:\n  layers:\n"
                      "    - {type: StringLookup}\n    - {type: Dense, units: 1, activation: sigmoid}\n"
                      "  loss: binary_crossentropy\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert ("model.layers[0].type: StringLookup needs TensorFlow: it cannot run on backend: jax; use backend: "
            "tensorflow (the default) for this model") in result.stderr


def test_backend_jax_is_refused_for_a_model_with_categorical_columns():
    from nnrun.config.load import load_config
    from nnrun.errors import UsageError
    from nnrun.inference.backend_choice import inference_backend

    loaded = load_config(ROOT / "configs/xor.yaml")
    with pytest.raises(UsageError, match="needs TensorFlow \\(its categorical columns are encoded by StringLookup"):
        inference_backend(loaded, {"features": {"categorical": [{"name": "colour"}]}}, "jax")


def test_validate_refuses_distribute_and_mixed_precision_on_jax(tmp_path):
    config = tmp_path / "dist.yaml"
    config.write_text("name: t\nbackend: jax\ndata: {x: [[1], [2]], y: [0, 1]}\nmodel:\n  layers:\n"
                      "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n"
                      "training:\n  distribute: {strategy: mirrored}\n  mixed_precision: bfloat16\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {config}:9:15: training.distribute: training.distribute runs on TensorFlow's tf.distribute: it "
        "cannot be used with backend: jax; use backend: tensorflow (the default) for this model",
        f"error: {config}:10:20: training.mixed_precision: training.mixed_precision is checked and set up with "
        "TensorFlow here: it cannot be used with backend: jax; use backend: tensorflow (the default) for this model"]


def test_streaming_true_is_refused_on_jax_at_its_key(tmp_path):
    csv_shards(tmp_path / "sh", rows=200)
    config = tmp_path / "s.yaml"
    config.write_text("name: s\nbackend: jax\ndata: {path: sh, target: y, streaming: true}\nmodel:\n  layers:\n"
                      "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {config}:3:40: data.streaming: true feeds model.fit through tf.data, which "
                             "needs TensorFlow: it cannot be used with backend: jax; use backend: tensorflow (the "
                             "default) for this model, or data.streaming: false (the data is read into memory)\n")
    assert invoke("validate", config, "--set", "data.streaming=false").exit_code == 0


def test_auto_deciding_to_stream_is_refused_on_jax_with_the_sizes(tmp_path):
    from nnrun.config.load import load_config
    from nnrun.errors import ConfigError
    from nnrun.training.stream import streamed_source

    csv_shards(tmp_path / "sh", rows=200)
    config = tmp_path / "s.yaml"
    config.write_text("name: s\nbackend: jax\ndata: {path: sh, target: y, memory_budget: 1KB}\nmodel:\n  layers:\n"
                      "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n")
    with pytest.raises(ConfigError) as caught:
        streamed_source(load_config(config), print)
    size = sum(p.stat().st_size for p in (tmp_path / "sh").iterdir())
    assert caught.value.args[0] == (f"{config}:3:7: data.streaming: auto: the data ({size / 1024:.3g} KiB on disk) "
                                 "exceeds data.memory_budget (1000 bytes), so it would stream, and streaming feeds "
                                 "model.fit through tf.data, which needs TensorFlow: it cannot run on backend: jax")
    assert caught.value.hint == ("use backend: tensorflow, or read the data into memory with a larger "
                                 "data.memory_budget (or data.streaming: false)")
    assert streamed_source(load_config(config, ["data.memory_budget=1MB"]), print) is None
    assert streamed_source(load_config(config, ["backend=tensorflow"]), print) is not None


def test_tensorboard_is_refused_on_jax_at_its_key(tmp_path):
    config = tmp_path / "tb.yaml"
    config.write_text("name: t\nbackend: jax\ndata: {x: [[1], [2]], y: [0, 1]}\nmodel:\n  layers:\n"
                      "    - {type: Dense, units: 1, activation: sigmoid}\n  loss: binary_crossentropy\n"
                      "training:\n  tensorboard: true\n")
    result = invoke("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {config}:9:16: training.tensorboard: Keras' TensorBoard callback writes its "
                             "logs with TensorFlow (tf.summary): it cannot be used with backend: jax; use backend: "
                             "tensorflow (the default) for this model, or tensorboard: false\n")
    assert invoke("validate", config, "--set", "backend=tensorflow").exit_code == 0
