"""No leakage: what a run learns from data (fills, vocabularies, normalization statistics) comes from the
training split only. The test reads the CSV and split.json itself and computes the training split's
statistics, then compares them with dataset.json and with the layers inside model.keras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import invoke

pytestmark = pytest.mark.slow


def _data(tmp_path: Path) -> Path:
    """60 rows whose column a grows steeply (so any row outside the training split moves its mean), with
    missing cells in a and b, and a colour 'violet' that only two validation rows have."""
    rng = np.random.default_rng(1)
    n = 60
    a = [f"{(i * i) / 10:.1f}" if i % 5 else "" for i in range(n)]
    b = [f"{v:.3f}" if i % 7 else "?" for i, v in enumerate(rng.normal(10, 3, size=n))]
    colour = rng.choice(["red", "green", "blue"], size=n)
    colour[[5, 33]] = "violet"
    label = ["yes" if i % 2 else "no" for i in range(n)]
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": a, "b": b, "colour": colour, "label": label}).to_csv(path, index=False)
    return path


def _train(tmp_path: Path, data: Path, layers: str, data_extra: str) -> Path:
    config = tmp_path / "leak.yaml"
    config.write_text(
        f"name: leak\nseed: 3\ndata: {{path: {data}, target: label, {data_extra}}}\n"
        f"model:\n  layers: {layers}\n  loss: binary_crossentropy\n  optimizer: adam\n"
        "training: {epochs: 1, validation_split: 0.3}\n")
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


def _load(run: Path):
    import keras

    return keras.models.load_model(run / "model.keras", safe_mode=True, compile=False)


def test_fills_vocabulary_and_normalization_come_from_the_training_split_only(tmp_path):
    data = _data(tmp_path)
    run = _train(tmp_path, data, "[{type: Dense, units: 1, activation: sigmoid}]",
                 "missing: {a: mean, b: median, colour: most_frequent}, normalize: true")
    frame = pd.read_csv(data, na_values=["", "?"], keep_default_na=False)
    train = frame.iloc[json.loads((run / "split.json").read_text())["train"]]
    assert len(train) == 42
    fill_a, fill_b = train["a"].mean(), train["b"].median()
    # the test is sharp: the whole file's statistics differ from the training split's
    assert abs(frame["a"].mean() - fill_a) > 1 and set(frame["colour"]) != set(train["colour"])

    spec = json.loads((run / "dataset.json").read_text())["features"]
    fills = {c["name"]: c["fill"] for c in spec["columns"]}
    assert fills["a"] == pytest.approx(fill_a, rel=1e-9) and fills["b"] == pytest.approx(fill_b, rel=1e-9)
    assert fills["colour"] == train["colour"].value_counts().sort_index().idxmax()
    assert spec["categorical"][0]["vocabulary"] == sorted(set(train["colour"]))

    numeric = train[["a", "b"]].fillna({"a": fill_a, "b": fill_b}).to_numpy(np.float64)
    np.testing.assert_allclose(spec["mean"], numeric.mean(axis=0), rtol=1e-6)  # float32 cells
    np.testing.assert_allclose(spec["variance"], numeric.var(axis=0), rtol=1e-6)
    layer = _load(run).get_layer("normalize")  # the Normalization inside the saved model
    np.testing.assert_allclose(np.ravel(layer.mean), numeric.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(layer.variance), numeric.var(axis=0), rtol=1e-5)


def test_a_first_normalization_layer_is_adapted_on_the_training_split_only(tmp_path):
    data = _data(tmp_path)
    run = _train(tmp_path, data, "[{type: Normalization}, {type: Dense, units: 1, activation: sigmoid}]",
                 "features: [a, b], missing: mean")
    frame = pd.read_csv(data, na_values=["", "?"], keep_default_na=False)
    train = frame.iloc[json.loads((run / "split.json").read_text())["train"]][["a", "b"]]
    numeric = train.fillna(train.mean()).to_numpy(np.float64)
    layer = _load(run).layers[0]
    assert type(layer).__name__ == "Normalization"
    np.testing.assert_allclose(np.ravel(layer.mean), numeric.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(layer.variance), numeric.var(axis=0), rtol=1e-5)
