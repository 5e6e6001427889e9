"""Sharded data (a folder or a glob of CSV / Parquet shards) read in memory through the one reader, and the
streaming learning pass (``stream_spec.learn``) that must learn what the in-memory path learns. No TensorFlow."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnrun.config.schema import DataConfig
from nnrun.data.dataset import read_table
from nnrun.data.readers import ReadOptions
from nnrun.data.shards import find_shards
from nnrun.data.stream_read import TEST, TRAIN, VALIDATION, hash_roles
from nnrun.data.stream_spec import Moments, learn
from nnrun.errors import DataError


def write_shards(folder: Path, rows: int = 360, shards: int = 3, seed: int = 1) -> Path:
    """``shards`` CSV and Parquet shards of generated rows: 3 numeric columns (x2 with missing cells), a
    categorical column with missing cells, a 3-class label."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": (rng.normal(size=rows) * 10**i).round(4) for i in range(3)})
    df.loc[rng.random(rows) < 0.1, "x2"] = np.nan
    df["colour"] = rng.choice(["red", "green", "blue", None], size=rows)
    df["label"] = rng.choice(["a", "b", "c"], size=rows)
    folder.mkdir(parents=True, exist_ok=True)
    per = rows // shards
    for k in range(shards):
        part = df.iloc[k * per:(k + 1) * per]
        part.to_csv(folder / f"part-{k:04d}.csv", index=False)
        part.to_parquet(folder / f"part-{k:04d}.parquet", index=False)
    df.to_csv(folder.parent / f"{folder.name}-all.csv", index=False)
    return folder


def _cfg(path: str | Path, **extra) -> DataConfig:
    return DataConfig(path=str(path), target="label", normalize=True,
                      missing={"x2": "mean", "colour": "most_frequent"}, **extra)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("sh") / "parts")


def test_a_glob_of_shards_reads_like_the_whole_file(shards):
    whole = read_table(_cfg(shards.parent / "parts-all.csv"))
    glob = read_table(_cfg(shards / "*.csv"))
    assert glob.source.endswith("parts/*.csv")
    assert list(glob.y) == list(whole.y) and len(glob.y) == 360
    assert glob.encode(np.arange(360), _cfg("x")) == whole.encode(np.arange(360), _cfg("x"))


def test_a_folder_of_parquet_shards_reads_every_row(shards, tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    for p in shards.glob("*.parquet"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "_SUCCESS").write_text("")  # Spark's marker file is not a shard
    table = read_table(_cfg(folder))
    assert len(table.y) == 360 and table.fmt == "parquet"
    assert table.where_row(250) == f"{folder / 'part-0002.parquet'}: row 11"


def test_a_bad_cell_in_a_late_gzipped_shard_names_the_shard_and_line(shards, tmp_path):
    folder = tmp_path / "gz"
    folder.mkdir()
    for p in sorted(shards.glob("*.csv")):
        lines = p.read_text().splitlines()
        if p.name == "part-0002.csv":
            lines[56] = "abc" + lines[56][lines[56].index(","):]
        (folder / (p.name + ".gz")).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(DataError) as exc:
        read_table(_cfg(folder / "part-*.csv.gz"))
    assert exc.value.message.startswith(f"{folder / 'part-0002.csv.gz'}:57: column 'x0': expected a number, got 'abc'")


def test_shards_with_different_columns_name_both_shards(shards, tmp_path):
    folder = tmp_path / "cols"
    folder.mkdir()
    (folder / "a.csv").write_text((shards / "part-0000.csv").read_text())
    (folder / "b.csv").write_text("x0,x1,x2,label\n1,2,3,a\n")
    with pytest.raises(DataError) as exc:
        read_table(_cfg(folder))
    assert exc.value.message == (f"{folder / 'b.csv'}: its columns differ from {folder / 'a.csv'}'s "
                                 f"({folder / 'b.csv'} lacks 'colour'); every shard needs the same columns")


def test_a_glob_that_matches_nothing_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"part-\*\.csv: no file matches this pattern"):
        find_shards(tmp_path / "part-*.csv", None)


@pytest.mark.parametrize("pattern", ["*.csv", "*.parquet"])
def test_the_learning_pass_learns_what_the_in_memory_path_learns(shards, pattern):
    whole = read_table(_cfg(shards / pattern))
    spec = whole.encode(np.arange(len(whole.y)), _cfg("x"))
    learnt = learn(find_shards(shards / pattern, None), _cfg("x"), ReadOptions(), (0.0, 0.0, 0), True)
    assert learnt.classes == ["a", "b", "c"] and learnt.rows == [360, 0, 0]
    assert [c["name"] for c in learnt.spec["columns"]] == ["x0", "x1", "x2", "colour"]
    assert learnt.spec["categorical"] == spec["categorical"]  # vocabulary, fill (most_frequent), encoding
    assert learnt.spec["categorical"][0]["vocabulary"] == ["blue", "green", "red"]
    for mine, theirs in zip(learnt.spec["columns"], spec["columns"], strict=True):
        assert mine["kind"] == theirs["kind"] and mine["missing"] == theirs["missing"]
        numeric_fill = isinstance(theirs["fill"], float)
        assert mine["fill"] == (pytest.approx(theirs["fill"], rel=1e-12) if numeric_fill else theirs["fill"])
    np.testing.assert_allclose(learnt.spec["mean"], spec["mean"], rtol=1e-6)
    np.testing.assert_allclose(learnt.spec["variance"], spec["variance"], rtol=1e-6)


def test_a_bad_row_in_the_last_shard_stops_the_learning_pass_with_its_line(shards, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for p in sorted(shards.glob("*.csv")):
        text = p.read_text()
        if p.name == "part-0002.csv":
            text = text.replace("\n", "\n1.5,2.5,oops,red,a\n", 1)  # line 2 of the last shard
        (folder / p.name).write_text(text)
    with pytest.raises(DataError) as exc:
        learn(find_shards(folder, None), _cfg("x"), ReadOptions(), (0.2, 0.0, 0), True)
    assert exc.value.message.startswith(f"{folder / 'part-0002.csv'}:2: column 'x2': expected a number, got 'oops'")


def test_hash_split_is_stable_and_near_its_fractions():
    labels = np.arange(20_000)
    roles = hash_roles(7, "part-0001.csv", labels, 0.2, 0.1)
    assert np.array_equal(roles, hash_roles(7, "part-0001.csv", labels, 0.2, 0.1))
    assert not np.array_equal(roles, hash_roles(8, "part-0001.csv", labels, 0.2, 0.1))
    share = [float(np.mean(roles == r)) for r in (TRAIN, VALIDATION, TEST)]
    assert share == pytest.approx([0.7, 0.2, 0.1], abs=0.01)


def test_merged_moments_equal_numpys():
    rng = np.random.default_rng(0)
    values = rng.normal(5, 3, size=10_001)
    m = Moments()
    for part in np.array_split(values, 7):
        m.add(part)
    assert (m.n, m.mean, m.variance) == (10_001, pytest.approx(values.mean(), rel=1e-12),
                                         pytest.approx(values.var(), rel=1e-12))


def test_validation_shards_are_appended_like_a_validation_file(shards, tmp_path):
    from nnrun.config.load import load_config_text
    from nnrun.training.prepare import prepare

    validation = f"{shards}/part-000[12].csv"
    text = (f"name: v\ndata: {{path: '{shards / 'part-0000.csv'}', target: label, validation: {{path: '{validation}'}},"
            " missing: {x2: mean, colour: most_frequent}}\n"
            "model: {layers: [{type: Dense, units: 3, activation: softmax}], loss: sparse_categorical_crossentropy}\n")
    prep = prepare(load_config_text(text, str(tmp_path / "c.yaml")), print)
    assert (prep.meta["num_train"], prep.meta["num_validation"]) == (120, 240)
    assert prep.meta["files"]["validation"]["path"].endswith("part-000[12].csv")
