"""Baselines for bench sections 2, 3 and 6: an MLP trained by a plain Keras script from a CSV file.

Two flavours of the same script:

* ``--mode plain`` (section 2): what a careful user writes to match an nnrun config exactly: the same
  layers, seed, batch size, epochs, shuffle and ``steps_per_execution``, NumPy arrays into ``model.fit``.
* ``--mode naive`` (section 3): the script most people write: ``pandas.read_csv``, NumPy arrays,
  ``model.fit(x, y, epochs=..., validation_split=0.2)`` and every other argument left at Keras' default
  (batch size 32, ``steps_per_execution=1``, ``verbose="auto"``, shuffling).

The CSV has a header; the target is the last column (0/1). The model is Dense(units, relu) for each
``--units`` entry, then Dense(1, sigmoid), binary cross-entropy, Adam(learning_rate=--lr).

Prints one JSON line on stdout (after anything Keras prints): ``load_seconds``, ``train_seconds``
(``model.fit`` wall time), ``epoch_ends`` (seconds from the start of ``fit`` to each epoch's end, recorded
by a callback that only reads the clocks), ``epoch_cpu`` (the process's CPU seconds at the same points) and
``history``.

    python bench/baselines/keras_mlp.py --data table.csv --mode plain --batch-size 256 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pandas as pd  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """Records when each epoch ends, in seconds since ``fit`` began."""

    def on_train_begin(self, logs=None):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.ends: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter() - self.start)
        self.cpu.append(time.process_time() - self.cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--mode", choices=["plain", "naive"], default="plain")
    parser.add_argument("--units", default="64,64", help="hidden layer widths, comma-separated")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--shuffle", choices=["true", "false"], default="true")
    parser.add_argument("--validation-split", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    frame = pd.read_csv(args.data)
    x = frame.iloc[:, :-1].to_numpy(dtype="float32")
    y = frame.iloc[:, -1].to_numpy(dtype="float32").reshape(-1, 1)
    load_seconds = time.perf_counter() - start

    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential([keras.Input(shape=(x.shape[1],))])
    for units in args.units.split(","):
        model.add(keras.layers.Dense(int(units), activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    clock = EpochClock()
    if args.mode == "naive":
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(args.lr), metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(x, y, epochs=args.epochs, validation_split=0.2, callbacks=[clock])
    else:
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(args.lr), metrics=["accuracy"],
                      steps_per_execution=args.steps_per_execution)
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                            shuffle=args.shuffle == "true", validation_split=args.validation_split,
                            callbacks=[clock])
    train_seconds = time.perf_counter() - start
    sys.stdout.flush()
    print("\n" + json.dumps({
        "mode": args.mode, "rows": len(x), "load_seconds": load_seconds, "train_seconds": train_seconds,
        "epoch_ends": clock.ends, "epoch_cpu": clock.cpu,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
    }))


if __name__ == "__main__":
    main()
