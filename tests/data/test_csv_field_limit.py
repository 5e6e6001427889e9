"""Issue 18 item 11: a CSV field over the csv module's 131,072-character limit is a data error naming the
line, at train time as at predict time (it was ``internal error``, exit 1, when training)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import invoke


def _files(tmp_path: Path, at: int) -> Path:
    rows = [f"{i % 2},{(i // 2) % 2}" for i in range(40)]
    rows[at] = '"' + "x" * 140_000 + '",1'
    (tmp_path / "big.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "big.yaml"
    config.write_text("name: big\ndata: {path: big.csv, header: false, target: 1}\nmodel:\n"
                      "  layers: [{type: Dense, units: 1, activation: sigmoid}]\n  loss: binary_crossentropy\n"
                      "training: {epochs: 1}\n")
    return config


@pytest.mark.parametrize("at", [5, 30])  # in the header/delimiter sample, and after it
def test_train_names_the_line_of_a_field_over_the_limit(tmp_path, at):
    result = invoke("train", _files(tmp_path, at), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.stderr
    assert f"big.csv:{at + 1}: unreadable CSV: field larger than field limit (131072)" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_predict_names_the_same_line(tmp_path, xor_run):
    _files(tmp_path, 30)
    result = invoke("predict", xor_run, "--input", tmp_path / "big.csv")
    assert result.exit_code == 2
    assert re.search(r"big\.csv:31: unreadable CSV: field larger than field limit", result.stderr), result.stderr
