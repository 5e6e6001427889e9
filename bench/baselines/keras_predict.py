"""Baseline for bench section 5: ``model.predict`` on in-memory NumPy arrays.

Loads a saved ``.keras`` model, reads the CSV with ``pandas.read_csv`` (dropping the target column ``y``
if present), predicts with ``model.predict(x, batch_size=1024)`` and writes the probabilities with
``DataFrame.to_csv``. Each step is timed separately, so the predict-only rate is ``rows / predict_seconds``.
``--batch-sizes 1024,8192`` also times ``model.predict`` on the same in-memory array at the other batch
sizes (8192 is what ``nnrun predict`` feeds its model per call), after one warm-up call each.

Prints one JSON line: ``rows``, ``load_seconds``, ``read_seconds``, ``predict_seconds`` (the first batch
size), ``predict_seconds_by_batch``, ``write_seconds``.

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
    parser.add_argument("--batch-sizes", default="1024", help="comma-separated; the first one writes the output")
    args = parser.parse_args()
    batches = [int(b) for b in args.batch_sizes.split(",")]

    t0 = time.perf_counter()
    model = keras.models.load_model(args.model)
    t1 = time.perf_counter()
    frame = pd.read_csv(args.input)
    x = frame.drop(columns=[c for c in ("y",) if c in frame.columns]).to_numpy(dtype="float32")
    t2 = time.perf_counter()
    p1 = model.predict(x, batch_size=batches[0], verbose=0)[:, 0]
    t3 = time.perf_counter()
    out = pd.DataFrame({"prediction": (p1 > 0.5).astype(np.int64), "prob_0": 1.0 - p1, "prob_1": p1})
    out.to_csv(args.output, index=False, float_format="%.6f")
    t4 = time.perf_counter()
    by_batch = {str(batches[0]): t3 - t2}
    for b in batches[1:]:  # after the output is written: not part of the end-to-end run (extra_seconds)
        model.predict(x[: 2 * b], batch_size=b, verbose=0)  # warm-up: trace for this batch size
        t = time.perf_counter()
        model.predict(x, batch_size=b, verbose=0)
        by_batch[str(b)] = time.perf_counter() - t
    print(json.dumps({"rows": len(x), "load_seconds": t1 - t0, "read_seconds": t2 - t1,
                      "predict_seconds": t3 - t2, "predict_seconds_by_batch": by_batch,
                      "write_seconds": t4 - t3, "extra_seconds": time.perf_counter() - t4}))

if __name__ == "__main__":
    main()
