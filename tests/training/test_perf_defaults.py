"""The fast defaults keep training exact: one dataset iteration is one epoch of ceil(n / batch_size) batches,
at any steps_per_execution, with a per-epoch shuffle that depends only on (seed, epoch). No timing here:
speed is measured by ``make bench`` (docs/benchmarks.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, invoke

from nnrun.config.load import TrainingConfig


def test_default_steps_per_execution_is_32():
    assert TrainingConfig().steps_per_execution == 32


def _batches(ds) -> list[np.ndarray]:
    return [b[0].numpy()[:, 0] for b in ds]


@pytest.mark.parametrize(("steps", "spe", "plan"), [
    (500, 32, (25, True)),   # a divisor >= half of 32: one stream of all epochs
    (3, 32, (3, True)),      # a short epoch: one call per epoch
    (1, 32, (1, True)),
    (37, 32, (32, False)),   # prime: one dataset per epoch, 32 per call, the last call shorter
    (64, 32, (32, True)),
    (40, 1, (1, True)),
])
def test_execution_plan_divides_the_epoch_or_ends_the_data_each_epoch(steps, spe, plan):
    from nnrun.training.pipeline import execution_plan

    assert execution_plan(steps, spe) == plan


def test_dataset_yields_one_exact_epoch_per_iteration_and_reshuffles_by_epoch():
    import tensorflow as tf

    from nnrun.training.pipeline import make_dataset, make_epochs_dataset

    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10, dtype=np.float32)
    epoch = tf.Variable(0, dtype=tf.int64)
    ds, steps = make_dataset(x, y, batch_size=3, shuffle=True, seed=7, epoch=epoch)
    assert steps == 4 and int(ds.cardinality()) == 4
    first = _batches(ds)
    assert int(epoch.numpy()) == 1  # each iteration takes the next epoch
    assert [len(b) for b in first] == [3, 3, 3, 1]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))  # every row once
    second = np.concatenate(_batches(ds))
    assert sorted(second.tolist()) == list(range(10))
    assert second.tolist() != np.concatenate(first).tolist()  # a new order in the next epoch
    epoch.assign(0)
    assert [b.tolist() for b in _batches(ds)] == [b.tolist() for b in first]  # epoch 0 again: the same order
    # the one-stream form: the same epochs back to back, from any epoch (a resumed run starts at its own)
    stream, _ = make_epochs_dataset(x, y, 3, True, 7, first_epoch=0, epochs=2)
    assert np.concatenate(_batches(stream)).tolist() == np.concatenate(first).tolist() + second.tolist()
    resumed, _ = make_epochs_dataset(x, y, 3, True, 7, first_epoch=1, epochs=2)
    assert np.concatenate(_batches(resumed)).tolist() == second.tolist()
    plain, _ = make_dataset(x, y, batch_size=3, shuffle=False, seed=7)
    assert [b.tolist() for b in _batches(plain)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    weighted, _ = make_dataset(x, y, 4, False, 0, sample_weight=np.full(10, 0.5, np.float32))
    assert [len(b) for b in weighted] == [3, 3, 3]  # (x, y, sample_weight) per batch
    assert next(iter(weighted))[2].numpy().tolist() == [0.5] * 4


def _tiny_fit(spe: int, rows: int = 10, batch_size: int = 3) -> tuple[list[int], dict, list[np.ndarray]]:
    from nnrun.backend import keras as _keras
    from nnrun.training.fit import FitData, fit

    keras = _keras()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", steps_per_execution=spe)
    updates: list[int] = []
    training = TrainingConfig(epochs=3, batch_size=batch_size, steps_per_execution=spe)
    result = fit(model, FitData(x, y, (x[:4], y[:4]), seed=0), training,
                 progress=lambda e, n, logs: updates.append(int(model.optimizer.iterations.numpy())))
    return updates, result.history, model.get_weights()


def test_epochs_are_exact_and_the_result_does_not_depend_on_steps_per_execution():
    # 10 rows, batch 3: 4 batches per epoch (one stream: 32 -> 4 per call, 3 -> 2); 74 rows, batch 2: 37
    # batches, prime (32 per call on a dataset that ends every epoch)
    for rows, batch, per_epoch in ((10, 3, 4), (74, 2, 37)):
        runs = {spe: _tiny_fit(spe, rows, batch) for spe in (1, 3, 32)}
        for spe, (updates, history, _) in runs.items():
            assert updates == [per_epoch, 2 * per_epoch, 3 * per_epoch], (rows, spe)  # never a block more
            assert len(history["loss"]) == len(history["val_loss"]) == 3
        for spe in (3, 32):
            np.testing.assert_allclose(runs[spe][1]["loss"], runs[1][1]["loss"], rtol=1e-6)
            for a, b in zip(runs[spe][2], runs[1][2], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.slow
def test_cli_train_runs_ceil_n_over_batch_updates_per_epoch(tmp_path):
    result = invoke("train", ROOT / "configs/iris.yaml", "--runs-dir", tmp_path, "--json", "--quiet", "--no-plots",
                    "--set", "training.epochs=3", "--set", "training.batch_size=16")
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    num_train = json.loads((run / "dataset.json").read_text())["num_train"]
    import keras

    model = keras.models.load_model(run / "model.keras", safe_mode=True, compile=True)
    assert model.steps_per_execution == 32
    assert int(model.optimizer.iterations.numpy()) == 3 * math.ceil(num_train / 16)
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 3


def test_unshuffled_and_dict_inputs_stream_every_epoch_in_row_order():
    from nnrun.training.pipeline import make_epochs_dataset

    x = {"numeric": np.arange(10, dtype=np.float32).reshape(10, 1),
         "cat_0": np.array([[c] for c in "abcdefghij"], dtype=object)}
    y = np.arange(10, dtype=np.float32)
    stream, steps = make_epochs_dataset(x, y, 4, False, 0, first_epoch=0, epochs=2)
    batches = list(stream)
    assert steps == 3 and len(batches) == 6
    assert [b[1].numpy().tolist() for b in batches[:3]] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(10)) * 2
    assert batches[4][0]["cat_0"].numpy().ravel().tolist() == [b"e", b"f", b"g", b"h"]
    assert batches[4][0]["numeric"].numpy().ravel().tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize(("x", "batch_size", "expected"), [
    (np.zeros((5, 50), np.float32), 32, 8192),       # a table: big batches
    (np.zeros((5, 784), np.float32), 32, 2674),      # wide rows: about 2M cells a batch
    (np.zeros((5, 100_000), np.float32), 32, 1024),  # never under 1,024
    (np.zeros((5, 8, 8, 1), np.float32), 32, 1024),  # images: activations grow with the example
    (np.array(["a text"], dtype=object), 32, 1024),  # texts
    ({"numeric": np.zeros((5, 3), np.float32), "cat_0": np.array([["a"]] * 5, dtype=object)}, 32, 8192),
    (np.zeros((5, 50), np.float32), 10_000, 10_000),  # never under the training batch size
])
def test_inference_batch_is_large_for_tables_only(x, batch_size, expected):
    from nnrun.inference.predictor import inference_batch

    assert inference_batch(x, batch_size) == expected


def test_split_indices_are_written_compactly_and_read_back(tmp_path):
    from nnrun import rundir

    path = tmp_path / "split.json"
    rundir.write_indices(path, {"train": np.array([0, 2, 3]), "validation": np.array([1], np.int64),
                                "test": np.zeros(0, np.int64), "folds": [np.array([4]), np.array([5, 6])]})
    assert json.loads(path.read_text()) == {"train": [0, 2, 3], "validation": [1], "test": [],
                                            "folds": [[4], [5, 6]]}
    assert len(path.read_text().splitlines()) == 6  # one line per key, not one per index
