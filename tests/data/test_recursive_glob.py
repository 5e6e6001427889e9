"""``data.path: data/**/*.csv``: a recursive glob matches shards in every subfolder (and the folder itself), in
sorted path order, alike in validate's path check, the in-memory read and streaming training."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import invoke

from nnrun.data.shards import find_shards

SHARDS = {"top.csv": 4, "a/p0.csv": 5, "b/p1.csv": 6, "b/c/p2.csv": 7}


def _write(tmp: Path) -> Path:
    for rel, rows in SHARDS.items():
        path = tmp / "gshards" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(rows)))
    config = tmp / "g.yaml"
    config.write_text("name: g\nseed: 0\ndata: {path: 'gshards/**/*.csv', target: y}\nmodel:\n  layers: "
                      "[{type: Dense, units: 1, activation: sigmoid}]\n  loss: binary_crossentropy\n"
                      "training: {epochs: 1}\n")
    return config


def test_a_recursive_glob_finds_shards_in_subfolders_in_sorted_order(tmp_path):
    config = _write(tmp_path)
    shards = find_shards("gshards/**/*.csv", config)
    assert [p.relative_to(tmp_path / "gshards").as_posix() for p in shards.paths] == \
        ["a/p0.csv", "b/c/p2.csv", "b/p1.csv", "top.csv"]
    assert [shards.key(p) for p in shards.paths] == ["a/p0.csv", "b/c/p2.csv", "b/p1.csv", "top.csv"]
    flat = find_shards("gshards/*/*.csv", config)  # a non-recursive glob keeps hashing file names
    assert [flat.key(p) for p in flat.paths] == ["p0.csv", "p1.csv"]
    validated = invoke("validate", config)
    assert validated.exit_code == 0, validated.stderr
    for streaming in ("false", "true"):
        result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--set", f"data.streaming={streaming}",
                        "--json", "--quiet", "--no-plots")
        assert result.exit_code == 0, result.stderr
        meta = json.loads((Path(json.loads(result.stdout)["run_dir"]) / "dataset.json").read_text())
        assert meta["num_examples"] == sum(SHARDS.values()), streaming
