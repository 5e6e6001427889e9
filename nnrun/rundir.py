"""The run directory: fresh names, artifact file names, atomic writes, loading a finished run.

Layout of ``runs/<name>`` (see README, "The run directory"): every file is written to a temporary name
in the same directory and renamed into place, so a crash leaves the old file or the complete new one.
"""

from __future__ import annotations

import json
import math
import os
import platform
import stat
import tempfile
from pathlib import Path
from typing import Any

from nnrun.errors import RunError, UsageError

CONFIG = "config.yaml"
MODEL = "model.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
SUMMARY = "summary.txt"
RUN = "run.json"
DATASET = "dataset.json"
SPLIT = "split.json"
EVALUATION = "evaluation.json"
GATES = "gates.json"
REPORT = "report.md"
CONFUSION_PNG = "confusion_matrix.png"
ROC_PNG = "roc_curve.png"
CURVES_PREFIX = "learning_curves"  # learning_curves.png, learning_curves_<metric>.png
LAST_MODEL = "last.keras"  # checkpoint: the latest epoch's model
BEST_MODEL = "best.keras"  # checkpoint: the best epoch's model so far
CHECKPOINT = "checkpoint.json"  # checkpoint: epoch, RNG states, callback states
CV = "cv.json"
EXPLANATION = "explanation.json"  # nnrun explain: importance, surrogate
IMPORTANCE_PNG = "importance.png"
FOLD_PREFIX = "fold_"  # cv: fold_<i>/ holds one fold's run
STUDY_DB = "study.db"  # tune: Optuna's SQLite store
TRIALS_CSV = "trials.csv"  # tune: one row per trial
BEST_YAML = "best.yaml"  # tune: the best trial's config
TUNE_JSON = "tune.json"  # tune: best value and params, counts per state
TUNE_HISTORY_PNG = "optimization_history.png"
PARAM_IMPORTANCES_PNG = "param_importances.png"
EXPORT_DIR = "export"  # nnrun export: export/<format>/ holds one exported model
EXPORT_JSON = "export.json"  # nnrun export: format, files and SHA-256, signature, parity (beside the model)
EXPORT_FILES = {"onnx": "model.onnx", "litert": "model.tflite"}  # saved_model: the folder is the SavedModel
TRIAL_PREFIX = "trial_"  # tune: trial_<n>/ holds one trial's run
#: Files a tracker (MLflow) does not copy from a run: checkpoints (the model is model.keras) and the lock.
NOT_TRACKED = (LAST_MODEL, BEST_MODEL, CHECKPOINT, ".lock")

#: nnrun's own temporary names in a run directory (``AtomicWrite``'s, and the checkpoint's two-phase
#: ``.<name>.pending`` files): ``temp_files`` lists what matches, so tests can check that none is left.
TEMP_MARK = ".tmp"
PENDING_SUFFIX = ".pending"
TEMP_PATTERNS = (f".*{TEMP_MARK}*", f".*{PENDING_SUFFIX}")

_UMASK = os.umask(0)
os.umask(_UMASK)

#: Largest suffix tried for a run name (runs/<name>-2 … runs/<name>-N).
MAX_RUNS_PER_NAME = 100_000


def create(runs_dir: Path, name: str) -> Path:
    """Create a new, empty run directory ``runs_dir/name`` (then ``name-2``, ``name-3``, …).

    ``os.mkdir`` is atomic, so two processes started at once get distinct directories.

    Raises:
        UsageError: the runs directory is a file. RunError: it cannot be created or written (path named).
    """
    if runs_dir.exists() and not runs_dir.is_dir():
        raise UsageError(f"{runs_dir}: is a file, not a directory; give --runs-dir a directory (it is made if "
                         "missing)")
    from nnrun.writable import NOT_WRITABLE, not_writable

    need = "create the run directory there"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in NOT_WRITABLE:
            raise not_writable(f"--runs-dir {runs_dir}", need, exc) from None
        raise RunError(f"{runs_dir}: cannot create the runs directory: {exc.strerror}") from None
    for i in range(1, MAX_RUNS_PER_NAME):
        candidate = runs_dir / (name if i == 1 else f"{name}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno in NOT_WRITABLE:
                raise not_writable(f"--runs-dir {runs_dir}", need, exc) from None
            raise RunError(f"{candidate}: cannot create the run directory: {exc.strerror}") from None
    raise RunError(f"{runs_dir}: too many runs named {name!r}")


def _keep_mode(old: Path, new: Path) -> None:
    """Give ``new`` the permission bits of the regular file ``old`` it replaces (a ``--force``d ``chmod 600``
    file stays private); nothing when ``old`` is missing or a link."""
    try:
        st = os.lstat(old)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode):
        os.chmod(new, stat.S_IMODE(st.st_mode))


class AtomicWrite:
    """The one way nnrun writes a file: to a dot-named temporary file in the same directory, then fsync and
    rename into place. A crash leaves the old file or the complete new one, never half a file.

    Use it as a context manager around code that writes the temporary path (Keras, matplotlib and pyarrow
    write by path): on a normal exit the file is committed, on any error the temporary file is removed and
    ``path`` is untouched. ``start``, ``commit`` and ``discard`` do the same by hand, for a writer that
    stays open across calls (the prediction writer).

    Args:
        path: the final file.
        failure: the message's middle part when an OS error occurs (``"{path}: {failure}: {reason}"``).
        suffix: the temporary name's ending (default ``path``'s own suffix: Keras insists on ``.keras``).
        replace: whether ``commit`` may replace an existing ``path`` (False: a file that appeared meanwhile
            is kept and the commit fails; a user-named output without ``--force``).

    Raises:
        RunError: an OS error while creating, writing or renaming (the path named).

    Example:
        >>> with AtomicWrite(run_dir / "model.keras") as tmp:
        ...     model.save(tmp)
    """

    def __init__(self, path: Path, failure: str = "cannot write", suffix: str | None = None,
                 replace: bool = True) -> None:
        self.path, self.failure, self.replace = Path(path), failure, replace
        self.suffix = self.path.suffix if suffix is None else suffix
        self.tmp: Path | None = None

    def start(self) -> Path:
        """Create the (empty) temporary file, with the usual file permissions, and return its path."""
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=f"{TEMP_MARK}{self.suffix}",
                                        dir=self.path.parent)
            try:
                os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._error(exc) from None
        self.tmp = Path(name)
        return self.tmp

    def commit(self) -> None:
        """Flush the temporary file to disk and rename it to ``path``."""
        if self.tmp is None:
            raise RuntimeError("AtomicWrite.commit before start")
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if self.replace:
                _keep_mode(self.path, self.tmp)
                os.replace(self.tmp, self.path)
            else:  # link(2) fails with EEXIST instead of replacing a file that appeared since the check
                os.link(self.tmp, self.path)
                self.tmp.unlink()
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None
        self.tmp = None

    def discard(self) -> None:
        """Remove the temporary file (``path`` stays as it was)."""
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None

    def __enter__(self) -> Path:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.commit()
            return
        self.discard()
        if isinstance(exc, OSError):
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> RunError:
        return RunError(f"{self.path}: {self.failure}: {exc.strerror or exc}")



def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically (``AtomicWrite``).

    Raises:
        RunError: the file cannot be written (path named).
    """
    with AtomicWrite(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (see ``write_text``)."""
    write_text(path, json.dumps(json_safe(data), indent=2, default=_jsonable, allow_nan=False) + "\n")


def write_indices(path: Path, parts: dict[str, Any]) -> None:
    """Write lists of row indices (``split.json``) as JSON, one compact list per key, atomically: indenting
    200,000 numbers one per line would cost more time and space than the whole training report.

    Args:
        parts: name -> sequence of ints (a NumPy array or list), or a list of such sequences.
    """
    def compact(v: Any) -> str:
        v = v.tolist() if hasattr(v, "tolist") else [x.tolist() if hasattr(x, "tolist") else x for x in v]
        return json.dumps(v, separators=(",", ":"))

    body = ",\n".join(f"  {json.dumps(k)}: {compact(v)}" for k, v in parts.items())
    write_text(path, "{\n" + body + "\n}\n")


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively; NumPy scalars become Python ones."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def save_model(model: Any, path: Path) -> None:
    """Save a Keras model to ``path`` (``.keras``) atomically.

    Raises:
        RunError: the file cannot be written.
    """
    with AtomicWrite(path, "cannot save the model", suffix=".keras") as tmp:  # Keras insists on .keras
        model.save(tmp)


def pending_path(path: Path) -> Path:
    """The two-phase name of an artifact: ``.<name>.pending`` beside ``path`` (checkpoints write there, record
    the file's SHA-256, then ``commit_pending``)."""
    return path.with_name(f".{path.name}{PENDING_SUFFIX}")


def commit_pending(path: Path) -> None:
    """Rename ``pending_path(path)`` to ``path`` (the second phase; the pending file is already complete).

    Raises:
        RunError: the rename fails (path named).
    """
    try:
        os.replace(pending_path(path), path)
    except OSError as exc:
        raise RunError(f"{path}: cannot write: {exc.strerror or exc}") from None


def temp_files(run_dir: Path) -> list[Path]:
    """nnrun's own temporary files left in ``run_dir`` and its subfolders (``TEMP_PATTERNS``), sorted.

    A run that ended (completed, failed, interrupted) has none; a process killed with ``kill -9`` may leave
    the one it was writing at that moment (hidden, never mistaken for an artifact). Tests use this to check
    that nothing is left behind.
    """
    found = {p for pattern in TEMP_PATTERNS for p in Path(run_dir).rglob(pattern) if p.is_file()}
    return sorted(found)


def read_json(path: Path) -> Any:
    """Read a JSON artifact of a run.

    Raises:
        RunError: missing or corrupt file.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; the run is incomplete") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot read: {exc}") from None


def check_run_dir(run_dir: Path, need_model: bool = True) -> Path:
    """Check that ``run_dir`` is a finished nnrun run directory.

    Raises:
        UsageError: not a directory, or not a run directory; a cross-validation run (one model per fold).
        RunError: the run has no model (it failed or is still running).
    """
    if not run_dir.exists():
        raise UsageError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir() or not (run_dir / RUN).exists():
        raise UsageError(f"{run_dir}: not an nnrun run directory (no {RUN}); pass a directory made by nnrun train")
    if need_model and not (run_dir / MODEL).exists() and is_cv(run_dir):
        raise UsageError(f"{run_dir}: a cross-validation run (nnrun cv): it has one model per fold, no single "
                         f"{MODEL}; pass one fold's run directory, {run_dir / FOLD_PREFIX}<i>/",
                         hint=f"e.g. {run_dir / (FOLD_PREFIX + '0')}")
    if need_model and not (run_dir / MODEL).exists():
        state = status(run_dir)
        how = (f"resume it: nnrun train --resume {run_dir}" if (run_dir / CHECKPOINT).exists()
               and state in ("interrupted", "died") else "train it again")
        raise RunError(f"{run_dir}: the run has no {MODEL} (status: {state}); {how}")
    return run_dir


def is_cv(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a cross-validation run: it has ``cv.json`` or its run.json says ``command_kind: cv``
    (a cv run still running or killed has no cv.json yet)."""
    if (run_dir / CV).is_file():
        return True
    try:
        info = read_json(run_dir / RUN)
    except RunError:
        return False
    return isinstance(info, dict) and info.get("command_kind") == "cv"


def status(run_dir: Path) -> str:
    """The run's status as ``run.json`` records it, except that a run recorded as ``running`` whose
    process no longer exists on this host is reported as ``died`` (killed, e.g. by ``kill -9``)."""
    try:
        info = read_json(run_dir / RUN)
    except RunError:
        return "unreadable"
    if not isinstance(info, dict):
        return "unreadable"
    recorded = str(info.get("status", "unknown"))
    pid = info.get("pid") if isinstance(info, dict) else None
    if recorded == "running" and info.get("host") == platform.node() and isinstance(pid, int):
        if not 0 < pid < 2**31:
            return "unknown"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "died"
        except (PermissionError, OverflowError, ValueError):
            pass
    return recorded


# ---------------------------------------------------------------------------------- the run lock
LOCK = ".lock"  #: the run's lock file: ``flock``-ed by the one process writing the run; holds its pid


class RunLock:
    """An exclusive lock on a run directory, held by the one process writing it (train, resume, evaluate, cv).

    ``fcntl.flock`` on ``<run>/.lock`` (the holder's pid written inside, for the refusal's message): the kernel
    releases it when the process ends, however it ends (``kill -9`` included), so a lock is never stale. On
    taking it, the leftovers of a writer that died are cleaned up (``recover``).

    Raises:
        UsageError: another process holds the lock (its pid named), or the directory cannot be written.

    Example:
        >>> with RunLock(run_dir):
        ...     write_json(run_dir / EVALUATION, doc)
    """

    def __init__(self, run_dir: Path, need: str = "write its files there") -> None:
        self.run_dir, self.need = Path(run_dir), need
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock (without waiting), write this pid into the lock file, clean up a dead writer's files."""
        import fcntl

        try:
            if not os.access(self.run_dir, os.W_OK):  # found now, before any work, not at the first write
                raise PermissionError(13, os.strerror(13))
            fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except OSError as exc:
            raise UsageError(f"{self.run_dir}: cannot write in the run directory ({exc.strerror}); nnrun needs "
                             f"to {self.need}", hint="make it writable (chmod u+w), or copy the run") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise UsageError(f"{self.run_dir}: {who} is writing this run (it holds {self.run_dir / LOCK}); "
                             "wait until it ends, or stop it, then retry") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        recover(self.run_dir)
        return self

    def release(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def recover(run_dir: Path) -> list[Path]:
    """Clean up after a writer of ``run_dir`` that died (call it holding the lock): remove nnrun's stale
    temporary files (``temp_files``; a checkpoint's ``.pending`` model that ``checkpoint.json`` records is kept
    for the resume to commit) and mark a run still recorded as ``running`` as ``died`` in ``run.json``.

    Returns:
        The temporary files removed.
    """
    record = run_dir / CHECKPOINT
    files = read_json(record).get("files", {}) if record.exists() else {}
    removed = []
    for path in temp_files(run_dir):
        if path.name.endswith(PENDING_SUFFIX) and path.parent == run_dir:
            name = path.name[1:-len(PENDING_SUFFIX)]
            if isinstance(files, dict) and files.get(name) == _sha256(path):
                continue  # the first phase of a checkpoint commit: complete, recorded
        path.unlink(missing_ok=True)
        removed.append(path)
    info = read_json(run_dir / RUN) if (run_dir / RUN).exists() else None
    if isinstance(info, dict) and info.get("status") == "running":
        info.update(status="died", error=f"the writing process (pid {info.get('pid')}) ended without recording "
                    "an outcome (killed, or out of disk space)")
        write_json(run_dir / RUN, info)
    return removed


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    return _sha256(path)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- evaluations
def evaluation_label(subset: str, data: Path | str | None) -> str | None:
    """The name of a later evaluation (``evaluate``): None for the training-time split (``evaluation.json``),
    else the data file's stem (a glob's folder) or the subset (``test``), made safe for a file name."""
    import re

    if data is None and subset in ("validation", "training"):
        return None
    path = Path(data) if data is not None else None
    while path is not None and path.name and any(c in path.name for c in "*?["):  # a glob: its folder's name
        path = path.parent
    label = path.stem if path is not None else subset
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "data"


def labelled(name: str, label: str | None) -> str:
    """An artifact's name for evaluation ``label``: ``evaluation.json`` -> ``evaluation-<label>.json``."""
    if label is None:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{label}.{ext}" if dot else f"{name}-{label}"


def with_evaluation(info: dict, doc: dict) -> dict:
    """run.json's ``info`` with evaluation document ``doc`` listed in its ``evaluations`` (file, report, subset,
    data, time), replacing an earlier evaluation written to the same file."""
    entry = {"file": doc["file"], "report": doc["report_file"], "subset": doc["subset"], "data": doc["data"],
             "evaluated": doc["evaluated"]}
    kept = [e for e in info.get("evaluations", []) if isinstance(e, dict) and e.get("file") != entry["file"]]
    return {**info, "evaluations": [*kept, entry]}


def layer_pca_png(layer: str) -> str:
    """``layer_<L>_pca.png`` for ``nnrun explain --layer L`` (characters unsafe in a file name become ``_``)."""
    import re

    return f"layer_{re.sub(r'[^A-Za-z0-9_.-]', '_', str(layer))}_pca.png"
