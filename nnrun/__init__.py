"""nnrun: train, evaluate and serve Keras models from one YAML file.

Importing this package never imports TensorFlow; the commands that train or load models do.
"""

from __future__ import annotations

__version__ = "0.1.0"

from nnrun.errors import ConfigError, DataError, NnrunError, RunError

__all__ = ["ConfigError", "DataError", "NnrunError", "RunError", "__version__"]
