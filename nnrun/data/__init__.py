"""Stage 2, the data: files to features and targets. ``formats`` (one table of extensions), the readers,
``table`` (a file's columns matched to the training columns), ``features`` (the only source of missing and
bad-cell messages), labels and splits. NumPy, pandas and pyarrow; no TensorFlow."""
