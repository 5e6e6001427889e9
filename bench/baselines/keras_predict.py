"""Baseline for bench section 5: ``model.predict`` on in-memory NumPy arrays.

Loads a saved ``.keras`` model, reads the CSV with ``pandas.read_csv`` (dropping the target column ``y``
if present), predicts with ``model.predict(x, batch_size=1024)`` (nnrun's batch size) and writes the
probabilities with ``DataFrame.to_csv``. Each step is timed separately, so the predict-only rate is
``rows / predict_seconds``.

Prints one JSON line: ``rows``, ``load_seconds``, ``read_seconds``, ``predict_seconds``, ``write_seconds``.

    python bench/baselines/keras_predict.py --model runs/x/model.keras --input big.csv --output out.csv
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = keras.models.load_model(args.model)
    t1 = time.perf_counter()
    frame = pd.read_csv(args.input)
    x = frame.drop(columns=[c for c in ("y",) if c in frame.columns]).to_numpy(dtype="float32")
    t2 = time.perf_counter()
    p1 = model.predict(x, batch_size=1024, verbose=0)[:, 0]
    t3 = time.perf_counter()
    out = pd.DataFrame({"prediction": (p1 > 0.5).astype(np.int64), "prob_0": 1.0 - p1, "prob_1": p1})
    out.to_csv(args.output, index=False, float_format="%.6f")
    t4 = time.perf_counter()
    print(json.dumps({"rows": len(x), "load_seconds": t1 - t0, "read_seconds": t2 - t1,
                      "predict_seconds": t3 - t2, "write_seconds": t4 - t3}))


if __name__ == "__main__":
    main()
