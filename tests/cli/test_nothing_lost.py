"""Issue 18: nothing lost (predict never writes over its input or a run; one writer per run; a finished model
survives an extension; a dead writer's leftovers are cleaned up; one evaluation per subset) and the right exit
codes (--json error documents, a closed stdout, unwritable paths)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, invoke

from nnrun import api, rundir
from nnrun.cli_errors import exit_status
from nnrun.errors import Interrupted, RunError, UsageError

pytestmark = pytest.mark.slow

NNRUN = [sys.executable, "-m", "nnrun"]


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _info(run: Path) -> dict:
    return json.loads((run / rundir.RUN).read_text())


# ------------------------------------------------------------------ 1. predict never writes over its input or a run
def test_predict_refuses_to_write_over_its_input(iris_run, tmp_path, monkeypatch):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    (tmp_path / "link.csv").symlink_to(rows)
    monkeypatch.chdir(tmp_path)
    for output in ("rows.csv", str(rows), "./sub/../rows.csv", "link.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        result = invoke("predict", iris_run, "--input", "rows.csv", "--output", output)
        assert result.exit_code == 2, output
        assert result.stderr == (f"error: --output {output}: is the input file (rows.csv); predictions would "
                                 "replace it\n  hint: write the predictions to another file\n")
        assert rows.read_text() == "5.1,3.5,1.4,0.2\n"


def test_predict_refuses_to_write_inside_a_run_directory(iris_run, xor_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    before = _sha(iris_run / rundir.MODEL)
    for output in (iris_run / rundir.MODEL, iris_run / "new.csv", xor_run / "sub" / "p.csv"):
        result = invoke("predict", iris_run, "--input", rows, "--output", output)
        assert result.exit_code == 2
        run = iris_run if iris_run in output.parents else xor_run
        assert result.stderr.startswith(f"error: --output {output}: is inside the run directory {run}; ")
    assert _sha(iris_run / rundir.MODEL) == before and not (iris_run / "new.csv").exists()
    assert invoke("predict", iris_run, "--input", rows, "--output", tmp_path / "p.csv").exit_code == 0


def test_predict_refuses_an_existing_output_file_unless_forced(iris_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    mine = tmp_path / "mine.csv"
    mine.write_text("my notes\n")
    mine.chmod(0o600)
    result = invoke("predict", iris_run, "--input", rows, "--output", mine)
    assert result.exit_code == 2 and mine.read_text() == "my notes\n"
    assert result.stderr == (f"error: --output {mine}: the path exists, and nnrun never writes over a file it did "
                             "not create\n  hint: choose another path, or add --force to replace it\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.csv", "rows.csv"]  # no temporary file either
    forced = invoke("predict", iris_run, "--input", rows, "--output", mine, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert mine.read_text().splitlines()[0].startswith("prediction,prob_")
    assert oct(mine.stat().st_mode & 0o777) == "0o600"  # replaced, and still private
    assert invoke("predict", iris_run, "--input", rows, "--output", rows, "--force").exit_code == 2  # never the input


def test_an_output_file_that_appears_while_predicting_is_kept(tmp_path):
    from nnrun.inference.writers import open_writer

    out = tmp_path / "late.csv"
    writer = open_writer(str(out), "csv", {"task": "regression"})
    out.write_text("written meanwhile\n")
    with pytest.raises(RunError):
        writer.close(True)
    assert out.read_text() == "written meanwhile\n" and [p.name for p in tmp_path.iterdir()] == ["late.csv"]


# ------------------------------------------------------------------ 2. one writer per run directory
def _wait_until(ready, proc: subprocess.Popen, what: str) -> None:
    end = time.monotonic() + 90
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{what} never happened"
        time.sleep(0.05)


def test_a_second_writer_is_refused_naming_the_holders_pid(xor_run, tmp_path):
    run = _copy(xor_run, tmp_path)
    proc = subprocess.Popen([*NNRUN, "train", "--resume", str(run), "--set", "training.epochs=10000000",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        _wait_until(lambda: (run / rundir.LOCK).read_text().strip() == str(proc.pid), proc, "the lock")
        expected = (f"error: {run}: process {proc.pid} is writing this run (it holds {run / rundir.LOCK}); "
                    "wait until it ends, or stop it, then retry\n")
        for args in (("train", "--resume", run, "--set", "training.epochs=10000001", "--quiet"),
                     ("evaluate", run, "--no-plots")):
            result = invoke(*args)
            assert result.exit_code == 2 and result.stderr == expected
        _wait_until(lambda: _info(run)["status"] == "running", proc, "status running")
    finally:
        proc.kill()
        proc.wait()
    with rundir.RunLock(run):  # the kernel released the killed holder's lock
        assert _info(run)["status"] == "died"


def test_run_lock_is_exclusive_and_released(tmp_path):
    with rundir.RunLock(tmp_path):
        with pytest.raises(UsageError, match=f"process {os.getpid()} is writing this run"):
            rundir.RunLock(tmp_path).acquire()
    with rundir.RunLock(tmp_path):
        assert (tmp_path / rundir.LOCK).read_text() == f"{os.getpid()}\n"


# ------------------------------------------------------------------ 3. extending a finished run keeps its model
def test_an_interrupted_extension_keeps_the_finished_model(xor_run, tmp_path):
    run = _copy(xor_run, tmp_path)
    before = _sha(run / rundir.MODEL)
    seen = []

    def stop_after_one_epoch(epoch: int, epochs: int, logs: dict) -> None:
        seen.append((epoch, (run / rundir.MODEL).exists()))
        api.request_stop()

    with pytest.raises(Interrupted):
        api.train(None, ("training.epochs=400",), resume=run, progress=stop_after_one_epoch)
    assert seen == [(201, True)]  # the model stayed while training
    assert _info(run)["status"] == "interrupted" and _sha(run / rundir.MODEL) == before
    rows = tmp_path / "rows.csv"
    rows.write_text("0,1\n1,1\n")
    result, finished = invoke("predict", run, "--input", rows), invoke("predict", xor_run, "--input", rows)
    assert result.exit_code == 0 and result.stdout == finished.stdout and result.stdout.startswith("prediction,")


# ------------------------------------------------------------------ 4. a dead writer's leftovers
def test_the_next_writer_cleans_up_after_a_dead_one(iris_run, tmp_path):
    run = _copy(iris_run, tmp_path)
    info = _info(run)
    (run / rundir.RUN).write_text(json.dumps({**info, "status": "running", "pid": 2**22 + 1}))  # killed -9
    stale = [run / ".checkpoint.json.x1y2.tmp", run / ".report.md.abc.tmp.md", run / f".{rundir.LAST_MODEL}.pending"]
    for path in stale:
        path.write_bytes(b"")
    recorded = run / f".{rundir.BEST_MODEL}.pending"  # a checkpoint's first phase, recorded: kept for --resume
    shutil.copy(run / rundir.BEST_MODEL, recorded)
    record = json.loads((run / rundir.CHECKPOINT).read_text())
    (run / rundir.CHECKPOINT).write_text(json.dumps({**record, "files": {rundir.BEST_MODEL: _sha(recorded)}}))
    result = invoke("evaluate", run, "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert rundir.temp_files(run) == [recorded]
    info = _info(run)
    assert info["status"] == "died"
    assert info["error"] == (f"the writing process (pid {2**22 + 1}) ended without recording an outcome "
                             "(killed, or out of disk space)")


# ------------------------------------------------------------------ 5. one evaluation per subset
def test_evaluating_a_file_keeps_the_training_time_report(iris_run, tmp_path):
    run = _copy(iris_run, tmp_path)
    kept = {name: _sha(run / name) for name in (rundir.EVALUATION, rundir.REPORT, rundir.CONFUSION_PNG)}
    listed = [(e["file"], e["report"], e["subset"]) for e in _info(run)["evaluations"]]  # other tests may add some
    assert listed[0] == ("evaluation.json", "report.md", "validation")
    data = tmp_path / "new flowers.csv"
    data.write_text("5.1,3.5,1.4,0.2,Iris-setosa\n6.7,3.0,5.2,2.3,Iris-virginica\n")
    for _ in range(2):  # the same file again replaces its own evaluation only
        result = invoke("evaluate", run, "--data", data, "--json")
        assert result.exit_code == 0, result.stderr
    assert {name: _sha(run / name) for name in kept} == kept
    doc = json.loads((run / "evaluation-new_flowers.json").read_text())
    assert doc["num_examples"] == 2 and doc["plots"] == ["confusion_matrix-new_flowers.png"]
    assert json.loads(result.stdout)["metrics"] == doc["metrics"]
    assert "2 examples" in (run / "report-new_flowers.md").read_text()
    assert (run / "confusion_matrix-new_flowers.png").stat().st_size > 1000
    assert [(e["file"], e["report"], e["subset"]) for e in _info(run)["evaluations"]] == [
        *listed, ("evaluation-new_flowers.json", "report-new_flowers.md", "file")]


def test_a_later_evaluations_gates_keep_the_training_time_gates(iris_run, tmp_path):
    run = _copy(iris_run, tmp_path)
    result = invoke("evaluate", run, "--no-plots", "--gate", "accuracy>=0.5")  # the training-time split again
    assert result.exit_code == 0, result.stderr
    assert json.loads((run / "gates.json").read_text())["passed"] is True
    data = tmp_path / "new flowers.csv"
    data.write_text("5.1,3.5,1.4,0.2,Iris-setosa\n6.7,3.0,5.2,2.3,Iris-virginica\n")
    result = invoke("evaluate", run, "--data", data, "--no-plots", "--gate", "accuracy>=1.5")
    assert result.exit_code == 3
    later = json.loads((run / "gates-new_flowers.json").read_text())
    assert later["passed"] is False and later["gates"][0]["gate"] == "accuracy >= 1.5"
    assert json.loads((run / "gates.json").read_text())["passed"] is True  # was replaced by the later failure
    assert json.loads(invoke("runs", tmp_path, "--json").stdout)[0]["status"] == "completed"


def test_evaluation_names_come_from_rundir():
    assert rundir.evaluation_label("validation", None) is None and rundir.evaluation_label("training", None) is None
    assert rundir.evaluation_label("test", None) == "test"
    assert rundir.evaluation_label("file", Path("data/my rows (2).csv")) == "my_rows_2"
    assert rundir.labelled(rundir.EVALUATION, "test") == "evaluation-test.json"
    assert rundir.labelled(rundir.ROC_PNG, None) == "roc_curve.png"


# ------------------------------------------------------------------ 16. --json: every outcome is one JSON document
def test_json_failures_print_an_error_document(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {path: d.csv}\nmodel:\n  layers: []\n  loss: mse\n")
    cases = [
        (("evaluate", tmp_path / "nope", "--json"),
         {"kind": "UsageError", "message": f"{tmp_path / 'nope'}: no such run directory",
          "file": str(tmp_path / "nope"), "line": None, "exit_code": 2}),
        (("train", bad, "--json"),
         {"kind": "ConfigError", "message": f"{bad}:4:11: model.layers: expected at least one item, got an empty list",
          "file": str(bad), "line": 4, "exit_code": 2}),
        (("runs", tmp_path, "--json", "--bogus"),
         {"kind": "UsageError", "message": "No such option '--bogus'.", "file": None, "line": None, "exit_code": 2}),
    ]
    for args, error in cases:
        result = invoke(*args)
        assert result.exit_code == 2
        assert json.loads(result.stdout) == {"error": error}
        assert error["message"].splitlines()[0] in result.stderr
    assert invoke("evaluate", tmp_path / "nope").stdout == ""  # without --json: stderr only


# ------------------------------------------------------------------ 17. a closed stdout is not an error
def test_a_closed_stdout_ends_quietly_with_exit_0(xor_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("0,1\n1,1\n" * 5000)  # 200 kB of predictions: more than a pipe buffer holds
    proc = subprocess.Popen([*NNRUN, "predict", str(xor_run), "--input", str(rows)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline() == b"prediction,prob_0,prob_1\n"
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b""


# ------------------------------------------------------------------ 18. unwritable paths are named, not internal errors
def test_an_unwritable_output_directory_is_named(iris_run, tmp_path, monkeypatch):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    out = tmp_path / "ro" / "p.csv"
    out.parent.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != out.parent and real(p, mode, **kw))
    result = invoke("predict", iris_run, "--input", rows, "--output", out)
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr == (f"error: --output {out}: cannot write in {out.parent} (permission denied); nnrun "
                             f"needs to create p.csv there\n  hint: choose a writable directory, or make "
                             f"{out.parent} writable (chmod u+w)\n")


def test_a_read_only_run_directory_is_named(iris_run, tmp_path, monkeypatch):
    run = _copy(iris_run, tmp_path)
    (run / rundir.LOCK).unlink()
    real = os.open

    def read_only(path, flags, *args, **kwargs):
        if Path(path).parent == run and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    result = invoke("evaluate", run, "--no-plots")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {run}: cannot write in the run directory (Permission denied); nnrun needs "
                             "to write the evaluation's report there\n  hint: make it writable (chmod u+w), or "
                             "copy the run\n")


def test_an_os_error_names_its_path(capsys):
    code = exit_status(PermissionError(13, "Permission denied", "/data/out/x.csv"), as_json=True)
    out, err = capsys.readouterr()
    assert code == 1 and "internal error" not in err
    assert err == ("error: /data/out/x.csv: Permission denied; nnrun needs to read or write this path\n"
                   "  hint: check its permissions and the free disk space\n")
    assert json.loads(out)["error"]["file"] == "/data/out/x.csv"


def test_a_runs_directory_that_is_a_file_is_a_usage_error(tmp_path):
    """Found by the break-it pass: exit 1 'cannot create the runs directory: File exists'."""
    runs = tmp_path / "runs"
    runs.write_text("not a directory\n")
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", runs, "--quiet", "--set", "training.epochs=1")
    assert result.exit_code == 2, result.stderr
    assert f"error: {runs}: is a file, not a directory; give --runs-dir a directory" in result.stderr
    assert runs.read_text() == "not a directory\n"
