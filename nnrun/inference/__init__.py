"""Stage 5, inference: ``predictor`` (a saved model applied to encoded batches) and ``writers`` (one output
writer class per format, each writing through the run directory's atomic writer)."""
