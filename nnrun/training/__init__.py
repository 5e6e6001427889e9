"""Stage 3, training: the model built from the config (``build``), one model trained (``run``), the fit
loop and its input pipeline (``fit``), and cross-validation (``crossval``)."""
