"""The shipped Keras catalog (used by `nnrun validate` without TensorFlow) matches the installed Keras."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from nnrun.config import registry

pytestmark = pytest.mark.slow


def test_catalog_matches_installed_keras(tmp_path):
    out = tmp_path / "catalog.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools/gen_catalog.py"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    fresh = json.loads(out.read_text())
    shipped = registry.catalog()
    if fresh["keras_version"] != shipped["keras_version"]:
        pytest.fail(f"nnrun/keras_catalog.json is for Keras {shipped['keras_version']}, installed is "
                    f"{fresh['keras_version']}: run `make catalog`")
    assert fresh == shipped


def test_lookup_accepts_keras_spellings():
    assert registry.lookup("optimizers", "adam").class_name == "Adam"
    assert registry.lookup("optimizers", "Adam").key == "adam"
    assert registry.lookup("losses", "mse").class_name == "MeanSquaredError"
    assert registry.lookup("losses", "binary_crossentropy").class_name == "BinaryCrossentropy"
    assert registry.lookup("metrics", "acc").key == "acc"
    assert registry.lookup("losses", "nope") is None


def test_suggest():
    assert registry.suggest("Dens", ["Dense", "Dropout"]) == " (did you mean 'Dense'?)"
    assert registry.suggest("dense", ["Dense"]) == " (did you mean 'Dense'?)"
    assert registry.suggest("zzzz", ["Dense"]) == ""
