"""A folder written atomically (``nnrun export``'s output): built in a hidden temporary folder beside it, then
renamed into place, so the path holds the previous export or the complete new one, never half of one.

An existing folder is replaced only with ``force``, and only when nnrun wrote it: it holds an ``export.json``
that lists every other file in it (a folder with a file nnrun did not write is never removed). Without
``force`` the new folder is put in place by one rename(2), which fails rather than replace a non-empty folder,
so a folder created at the path while exporting is never lost.
"""

from __future__ import annotations

import errno
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
    """Whether ``target`` may be (over)written: absent, an empty folder, or (with ``force``) an export nnrun
    wrote. A folder without an ``export.json`` is refused at once, without walking it (``--output /``).

    Raises:
        UsageError: it exists and ``force`` is off; it is a file or a folder nnrun did not write (even with
            ``force``); its parent is a file.
    """
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise UsageError(f"{target}: exists and is not an export folder; nnrun never writes over it",
                             hint="give --output a new folder")
        if _is_empty(target):
            return
        if not (target / rundir.EXPORT_JSON).is_file():  # refused at once: never walk a folder that is not one
            raise UsageError(f"{target}: is not an nnrun export folder (no {rundir.EXPORT_JSON}); nnrun never "
                             "writes over it, --force or not", hint="give --output a new folder")
        foreign = first_foreign(target)
        if foreign is not None:
            raise UsageError(f"{target}: holds {foreign}, which nnrun export did not write; nnrun never "
                             "writes over it, --force or not", hint="give --output a new folder")
        if not force:
            raise UsageError(f"{target}: an export is already there; add --force to replace it",
                             hint="or give --output another folder")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{parent}: is a file, not a folder; give --output a path in a folder")
            break


def check_location(target: Path, run: Path) -> None:
    """Refuse an output inside a run directory (a folder with ``run.json``, the nearest one above ``target``)
    other than ``run``'s ``export/`` folder: nnrun export never writes into another run, nor beside its own
    run's artifacts.

    Raises:
        UsageError: naming the run directory the output is in (exit 2).
    """
    where = target.resolve()
    home = run.resolve()
    for folder in (where, *where.parents):
        if (folder / rundir.RUN).is_file():
            if folder != home:
                shown = next((p for p in (target, *target.parents) if p.resolve() == folder), folder)
                raise UsageError(f"--output {target}: is inside the run directory {shown}, which is not the "
                                 "run being exported; nnrun export never writes into another run",
                                 hint="give --output a folder outside run directories")
            if home / rundir.EXPORT_DIR not in where.parents:
                raise UsageError(f"--output {target}: is inside the run directory {run} but not under its "
                                 f"{rundir.EXPORT_DIR}/ folder", hint=f"give --output {run / rundir.EXPORT_DIR}/NAME")
            return


def first_foreign(folder: Path) -> str | None:
    """The first entry of ``folder`` its ``export.json`` does not list (``folder`` relative path), ``export.json``
    itself when it is missing or not nnrun's; None when every entry is listed. Only the export's own tree is
    walked: a folder is entered only when a listed file is in it (others must be empty), and the walk stops at
    the first unlisted entry.
    """
    try:
        doc = json.loads((folder / rundir.EXPORT_JSON).read_text(encoding="utf-8"))
        listed = {str(f["path"]) for f in doc["files"]}
        if doc.get("format") is None:
            raise KeyError("format")
    except (OSError, ValueError, KeyError, TypeError):
        return rundir.EXPORT_JSON
    listed.add(rundir.EXPORT_JSON)
    prefixes = {"/".join(p.split("/")[:i]) for p in listed for i in range(1, p.count("/") + 1)}
    return _unlisted(folder, "", listed, prefixes)


def _unlisted(folder: Path, base: str, listed: set[str], prefixes: set[str]) -> str | None:
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            rel = f"{base}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if rel in prefixes:
                    found = _unlisted(Path(entry.path), f"{rel}/", listed, prefixes)
                else:  # an empty folder (a SavedModel's assets/) holds nothing to lose
                    found = None if _is_empty(Path(entry.path)) else rel
            else:
                found = None if rel in listed and not entry.is_symlink() else rel
            if found is not None:
                return found
    return None


def before_swap(target: Path) -> None:
    """Called between staging and the swap: the window another process may create ``target`` in (tests
    replace it to simulate that race)."""


@contextmanager
def staged(target: Path, force: bool = False) -> Iterator[Path]:
    """A new, empty hidden folder beside ``target``; on a normal exit it becomes ``target`` (with ``force``, a
    previous export there is swapped out, then removed), on any error it is removed and ``target`` is untouched.

    Raises:
        UsageError: something nnrun did not write appeared at ``target`` while exporting (never replaced).
        RunError: the folder cannot be created or renamed (path named).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=rundir.TEMP_MARK, dir=target.parent))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as exc:
        from nnrun.writable import NOT_WRITABLE, not_writable

        if exc.errno in NOT_WRITABLE:
            raise not_writable(f"--output {target}", f"create {target.name} there", exc) from None
        raise RunError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        yield tmp
        before_swap(target)
        if force:
            _swap_in(tmp, target)
        else:
            _rename_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _appeared(target: Path) -> UsageError:
    return UsageError(f"{target}: appeared while exporting (another process wrote it); nnrun never writes over "
                      "it, so nothing was written", hint="give --output a new folder")


def _rename_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target`` with one rename(2), which never replaces a file nor a non-empty folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise _appeared(target)
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise _appeared(target) from None
        raise RunError(f"{target}: cannot write: {exc.strerror or exc}") from None


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an export already there is checked again (only the files its export.json
    lists), renamed aside, checked once more where it now lies (nothing can be added to it unseen), and removed
    after; when anything else is in it, it is put back and nothing is written."""
    check_target(target, force=True)
    if not (target.exists() or target.is_symlink()):
        _rename_in(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", suffix=rundir.TEMP_MARK, dir=target.parent))
    aside = old / target.name
    try:
        os.rename(target, aside)
        if not _is_empty(aside) and first_foreign(aside) is not None:
            os.rename(aside, target)
            raise _appeared(target)
        os.rename(tmp, target)
    except OSError as exc:
        if not target.exists() and aside.exists():
            os.rename(aside, target)  # put the previous export back
        raise RunError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        if not aside.exists() or first_foreign(aside) is None or _is_empty(aside):
            shutil.rmtree(old, ignore_errors=True)


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is None


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
