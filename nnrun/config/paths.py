"""``nnrun validate``'s check that the config's data files exist (no data is read, no TensorFlow).

A relative path is looked for as training looks for it (``nnrun.data.readers.common.resolve_path``): in the
working directory, then in the config file's directory. Only ``validate`` runs this check: a run's own
``config.yaml`` is loaded by ``predict``, ``evaluate`` and ``compare`` long after its data may have moved.
"""

from __future__ import annotations

from pathlib import Path

from nnrun.config.yamlsrc import format_path
from nnrun.errors import ConfigError, DataError


def data_file_keys(data: object) -> list[tuple[tuple, str]]:
    """(key path, path) of every data file a config names: ``data.path``, ``data.target_path``,
    ``data.validation.path``, ``data.test.path`` (those set)."""
    out = []
    for key in ("path", "target_path"):
        value = getattr(data, key, None)
        if value is not None:
            out.append((("data", key), value))
    for role in ("validation", "test"):
        ref = getattr(data, role, None)
        if ref is not None:
            out.append((("data", role, "path"), ref.path))
    return out


def check_data_files(loaded: object) -> None:
    """Every data file the config names exists (as given, or next to the config file); a glob or a folder of
    shards names usable files (of one format, no broken link, no file twice), as training reads them.

    Args:
        loaded: a ``LoadedConfig`` (its ``path`` is the config file; None for text, where only the working
            directory is tried).

    Raises:
        ConfigError: every missing or empty path, or glob matching nothing, each as
            ``file:line:col: data.path: …``.
    """
    from nnrun.data.shards import find_shards, is_glob  # light: no pandas, no TensorFlow

    config_path = getattr(loaded, "path", None)
    here = Path(config_path).parent if config_path is not None else None
    messages = []
    for key, value in data_file_keys(loaded.config.data):  # type: ignore[attr-defined]
        where = f"{loaded.source.where(key)}: {format_path(key)}"  # type: ignore[attr-defined]
        if not value.strip():
            messages.append(f"{where}: expected a file path, got an empty string")
            continue
        given = Path(value).expanduser()
        if is_glob(value) or given.exists() or (here is not None and not given.is_absolute() and
                                                (here / given).exists()):
            try:  # shards: the files train would read (a glob matching none, a broken link: train's message)
                find_shards(value, config_path, loaded.config.data.format)  # type: ignore[attr-defined]
            except DataError as exc:
                messages.append(f"{where}: {exc}")
            continue
        same = here is None or here.resolve() == Path.cwd().resolve()
        places = str(Path.cwd()) if given.is_absolute() or same else f"{Path.cwd()} and {here.resolve()}"
        looked = "" if given.is_absolute() else f" (looked in {places})"
        messages.append(f"{where}: no such file or directory {value!r}{looked}")
    if messages:
        raise ConfigError("\n".join(messages))
