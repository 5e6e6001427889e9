"""Stage 1, the config: YAML with locations (``yamlsrc``), the pydantic models (``schema``), ``--set``
(``overrides``), pydantic's errors as located messages (``messages``), Keras' names and arguments
(``registry`` catalog, ``keras_args`` checks), the cross-checks that need no data (``checks``), and
``load`` tying them together (``load_config``).
No TensorFlow is imported here: ``nnrun validate`` stays fast."""

from __future__ import annotations

import os

# nnrun uses no pydantic plugins; looking for them reads every installed package's entry points at start-up.
# Set here, before any module of this package imports pydantic.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
