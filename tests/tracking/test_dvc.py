"""The dvc.yaml stage in README: the files it names are where `nnrun train` puts them and parse as DVC reads
them (metrics: JSON with numbers; params: YAML keys of the config; plots: CSV with the x and y columns).
DVC itself is not installed by `make test` (about 55 packages), so `dvc repro` is not run here."""

from __future__ import annotations

import csv
import json
import re

import yaml

from tests.conftest import ROOT


def _stage() -> dict:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n# dvc.yaml\n(.*?)```", text, re.S)
    assert block, "README has no dvc.yaml example"
    return yaml.safe_load(block.group(1))["stages"]["train"]


def test_readme_dvc_stage_names_the_files_a_run_writes(pima_run):
    stage = _stage()
    prefix = "runs/dvc/pima/"
    assert stage["cmd"] == "rm -rf runs/dvc/pima && nnrun train configs/pima.yaml --runs-dir runs/dvc --quiet"
    assert pima_run.name == "pima"  # the run directory is <runs-dir>/<config name>
    for dep in stage["deps"]:
        assert (ROOT / dep).is_file(), dep
    (params,) = stage["params"]
    config = yaml.safe_load((ROOT / "configs/pima.yaml").read_text())
    assert set(params["configs/pima.yaml"]) <= set(config)  # dvc params diff reads these keys
    assert yaml.safe_load((pima_run / "config.yaml").read_text())["training"]["epochs"] == config["training"]["epochs"]

    (out,) = stage["outs"]
    assert (pima_run / out.removeprefix(prefix)).is_file()
    ((metrics_path, metrics_opts),) = stage["metrics"][0].items()
    assert metrics_opts == {"cache": False}
    metrics = json.loads((pima_run / metrics_path.removeprefix(prefix)).read_text())
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert {"val_accuracy", "val_loss", "epochs"} <= set(numbers)
    assert all(not isinstance(v, (dict, list)) for v in metrics.values())  # flat: dvc metrics diff lines up

    ((plots_path, plots_opts),) = stage["plots"][0].items()
    with (pima_run / plots_path.removeprefix(prefix)).open() as fh:
        rows = list(csv.DictReader(fh))
    assert {plots_opts["x"], plots_opts["y"]} <= set(rows[0]) and len(rows) == metrics["epochs"]
