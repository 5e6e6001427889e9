"""training.mixed_precision (issue 17): Keras' policy while building; the output layer float32; float16 refused
where no GPU can run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.training.test_distribute import tiny_config


def test_bfloat16_trains_on_cpu_with_a_float32_output(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("checks the CPU path")
    from nnrun.backend import keras

    config = tiny_config(tmp_path, "bf16", "  mixed_precision: bfloat16\n")
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert "mixed_precision bfloat16 on CPU" in result.stderr
    out = json.loads(result.stdout)
    assert 0.0 < out["metrics"]["loss"] < 1.0
    model = keras().models.load_model(Path(out["run_dir"]) / "model.keras")
    hidden, head = model.layers[-2], model.layers[-1]
    assert (hidden.dtype_policy.name, hidden.compute_dtype, hidden.kernel.dtype) == \
        ("mixed_bfloat16", "bfloat16", "float32")
    assert head.dtype_policy.name == "float32"
    assert keras().mixed_precision.global_policy().name == "float32"  # restored after building


def test_float16_without_a_gpu_is_refused_before_writing(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is there")
    config = tiny_config(tmp_path, "fp16", "  mixed_precision: float16\n")
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2
    assert ("training.mixed_precision: float16 needs a GPU of compute capability 7.0 or more; this process has "
            "no GPU") in result.stderr
    assert "bfloat16 runs on CPU" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unknown_precision_is_a_config_error(tmp_path):
    result = invoke("validate", tiny_config(tmp_path, "bad", "  mixed_precision: float8\n"))
    assert result.exit_code == 2
    assert "training.mixed_precision" in result.stderr
