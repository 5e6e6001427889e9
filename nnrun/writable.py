"""A location the user named (``--runs-dir``, ``--output``) that cannot be written: a usage error (exit 2), as
README's exit-code table says, found before any work and worded one way for every command:
``--runs-dir ro: cannot write in /abs/ro (permission denied); nnrun needs to create the run directory there``
with the hint ``choose a writable directory, or make /abs/ro writable (chmod u+w)``.

Only the permission and read-only-filesystem cases are usage errors; a full disk or an I/O error while writing
stays a runtime failure (exit 1). No TensorFlow here.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from nnrun.errors import UsageError

#: OS errors that mean "this location cannot be written by you" (fixed by choosing another one).
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent (where a missing folder would be made)."""
    path = Path(path).absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return path


def check_writable(path: Path | str, named: str, need: str) -> None:
    """Refuse (exit 2) a directory to write in, or the folder it would be made in, that cannot be written.

    Args:
        path: the directory to write in (it may not exist yet). named: how the user named it, for the message
            (``--runs-dir ro``, ``--output ro/x.csv``). need: what nnrun would do there ("create x.csv there").

    Raises:
        UsageError: no write permission, or a read-only file system (``not_writable``'s message).
    """
    folder = nearest_existing(Path(path))
    if not folder.is_dir() or os.access(folder, os.W_OK):
        return
    read_only = errno.EROFS if _read_only(folder) else errno.EACCES
    raise not_writable(named, need, OSError(read_only, os.strerror(read_only), str(folder)))


def not_writable(named: str, need: str, exc: OSError) -> UsageError:
    """The one message for a named location that cannot be written (``exc``: the OS error met there, its
    ``filename`` the folder)."""
    folder = Path(exc.filename or ".").absolute()
    folder = folder if folder.is_dir() else folder.parent
    why = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
    fix = "choose a writable directory" + ("" if exc.errno == errno.EROFS else
                                          f", or make {folder} writable (chmod u+w)")
    return UsageError(f"{named}: cannot write in {folder} ({why}); nnrun needs to {need}", hint=fix)


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
