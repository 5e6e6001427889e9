"""Predict inputs that are not tables: a text file with one text per line, and a folder of image files.

Both give the model its raw input (texts for a model that starts with ``TextVectorization``; pixels for an
image model, resized to the training images' height and width), plus a name per example for the output.
No TensorFlow at import; images are decoded by Keras (``keras.utils.load_img``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnrun.data.features import clean_text
from nnrun.data.sources import IMAGE_EXTENSIONS, decode, read_bytes
from nnrun.errors import DataError


def text_lines(path: Path | bytes, chunk_rows: int, name: str | None = None):
    """The lines of a UTF-8 text file (or its bytes, e.g. stdin) as one text each, in chunks.

    Yields:
        (texts, line_numbers): object arrays of shape (rows, 1) and (rows,); blank lines are skipped.

    Raises:
        DataError: not UTF-8 (line named), or no non-blank line.
    """
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


def image_files(path: Path) -> list[Path]:
    """Image files in a folder (and its subfolders), sorted by path.

    Raises:
        DataError: no image files.
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"{path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return files


def image_batches(path: Path, shape: list[int], chunk_rows: int, skip_bad: bool = False):
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
        raise DataError(f"{path}: is a folder of images, but the model takes examples of shape {tuple(shape)}, "
                        "not (height, width, channels)")
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
                message = f"{f}: not a readable image: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                if not skip_bad:
                    raise DataError(message) from None
                problems.append(message)
        x = np.stack(arrays) if arrays else np.zeros((0, *shape), dtype=np.float32)
        yield x, names, problems
