"""Data files to raw tables: CSV/TSV (pandas' C parser), Parquet (pyarrow), JSON Lines, NPZ/NPY arrays.

A raw table keeps every column as the file has it (CSV cells as strings, or float64 on the fast path for
clean numeric files; Parquet and JSON Lines with their own types); ``nnrun.features`` turns the feature
columns into model inputs. Row labels of the frame are what error messages cite: the file line for CSV
(``first_line + label``) and JSON Lines, the 1-based row for Parquet.

No TensorFlow here.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.data.formats import FORMATS, format_of  # noqa: F401 (re-exported)
from nnrun.errors import DataError

DELIMITERS = ",;\t|"
INT = re.compile(r"^[+-]?[0-9]+$")
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


def decode(raw: bytes, name: str) -> str:
    """Decode UTF-8 bytes of a data file, refusing binary and empty files with a clear message."""
    if b"\x00" in raw[:65536]:
        raise DataError(f"{name}: holds NUL bytes: this is a binary file, not CSV text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{name}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text or text.isspace():
        raise DataError(f"{name}: the file is empty")
    return text


def head_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of ``text`` (``str.splitlines`` rules) without splitting the whole file."""
    end = 0
    for _ in range(count * 4):  # splitlines also breaks at \r and Unicode separators: take some spare lines
        end = text.find("\n", end) + 1
        if end == 0:
            return text.splitlines()[:count]
    return text[:end].splitlines()[:count]


def sniff_delimiter(text: str) -> str:
    """Guess the field separator among ``, ; tab |`` from the first lines (csv.Sniffer); default ','."""
    sample = "\n".join(head_lines(text, 20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def detect_header(rows: list[list[str]]) -> bool:
    """Guess whether the first row is a header: every cell of it is a non-number (a name), and some
    column holds numbers in the rows below. ``5.1,3.5,1.4,0.2,Iris-setosa`` is data; ``width,height,kind``
    over numeric rows is a header. Set ``data.header`` when the guess is wrong.
    """
    first = rows[0] if rows else []
    if len(first) > 1 and not first[-1].strip():  # a trailing delimiter (Excel): its empty column is no evidence
        first = first[:-1]
    if not first or any(_is_number(c) or c.strip() in NA_VALUES for c in first):
        return False
    rest = rows[1:]
    if not rest:  # a single row of names: a header with no data (reported as such)
        return True
    return any(
        all(_is_number(r[j]) for r in rest if j < len(r) and r[j].strip()) and any(j < len(r) for r in rest)
        for j in range(len(rows[0]))
    )


def read_csv(text: str, name: str, header: bool | None, delimiter: str | None, quotechar: str | None = '"'):
    """Parse CSV text with pandas.

    Returns:
        (frame, header, delimiter): a DataFrame of strings/numbers with string column names, and the
        header and delimiter actually used.

    Raises:
        DataError: a row whose field count differs from the first row's, or unparsable text.
    """
    import pandas as pd

    stripped = text.lstrip("\r\n \t")
    lead = text[: len(text) - len(stripped)].count("\n")  # blank lines before the first row
    text = stripped
    delimiter = delimiter or sniff_delimiter(text)
    quoting = csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE
    lines = _first_rows(text, 21)
    sample = list(csv.reader(lines, delimiter=delimiter, quotechar=quotechar or '"', quoting=quoting))
    if header is None:
        header = detect_header(sample)
    _check_field_counts(text, name, delimiter, lead, quotechar)
    first_line = lead + (2 if header else 1)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=0 if header else None,
            skipinitialspace=True,
            skip_blank_lines=False,  # blank lines are dropped below, keeping row labels = file line offsets
            dtype=str,
            keep_default_na=False,
            engine="c",
            quotechar=quotechar or '"',
            quoting=quoting,
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}{_parser_message(str(exc), lead)}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file holds no data rows") from None
    blank = frame.isna().all(axis=1) | frame.fillna("").apply(lambda c: c.str.strip() == "").all(axis=1)
    frame = frame[~blank]
    _check_short_rows(frame, name, first_line)
    frame.attrs["first_line"] = first_line
    if header:
        names = [c.strip() for c in sample[0]] if sample else [str(c).strip() for c in frame.columns]
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:  # pandas would rename them a, a.1, …
            raise DataError(f"{name}:{lead + 1}: duplicate column names in the header: {', '.join(dup)}; "
                            "rename them")
        empty = [i for i, c in enumerate(names) if not c]
        if empty:
            trailing = " (the line ends with the delimiter: remove the trailing delimiters)" \
                if empty == [len(names) - 1] else ""
            raise DataError(f"{name}:{lead + 1}: header column {empty[0] + 1} has no name{trailing}; name every "
                            "column")
        frame.columns = [str(c).strip() for c in frame.columns]
    else:
        frame.columns = [f"col{i}" for i in range(frame.shape[1])]
    if frame.shape[0] == 0:
        raise DataError(f"{name}: the file has a header but no data rows")
    return frame, header, delimiter


def _first_rows(text: str, count: int) -> list[str]:
    """The first ``count`` non-blank lines (a sample for the header and delimiter guesses)."""
    lines = head_lines(text, count * 8)
    rows = [ln for ln in lines if ln.strip()][:count]
    if len(rows) < count and len(lines) == count * 8:  # mostly blank lines so far: look further
        rows = [ln for ln in text.splitlines() if ln.strip()][:count]
    return rows


def _check_field_counts(text: str, name: str, delimiter: str, lead: int = 0, quotechar: str | None = '"') -> None:
    """Refuse a file whose rows have different numbers of fields, naming the first such line. (pandas fills
    missing trailing fields silently, so the careful path counts them with the csv module.)"""
    expected = None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True, quotechar=quotechar or '"',
                        quoting=csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE)
    for lineno, row in enumerate(reader, 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if expected is None:
            expected = len(row)
        elif len(row) != expected:
            raise DataError(f"{name}:{lineno + lead}: expected {expected} fields like the first line, got {len(row)}; "
                            "every row needs the same number of columns")


def _check_short_rows(frame, name: str, first_line: int) -> None:
    """A row with fewer fields than the first (pandas fills them with NaN; empty fields are "")."""
    short = frame.isna().any(axis=1)
    if short.any():
        i = int(np.flatnonzero(short.to_numpy())[0])
        got = int(frame.iloc[i].notna().sum())
        raise DataError(f"{name}:{first_line + int(frame.index[i])}: expected {frame.shape[1]} fields like the first "
                        f"line, got {got}; every row needs the same number of columns")


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_message(msg: str, lead: int = 0) -> str:
    """pandas' "Error tokenizing data. C error: Expected 5 fields in line 7, saw 6" as ``:7: …``."""
    m = _FIELDS.search(msg)
    if m:
        expected, line, saw = m.groups()
        return (f":{int(line) + lead}: expected {expected} fields like the first line, got {saw}; every row needs "
                "the same number of columns")
    return f": {msg.strip().splitlines()[-1] if msg.strip() else 'unreadable CSV'}"




# ------------------------------------------------------------------------------------------ readers
def read_raw(path: Path, fmt: str, header: bool | None = None, delimiter: str | None = None,
             comment: str | None = None, target: int | str | None = None, quotechar: str | None = '"') -> RawTable:
    """Read a whole CSV/TSV, Parquet or JSON Lines file.

    A clean numeric CSV (every column but ``target`` a number) is parsed straight to float64 by pandas'
    C parser; anything unusual is read again as strings, so that later checks can cite the line.

    Raises:
        DataError: unreadable file, ragged rows, bad JSON (line named), an empty file.
    """
    raw = read_bytes(path, f"{fmt.upper()} file")
    sha = hashlib.sha256(raw).hexdigest()
    name = str(path)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{name}: a damaged gzip file: {exc}") from None
    if fmt == "parquet":
        return RawTable(_parquet(raw, name), name, sha, fmt, True, None, 1, "row")
    if fmt == "jsonl":
        return RawTable(json_lines(decode(raw, name), name), name, sha, fmt, True, None, 1, "line")
    if fmt in ("npz", "npy"):
        raise DataError(f"{name}: {fmt} holds arrays, not a table")
    text = decode(raw, name)
    if comment:
        text = blank_comments(text, comment)
    if fmt == "tsv":
        delimiter = delimiter or "\t"
    payload = raw if not comment else None  # the bytes, when they are what pandas should parse
    fast = _fast_frame(text, header, delimiter, target, payload) if quotechar == '"' else None
    frame, header, delimiter = fast if fast is not None else read_csv(text, name, header, delimiter, quotechar)
    return RawTable(frame, name, sha, fmt, header, delimiter, frame.attrs.get("first_line", 2 if header else 1))


_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def _fast_frame(text: str, header: bool | None, delimiter: str | None, target: int | str | None,
                payload: bytes | None = None):
    """A clean numeric table through pandas' C parser: features as float64, the target as int64 (integer
    labels) or strings.

    ``payload`` is the file's UTF-8 bytes (parsed directly: faster than the decoded text).

    Returns None whenever anything is unusual (a non-number, a missing value, ragged rows, a name problem,
    leading blank lines): the careful path then reads the file again and reports the first problem.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    if target is None or not text[:1].strip() or _BLANK_LINE.search(text, 0, end):
        return None  # blank (or blanked comment) lines: the careful path keeps line numbers right
    delimiter = delimiter or sniff_delimiter(text)
    sample = list(csv.reader(_first_rows(text, 21), delimiter=delimiter))
    if not sample or len(sample[0]) < 2:
        return None
    header = header if header is not None else detect_header(sample)
    names = [c.strip() for c in sample[0]] if header else [f"col{i}" for i in range(len(sample[0]))]
    if len(set(names)) != len(names) or not all(names):
        return None
    if isinstance(target, str):
        if target not in names:
            return None
        t = names.index(target)
    elif -len(names) <= target < len(names):
        t = target % len(names)
    else:
        return None
    if payload is None or payload.startswith(b"\xef\xbb\xbf"):
        payload = text.encode("utf-8")
    try:  # no NA filtering: an empty or "NA" cell makes its column text, and the careful path takes over
        frame = pd.read_csv(io.BytesIO(payload), sep=delimiter, header=0 if header else None,
                            names=range(len(names)), keep_default_na=False, na_filter=False, engine="c")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.empty or frame[t].isna().any() or is_bool_dtype(frame[t].dtype):
        return None  # a short row leaves NaN; True/False labels go the careful way
    if not pd.api.types.is_integer_dtype(frame[t].dtype):  # labels as text (integer labels stay int64)
        frame[t] = frame[t].astype(str)
        if (frame[t].str.strip() == "").any():
            return None
    feats = [c for c in frame.columns if c != t]
    if not all(is_numeric_dtype(frame[c].dtype) and not is_bool_dtype(frame[c].dtype) for c in feats):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(frame[feats].to_numpy(dtype=np.float32)).all()
    if not finite:
        return None  # NaN (a short row), infinities, or beyond float32
    for c in feats:
        if frame[c].dtype != np.float64:
            frame[c] = frame[c].astype(np.float64)
    frame.columns = names
    frame.attrs["first_line"] = 2 if header else 1
    return frame, header, delimiter


def blank_comments(text: str, comment: str) -> str:
    """Empty every line that starts (after spaces) with ``comment``, keeping line numbers."""
    return "\n".join("" if ln.lstrip().startswith(comment) else ln for ln in text.split("\n"))


def _parquet(raw: bytes, name: str):
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(raw), engine="pyarrow")
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own text
        raise DataError(f"{name}: not a readable Parquet file: {str(exc).splitlines()[0] if str(exc) else exc}") \
            from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _unique_names(list(frame.columns), name)
    if frame.empty:
        raise DataError(f"{name}: the file holds no rows")
    for col in frame.columns:  # nested values (lists, structs, bytes) are not features
        if frame[col].dtype != object:
            continue
        kinds = {type(v).__name__ for v in frame[col].head(1000).tolist()
                 if isinstance(v, (list, dict, bytes, np.ndarray))}
        if kinds:
            raise DataError(f"{name}: column {col!r}: holds nested values ({', '.join(sorted(kinds))}); expected "
                            "numbers or strings")
    return frame.reset_index(drop=True)


def json_lines(text: str, name: str, first_line: int = 1):
    """JSON Lines text (one object per line) to a DataFrame labelled by line offset.

    Raises:
        DataError: invalid JSON, a line that is not an object, or nested values; the line named.
    """
    import pandas as pd

    records, labels = [], []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}:{first_line + i}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise DataError(f"{name}:{first_line + i}: expected a JSON object {{\"column\": value, …}} per line, "
                            f"got {type(obj).__name__}")
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                raise DataError(f"{name}:{first_line + i}: {key!r}: expected a number, string or null, "
                                f"got {type(value).__name__}")
        records.append(obj)
        labels.append(i)
    if not records:
        raise DataError(f"{name}: the file holds no rows")
    frame = pd.DataFrame.from_records(records, index=labels)
    frame.columns = [str(c).strip() for c in frame.columns]
    _unique_names(list(frame.columns), name)
    return frame


def _unique_names(names: list[str], name: str) -> None:
    """Refuse column names that are equal after stripping spaces (``" a"`` and ``"a"``)."""
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise DataError(f"{name}: column {dup[0]!r} appears twice (names are compared without surrounding spaces); "
                        "rename one")


def read_arrays(path: Path, fmt: str, target_path: Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Features and targets from an NPZ file (arrays ``x`` and ``y``) or two NPY files.

    Returns:
        (x, y, sha256): x of shape (num_samples, ...) any rank, y of shape (num_samples,) or
        (num_samples, num_classes); the SHA-256 covers both files.

    Raises:
        DataError: missing arrays, object arrays (never unpickled), mismatched lengths, non-finite values.
    """
    raw = read_bytes(path, f"{fmt.upper()} file")
    digest = hashlib.sha256(raw)
    name = str(path)
    try:
        if fmt == "npz":
            with np.load(io.BytesIO(raw), allow_pickle=False) as doc:
                keys = list(doc.keys())
                if "x" not in keys or "y" not in keys:
                    raise DataError(f"{name}: expected arrays named x and y, found: {', '.join(keys) or 'none'}; "
                                    "save with numpy.savez(path, x=features, y=targets)")
                x, y = doc["x"], doc["y"]
        else:
            x = np.load(io.BytesIO(raw), allow_pickle=False)
            traw = read_bytes(target_path, "NPY file")
            digest.update(traw)
            y = np.load(io.BytesIO(traw), allow_pickle=False)
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{name}: holds object arrays, which are refused: loading them needs pickle, which can "
                            "run code; save numbers (numpy.savez(path, x=x.astype('float32'), y=y))") from None
        raise DataError(f"{name}: not a readable {fmt} file: {exc}") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError, KeyError …
        raise DataError(f"{name}: not a readable {fmt} file: {str(exc) or type(exc).__name__}") from None
    if np.ndim(y) == 0:
        raise DataError(f"{name}: y is a single value; expected one target per sample, shape (num_samples,)")
    if x.ndim < 2:
        raise DataError(f"{name}: x has shape {x.shape}; expected (num_samples, num_features, ...)")
    if len(x) != len(y):
        raise DataError(f"{name}: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{name}: the arrays hold no samples")
    if 0 in x.shape[1:]:
        raise DataError(f"{name}: x has shape {x.shape}: the samples have no features")
    if np.iscomplexobj(x):
        raise DataError(f"{name}: x holds complex numbers; expected real numbers")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise DataError(f"{name}: x has dtype {x.dtype}; expected numbers")
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(np.float32)
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{name}: x{list(map(int, bad))} is NaN or infinite (or beyond float32's ±3.4e38)")
    if y.ndim > 2:
        raise DataError(f"{name}: y has shape {y.shape}; expected (num_samples,) or one-hot (num_samples, classes)")
    if np.issubdtype(y.dtype, np.number):
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(y.astype(np.float64)) & np.isfinite(y.astype(np.float32))
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise DataError(f"{name}: y{list(map(int, bad))} is NaN or infinite (or beyond float32's ±3.4e38); "
                            "every target must be a finite number")
    return x, y, digest.hexdigest()


# ------------------------------------------------------------------------------------------ folders
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def folder_format(path: Path) -> str:
    """``images`` or ``texts`` for a folder with one subfolder per class, from the files' extensions.

    Raises:
        DataError: no class subfolders, or neither images nor .txt files in them.
    """
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


def folder_digest(path: Path) -> str:
    """SHA-256 over every file of a folder (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path)).encode() + b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def read_image_folder(path: Path, image_size: list[int] | None, color_mode: str) -> tuple[np.ndarray, np.ndarray,
                                                                                         list[str]]:
    """Images in one subfolder per class, with ``keras.utils.image_dataset_from_directory``.

    Returns:
        (x, labels, files): float32 pixels (num_images, height, width, channels) as stored (0-255: add a
        ``Rescaling`` layer), the class folder name of each image, and the file paths.

    Raises:
        DataError: no ``image_size``, unreadable images.
    """
    if image_size is None:
        raise DataError(f"{path}: a folder of images needs data.image_size: [height, width]")
    from nnrun.backend import keras as _keras

    keras = _keras()
    try:
        ds = keras.utils.image_dataset_from_directory(
            str(path), labels="inferred", label_mode="int", color_mode=color_mode, image_size=tuple(image_size),
            batch_size=None, shuffle=False, verbose=False)
        pairs = [(x.numpy(), int(y)) for x, y in ds]
    except Exception as exc:
        bad = _first_bad_image(path, color_mode)
        if bad:
            raise DataError(bad) from None
        raise DataError(f"{path}: cannot read the images: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if not pairs:
        raise DataError(f"{path}: no images found")
    x = np.stack([p[0] for p in pairs]).astype(np.float32)
    labels = np.array([ds.class_names[p[1]] for p in pairs], dtype=object)
    return x, labels, list(ds.file_paths)


def _first_bad_image(path: Path, color_mode: str) -> str | None:
    """The first image file of a folder that Keras cannot decode, as a message (None if all decode)."""
    from nnrun.backend import keras as _keras

    keras = _keras()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS):
        try:
            keras.utils.load_img(f, color_mode=color_mode)
        except Exception as exc:  # PIL's errors vary by format
            return f"{f}: not a readable image: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


def read_text_folder(path: Path):
    """Texts in one subfolder per class (the layout of ``keras.utils.text_dataset_from_directory``: class
    folders and their ``.txt`` files in sorted order) as a DataFrame with columns ``text`` and ``label`` (the
    class folder name); ``frame.attrs["files"]`` lists the files.

    Raises:
        DataError: no .txt files, or a file that is not UTF-8 (file and line named).
    """
    import pandas as pd

    pairs, files = [], []
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".txt"):
            raw = f.read_bytes()
            try:
                pairs.append((raw.decode("utf-8"), folder.name))
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise DataError(f"{f}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
            files.append(str(f))
    if not pairs:
        raise DataError(f"{path}: no .txt files found in its class subfolders")
    frame = pd.DataFrame({"text": [p[0] for p in pairs], "label": [p[1] for p in pairs]})
    frame.attrs["files"] = files
    return frame
