"""Nothing lost, nothing executed: real subprocesses killed at several points, concurrent runs, unsafe files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, invoke

from nnrun import rundir
from nnrun.errors import RunError

pytestmark = pytest.mark.slow

NNRUN = [sys.executable, "-m", "nnrun"]
PIMA = str(ROOT / "configs/pima.yaml")


def _start(*args: str, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([*NNRUN, *args, "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 90,
                poll: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{what} never appeared"
        time.sleep(poll)


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    _wait_until(path.exists, proc, str(path))


def _assert_complete(run: Path, killed: bool = False) -> list[Path]:
    """Every file of the run directory (hidden ones and subfolders included) is either a complete artifact or
    one of nnrun's own temporary files (``rundir.temp_files``: ``.*.tmp*``, ``.*.pending``), and no temporary
    file is left behind. A process killed with ``kill -9`` cannot clean up: it may leave the one ``.tmp`` file
    it was writing (hidden) and a checkpoint's ``.pending`` models (complete by design: the first phase of a
    two-phase commit). Returns the temporary files found."""
    temps = rundir.temp_files(run)
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        if path in temps:
            continue
        assert ".tmp" not in path.name and not path.name.endswith(".pending"), f"{path}: a visible temporary file"
        data = path.read_bytes()
        if path.name == rundir.LOCK:  # the flock is the lock; its text is the holder's pid, for messages only:
            assert data == b"" or data.rstrip(b"\n").isdigit(), f"{path}: {data!r}"  # empty if killed before
            continue
        assert data, f"{path}: empty"
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix in (".yaml", ".csv", ".txt", ".md"):
            assert data.endswith(b"\n"), f"{path}: cut short"
        elif path.suffix == ".keras":
            assert zipfile.is_zipfile(path) and zipfile.ZipFile(path).testzip() is None, f"{path}: not a whole model"
        elif path.suffix == ".png":
            assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82"), f"{path}: not a whole PNG"
    if not killed:
        assert temps == [], f"temporary files left behind: {temps}"
        return temps
    in_flight = [p for p in temps if not p.name.endswith(rundir.PENDING_SUFFIX)]
    assert len(in_flight) <= 1, f"more than the one file being written is left: {in_flight}"
    for pending in (p for p in temps if p not in in_flight):
        assert zipfile.is_zipfile(pending), f"{pending}: a pending checkpoint must be complete"
    return temps


def _wait_for_epochs(run: Path, proc: subprocess.Popen, epochs: int) -> None:
    """Wait until history.csv holds ``epochs`` rows: training is seen to be under way (not a fixed sleep)."""
    def done() -> bool:
        path = run / rundir.HISTORY
        return path.exists() and len(path.read_text().splitlines()) > epochs
    _wait_until(done, proc, f"epoch {epochs} in {run / rundir.HISTORY}")


#: every file a run directory may hold while training (before the model and the evaluation are written)
TRAINING_FILES = {rundir.LOCK, rundir.CONFIG, rundir.RUN, rundir.DATASET, rundir.SPLIT, rundir.HISTORY,
                  rundir.LAST_MODEL, rundir.BEST_MODEL, rundir.CHECKPOINT}
#: and once training ended (completed or interrupted): its record
TRAINED_FILES = TRAINING_FILES | {rundir.SUMMARY, rundir.METRICS}


def _names(run: Path) -> set[str]:
    """Every entry of the run directory, hidden ones and subfolders included."""
    return {str(p.relative_to(run)) for p in run.rglob("*")}


def test_kill_9_mid_training_leaves_complete_files_and_a_truthful_status(tmp_path):
    proc = _start("train", PIMA, "--quiet", "--set", "training.epochs=500", "--set", "training.checkpoint_interval=0",
                  runs=tmp_path)
    run = tmp_path / "pima"
    _wait_for_epochs(run, proc, 3)
    _wait_for(run / rundir.CHECKPOINT, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    temps = _assert_complete(run, killed=True)
    names = _names(run) - {str(p.relative_to(run)) for p in temps}
    assert names == TRAINING_FILES, sorted(names ^ TRAINING_FILES)
    epochs = len((run / rundir.HISTORY).read_text().splitlines()) - 1
    assert epochs >= 3 and json.loads((run / rundir.CHECKPOINT).read_text())["epoch"] in (epochs - 1, epochs)
    assert json.loads((run / rundir.RUN).read_text())["status"] == "running"
    assert rundir.status(run) == "died"
    assert not (run / rundir.MODEL).exists()
    result = invoke("evaluate", run)
    assert result.exit_code == 1
    assert result.stderr == (f"error: {run}: the run has no model.keras (status: died); resume it: "
                             f"nnrun train --resume {run}\n")  # a checkpoint was seen before the kill


def test_kill_9_as_the_run_starts_leaves_nothing_half_written(tmp_path):
    """Killed the moment the first file appears in the new run directory, while its first files (run.json,
    config.yaml, …) are being written: every file there is complete, or a hidden temporary file."""
    proc = _start("train", PIMA, "--quiet", runs=tmp_path)
    run = tmp_path / "pima"
    _wait_until(lambda: run.is_dir() and any(run.iterdir()), proc, f"a file in {run}", poll=0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _assert_complete(run, killed=True)
    if (run / rundir.RUN).exists():
        assert rundir.status(run) == "died"


def test_kill_9_during_the_model_save_never_leaves_a_half_model(tmp_path):
    """The process dies after writing half of the model file: model.keras must not exist."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        import keras
        def dying_save(self, path, *a, **k):
            with open(path, "wb") as fh:
                fh.write(b"PK\\x03\\x04 half a zip")
                fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        keras.Model.save = dying_save
        sys.argv = ["nnrun", "train", {str(ROOT / 'configs/xor.yaml')!r}, "--quiet", "--runs-dir", {str(tmp_path)!r},
                    "--set", "training.epochs=2"]
        from nnrun.cli import main
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    run = tmp_path / "xor"
    temps = _assert_complete(run, killed=True)
    assert [p.read_bytes() for p in temps] == [b"PK\x03\x04 half a zip"]  # only the half model, hidden
    assert not (run / rundir.MODEL).exists()
    assert not (run / "last.keras").exists()  # the half file is a hidden .pending, never the checkpoint
    assert not (run / "checkpoint.json").exists()
    assert rundir.status(run) == "died"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_marks_the_run_interrupted(tmp_path, sig):
    proc = _start("train", PIMA, "--quiet", "--set", "training.epochs=500", runs=tmp_path)
    run = tmp_path / "pima"
    _wait_for_epochs(run, proc, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "stopping after this epoch" in err
    assert f"hint: continue with: nnrun train --resume {run}" in err
    assert "Traceback" not in err
    info = json.loads((run / rundir.RUN).read_text())
    assert info["status"] == "interrupted" and info["ended"] is not None
    _assert_complete(run)
    assert _names(run) == TRAINED_FILES  # hidden files included: no temporary file left
    epoch = json.loads((run / "checkpoint.json").read_text())["epoch"]
    assert epoch >= 2 and len((run / rundir.HISTORY).read_text().splitlines()) == epoch + 1
    assert err.splitlines()[-2] == f"error: {run}: interrupted after epoch {epoch} of 500 (checkpoint saved)"


def test_two_trains_at_once_get_distinct_directories(tmp_path):
    procs = [_start("train", str(ROOT / "configs/xor.yaml"), "--json", "--quiet", "--set", "training.epochs=3",
                    runs=tmp_path) for _ in range(2)]
    dirs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        dirs.append(json.loads(out)["run_dir"])
    assert sorted(Path(d).name for d in dirs) == ["xor", "xor-2"]
    for d in dirs:
        info = json.loads((Path(d) / rundir.RUN).read_text())
        assert info["status"] == "completed"
        _assert_complete(Path(d))
        assert str(info["pid"]) in {str(p.pid) for p in procs}
    pids = {json.loads((Path(d) / rundir.RUN).read_text())["pid"] for d in dirs}
    assert len(pids) == 2  # each directory was written by one process only


def test_a_finished_run_holds_exactly_its_artifacts_and_no_temporary_file(tmp_path):
    """Every file of a completed run and of a predict --output, hidden ones included, listed by name: an
    atomic write that copied instead of renaming would leave its temporary file here."""
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path, "--quiet", "--set", "training.epochs=2")
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "xor"
    assert sorted(_names(run)) == sorted(TRAINED_FILES | {
        rundir.MODEL, rundir.EVALUATION, rundir.REPORT, rundir.CONFUSION_PNG, rundir.ROC_PNG,
        "learning_curves_accuracy.png", "learning_curves_loss.png"})
    _assert_complete(run)
    result = invoke("predict", run, "--input", ROOT / "data/xor.csv", "--output", tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["p.csv", "xor"]
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "prediction,prob_0,prob_1"


def test_create_is_race_free(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: rundir.create(tmp_path, "r"), range(24)))
    assert len(set(made)) == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r"] + [f"r-{i}" for i in range(2, 25)])


def test_unwritable_runs_dir_exits_1_naming_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", blocker / "runs", "--quiet")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {blocker / 'runs'}: cannot create the runs directory:")


def test_model_with_a_lambda_layer_is_refused_and_its_code_never_runs(xor_run, tmp_path):
    """A crafted model.keras holding a Lambda layer: safe_mode refuses it; the function is not executed."""
    import shutil

    import keras

    marker = tmp_path / "pwned"
    run = tmp_path / "crafted"
    shutil.copytree(xor_run, run)
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').write('x'), x)[1]")  # the path is a code constant
    evil = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Lambda(payload),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    evil.save(run / rundir.MODEL)
    marker.unlink(missing_ok=True)  # tracing the Lambda at build time may have run it once
    result = invoke("predict", run, "--input", ROOT / "data/xor.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {run / rundir.MODEL}: cannot load the model:")
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_corrupt_model_file_is_a_clean_error(xor_run, tmp_path):
    import shutil

    run = tmp_path / "corrupt"
    shutil.copytree(xor_run, run)
    (run / rundir.MODEL).write_bytes(b"not a zip file")
    result = invoke("predict", run, "--input", ROOT / "data/xor.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {run / rundir.MODEL}: a 14-byte file that is not a zip archive, not a "
                                    ".keras model archive")


def test_run_names_cannot_escape_the_runs_dir(tmp_path):
    for name in ("../escape", "/abs", "a/b", ".hidden", "..", "a\\\\b"):
        result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path / "runs", "--set", f"name={name}")
        assert result.exit_code == 2, name
        assert "name: expected a run name of letters, digits" in result.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "runs").exists()
    assert os.listdir(tmp_path) == []


def test_atomic_write_commits_whole_files_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "evaluation.json"
    rundir.write_json(target, {"a": 1})
    with pytest.raises(ValueError), rundir.AtomicWrite(target) as tmp:
        tmp.write_text('{"a": 2, "half')
        raise ValueError("failed while writing")
    assert json.loads(target.read_text()) == {"a": 1}  # the old file, untouched
    with pytest.raises(RunError, match=r"model.keras: cannot save the model: No space left"):
        with rundir.AtomicWrite(tmp_path / "model.keras", "cannot save the model", suffix=".keras") as tmp:
            assert tmp.name.startswith(".model.keras.") and tmp.suffix == ".keras"
            raise OSError(28, "No space left on device")
    assert not (tmp_path / "model.keras").exists()
    assert rundir.temp_files(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["evaluation.json"]


def test_temp_files_lists_every_nnrun_temporary_name(tmp_path):
    (tmp_path / "fold_1").mkdir()
    names = [".run.json.a1b2.tmp.json", ".last.keras.pending", "fold_1/.history.csv.x.tmp.csv",
             "..best.keras.pending.q.tmp.keras"]
    for name in [*names, "run.json", "report.md", "fold_1/history.csv"]:
        (tmp_path / name).write_text("x")
    assert rundir.temp_files(tmp_path) == sorted(tmp_path / n for n in names)

