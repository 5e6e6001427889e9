"""The one table of file formats: extensions, folder layouts and content sniffing.

Every place that needs a file's format asks here (training, ``evaluate --data``, ``predict``, ``nnrun
validate``). No NumPy/pandas: ``nnrun validate`` uses it.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Extension -> format (``.gz`` is looked through: ``d.csv.gz`` is csv).
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".data": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet",
              ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".npz": "npz", ".npy": "npy"}
#: File formats a ``data.path`` may have.
FORMATS = ("csv", "tsv", "parquet", "jsonl", "npz", "npy")
#: Formats read as tables (columns), whole or in chunks.
TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Formats holding arrays (features ``x``, targets ``y``).
ARRAY_FORMATS = ("npz", "npy")
#: Image files in a folder of images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
GZIP_MAGIC = b"\x1f\x8b"


def _suffix(path: str | Path) -> str:
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def format_of(path: str | Path, given: str | None) -> str:
    """The file format: ``given`` (``data.format``), else from the extension (``.gz`` looked through),
    else ``csv``.

    Args:
        path: a file name (need not exist).
        given: the configured format, or None.

    Returns:
        One of ``FORMATS`` (or ``given`` as it is).
    """
    if given:
        return given
    return EXTENSIONS.get(_suffix(path), "csv")


def known_format(path: str | Path) -> str | None:
    """The format the extension names, None for an unknown extension (``.gz`` alone counts as csv)."""
    suffix = _suffix(path)
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    return "csv" if str(path).lower().endswith(".gz") else None


def predict_format(path: Path) -> str:
    """The format of a predict input file: ``.json`` is JSON; a CSV-named file that starts with ``[`` or ``{``
    is JSON too; else as ``format_of``."""
    if path.suffix.lower() == ".json":
        return "json"
    fmt = format_of(path, None)
    if fmt == "csv":
        with path.open("rb") as fh:
            if fh.read(64).lstrip()[:1] in (b"[", b"{"):
                return "json"
    return fmt


def sniff_stdin(head: bytes) -> str:
    """stdin's format from its first bytes: ``[`` JSON; ``{`` JSON Lines when the first line is a whole JSON
    object and more follows, else JSON; anything else CSV."""
    start = head.lstrip()[:1]
    if start == b"[":
        return "json"
    if start == b"{":
        first, _, rest = head.lstrip().partition(b"\n")
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl" if rest.strip() else "json"
    return "csv"


def folder_format(path: Path) -> str:
    """``images`` or ``texts`` for a folder with one subfolder per class, from the files' extensions.

    Raises:
        DataError: no class subfolders, or neither images nor .txt files in them.
    """
    from nnrun.errors import DataError

    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{path}: is a directory without class subfolders; expected one subfolder per class "
                        "(e.g. data/pets/cat/*.png, data/pets/dog/*.png) or a data file")
    files = [f for c in classes for f in c.iterdir() if f.is_file()]
    if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in files):
        return "images"
    if any(f.suffix.lower() == ".txt" for f in files):
        return "texts"
    raise DataError(f"{path}: the class subfolders hold no images ({', '.join(IMAGE_EXTENSIONS)}) or .txt files")
