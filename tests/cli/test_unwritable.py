"""A location the user named that cannot be written is a usage error (exit 2, README's exit-code table) with one
message shape for train ``--runs-dir``, predict ``--output`` and export ``--output``: the path, why, how to fix
(``nnrun.writable``); found before any training or export work."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import ROOT, invoke

from nnrun import rundir
from nnrun.errors import ExitStatus, UsageError


def _expected(named: str, folder: Path, need: str) -> str:
    return (f"error: {named}: cannot write in {folder} (permission denied); nnrun needs to {need}\n"
            f"  hint: choose a writable directory, or make {folder} writable (chmod u+w)\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_directory_exits_2_for_train_predict_and_export(xor_run, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    rows = tmp_path / "rows.csv"
    rows.write_text("0,1\n")
    try:
        train = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", ro / "runs", "--quiet")
        predict = invoke("predict", xor_run, "--input", rows, "--output", ro / "p.csv")
        export = invoke("export", xor_run, "--format", "onnx", "--output", ro / "onnx")
    finally:
        ro.chmod(0o755)
    assert (train.exit_code, predict.exit_code, export.exit_code) == (2, 2, 2)
    assert train.stderr == _expected(f"--runs-dir {ro / 'runs'}", ro, "create the run directory there")
    assert predict.stderr == _expected(f"--output {ro / 'p.csv'}", ro, "create p.csv there")
    assert export.stderr == _expected(f"--output {ro / 'onnx'}", ro, "create onnx there")
    assert list(ro.iterdir()) == []


def test_train_refuses_an_unwritable_runs_dir_before_reading_data(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: not (Path(p) == ro and mode & os.W_OK)
                        and real(p, mode, **kw))
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", ro, "--quiet")
    assert result.exit_code == ExitStatus.USAGE == 2
    assert result.stderr == _expected(f"--runs-dir {ro}", ro, "create the run directory there")


def test_a_run_directory_refused_by_the_os_is_a_usage_error_and_a_full_disk_a_runtime_one(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UsageError) as caught:
        rundir.create(tmp_path / "runs", "r")
    assert str(caught.value) == (f"--runs-dir {tmp_path / 'runs'}: cannot write in {tmp_path} (read-only file "
                                 "system); nnrun needs to create the run directory there\n"
                                 "  hint: choose a writable directory")
    assert caught.value.exit_code == 2
