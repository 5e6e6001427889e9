"""Train with nnrun in-process (``nnrun.api.train``, what ``nnrun train --quiet`` calls) and report timings.

bench/run.py uses it where the CLI's single ``train_seconds`` is not enough: per-epoch times, several
seeds or trials in one process, a breakdown of the time outside ``model.fit``, and levers that nnrun does
not expose. The levers are applied from outside, without editing nnrun:

* trial ``"jit": true``: ``model.jit_compile = True`` on the compiled model (XLA; Keras' ``"auto"`` leaves
  it off on CPU-only machines);
* trial ``"pipeline": "per-example"``: ``nnrun.training.pipeline.make_dataset`` replaced by nnrun's earlier pipeline
  (cache, shuffle and batch example by example) instead of its batch-level one (an index permutation per
  epoch, sliced into batches, rows gathered with one ``tf.gather`` per batch);
* trial ``"set": [...]``: ``--set`` overrides (``training.steps_per_execution=1``, …);
* ``--threads INTRA,INTER``: ``tf.config.threading`` for the whole process, before anything runs.

Output: one JSON line per trained run with ``trial``, ``seed``, ``train_seconds`` (nnrun's own ``model.fit``
timing), ``epoch_ends`` (seconds from entering ``nnrun.training.fit.fit`` to the end of each epoch), ``epoch_cpu``
(the process's CPU seconds at the same points), ``history`` (history.csv), ``phases`` (seconds per workflow
step, with ``--phases``) and, with ``--xor-check``, ``correct``: how many of the four XOR points the saved
model classifies correctly.

    python bench/probe_nnrun.py CONFIG --runs-dir DIR [--set K=V]... [--seeds 0,1,2] \
        [--trial '{"name": "jit", "jit": true}']... [--threads 1,1] [--phases] [--cache-data]
    python bench/probe_nnrun.py --check-xor RUN_DIR...     # predict the 4 XOR points with saved runs
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
XOR_POINTS = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
XOR_TRUTH = [0, 1, 1, 0]
CURRENT: dict = {}  # the trial being run: read by the patched functions


def per_example_dataset(original):
    """A drop-in for ``nnrun.training.pipeline.make_dataset`` with nnrun's earlier per-example pipeline (cache, shuffle
    example by example, batch), kept finite so that epochs stay exact: the lever shows what batching row
    indices and gathering rows per batch (nnrun's pipeline now) buys."""

    @functools.wraps(original)
    def make(x, y, batch_size, shuffle, seed, sample_weight=None, epoch=None):
        if CURRENT.get("pipeline") != "per-example" or sample_weight is not None:
            return original(x, y, batch_size, shuffle, seed, sample_weight=sample_weight, epoch=epoch)
        import tensorflow as tf

        n = len(x)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if shuffle:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), max(1, math.ceil(n / batch_size))

    return make


def _timed(module, name: str, phases: dict, label: str) -> None:
    """Wrap ``module.name`` so that its wall time accumulates in ``phases[label]``."""
    original = getattr(module, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[label] = phases.get(label, 0.0) + time.perf_counter() - start

    setattr(module, name, wrapper)


def _xor_correct(run_dir: Path) -> int:
    """Points of XOR the saved model gets right: its sigmoid output thresholded at 0.5 (class 1 = label 1)."""
    import keras
    import numpy as np

    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    p1 = np.asarray(model.predict(np.array(XOR_POINTS, dtype="float32"), verbose=0)).reshape(-1)
    return int(sum(int(p > 0.5) == t for p, t in zip(p1, XOR_TRUTH, strict=True)))


def _optimizer_steps(model) -> int | None:
    """Gradient updates the model's optimizer made: the batches training actually ran."""
    try:
        return int(model.optimizer.iterations.numpy())
    except Exception:  # no model (failed run) or an optimizer without a counter
        return None


def _emit(doc: dict) -> None:
    print(json.dumps(doc), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--runs-dir")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--seeds", default=None, help="comma-separated; one training run per seed")
    parser.add_argument("--trial", action="append", default=[], help="JSON: name, set, jit, pipeline")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the trials this many times, every other round in reverse order (load drift)")
    parser.add_argument("--threads", default=None, metavar="INTRA,INTER")
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--cache-data", action="store_true", help="read each data file once per process")
    parser.add_argument("--xor-check", action="store_true")
    parser.add_argument("--check-xor", nargs="+", metavar="RUN_DIR")
    args = parser.parse_args()

    t_process = time.perf_counter()
    from nnrun import api, rundir
    from nnrun.backend import keras as import_keras
    from nnrun.data import dataset as data
    from nnrun.training import build as builder
    from nnrun.training import fit as training
    from nnrun.training import pipeline

    import_start = time.perf_counter()
    import_keras()
    import_seconds = time.perf_counter() - import_start
    import tensorflow as tf

    if args.check_xor:
        for run in args.check_xor:
            _emit({"run_dir": run, "correct": _xor_correct(Path(run))})
        sys.stdout.flush()
        os._exit(0)

    if args.threads:
        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    pipeline.make_dataset = per_example_dataset(pipeline.make_dataset)
    original_build = builder.build_model

    def build(*a, **kw):
        model = original_build(*a, **kw)
        CURRENT["_model"] = model
        if CURRENT.get("jit"):
            model.jit_compile = True
        return model

    builder.build_model = build
    if args.cache_data:
        original_read = data.read_table
        cache: dict = {}

        def read_once(data_cfg, *a, **kw):
            key = (repr(data_cfg), repr(a), repr(kw))
            if key not in cache:
                cache[key] = original_read(data_cfg, *a, **kw)
            return cache[key]

        data.read_table = read_once

    clock: dict = {}
    original_fit = training.fit

    def clocked_fit(*a, **kw):
        clock["start"] = time.perf_counter()
        clock["cpu"] = time.process_time()
        return original_fit(*a, **kw)

    training.fit = clocked_fit
    phases: dict = {}
    if args.phases:  # top-level steps of api.train; "of which …" entries are inside one of them
        import importlib

        workflow = [api]  # the steps of api.train: nnrun.training.run (train_one) and records (summary.txt)
        for name in ("nnrun.training.run", "nnrun.training.records"):
            try:
                workflow.append(importlib.import_module(name))
            except ImportError:
                pass
        for module in workflow:
            _timed(module, "load_config", phases, "config")
            _timed(module, "prepare", phases, "read_data")
            _timed(module, "dry_run", phases, "dry_run")
            _timed(module, "model_summary", phases, "summary")
        _timed(builder, "build_model", phases, "build_model")
        _timed(training, "fit", phases, "fit")
        original_save = rundir.save_model

        def save_model(*a, **kw):  # checkpoints are saved inside fit: count them apart
            label = "of which checkpoints (in fit)" if CURRENT.get("_in_fit") else "save_model"
            start = time.perf_counter()
            try:
                return original_save(*a, **kw)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - start

        rundir.save_model = save_model
        inner_fit = training.fit

        def fit_flagged(*a, **kw):
            CURRENT["_in_fit"] = True
            try:
                return inner_fit(*a, **kw)
            finally:
                CURRENT["_in_fit"] = False

        training.fit = fit_flagged
        try:
            evaluation = importlib.import_module("nnrun.evaluation.evaluate")
            _timed(evaluation, "_plots", phases, "of which plots")
            _timed(evaluation, "evaluate_model", phases, "evaluation report")
        except ImportError:
            pass

    trials = [json.loads(t) for t in args.trial] or [{"name": "default"}]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [None]
    order = [t for r in range(args.rounds) for t in (trials if r % 2 == 0 else trials[::-1])]
    for trial in order:
        for seed in seeds:
            CURRENT.clear()
            CURRENT.update(trial)
            phases.clear()
            ends: list[float] = []
            cpu: list[float] = []
            overrides = (*args.overrides, *trial.get("set", ()), *((f"seed={seed}",) if seed is not None else ()))

            def progress(epoch: int, epochs: int, logs: dict, ends: list = ends, cpu: list = cpu) -> None:
                ends.append(time.perf_counter() - clock["start"])
                cpu.append(time.process_time() - clock["cpu"])

            start = time.perf_counter()
            try:
                result = api.train(args.config, overrides, args.runs_dir, progress=progress)
            except Exception as exc:  # a lever nnrun refuses (unknown --set key, …): report, go on
                _emit({"trial": trial.get("name"), "seed": seed, "error": f"{type(exc).__name__}: {exc}"})
                continue
            total = time.perf_counter() - start
            run = Path(result["run_dir"])
            with open(run / rundir.HISTORY, newline="") as fh:
                rows = list(csv.DictReader(fh))
            history = {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}
            out = {"trial": trial.get("name"), "seed": seed, "train_seconds": result["train_seconds"],
                   "api_seconds": total, "epoch_ends": ends, "epoch_cpu": cpu, "history": history,
                   "import_seconds": import_seconds, "process_seconds": time.perf_counter() - t_process,
                   "run_dir": str(run), "optimizer_steps": _optimizer_steps(CURRENT.get("_model"))}
            if args.phases:
                phases["other"] = total - sum(v for k, v in phases.items() if not k.startswith("of which"))
                out["phases"] = dict(phases)
            if args.xor_check:
                out["correct"] = _xor_correct(run)
            _emit(out)
    sys.stdout.flush()
    os._exit(0)  # skip TensorFlow's slow interpreter teardown; all output is flushed


if __name__ == "__main__":
    main()
