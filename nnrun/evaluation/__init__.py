"""Stage 4, evaluation: metrics, plots, the markdown report, quality gates, and comparing runs."""
