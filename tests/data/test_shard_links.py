"""Symbolic links among shards: a broken link is an error naming it (it was skipped, its rows silently missing),
and two names of one file are refused naming both (its rows were read twice, and the split by shard name could
make one row both a training and a validation row) — in ``validate`` and in ``train``, for a folder and a glob."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import csv_shards, invoke

CONFIG = ("name: s\ndata: {path: '%s', target: y, streaming: %s}\n"
          "model: {layers: [{type: Dense, units: 1, activation: sigmoid}], loss: binary_crossentropy}\n"
          "training: {epochs: 1}\n")


def _errors(tmp: Path, path: str, streaming: str = "true") -> list[str]:
    config = tmp / "s.yaml"
    config.write_text(CONFIG % (path, streaming))
    checked = invoke("validate", config)  # (validate has no --json: its message on stderr)
    assert checked.exit_code == 2, checked.stdout
    trained = invoke("train", config, "--runs-dir", tmp / "runs", "--no-plots", "--json")
    assert trained.exit_code == 2, trained.stdout
    out = [checked.stderr, json.loads(trained.stdout)["error"]["message"]]
    assert not (tmp / "runs").exists()
    return out


@pytest.mark.parametrize("pattern", ["", "*.csv"])
def test_a_broken_link_among_the_shards_is_an_error_naming_it(tmp_path, pattern):
    folder = csv_shards(tmp_path / "d")
    link = folder / "part-2.csv"
    link.symlink_to("/nonexistent/x.csv")
    for message in _errors(tmp_path, str(folder / pattern)):
        assert f"{link}: a broken symbolic link (to /nonexistent/x.csv, which does not exist)" in message


@pytest.mark.parametrize(("pattern", "streaming"), [("", "true"), ("*.csv", "false")])
def test_two_names_of_one_shard_are_refused_naming_both(tmp_path, pattern, streaming):
    folder = csv_shards(tmp_path / "d")
    (folder / "part-5.csv").symlink_to("part-0.csv")
    for message in _errors(tmp_path, str(folder / pattern), streaming):
        assert f"{folder / 'part-0.csv'} and {folder / 'part-5.csv'}: the same file" in message
