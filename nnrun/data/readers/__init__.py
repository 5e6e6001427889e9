"""Readers: one module per input kind, one dispatcher, one set of reading options.

Each table reader (``csv`` for CSV/TSV, ``parquet``, ``jsonl``) offers a whole read (``read_whole``: training,
``evaluate --data``) and a chunked read (``read_chunks``: ``predict``) that run the SAME checks (header
detection, duplicate/empty names, field counts, BOM/gzip/UTF-8, comment lines) through the same functions,
so every path gives the same message for the same bad file. ``arrays`` reads NPZ/NPY, ``folders`` folders of
images or texts, ``jsondoc`` a whole JSON document of rows (predict input).

The dispatcher follows keras' ``data_adapters.get_data_adapter``: one function picks the module by format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from nnrun.data.formats import TABLE_FORMATS
from nnrun.data.readers.common import RawTable
from nnrun.errors import DataError

#: ``plan(columns, header) -> (number_columns, text_columns)``: which file columns to read, and how.
Plan = Callable[[list[str], bool], tuple[list[str], list[str]]]
#: What a chunked read yields: a DataFrame of the rows read (labelled by line) and messages for skipped rows.
Chunk = tuple[Any, list[str]]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a table file: the ``data:`` options that change reading (recorded in ``dataset.json``).

    Attributes:
        format: csv, tsv, parquet, jsonl (None: from the extension).
        header: the file has a header row (None: detected).
        delimiter: the CSV field separator (None: sniffed; tab for TSV).
        comment: lines starting with this character are skipped (line numbers kept).
        quotechar: the CSV quote character (None: no quoting).
        na_values: cells read as missing (None: ``NA_VALUES``); used when encoding.
        target: the target column (name or index), for the CSV fast path's number check only.
    """

    format: str | None = None
    header: bool | None = None
    delimiter: str | None = None
    comment: str | None = None
    quotechar: str | None = '"'
    na_values: tuple[str, ...] | None = None
    target: int | str | None = None

    @classmethod
    def from_config(cls, data_cfg: Any) -> ReadOptions:
        """The options of a ``data:`` config section (any object with those attributes; missing = default)."""
        na = getattr(data_cfg, "na_values", None)
        return cls(format=getattr(data_cfg, "format", None), header=getattr(data_cfg, "header", None),
                   delimiter=getattr(data_cfg, "delimiter", None), comment=getattr(data_cfg, "comment", None),
                   quotechar=getattr(data_cfg, "quotechar", '"'), na_values=tuple(na) if na is not None else None,
                   target=getattr(data_cfg, "target", None))

    @classmethod
    def from_run(cls, meta: dict, data_cfg: Any = None) -> ReadOptions:
        """The options a run read its data with: ``dataset.json``'s ``reading`` (runs trained since it was
        recorded), else the run's ``data:`` config, else the defaults (``quotechar`` from the old key)."""
        saved = meta.get("reading")
        if isinstance(saved, dict):
            known = {k: saved[k] for k in ("format", "header", "delimiter", "comment", "quotechar") if k in saved}
            na = saved.get("na_values")
            return cls(**known, na_values=tuple(na) if na is not None else None)
        if data_cfg is not None:
            return cls.from_config(data_cfg)
        return cls(quotechar=meta.get("quotechar", '"'))

    def to_dict(self) -> dict:
        """The options as JSON-able values (``dataset.json``'s ``reading``; the target is not a reading option)."""
        out = asdict(self)
        out.pop("target")
        out["na_values"] = list(self.na_values) if self.na_values is not None else None
        return out


def get_reader(fmt: str) -> Any:
    """The reader module for a table format (``csv`` and ``tsv`` share one).

    Raises:
        DataError: not a table format.
    """
    if fmt in ("csv", "tsv"):
        from nnrun.data.readers import csv as module
    elif fmt == "parquet":
        from nnrun.data.readers import parquet as module
    elif fmt == "jsonl":
        from nnrun.data.readers import jsonl as module
    else:
        raise DataError(f"{fmt} is not a table format (expected one of: {', '.join(TABLE_FORMATS)})")
    return module


def read_whole(path: Path, fmt: str, opts: ReadOptions, skip_bad: bool = False) -> RawTable:
    """Read a whole table file (training, ``evaluate --data``).

    Args:
        path: the file (gzip looked through).
        fmt: csv, tsv, parquet or jsonl.
        opts: how to read it.
        skip_bad: leave out CSV records with the wrong number of fields (``RawTable.left_out``, worded as the
            chunked read words them) instead of refusing the first.

    Returns:
        The RawTable: every column as the file has it, rows labelled by line (``RawTable.where``).

    Raises:
        DataError: unreadable file, ragged rows, bad names, bad JSON (line named), an empty file; arrays.
    """
    if fmt in ("npz", "npy"):
        raise DataError(f"{path}: {fmt} holds arrays, not a table")
    if fmt in ("csv", "tsv"):
        from nnrun.data.readers import csv as module

        return module.read_whole(path, fmt, opts, skip_bad)
    return get_reader(fmt).read_whole(path, fmt, opts)


def read_chunks(source: Path | IO[bytes], fmt: str, opts: ReadOptions, chunk_rows: int, name: str | None = None,
                plan: Plan | None = None) -> tuple[RawTable, Iterator[Chunk]]:
    """Read a table about ``chunk_rows`` rows at a time (``predict``): memory stays flat as the file grows.

    Args:
        source: a file path, or a binary stream (stdin).
        fmt: csv, tsv, jsonl or parquet.
        opts: how to read it (as ``read_whole``).
        chunk_rows: rows per chunk (about).
        name: the name in messages (default: the path).
        plan: which columns to read as numbers and which as text, given the file's columns and whether it
            has a header (called once, before the first chunk). Default: every column as text.

    Returns:
        (info, chunks): a RawTable describing the file (``frame`` empty, with the columns; ``where`` names a
        row's line) and an iterator of ``(frame, problems)``: CSV rows with the wrong number of fields are left
        out and reported in ``problems`` (the caller decides whether to stop).

    Raises:
        DataError: unreadable input, bad names, not UTF-8, bad JSON (line named); possibly while iterating.
    """
    if isinstance(source, Path):
        name = name or str(source)
        if not source.exists():
            raise DataError(f"{name}: no such input file")
        if not source.is_file():
            raise DataError(f"{name}: not a regular file")
    return get_reader(fmt).read_chunks(source, fmt, opts, chunk_rows, name or "<stdin>", plan or all_text)


def all_text(columns: list[str], header: bool) -> tuple[list[str], list[str]]:
    """The default plan: every column as text."""
    return [], list(columns)
