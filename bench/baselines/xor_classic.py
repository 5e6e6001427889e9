"""Baseline for bench section 1: the classic Keras XOR script, as tutorials write it.

A 2-2-1 network (relu hidden layer, sigmoid output), Adam with its default learning rate, batch size 1,
1000 epochs, NumPy arrays straight into ``model.fit``. The only departure from the tutorial version is
``verbose=0`` (no 1000 progress bars on stdout), which makes the baseline faster, not slower.

Prints one JSON line: ``{"seed", "train_seconds", "correct", "loss"}``; ``correct`` counts the XOR points
(of 4) whose prediction thresholded at 0.5 equals the label.

    python bench/baselines/xor_classic.py --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from keras import Input, utils  # noqa: E402
from keras.layers import Dense  # noqa: E402
from keras.models import Sequential  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()

    utils.set_random_seed(args.seed)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    y = np.array([0, 1, 1, 0], dtype="float32")

    model = Sequential([Input(shape=(2,)), Dense(2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=1, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start

    pred = model.predict(x, verbose=0)[:, 0]
    correct = int(((pred > 0.5) == (y > 0.5)).sum())
    print(json.dumps({"seed": args.seed, "train_seconds": seconds, "correct": correct,
                      "loss": float(history.history["loss"][-1])}))


if __name__ == "__main__":
    main()
