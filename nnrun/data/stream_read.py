"""Shards read a chunk at a time for streaming training: the same chunked readers as ``predict``
(``readers.read_chunks``: same checks, same ``shard:line`` messages), the rows' split by a seeded hash of
(shard name, row label), and the per-chunk checks of the training read (target cells, missing values, rows
with a missing value in a ``missing: drop`` column). No TensorFlow here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrun.data.readers import ReadOptions, read_chunks
from nnrun.data.shards import Shards, same_columns
from nnrun.errors import DataError

#: Rows per chunk read from a shard (about): memory per chunk, not per dataset.
STREAM_CHUNK_ROWS = 65_536
#: Roles of a row in the hash split.
TRAIN, VALIDATION, TEST = 0, 1, 2

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed 64-bit hash of each value (vectorised, wraps on overflow)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_roles(seed: int, shard: str, labels: np.ndarray, validation: float, test: float) -> np.ndarray:
    """The split of rows by a seeded hash of (shard file name, row label): stable across runs, resumes and
    reading order, no indices held. A row is test when its hash (as a fraction of 2**64) is below ``test``,
    validation below ``test + validation``, else training; fractions hold on average (not stratified).

    Args:
        seed: the config's seed. shard: the shard's file name (not its folder: moving the data keeps the split).
        labels: the rows' labels (``file line - 1`` for CSV, row index for Parquet), shape (num_rows,).
        validation, test: the fractions.

    Returns:
        int8 roles (TRAIN, VALIDATION, TEST), shape (num_rows,).
    """
    key = np.uint64((zlib.crc32(shard.encode()) << 32) ^ (seed & 0xFFFFFFFF))
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(labels, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + key)
    u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    roles = np.full(len(u), TRAIN, dtype=np.int8)
    roles[u < test + validation] = VALIDATION
    roles[u < test] = TEST
    return roles


@dataclass
class Chunk:
    """Rows of one shard read in one chunk.

    Attributes:
        shard: the shard's index. frame: its rows (labels = the reader's row labels). where: label -> shard:line.
        problems: messages for rows the reader left out (a wrong field count).
    """

    shard: int
    frame: Any
    where: Callable[[Any], str]
    problems: list[str]


def iter_chunks(shards: Shards, opts: ReadOptions, plan: Any = None,
                chunk_rows: int = STREAM_CHUNK_ROWS) -> Iterator[Chunk]:
    """Every shard's rows a chunk at a time, in the order of ``shards.paths``, columns checked alike.

    Args:
        shards: the shards. opts: the reading options.
        plan: which columns to read as numbers and which as text (see ``readers.read_chunks``).
        chunk_rows: rows per chunk (about).

    Raises:
        DataError: a reading error (shard and line named), columns that differ from the first shard's.
    """
    first: tuple[str, list[str]] | None = None
    for i, path in enumerate(shards.paths):
        info, chunks = read_chunks(path, shards.fmt, opts, chunk_rows, plan=plan)
        columns = list(info.frame.columns)
        if first is None:
            first = (info.source, columns)
        same_columns(first, (info.source, columns))
        for frame, problems in chunks:
            yield Chunk(i, frame, info.where, problems)


def read_layout(shards: Shards, opts: ReadOptions) -> tuple[Any, Any]:
    """The first shard's layout and its first chunk (every column as text): columns, header, delimiter, and
    rows to decide the feature kinds from.

    Returns:
        (the RawTable describing the first shard, its first chunk's frame).

    Raises:
        DataError: an unreadable first shard, or one without rows.
    """
    info, chunks = read_chunks(shards.paths[0], shards.fmt, opts, STREAM_CHUNK_ROWS)
    frame = next((f for f, _ in chunks if len(f)), None)
    if frame is None:
        raise DataError(f"{info.source}: the file holds no rows")
    return info, frame


def first_problem(chunk: Chunk, skip_bad: bool, skipped: list[str]) -> None:
    """The reader's messages for rows it left out: raised (the first), or counted with ``skip_bad``."""
    if chunk.problems and not skip_bad:
        raise DataError(chunk.problems[0])
    skipped.extend(chunk.problems)
