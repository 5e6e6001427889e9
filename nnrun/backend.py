"""Importing TensorFlow/Keras quietly, only in the commands that train or load models.

TensorFlow prints C++ log lines at import (CUDA probing on machines without a GPU, CPU feature notices).
They are noise to users: they are silenced unless ``--debug`` (or ``NNRUN_DEBUG=1``) is given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nnrun.errors import RunError

_keras: Any = None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C++ logging bypasses sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence C++ log lines (file descriptor 2) for the duration, unless ``--debug`` (the LiteRT interpreter
    announces its XNNPACK delegate on stderr)."""
    if debug_enabled():
        yield
        return
    with _quiet_stderr():
        yield


def debug_enabled() -> bool:
    """Whether ``--debug`` / ``NNRUN_DEBUG=1`` asked for TensorFlow's logs and tracebacks."""
    return os.environ.get("NNRUN_DEBUG", "") not in ("", "0")


def keras() -> Any:
    """Import and return the ``keras`` module (Keras 3 on the TensorFlow backend), quietly.

    Raises:
        RunError: TensorFlow or Keras is not installed or fails to import.
    """
    global _keras
    if _keras is not None:
        return _keras
    debug = debug_enabled()
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        if debug:
            import keras as k
            import tensorflow as tf  # noqa: F401
        else:
            with _quiet_stderr():
                import keras as k
                import tensorflow as tf  # noqa: F401
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
            tf.get_logger().setLevel("ERROR")
    except ImportError as exc:
        raise RunError(f"cannot import TensorFlow/Keras: {exc}; reinstall with `make install`") from None
    _keras = k
    return k
