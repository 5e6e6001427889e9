"""Messages show cells as plain values (``nan``, ``inf``), not numpy's reprs (``np.float64(nan)``)."""

from __future__ import annotations

import numpy as np
import pytest

from nnrun.data.features import bad_cell_message, bad_number, missing_message, shown
from tests.conftest import invoke


def test_cells_are_shown_as_plain_values():
    assert [shown(np.float64("nan")), shown(np.float64("inf")), shown(np.int64(3)), shown("?")] == [
        "nan", "inf", "3", "'?'"]
    assert bad_number(np.float64("inf")) == "expected a finite number within float32 range (±3.4e38), got inf"
    assert "got inf" in bad_cell_message("f.csv:2", "a", np.float64("inf"))
    assert "missing value (nan) in 1 row(s)" in missing_message(lambda i: f"f.csv:{i}", [2], "a", np.float64("nan"))


@pytest.mark.parametrize("row, phrase", [("[5.1, 3.5, 1e400, 0.2]", "got inf"),
                                         ("[5.1, NaN, 1.4, 0.2]", "missing value (nan)")])
def test_predict_messages_name_plain_values(iris_run, tmp_path, row, phrase):
    path = tmp_path / "rows.json"
    path.write_text(f"[{row}]")
    result = invoke("predict", iris_run, "--input", path, "--output", tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert phrase in result.stderr and "np." not in result.stderr
