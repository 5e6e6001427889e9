"""Time nnrun's CSV reader against ``pandas.read_csv`` on the same file (no TensorFlow import).

nnrun reads every cell as a string first (so that a bad cell can be reported with its line and column),
then converts column by column; a plain script lets pandas' C parser produce floats directly.

Prints one JSON line: ``rows``, ``nnrun_seconds`` (``nnrun.data.dataset.read_table``), ``pandas_seconds``
(``pandas.read_csv`` + ``to_numpy(float32)``) and the ``max_abs_diff`` between the two feature matrices.

    python bench/probe_read.py CONFIG
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd

from nnrun.config.load import load_config
from nnrun.data.dataset import read_table


def main() -> None:
    loaded = load_config(sys.argv[1])
    start = time.perf_counter()
    table = read_table(loaded.config.data, loaded.path)
    nnrun_seconds = time.perf_counter() - start
    start = time.perf_counter()
    frame = pd.read_csv(table.source)
    x = frame.drop(columns=[table.target_name]).to_numpy(dtype=np.float32)
    pandas_seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(x), "nnrun_seconds": nnrun_seconds, "pandas_seconds": pandas_seconds,
                      "max_abs_diff": float(np.abs(x - table.x).max())}))


if __name__ == "__main__":
    main()
