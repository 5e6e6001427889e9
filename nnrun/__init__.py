"""nnrun: train, evaluate and serve Keras models from one YAML file.

Importing this package never imports TensorFlow; the commands that train or load models do.
The workflows are in ``nnrun.api``; the errors they raise and the exit codes in ``nnrun.errors``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from nnrun.errors import (
    ConfigError,
    DataError,
    ExitStatus,
    GateFailed,
    Interrupted,
    NnrunError,
    RunError,
    UsageError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "ExitStatus",
    "GateFailed",
    "Interrupted",
    "NnrunError",
    "RunError",
    "UsageError",
    "__version__",
]
