"""Issue 18 item 21: a README figure is what a fresh clone gets. The iris row of the shipped-configs table
is read from README.md and compared with the session's iris run (configs/iris.yaml as shipped, seed 0)."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT


def test_the_readme_iris_figure_is_what_training_gives(iris_run):
    row = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith("| `configs/iris.yaml`"))
    printed = re.search(r"val accuracy (\d\.\d+)", row).group(1)
    evaluation = json.loads((iris_run / "evaluation.json").read_text())
    assert evaluation["subset"] == "validation"
    assert f"{evaluation['metrics']['accuracy']:.{len(printed) - 2}f}" == printed
