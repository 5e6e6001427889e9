"""Whether MLflow can log to a tracking URI at all: its scheme is one MLflow knows (plugins included).

An unknown scheme (``garbage://x``) is a usage error (exit 2) found before any work, naming the schemes MLflow
accepts. The list is MLflow's own (its tracking-store registry, with installed plugins), not a copy kept here
that would go stale. A known scheme whose store cannot be reached is not checked here: that stays a warning
after the run is complete (``tracking.track_finished``). Imports MLflow (only when tracking is asked for).
"""

from __future__ import annotations

from nnrun.errors import UsageError


def check_scheme(uri: str, where: str) -> None:
    """Refuse a tracking URI whose scheme MLflow has no store for.

    Args:
        uri: the tracking URI (a path, ``file://…``, ``http(s)://…``, ``sqlite:///…``, ``databricks``, …).
        where: what named it, for the message (``--mlflow``, ``the config's tracking.mlflow``).

    Raises:
        UsageError: the scheme is unknown to MLflow (the accepted schemes listed).
    """
    from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException

    try:  # MLflow exposes no public "is this URI supported" call: its tracking-store registry (plugins
        # registered through entry points included) is the one place that knows; get_store_builder only looks
        # the scheme up, it connects to nothing
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry as registry
    except ImportError:  # a later MLflow moved it: MLflow's own error comes when logging
        return
    try:
        registry.get_store_builder(uri)
    except UnsupportedModelRegistryStoreURIException as exc:
        schemes = [f"{s}://" for s in exc.supported_uri_schemes if s and s not in ("databricks", "databricks-uc",
                                                                                     "uc")]
        named = [s for s in exc.supported_uri_schemes if s in ("databricks", "databricks-uc", "uc")]
        raise UsageError(f"{where} {uri}: MLflow has no tracking store for this URI's scheme; it accepts a folder "
                         f"path, {', '.join(schemes)}" + (f" or {', '.join(named)}" if named else ""),
                         hint="e.g. --mlflow sqlite:///mlflow.db, --mlflow ./mlruns or --mlflow "
                              "http://localhost:5000") from None
