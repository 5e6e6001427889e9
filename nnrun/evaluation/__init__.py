"""Stage 4, evaluation: ``evaluate`` (a model on examples -> evaluation.json and report.md), ``metrics``,
``plots``, ``markdown``, ``gates`` (quality gates) and ``compare`` (``nnrun runs`` and ``nnrun compare``).
No rich here: the tables live in ``nnrun.console``."""
