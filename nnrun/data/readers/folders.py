"""Inputs that are not tables: folders of images or texts (one subfolder per class, for training) and, as
predict input, a folder of image files or a text file with one text per line.

One image reader per use: training reads a class-folder tree with ``keras.utils.image_dataset_from_directory``
(the labels are the folder names); predict reads any folder of image files with ``keras.utils.load_img``,
resized to the training images' size, a chunk at a time. Texts are UTF-8, checked by ``common.decode``'s
rules. No TensorFlow at import; images are decoded by Keras.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.data.formats import IMAGE_EXTENSIONS
from nnrun.data.readers.common import decode, read_bytes
from nnrun.errors import DataError


def folder_digest(path: Path) -> str:
    """SHA-256 over every file of a folder (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path)).encode() + b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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
        for f in image_files(path, required=False):
            try:
                keras.utils.load_img(f, color_mode=color_mode)
            except Exception as bad:  # PIL's errors vary by format
                raise DataError(_unreadable_image(f, bad)) from None
        raise DataError(f"{path}: cannot read the images: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if not pairs:
        raise DataError(f"{path}: no images found")
    x = np.stack([p[0] for p in pairs]).astype(np.float32)
    labels = np.array([ds.class_names[p[1]] for p in pairs], dtype=object)
    return x, labels, list(ds.file_paths)


def _unreadable_image(f: Path, exc: BaseException) -> str:
    """The one message for an image file that cannot be decoded."""
    return f"{f}: not a readable image: {_first_line(exc)}"


def read_text_folder(path: Path) -> Any:
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


def text_lines(path: Path | bytes, chunk_rows: int, name: str | None = None) -> Iterator[tuple[np.ndarray,
                                                                                               np.ndarray]]:
    """The lines of a UTF-8 text file (or its bytes, e.g. stdin) as one text each, in chunks.

    Yields:
        (texts, line_numbers): object arrays of shape (rows, 1) and (rows,); blank lines are skipped.

    Raises:
        DataError: not UTF-8 (line named), or no non-blank line.
    """
    from nnrun.data.features import clean_text

    raw = path if isinstance(path, bytes) else read_bytes(path, "text file")
    text = decode(raw, name or str(path))
    texts, lines = [], []
    for i, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        texts.append(clean_text(line))
        lines.append(i)
        if len(texts) >= chunk_rows:
            yield np.array(texts, dtype=object).reshape(-1, 1), np.array(lines)
            texts, lines = [], []
    if texts:
        yield np.array(texts, dtype=object).reshape(-1, 1), np.array(lines)


def image_files(path: Path, required: bool = True) -> list[Path]:
    """Image files in a folder (and its subfolders), sorted by path.

    Raises:
        DataError: no image files (with ``required``).
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files and required:
        raise DataError(f"{path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return files


def image_batches(path: Path, shape: list[int], chunk_rows: int,
                  skip_bad: bool = False) -> Iterator[tuple[np.ndarray, list[str], list[str]]]:
    """Images of a folder as the model's input, in chunks.

    Args:
        shape: one example's shape ``[height, width, channels]`` (channels 1 = grayscale, 3 = rgb, 4 = rgba).

    Yields:
        (x, files, problems): float32 pixels (rows, height, width, channels) as stored (0-255, or the values
        written), the file paths of those rows, and a message per unreadable file (with ``skip_bad``).

    Raises:
        DataError: an unreadable image (without ``skip_bad``), a model that does not take images.
    """
    if len(shape) != 3 or shape[-1] not in (1, 3, 4):
        raise DataError(f"{path}: is a folder; predict takes one file (CSV/TSV, JSON Lines, Parquet, JSON or NPZ), "
                        "not a folder of shards (predict each shard, or join them); a folder is read as images only "
                        f"when the model takes images, and this one takes examples of shape {tuple(shape)}")
    from nnrun.backend import keras as _keras

    keras = _keras()
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[shape[-1]]
    files = image_files(path)
    for start in range(0, len(files), chunk_rows):
        arrays, names, problems = [], [], []
        for f in files[start:start + chunk_rows]:
            try:
                img = keras.utils.load_img(f, color_mode=mode, target_size=(shape[0], shape[1]))
                arrays.append(keras.utils.img_to_array(img, dtype="float32"))
                names.append(str(f))
            except Exception as exc:  # PIL raises many kinds for a damaged file
                if not skip_bad:
                    raise DataError(_unreadable_image(f, exc)) from None
                problems.append(_unreadable_image(f, exc))
        x = np.stack(arrays) if arrays else np.zeros((0, *shape), dtype=np.float32)
        yield x, names, problems
