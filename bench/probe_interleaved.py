"""Same settings, one process: nnrun's training loop against a plain ``model.fit``, alternating round by round.

Separate processes (section 2's main table) carry each process's luck: on a shared 2-core machine one run of
either program can take 50 % longer than the next. Here both arms run in the same process, one after the
other, again and again, on the same arrays: a fresh model each time (built, compiled and traced anew), the
same seed, batch size, epochs, ``steps_per_execution`` and no shuffling, after one untimed round of each. The
per-round ratio nnrun/plain compares two runs made seconds apart.

* nnrun: the model ``nnrun.training.build.build_model`` makes from the config, trained by ``nnrun.training.fit.fit``
  (what ``nnrun train`` runs: its input pipeline, callbacks and end-of-training checkpoint into a scratch run
  directory). Timed: what nnrun reports as its training time (building the input pipeline and ``model.fit``);
  the whole ``training.fit`` call, with the final checkpoint, is in ``nnrun_whole_call``.
* plain: ``keras.Sequential`` of the same layers, compiled the same way, ``model.fit(x, y, batch_size,
  epochs, shuffle=False, verbose=0)`` on the same NumPy arrays. Timed: the ``fit`` call.

Prints one JSON line: ``nnrun`` and ``plain`` (seconds per round), ``ratios`` (per round), the same for the
process's CPU time (``nnrun_cpu``, ``plain_cpu``, ``cpu_ratios``: all threads; descheduling by other tenants
of the machine does not count, so they move less than wall times), ``losses``
(final training loss of each arm in round 1) and ``order`` (which arm ran first in each round).

    python bench/probe_interleaved.py CONFIG --rounds 6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from nnrun.config.load import load_config  # noqa: E402
from nnrun.training.build import build_model, input_shape  # noqa: E402
from nnrun.training.fit import FitData  # noqa: E402
from nnrun.training.prepare import prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    from nnrun.backend import keras as _keras
    from nnrun.training import fit as training

    keras = _keras()
    loaded = load_config(args.config)
    cfg = loaded.config
    prep = prepare(loaded, lambda m: None)
    meta, x, y = prep.meta, prep.table.x, prep.y
    t = cfg.training

    whole: list[float] = []  # the whole training.fit call: callbacks set up, the final checkpoint written

    def nnrun_arm(scratch: Path) -> tuple[float, float, float]:
        keras.utils.set_random_seed(cfg.seed)
        model = build_model(loaded, input_shape(meta["features"]), meta["features"])
        start, cpu = time.perf_counter(), time.process_time()
        result = training.fit(model, FitData(x, y, seed=cfg.seed), t, run_dir=scratch)
        whole.append(time.perf_counter() - start)
        return result.seconds, result.history["loss"][-1], time.process_time() - cpu

    import yaml

    spec = yaml.safe_load(Path(args.config).read_text())["model"]  # bench/harness.py's mlp_config: Dense layers

    def plain_arm() -> tuple[float, float, float]:
        keras.utils.set_random_seed(cfg.seed)
        model = keras.Sequential([keras.Input((x.shape[1],))])
        for layer in spec["layers"]:
            model.add(keras.layers.Dense(layer["units"], activation=layer["activation"]))
        model.compile(loss=spec["loss"], optimizer=keras.optimizers.Adam(spec["optimizer"]["learning_rate"]),
                      metrics=spec.get("metrics", []), steps_per_execution=t.steps_per_execution)
        start, cpu = time.perf_counter(), time.process_time()
        history = model.fit(x, y, batch_size=t.batch_size, epochs=t.epochs, shuffle=False, verbose=0)
        return time.perf_counter() - start, history.history["loss"][-1], time.process_time() - cpu

    out: dict = {"nnrun": [], "plain": [], "ratios": [], "nnrun_cpu": [], "plain_cpu": [], "cpu_ratios": [],
                 "order": [], "losses": {}}
    with tempfile.TemporaryDirectory() as scratch:  # untimed: the process's first TensorFlow work is slower
        nnrun_arm(Path(scratch))
    plain_arm()
    for r in range(args.rounds):
        order = ["nnrun", "plain"] if r % 2 == 0 else ["plain", "nnrun"]
        got = {}
        for who in order:
            if who == "nnrun":
                with tempfile.TemporaryDirectory() as scratch:
                    got[who] = nnrun_arm(Path(scratch))
            else:
                got[who] = plain_arm()
            print(f"round {r + 1} {who}: {got[who][0]:.3f} s", file=sys.stderr, flush=True)
        out["nnrun"].append(got["nnrun"][0])
        out["plain"].append(got["plain"][0])
        out["ratios"].append(got["nnrun"][0] / got["plain"][0])
        out["nnrun_cpu"].append(got["nnrun"][2])
        out["plain_cpu"].append(got["plain"][2])
        out["cpu_ratios"].append(got["nnrun"][2] / got["plain"][2])
        out["order"].append(order[0])
        if r == 0:
            out["losses"] = {"nnrun": float(got["nnrun"][1]), "plain": float(got["plain"][1])}
    out["nnrun_whole_call"] = whole[1:]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
