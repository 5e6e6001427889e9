"""--threshold P: a binary classifier predicts the second class exactly when its probability is >= P."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
from conftest import ROOT, invoke


def test_threshold_moves_the_decision_between_two_rows(tmp_path):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--json", "--quiet", "--no-plots",
                    "--set", "training.epochs=3")
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])

    def predict(*extra: str) -> list[dict]:
        out = invoke("predict", run, "--input", ROOT / "data/xor.csv", *extra)
        assert out.exit_code == 0, out.stderr
        return list(csv.DictReader(io.StringIO(out.stdout)))

    rows = predict()
    assert all(re.fullmatch(r"[01]\.\d{6}", r[k]) for r in rows for k in ("prob_0", "prob_1"))  # 6 decimals
    import keras

    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)  # data/xor.csv's rows
    own = keras.models.load_model(run / "model.keras", safe_mode=True, compile=False).predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose([float(r["prob_1"]) for r in rows], own, atol=5.01e-7)  # rounded to 6 decimals
    probs = sorted(float(r["prob_1"]) for r in rows)
    assert [r["prediction"] for r in rows] == ["1" if float(r["prob_1"]) >= 0.5 else "0" for r in rows]
    cut = (probs[1] + probs[2]) / 2  # between the second and third probability: two rows on each side
    assert probs[1] < cut < probs[2]
    chosen = predict("--threshold", str(cut))
    assert [r["prediction"] for r in chosen] == ["1" if float(r["prob_1"]) > cut else "0" for r in rows]
    assert sum(r["prediction"] == "1" for r in chosen) == 2
    assert {r["prediction"] for r in predict("--threshold", "0")} == {"1"}  # >= : a probability of 0 passes 0


def test_a_probability_equal_to_the_threshold_gives_the_second_class():
    """>= P, not > P: probabilities exactly representable in binary, so equality is exact."""
    from nnrun.inference.predictor import to_predictions

    meta = {"task": "classification", "target_encoding": "binary", "classes": ["no", "yes"]}
    raw = np.array([[0.25], [0.5], [0.75]], dtype=np.float32)
    assert list(to_predictions(raw, meta, 0.5).values) == ["no", "yes", "yes"]
    assert list(to_predictions(raw, meta, 0.75).values) == ["no", "no", "yes"]
    assert list(to_predictions(raw, meta, 0.25).values) == ["yes", "yes", "yes"]
