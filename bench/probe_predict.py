"""In-process timing of `nnrun predict`'s path (bench section 5): start-up and streaming apart.

Runs what the ``predict`` command runs (``api.predict`` then ``writers.open_writer``), timing the import of
TensorFlow, the set-up (run directory, model load, reader) and the streaming of the rows, so that the rows/s
of the streaming part can be compared with ``model.predict`` on an in-memory array without the start-up noise.

    python bench/probe_predict.py RUN_DIR INPUT OUTPUT      # prints one JSON line
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    run_dir, source, output = sys.argv[1:4]
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401

    from nnrun import api
    from nnrun.inference import writers as render

    t1 = time.perf_counter()
    meta, _, batches = api.predict(run_dir, source)
    writer = render.open_writer(output, render.output_format(None, output), meta)
    t2 = time.perf_counter()
    ok = False
    try:
        for predictions, rows, _ in batches:
            writer.write(predictions, rows)
        ok = True
    finally:
        writer.close(ok)
    t3 = time.perf_counter()
    print(json.dumps({"rows": writer.count, "import_seconds": t1 - t0, "setup_seconds": t2 - t1,
                      "stream_seconds": t3 - t2}))


if __name__ == "__main__":
    main()
