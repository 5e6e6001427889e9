"""data.memory_budget and data.streaming: validate refuses what train could not read (``1.5.5GB``, ``maybe``), in words,
not pydantic's."""

from __future__ import annotations

import pytest

from nnrun.training.stream import memory_budget
from tests.conftest import ROOT, invoke


@pytest.mark.parametrize("value, shown", [("1.5.5GB", "'1.5.5GB'"), ("0B", "'0B'"), ("0", "0"), (".", "'.'"),
                                          ("12XB", "'12XB'")])
def test_validate_refuses_a_size_train_cannot_read(value, shown):
    result = invoke("validate", ROOT / "configs/iris.yaml", "--set", f"data.memory_budget={value}")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --set data.memory_budget={value}: data.memory_budget: expected a size like 512MB, 8GiB or a "
        f"number of bytes (units KB, MB, GB, TB, KiB, MiB, GiB, TiB, in any case), got {shown}"]


@pytest.mark.parametrize("value, size", [("1.5GB", 1_500_000_000), (" 512 MiB ", 512 * 2**20), ("7", 7),
                                         ("8000000000", 8 * 10**9), ("8gb", 8 * 10**9), ("2kb", 2000),
                                         ("3Gb", 3 * 10**9), ("1gib", 2**30), ("4MIB", 4 * 2**20)])
def test_what_validate_accepts_train_reads(value, size):
    assert invoke("validate", ROOT / "configs/iris.yaml", "--set", f"data.memory_budget={value}").exit_code == 0
    assert memory_budget(value if not value.isdigit() else int(value)) == size


@pytest.mark.parametrize("value, shown", [("maybe", "'maybe'"), ("1", "1"), ("'true'", "'true'")])
def test_a_bad_streaming_value_names_the_key_and_the_accepted_values(value, shown):
    result = invoke("validate", ROOT / "configs/iris.yaml", "--set", f"data.streaming={value}")
    assert result.exit_code == 2
    assert result.stderr == (f"error: --set data.streaming={value}: data.streaming: expected auto, true or false, "
                             f"got {shown}\n")
