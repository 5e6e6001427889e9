"""Issue 18 item 15: the missing-value hint suggests only policies that fit the column's kind, and a mixed
column's message says how many cells are text."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnrun.config.load import load_config
from nnrun.errors import DataError
from nnrun.training.prepare import prepare


def _prepare(tmp_path: Path, rows: list[str]) -> None:
    (tmp_path / "d.csv").write_text("\n".join(["color,size,y", *rows]) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text("name: c\ndata: {path: d.csv, target: y}\nmodel:\n"
                      "  layers: [{type: Dense, units: 1, activation: sigmoid}]\n  loss: binary_crossentropy\n")
    prepare(load_config(config), lambda m: None)


def test_a_text_column_is_offered_only_the_policies_that_fit_it(tmp_path):
    rows = [f"{'red' if i % 2 else 'blue'},{i},{i % 2}" for i in range(10)]
    rows[3] = ",3,1"
    with pytest.raises(DataError) as err:
        _prepare(tmp_path, rows)
    message = err.value.message
    assert "d.csv:5: column 'color': missing value ('') in 1 row(s)" in message
    assert "set data.missing (drop, most_frequent, constant; for all columns or as {color: most_frequent})" \
        in message
    assert "median" not in message and "mean" not in message


def test_a_numeric_column_keeps_mean_and_median(tmp_path):
    rows = [f"red,{i},{i % 2}" for i in range(10)]
    rows[2] = "red,,0"
    with pytest.raises(DataError, match=r"\(drop, mean, median, most_frequent, constant; .* \{size: median\}\)"):
        _prepare(tmp_path, rows)


def test_a_mixed_column_says_how_many_cells_are_text(tmp_path):
    rows = [f"red,{i},{i % 2}" for i in range(10)]
    rows[4], rows[7] = "red,big,0", "red,huge,1"
    with pytest.raises(DataError) as err:
        _prepare(tmp_path, rows)
    assert "d.csv:6: column 'size': expected a number, got 'big' (2 of the 10 cells read in this column are text, the " \
        "others numbers)" in err.value.message
