"""Stage 2, the data: files to features and targets. NumPy, pandas and pyarrow; no TensorFlow.

- ``formats``: the one table of extensions and content sniffing (no NumPy: ``nnrun validate`` uses it);
- ``readers/``: one module per input kind (``csv`` + ``csv_fast`` + ``csv_chunks``, ``parquet``, ``jsonl``,
  ``jsondoc``, ``arrays``, ``folders``) behind one dispatcher and one ``ReadOptions``; each table reader has a
  whole read and a chunked read over the same checks;
- ``table``: the Table, column selection and the one rule matching a file's columns to the training columns;
- ``dataset``: ``read_table`` (training) and ``read_like`` (validation/test files, ``evaluate --data``);
- ``batches``: ``predict_batches`` (predict input, chunk by chunk);
- ``features`` (parsing, kinds, ``transform``: the only source of missing/bad-cell messages) and ``spec``
  (``fit``: the feature spec learnt on the training rows);
- ``labels`` (class lists, target encoding) and ``splits`` (train/validation/test indices).
"""
