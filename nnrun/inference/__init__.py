"""Stage 5, inference: a saved model applied to new rows (``predictor``) and the output writers."""
