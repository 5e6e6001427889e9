"""Issue 18: predict refuses what would be silently wrong (a NaN threshold) and says what it did with
unseen categories; a model file that is not the run's is named, not dumped as stack frames."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, invoke


@pytest.mark.parametrize("value", ["nan", "-inf", "inf"])
def test_a_non_finite_threshold_is_refused(xor_run, value):
    result = invoke("predict", xor_run, "--input", ROOT / "data" / "xor.csv", "--threshold", value)
    assert result.exit_code == 2, result.stdout
    assert "--threshold" in result.stderr
    assert result.stdout == ""
