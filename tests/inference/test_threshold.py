"""--threshold P: a binary classifier predicts the second class exactly when its probability is >= P."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

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
    probs = sorted(float(r["prob_1"]) for r in rows)
    assert [r["prediction"] for r in rows] == ["1" if float(r["prob_1"]) >= 0.5 else "0" for r in rows]
    cut = (probs[1] + probs[2]) / 2  # between the second and third probability: two rows on each side
    assert probs[1] < cut < probs[2]
    chosen = predict("--threshold", str(cut))
    assert [r["prediction"] for r in chosen] == ["1" if float(r["prob_1"]) > cut else "0" for r in rows]
    assert sum(r["prediction"] == "1" for r in chosen) == 2
    assert {r["prediction"] for r in predict("--threshold", "0")} == {"1"}  # >= : a probability of 0 passes 0
