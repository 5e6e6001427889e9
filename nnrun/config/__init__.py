"""Stage 1, the config: YAML with locations (``yamlsrc``), the pydantic schema and ``--set`` (``load``),
Keras' names and arguments (``registry``) and the cross-checks that need no data (``checks``).
No TensorFlow is imported here: ``nnrun validate`` stays fast."""
