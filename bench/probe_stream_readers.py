"""Probe for issue 16: one streamed epoch's reading, through nnrun's chunked readers (pyarrow, with nnrun's cell
checks, fills and encoding) against tf.data's own CSV reader (``tf.data.experimental.make_csv_dataset``: parsing
only, none of nnrun's checks, fills or encodings), on the same CSV shards, batch 1,024, no shuffling, no model.

    .venv/bin/python bench/probe_stream_readers.py --rows 500000 --rounds 3

Prints one JSON line: the seconds of each reader per round (alternating), and their medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streaming import CONFIG, generate  # noqa: E402


def nnrun_epoch(config: Path) -> float:
    """Seconds to iterate one epoch of nnrun's streamed training batches (read, checked, encoded)."""
    from nnrun.config.load import load_config
    from nnrun.training.prepare import prepare

    prep = prepare(load_config(config, ("training.shuffle=false",)), lambda m: None, False)
    data = prep.fit_data()
    steps = -(-data.num_train // 1024)
    start = time.perf_counter()
    count = sum(1 for _ in data.epoch_batches(0, 1024, steps, False))
    assert count == steps, (count, steps)
    return time.perf_counter() - start


def tf_data_epoch(pattern: str) -> float:
    """Seconds to iterate tf.data's CSV reader over the same shards (every row, batches of 1,024)."""
    import tensorflow as tf

    ds = tf.data.experimental.make_csv_dataset(pattern, batch_size=1024, label_name="y", num_epochs=1,
                                               shuffle=False, prefetch_buffer_size=tf.data.AUTOTUNE)
    start = time.perf_counter()
    for _ in ds:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnrun-probe-") as tmp:
        folder = Path(tmp)
        generate(folder, args.rows, 125_000)
        config = folder / "c.yaml"
        config.write_text(CONFIG.format(name="probe", path=folder / "csv" / "*", streaming="true"))
        times: dict[str, list[float]] = {"nnrun": [], "tf_data": []}
        for r in range(args.rounds):
            for arm in ("nnrun", "tf_data") if r % 2 == 0 else ("tf_data", "nnrun"):
                times[arm].append(nnrun_epoch(config) if arm == "nnrun" else tf_data_epoch(str(folder / "csv" / "*")))
    print(json.dumps({"rows": args.rows, "seconds": times,
                      "median": {k: statistics.median(v) for k, v in times.items()}}))


if __name__ == "__main__":
    main()
