"""What every reader shares: the raw table, file bytes, UTF-8 decoding, gzip, and data paths.

No TensorFlow here; NumPy/pandas only inside the functions that build frames.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nnrun.data.formats import GZIP_MAGIC
from nnrun.errors import DataError

#: Cells read as missing unless ``data.na_values`` says otherwise.
NA_VALUES = ("", "?", "NA", "N/A", "NaN", "nan", "null", "None")


@dataclass
class RawTable:
    """A file's columns before encoding.

    Attributes:
        frame: pandas DataFrame, one column per file column (string names), rows labelled for messages.
        source: the file path as resolved. sha256: SHA-256 of its bytes.
        fmt: csv, tsv, parquet or jsonl. header: the file had a header row (always True for Parquet/JSONL).
        delimiter: the CSV field separator (None for other formats).
        first_line: the file line of row label 0 (CSV: 2 with a header, else 1; JSONL: 1; Parquet: 1 = row).
        unit: ``line`` (CSV, JSONL) or ``row`` (Parquet) for messages.
        names: one name per row (a folder of texts: the file), used by ``where`` instead of a line.
        left_out: ``(row label, message)`` of each record the reader left out (``read_whole(skip_bad=True)``:
            a CSV record with the wrong number of fields), labelled as ``frame``'s rows are.
    """

    frame: Any
    source: str
    sha256: str | None
    fmt: str
    header: bool = True
    delimiter: str | None = None
    first_line: int = 1
    unit: str = "line"
    names: list[str] | None = None
    left_out: list[tuple[int, str]] = field(default_factory=list)

    def where(self, label: Any) -> str:
        """``file:LINE`` (CSV, JSONL), ``file: row N`` (Parquet), or the file itself (a folder of texts)."""
        if self.names is not None:
            return self.names[int(label)]
        n = self.first_line + int(label)
        return f"{self.source}:{n}" if self.unit == "line" else f"{self.source}: row {n}"


def resolve_path(path: str, config_path: Path | None, allow_dir: bool = False) -> Path:
    """Resolve a data path: as given (relative to the working directory), else relative to the config.

    Raises:
        DataError: neither exists; the message lists both places tried.
    """
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute() or config_path is None:
        candidate = p
    else:
        candidate = config_path.parent / p
        if not candidate.exists():
            raise DataError(f"{path}: no such data file (looked in {Path.cwd()} and {config_path.parent})")
    if not candidate.exists():
        raise DataError(f"{path}: no such data file")
    if candidate.is_dir():
        if allow_dir:
            return candidate
        raise DataError(f"{candidate}: is a directory, expected a CSV file")
    if not candidate.is_file():
        raise DataError(f"{candidate}: not a regular file (a device or pipe?); expected a CSV file")
    return candidate


def read_bytes(path: Path | str, what: str = "CSV file") -> bytes:
    """Read a data or input file's bytes.

    Raises:
        DataError: missing, a directory, not a regular file (device, pipe), or unreadable; path named.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a {what}")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (a device or pipe?); expected a {what}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def gzip_message(name: str, exc: BaseException) -> str:
    """The one message for a damaged gzip file (whole and chunked reads)."""
    return f"{name}: a damaged gzip file: {exc}"


def gunzip(raw: bytes, name: str) -> bytes:
    """The bytes themselves, or their decompression when they start with the gzip magic bytes.

    Raises:
        DataError: a damaged gzip file.
    """
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a damaged body behind an intact header
        raise DataError(gzip_message(name, exc)) from None


class _GzipStream(io.RawIOBase):
    """A gzip file read as a stream, damage reported as ``DataError`` (as ``gunzip`` does)."""

    def __init__(self, path: Path, name: str) -> None:
        self.inner, self.name_ = gzip.open(path, "rb"), name

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        try:
            data = self.inner.read(len(buf))
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(gzip_message(self.name_, exc)) from None
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_binary(source: Path, name: str) -> IO[bytes]:
    """A file opened for reading bytes, gzip looked through (damage raised as ``DataError`` while reading)."""
    with source.open("rb") as fh:
        gz = fh.read(2) == GZIP_MAGIC
    return io.BufferedReader(_GzipStream(source, name), buffer_size=1 << 20) if gz else source.open("rb")


def joined(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    """A binary stream that reads ``head`` and then ``rest`` (stdin after a peek at its first bytes)."""

    class Joined(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buf: Any) -> int:
            nonlocal head
            if head:
                n = min(len(buf), len(head))
                buf[:n], head = head[:n], head[n:]
                return n
            data = rest.read(len(buf))
            buf[: len(data)] = data
            return len(data)

    return io.BufferedReader(Joined(), buffer_size=1 << 20)


def refuse_binary(raw: bytes, name: str) -> None:
    """Refuse a binary file: NUL bytes in its first 64 KiB (``raw``: the file's bytes, or its first bytes).

    Raises:
        DataError: ``file: holds NUL bytes: this is a binary file, not CSV text``.
    """
    if b"\x00" in raw[:65536]:
        raise DataError(f"{name}: holds NUL bytes: this is a binary file, not CSV text")


def decode(raw: bytes, name: str) -> str:
    """Decode UTF-8 bytes of a data file (a BOM dropped), refusing binary and empty files with a clear message.

    Raises:
        DataError: NUL bytes (binary), not UTF-8 (line named), empty or blank.
    """
    refuse_binary(raw, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{name}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text or text.isspace():
        raise DataError(f"{name}: the file is empty")
    return text


def unique_names(names: list[str], name: str) -> None:
    """Refuse column names that are equal after stripping spaces (``" a"`` and ``"a"``): Parquet, JSON Lines.

    Raises:
        DataError: the first repeated name.
    """
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise DataError(f"{name}: column {dup[0]!r} appears twice (names are compared without surrounding spaces); "
                        "rename one")
