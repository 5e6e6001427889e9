"""``evaluate`` of a streamed run whose shards changed since training: the split hashes (shard name, row), so a
renamed or copied shard would turn training rows into "validation" rows (refused, exit 2, both names given);
an added, removed or edited shard is named in a warning, as an in-memory run's changed file is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

CONFIG = ("name: s\nseed: 1\ndata: {path: '%s', target: y, streaming: true}\n"
          "model: {layers: [{type: Dense, units: 4, activation: relu}, {type: Dense, units: 1, activation: sigmoid}],"
          " loss: binary_crossentropy, metrics: [accuracy]}\n"
          "training: {epochs: 1, batch_size: 16, validation_split: 0.3}\n")


def write_parts(folder: Path, parts: int = 3, rows: int = 40, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(parts):
        a, b = rng.normal(size=rows), rng.normal(size=rows)
        lines = ["a,b,y"] + [f"{x:.4f},{z:.4f},{int(x + z > 0)}" for x, z in zip(a, b, strict=True)]
        (folder / f"part-{k}.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def streamed(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("changes")
    parts = write_parts(tmp / "sh")
    config = tmp / "s.yaml"
    config.write_text(CONFIG % parts)
    result = invoke("train", config, "--runs-dir", tmp / "runs", "--json", "--quiet", "--no-plots")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"]), parts


def _evaluate(run: Path):
    return invoke("evaluate", run, "--json")


def test_unchanged_shards_evaluate_without_a_warning(streamed):
    run, _ = streamed
    meta = json.loads((run / "dataset.json").read_text())
    assert sorted(meta["streaming"]["shard_sha256"]) == ["part-0.csv", "part-1.csv", "part-2.csv"]
    result = _evaluate(run)
    assert result.exit_code == 0 and "changed" not in result.stderr


def test_a_renamed_or_copied_shard_is_refused(streamed):
    run, parts = streamed
    (parts / "part-2.csv").rename(parts / "part-9.csv")
    try:
        result = _evaluate(run)
    finally:
        (parts / "part-9.csv").rename(parts / "part-2.csv")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert "part-2.csv renamed to part-9.csv" in error["message"] and "--data FILE" in error["message"]
    shutil.copy(parts / "part-1.csv", parts / "part-5.csv")
    try:
        result = _evaluate(run)
    finally:
        (parts / "part-5.csv").unlink()
    assert result.exit_code == 2 and "part-5.csv is a copy of part-1.csv" in json.loads(result.stdout)["error"]["message"]


def test_an_added_removed_or_edited_shard_is_named_in_a_warning(streamed):
    run, parts = streamed
    before = _evaluate(run)
    extra = write_parts(parts.parent / "more", parts=1, seed=5) / "part-0.csv"
    shutil.copy(extra, parts / "part-7.csv")
    try:
        result = _evaluate(run)
    finally:
        (parts / "part-7.csv").unlink()
    assert result.exit_code == 0
    assert "the shards changed since training (part-7.csv added); the split refers to the old shards" in result.stderr
    counts = json.loads(before.stdout), json.loads(result.stdout)
    assert counts[0] != counts[1]  # more validation rows: the warning is not idle
    kept = (parts / "part-0.csv").read_bytes()
    (parts / "part-0.csv").write_bytes(kept + b"0.5,0.5,1\n")
    (parts / "part-1.csv").rename(parts.parent / "away.csv")
    try:
        result = _evaluate(run)
    finally:
        (parts / "part-0.csv").write_bytes(kept)
        (parts.parent / "away.csv").rename(parts / "part-1.csv")
    assert result.exit_code == 0
    assert "(part-1.csv removed; part-0.csv's content changed)" in result.stderr


def _recorded(shards) -> dict:
    from nnrun.data.shard_changes import shard_shas
    from nnrun.data.shards import digest

    shas = shard_shas(shards)
    return {"sha256": digest(shards, list(shas.values())),
            "streaming": {"shards": list(shas), "shard_sha256": shas}}


def test_swapped_shard_names_and_a_move_under_a_recursive_glob_are_leaks(tmp_path):
    from nnrun.data.shard_changes import describe
    from nnrun.data.shards import find_shards

    parts = write_parts(tmp_path / "sh", parts=2)
    (parts / "sub").mkdir()
    (parts / "part-1.csv").rename(parts / "sub" / "part-1.csv")
    pattern = str(parts / "**" / "*.csv")
    meta = _recorded(find_shards(pattern, None))
    assert describe(meta, find_shards(pattern, None)) == ([], False)

    (parts / "sub" / "part-1.csv").rename(parts / "part-1.csv")  # its split key changes: sub/part-1.csv -> part-1.csv
    assert describe(meta, find_shards(pattern, None)) == (["sub/part-1.csv renamed to part-1.csv"], True)

    (parts / "part-1.csv").rename(parts / "sub" / "part-1.csv")
    a, b = parts / "part-0.csv", parts / "sub" / "part-1.csv"
    a_text, b_text = a.read_text(), b.read_text()
    a.write_text(b_text)
    b.write_text(a_text)  # same names, contents swapped: each name now holds the other's trained rows
    assert describe(meta, find_shards(pattern, None)) == (
        ["part-0.csv now holds what sub/part-1.csv held", "sub/part-1.csv now holds what part-0.csv held"], True)
