"""Sharded datasets: a ``data.path`` (or ``data.validation`` / ``data.test``) that is a folder of table files or a
glob (``data/clicks/*.parquet``, ``logs/part-*.csv.gz``, recursive: ``data/**/*.parquet`` matches shards in
every subfolder), every shard with the same columns; shards are read in sorted path order.

``find_shards`` says whether a path names shards (and which, in sorted order); ``read_shards`` reads them all
through the ONE reader (``readers.read_whole``, the same checks and messages as a single file) into one
``RawTable`` whose ``where`` names the shard and its line (``data/part-0007.csv:123``). Streaming training reads
them in chunks instead (``nnrun.data.stream_spec``, ``nnrun.training.stream``). No TensorFlow here.
"""

from __future__ import annotations

import bisect
import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnrun.data.formats import TABLE_FORMATS, known_format
from nnrun.data.readers.common import RawTable
from nnrun.errors import DataError

_GLOB_CHARS = ("*", "?", "[")


@dataclass(frozen=True)
class Shards:
    """The shard files of one dataset.

    Attributes:
        name: the folder or glob as resolved (``source`` in ``dataset.json``; re-globbed on resume).
        paths: the shard files, sorted by name.
        fmt: their one table format (csv, tsv, parquet, jsonl).
    """

    name: str
    paths: tuple[Path, ...]
    fmt: str

    def size(self) -> int:
        """Bytes on disk, all shards together."""
        return sum(p.stat().st_size for p in self.paths)

    def key(self, path: Path) -> str:
        """A shard's name in the streamed split's hash (``stream_read.hash_roles``): its file name, or under a
        recursive glob (``**``) its path below the glob's fixed folder, so that ``a/part-0`` and ``b/part-0``
        differ (still independent of where the data lives)."""
        if "**" not in self.name:
            return path.name
        root = Path(*next(([*Path(self.name).parts[:i]] for i, part in enumerate(Path(self.name).parts)
                           if is_glob(part)), [self.name]))
        try:
            return path.absolute().relative_to(root).as_posix()
        except ValueError:
            return path.name


def is_glob(path: str | Path) -> bool:
    """Whether a data path is a glob pattern (``*``, ``?`` or ``[``)."""
    return any(ch in str(path) for ch in _GLOB_CHARS)


def _table_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p.is_file() or _dangling(p)) and not p.name.startswith((".", "_"))
                  and known_format(p) in TABLE_FORMATS)


def _dangling(path: Path) -> bool:
    """A symbolic link whose target does not exist (kept as a shard, so that it is refused, not skipped)."""
    return path.is_symlink() and not path.exists()


def _check_files(paths: list[Path]) -> None:
    """Refuse a broken link among the shards (its rows would be silently missing), and two names of one file
    (a link to another shard: its rows would be read twice, and the split, by shard name, could put the same
    row in training and in validation). Refusing beats de-duplicating: which name is kept decides the split."""
    seen: dict[Path, Path] = {}
    for p in paths:
        if _dangling(p):
            raise DataError(f"{p}: a broken symbolic link (to {os.readlink(p)}, which does not exist); restore "
                            "the file or remove the link")
        real = p.resolve()
        if real in seen:
            raise DataError(f"{seen[real]} and {p}: the same file ({real}) twice among the shards; its rows would "
                            "be read twice and could be both training and validation rows. Remove the link, or "
                            "give a glob that names the file once")
        seen[real] = p


def find_shards(path: str | Path, config_path: Path | None, given_format: str | None = None) -> Shards | None:
    """The shards a data path names, or None for a single file or a folder of class subfolders.

    A glob is tried from the working directory, then from the config's folder (as ``resolve_path`` does);
    a folder holds shards when it has table files directly in it (hidden and ``_``-prefixed files, such as
    Spark's ``_SUCCESS``, are ignored).

    Args:
        path: ``data.path`` (or a validation/test path) as configured. config_path: the config file.
        given_format: ``data.format``, when set.

    Returns:
        The Shards, or None.

    Raises:
        DataError: a glob that matches no file, shards of different formats, a broken symbolic link, one file
            twice (a link to another shard).
    """
    text = str(Path(str(path)).expanduser())
    if is_glob(text):
        bases = [Path(text)] if Path(text).is_absolute() or config_path is None else \
            [Path(text), config_path.parent / text]
        for base in bases:
            found = sorted(Path(p) for p in glob.glob(str(base), recursive=True)
                           if Path(p).is_file() or _dangling(Path(p)))
            if found:
                return _checked(str(Path(base).absolute()), found, given_format)
        where = " or ".join(dict.fromkeys(str(b.parent.resolve()) for b in bases))  # once when the same folder
        raise DataError(f"{path}: no file matches this pattern (looked in {where})")
    folder = Path(text) if Path(text).is_dir() or config_path is None else config_path.parent / text
    if not folder.is_dir():
        return None
    files = _table_files(folder)
    return _checked(str(folder.absolute()), files, given_format) if files else None


def _checked(name: str, paths: list[Path], given_format: str | None) -> Shards:
    _check_files(paths)
    formats = {given_format or known_format(p) or "csv" for p in paths}
    if len(formats) > 1:
        by = {f: next(p for p in paths if (known_format(p) or "csv") == f) for f in formats}
        mixed = ", ".join(f"{f}: {p.name}" for f, p in sorted(by.items()))
        raise DataError(f"{name}: the shards mix formats ({mixed}); give a glob that picks one format")
    fmt = formats.pop()
    if fmt not in TABLE_FORMATS:
        raise DataError(f"{name}: {fmt} files cannot be shards; expected one of: {', '.join(TABLE_FORMATS)}")
    return Shards(name, tuple(paths), fmt)


@dataclass
class ShardedRaw(RawTable):
    """A RawTable of several shards: row labels are the shards' own labels shifted by ``offsets`` (one per
    shard), and ``where`` names the shard's file and line."""

    parts: list[RawTable] | None = None
    offsets: list[int] | None = None

    def where(self, label: Any) -> str:
        k = bisect.bisect_right(self.offsets, int(label)) - 1
        return self.parts[k].where(int(label) - self.offsets[k])


def same_columns(first: tuple[str, list[str]], other: tuple[str, list[str]]) -> None:
    """Refuse a shard whose columns differ from the first shard's (both shards and the difference named).

    Args:
        first, other: (shard name, its columns).

    Raises:
        DataError: the columns differ.
    """
    (a, cols_a), (b, cols_b) = first, other
    if cols_a == cols_b:
        return
    only_a = [c for c in cols_a if c not in cols_b]
    only_b = [c for c in cols_b if c not in cols_a]
    what = (f"{b} lacks {', '.join(map(repr, only_a[:5]))}" if only_a else "") + \
        ("; " if only_a and only_b else "") + (f"{b} adds {', '.join(map(repr, only_b[:5]))}" if only_b else "")
    raise DataError(f"{b}: its columns differ from {a}'s ({what or 'same names in another order'}); every shard "
                    "needs the same columns")


def read_shards(shards: Shards, opts: Any, skip_bad: bool = False) -> ShardedRaw:
    """Read every shard whole (``readers.read_whole``, same checks) into one table, rows in shard order.

    Args:
        shards: the shard files. opts: the ``ReadOptions``. skip_bad: as ``readers.read_whole``.

    Returns:
        The ShardedRaw: one frame, ``where(label)`` = ``shard:line``; ``sha256`` over the shards' names and digests.

    Raises:
        DataError: any shard's reading error (its name and line), or columns differing between shards.
    """
    import pandas as pd

    from nnrun.data.readers import read_whole

    parts, frames, offsets, left_out, start = [], [], [], [], 0
    for path in shards.paths:
        raw = read_whole(path, shards.fmt, opts, skip_bad)
        left_out += [(label + start, message) for label, message in raw.left_out]
        if parts:
            same_columns((parts[0].source, list(parts[0].frame.columns)), (raw.source, list(raw.frame.columns)))
        frame = raw.frame
        labels = frame.index.to_numpy().astype("int64")
        frame = frame.set_axis(labels + start, axis=0)
        parts.append(raw)
        offsets.append(start)
        frames.append(frame)
        start += max([int(labels.max()) if len(labels) else 0, *(label for label, _ in raw.left_out)]) + 1
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    first = parts[0]
    sha = digest(shards, [p.sha256 for p in parts])
    return ShardedRaw(frame, shards.name, sha, shards.fmt, first.header, first.delimiter, 0, first.unit,
                      left_out=left_out, parts=parts, offsets=offsets)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (memory stays flat)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest(shards: Shards, shas: list[str | None] | None = None) -> str:
    """The dataset's SHA-256: over each shard's name in the split (``Shards.key``) and SHA-256 (``shas`` when at
    hand, else read)."""
    h = hashlib.sha256()
    for i, path in enumerate(shards.paths):
        sha = shas[i] if shas is not None and shas[i] else file_sha256(path)
        h.update(f"{shards.key(path)}\0{sha}\n".encode())  # the split's key: a move under ** changes it
    return h.hexdigest()
