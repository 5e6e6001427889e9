"""NPZ/NPY arrays: the one loader for training, ``evaluate --data`` and ``predict``.

An NPZ file holds arrays ``x`` (features, any rank) and ``y`` (targets); an NPY file holds ``x`` and its
targets come from a second NPY file (``data.target_path``). Object arrays are refused (loading them needs
pickle, which can run code). No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from nnrun.data.readers.common import read_bytes
from nnrun.errors import DataError


def load_arrays(path: Path, fmt: str, target_path: Path | None = None,
                need_y: bool = True) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Features (and targets) from an NPZ file or NPY file(s), checked.

    Args:
        path: the NPZ or NPY file. fmt: ``npz`` or ``npy``.
        target_path: the targets' NPY file (``npy`` with ``need_y``).
        need_y: read and check the targets too (training, evaluate); False for predict input.

    Returns:
        (x, y, sha256): x float32 of shape (num_samples, ...) any rank; y of shape (num_samples,) or
        (num_samples, num_classes), None without ``need_y``; the SHA-256 covers the files read.

    Raises:
        DataError: missing arrays, object arrays (never unpickled), mismatched lengths, non-finite values.
    """
    raw = read_bytes(path, f"{fmt.upper()} file")
    digest = hashlib.sha256(raw)
    name = str(path)
    x, y = _load(raw, name, fmt, digest, target_path if need_y else None, need_y)
    x = _checked_x(x, y, name)
    if y is not None:
        _check_y(y, name)
    return x, y, digest.hexdigest()


def _load(raw: bytes, name: str, fmt: str, digest: Any, target_path: Path | None,
          need_y: bool) -> tuple[Any, Any]:
    try:
        if fmt == "npz":
            with np.load(io.BytesIO(raw), allow_pickle=False) as doc:
                keys = list(doc.keys())
                if need_y and ("x" not in keys or "y" not in keys):
                    raise DataError(f"{name}: expected arrays named x and y, found: {', '.join(keys) or 'none'}; "
                                    "save with numpy.savez(path, x=features, y=targets)")
                if "x" not in keys:
                    raise DataError(f"{name}: expected an array named x, found: {', '.join(keys) or 'none'}; "
                                    "save with numpy.savez(path, x=features)")
                return doc["x"], (doc["y"] if need_y else None)
        x = np.load(io.BytesIO(raw), allow_pickle=False)
        if not isinstance(x, np.ndarray):
            raise DataError(f"{name}: not a readable npy file: it holds several arrays (an NPZ file?)")
        if not need_y:
            return x, None
        traw = read_bytes(target_path, "NPY file")
        digest.update(traw)
        return x, np.load(io.BytesIO(traw), allow_pickle=False)
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{name}: holds object arrays, which are refused: loading them needs pickle, which can "
                            "run code; save numbers (numpy.savez(path, x=x.astype('float32'), y=y))") from None
        raise DataError(f"{name}: not a readable {fmt} file: {exc}") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError, KeyError …
        raise DataError(f"{name}: not a readable {fmt} file: {str(exc) or type(exc).__name__}") from None


def _checked_x(x: np.ndarray, y: np.ndarray | None, name: str) -> np.ndarray:
    """x as float32 after its checks (and y's count checks, in the order messages have always come)."""
    if y is not None and np.ndim(y) == 0:
        raise DataError(f"{name}: y is a single value; expected one target per sample, shape (num_samples,)")
    if x.ndim < 2:
        raise DataError(f"{name}: x has shape {x.shape}; expected (num_samples, num_features, ...)")
    if y is not None and len(x) != len(y):
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
    return x


def _check_y(y: np.ndarray, name: str) -> None:
    if y.ndim > 2:
        raise DataError(f"{name}: y has shape {y.shape}; expected (num_samples,) or one-hot (num_samples, classes)")
    if np.issubdtype(y.dtype, np.number):
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(y.astype(np.float64)) & np.isfinite(y.astype(np.float32))
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise DataError(f"{name}: y{list(map(int, bad))} is NaN or infinite (or beyond float32's ±3.4e38); "
                            "every target must be a finite number")


def check_shape(x: np.ndarray, shape: list[int] | None, name: str) -> None:
    """Refuse examples whose shape is not the model's (``shape``: one example's shape; None: any).

    Raises:
        DataError: ``file: x has examples of shape (…); the model takes (…)``.
    """
    if shape is not None and list(x.shape[1:]) != list(shape):
        raise DataError(f"{name}: x has examples of shape {tuple(x.shape[1:])}; the model takes {tuple(shape)}")
