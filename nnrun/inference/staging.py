"""A folder written atomically (``nnrun export``'s output): built in a hidden temporary folder beside it, then
renamed into place, so the path holds the previous export or the complete new one, never half of one.

An existing folder is replaced only with ``force``, and only when nnrun wrote it: it holds an ``export.json``
that lists every other file in it (a folder with a file nnrun did not write is never removed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nnrun import rundir
from nnrun.errors import RunError, UsageError


def check_target(target: Path, force: bool) -> None:
    """Whether ``target`` may be (over)written.

    Raises:
        UsageError: it exists and ``force`` is off; it is a file or a folder nnrun did not write (even with
            ``force``); its parent is a file.
    """
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise UsageError(f"{target}: exists and is not an export folder; nnrun never writes over it",
                             hint="give --output a new folder")
        foreign = foreign_files(target)
        if foreign:
            raise UsageError(f"{target}: holds {foreign[0]}, which nnrun export did not write; nnrun never "
                             "writes over it, --force or not", hint="give --output a new folder")
        if not force:
            raise UsageError(f"{target}: an export is already there; add --force to replace it",
                             hint="or give --output another folder")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{parent}: is a file, not a folder; give --output a path in a folder")
            break


def foreign_files(folder: Path) -> list[str]:
    """The files in ``folder`` that its ``export.json`` does not list (all of them when it has none or it is
    not nnrun's), as paths relative to ``folder``, sorted."""
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    try:
        doc = json.loads((folder / rundir.EXPORT_JSON).read_text(encoding="utf-8"))
        listed = {f["path"] for f in doc["files"]} | {rundir.EXPORT_JSON}
        if doc.get("format") is None:
            raise KeyError("format")
    except (OSError, ValueError, KeyError, TypeError):
        return present
    return [p for p in present if p not in listed]


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A new, empty hidden folder beside ``target``; on a normal exit it becomes ``target`` (a previous
    folder there is swapped out, then removed), on any error it is removed and ``target`` is untouched.

    Raises:
        RunError: the folder cannot be created or renamed (path named).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=rundir.TEMP_MARK, dir=target.parent))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as exc:
        raise RunError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        yield tmp
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; a folder already there is renamed aside first, and removed after."""
    old = None
    try:
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", suffix=rundir.TEMP_MARK, dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
    except OSError as exc:
        if old is not None and not target.exists() and (old / target.name).exists():
            os.replace(old / target.name, target)  # put the previous export back
        raise RunError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def remove_stale(target: Path, run: Path) -> list[Path]:
    """Remove the temporary folders an export of ``target`` that died left beside it (``.<name>.*.tmp``; call it
    holding the run's lock). Only inside the run directory ``run``: elsewhere another run's export may be
    writing one."""
    removed = []
    if run.resolve() in target.resolve().parents and target.parent.is_dir():
        for path in target.parent.glob(f".{target.name}.*{rundir.TEMP_MARK}"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
