"""File formats by extension (no NumPy/pandas: ``nnrun validate`` uses it)."""

from __future__ import annotations

from pathlib import Path

_EXT = {".csv": "csv", ".txt": "csv", ".data": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet",
        ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".npz": "npz", ".npy": "npy"}
FORMATS = ("csv", "tsv", "parquet", "jsonl", "npz", "npy")


def format_of(path: str | Path, given: str | None) -> str:
    """The file format: ``given`` (``data.format``), else from the extension (``.gz`` looked through),
    else ``csv``."""
    if given:
        return given
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXT.get(Path(name).suffix, "csv")
