"""nnrun export never loses a user's files (found by the break-it pass): a folder created at --output while
exporting is never replaced, nor another run's export; --output inside a run directory is refused; a folder that
is not an export is refused without walking it; a cv run is a usage error naming its folds."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from nnrun import rundir
from nnrun.inference import staging
from tests.conftest import invoke


def _export(run: Path, fmt: str, *extra: str):
    return invoke("export", run, "--format", fmt, "--json", *extra)


def _fake_export(folder: Path) -> None:
    (folder / "variables").mkdir(parents=True)
    (folder / "assets").mkdir()  # empty, as in a SavedModel: not listed, not foreign
    (folder / "saved_model.pb").write_bytes(b"pb")
    (folder / "variables" / "v.index").write_bytes(b"ix")
    files = [{"path": "saved_model.pb"}, {"path": "variables/v.index"}]
    (folder / rundir.EXPORT_JSON).write_text(json.dumps({"format": "saved_model", "files": files}))


def _no_temp_left(parent: Path) -> bool:
    return not [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_a_folder_created_while_exporting_is_kept_and_the_export_fails(xor_run, tmp_path, monkeypatch):
    target = tmp_path / "race1"

    def user_writes(path: Path) -> None:  # the user's mkdir + echo, between staging and the swap
        path.mkdir()
        (path / "thesis.txt").write_text("work")

    monkeypatch.setattr(staging, "before_swap", user_writes)
    result = _export(xor_run, "saved_model", "--output", target)
    assert result.exit_code == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["message"].startswith(f"{target}: appeared while exporting")
    assert sorted(p.name for p in target.iterdir()) == ["thesis.txt"]
    assert (target / "thesis.txt").read_text() == "work" and _no_temp_left(tmp_path)


def test_a_second_run_exporting_to_the_same_folder_fails_and_the_first_export_stays(
        iris_run, xor_run, tmp_path, monkeypatch):
    from nnrun import api_models

    target = tmp_path / "shared"

    def other_run_exports(path: Path) -> None:  # xor's export finishes while iris' is between staging and swap
        monkeypatch.setattr(staging, "before_swap", lambda p: None)
        api_models.export(xor_run, "onnx", output=path)

    monkeypatch.setattr(staging, "before_swap", other_run_exports)
    result = _export(iris_run, "saved_model", "--output", target)
    assert result.exit_code == 2 and "appeared while exporting" in result.stderr
    doc = json.loads((target / "export.json").read_text())
    assert doc["format"] == "onnx" and doc["inputs"][0]["shape"] == [None, 2]  # xor's, untouched
    assert sorted(p.name for p in target.iterdir()) == ["export.json", "model.onnx"] and _no_temp_left(tmp_path)


def test_force_never_replaces_a_file_or_folder_that_appears_or_grows_while_exporting(tmp_path, monkeypatch):
    target = tmp_path / "out"
    monkeypatch.setattr(staging, "before_swap", lambda p: p.write_text("mine"))  # a FILE appears
    for force in (False, True):
        try:
            with staging.staged(target, force) as tmp:
                _fake_export(tmp)
            raise AssertionError("no error")
        except staging.UsageError as exc:
            assert "appeared while exporting" in exc.message or "not an export folder" in exc.message
        assert target.read_text() == "mine" and _no_temp_left(tmp_path)
    target.unlink()
    _fake_export(target)  # an earlier export, replaced with --force only while it holds just what it lists
    monkeypatch.setattr(staging, "before_swap", lambda p: (p / "variables" / "notes.txt").write_text("mine"))
    try:
        with staging.staged(target, True) as tmp:
            _fake_export(tmp)
        raise AssertionError("no error")
    except staging.UsageError as exc:
        assert "holds variables/notes.txt, which nnrun export did not write" in exc.message
    assert (target / "variables" / "notes.txt").read_text() == "mine" and _no_temp_left(tmp_path)
    monkeypatch.setattr(staging, "before_swap", lambda p: None)
    (target / "variables" / "notes.txt").unlink()
    with staging.staged(target, True) as tmp:
        _fake_export(tmp)
        (tmp / "saved_model.pb").write_bytes(b"new")
    assert (target / "saved_model.pb").read_bytes() == b"new" and _no_temp_left(tmp_path)


def test_output_inside_a_run_directory_is_refused_with_nothing_written(iris_run, xor_run, tmp_path):
    cases = [(iris_run / "export" / "onnx", f"inside the run directory {iris_run}, which is not the run being"),
             (iris_run / "junk", f"inside the run directory {iris_run}, which is not the run being"),
             (xor_run / "junk", f"inside the run directory {xor_run} but not under its export/ folder"),
             (xor_run / "export", "but not under its export/ folder")]
    for output, expected in cases:
        existed = output.exists()
        result = _export(xor_run, "onnx", "--output", output)
        assert result.exit_code == 2, (output, result.stderr)
        assert json.loads(result.stdout)["error"]["message"] == f"--output {output}: is {expected}" or \
            expected in result.stdout
        assert output.exists() == existed
    assert _export(xor_run, "onnx", "--output", tmp_path / "fine").exit_code == 0


def test_a_folder_without_export_json_is_refused_at_once_and_only_the_exports_tree_is_walked(xor_run, tmp_path):
    start = time.monotonic()
    result = _export(xor_run, "onnx", "--output", "/", "--force")
    assert result.exit_code == 2 and time.monotonic() - start < 3
    assert json.loads(result.stdout)["error"]["message"].startswith(
        "/: is not an nnrun export folder (no export.json); nnrun never writes over it, --force or not")
    folder = tmp_path / "exp"
    _fake_export(folder)
    assert staging.first_foreign(folder) is None
    (folder / "zzz" / "deep").mkdir(parents=True)
    (folder / "zzz" / "deep" / "a.txt").write_text("x")
    assert staging.first_foreign(folder) == "zzz"  # the unlisted folder, not entered
    (folder / "variables" / "extra").write_text("x")
    assert staging.first_foreign(folder) == "variables/extra"


def test_export_and_evaluate_of_a_cv_run_name_its_folds(iris_run, tmp_path):
    cv_run = tmp_path / "iris-cv"
    shutil.copytree(iris_run, cv_run / "fold_0")
    for name in ("run.json", "config.yaml"):
        shutil.copy(iris_run / name, cv_run / name)
    (cv_run / "cv.json").write_text(json.dumps({"folds": 1}))
    for result in (_export(cv_run, "onnx"), invoke("evaluate", cv_run, "--json")):
        assert result.exit_code == 2, result.stderr
        message = json.loads(result.stdout)["error"]["message"]
        assert message.startswith(f"{cv_run}: a cross-validation run (nnrun cv): it has one model per fold, no single "
                           f"model.keras; pass one fold's run directory, {cv_run}/fold_<i>/")
    assert _export(cv_run / "fold_0", "onnx", "--output", tmp_path / "fold0").exit_code == 0
