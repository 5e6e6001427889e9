"""Import TensorFlow and Keras, report how long that took, then run a command in the same process.

bench/run.py uses it to split a process's wall time into the TensorFlow import (measured in that very
process, so another process's luck with the disk cache or the machine's load does not leak in), the
training time the program reports, and the rest: the program's own start-up and shutdown. It also wraps
``keras.Model.fit`` to report each call's wall and CPU time (CPU time: all threads of the process, which
another program's load on the machine disturbs much less than wall time).

    python bench/pre_import.py nnrun train configs/xor.yaml ...     # the nnrun CLI
    python bench/pre_import.py bench/baselines/xor_classic.py ...    # a script

The import time goes to stderr as ``BENCH_TF_IMPORT_SECONDS=<seconds>``, each fit as
``BENCH_FIT wall=<seconds> cpu=<seconds>``; stdout is the command's own.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

start = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402,F401
import tensorflow  # noqa: E402,F401

sys.stderr.write(f"BENCH_TF_IMPORT_SECONDS={time.perf_counter() - start}\n")
sys.stderr.flush()
_fit = keras.Model.fit


def _clocked_fit(self, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return _fit(self, *args, **kwargs)
    finally:
        sys.stderr.write(f"BENCH_FIT wall={time.perf_counter() - wall} cpu={time.process_time() - cpu}\n")
        sys.stderr.flush()


keras.Model.fit = _clocked_fit

target, *rest = sys.argv[1:]
if target == "nnrun":
    sys.argv = ["nnrun", *rest]
    from nnrun.cli import main

    main()
else:
    sys.argv = [target, *rest]
    runpy.run_path(target, run_name="__main__")
