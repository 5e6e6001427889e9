"""Importing Keras quietly, on the chosen backend, only in the commands that train or load models.

Keras 3 runs on TensorFlow (the default) or JAX; the backend is process-global and fixed when ``keras`` is
first imported, so ``select`` sets ``KERAS_BACKEND`` before that. On JAX, TensorFlow is never imported
(about 2.7 s and 500 MB less per command).

TensorFlow prints C++ log lines at import (CUDA probing on machines without a GPU, CPU feature notices).
They are noise to users: they are silenced unless ``--debug`` (or ``NNRUN_DEBUG=1``) is given.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from nnrun.errors import RunError, UsageError

_keras: Any = None

#: The Keras backends nnrun runs on (the config's ``backend:``, ``--backend``).
BACKENDS = ("tensorflow", "jax")

#: Keras layers whose computation is TensorFlow string/hash ops on every backend: a model with one of them
#: needs TensorFlow (on JAX, Keras would import it inside the layer, and the layer cannot be traced by XLA).
TF_ONLY_LAYERS = frozenset({"TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing"})


#: The user's ``KERAS_BACKEND`` when nnrun started (``select`` overwrites the variable).
_USER_BACKEND = os.environ.get("KERAS_BACKEND")


def check_user_backend() -> None:
    """Refuse a ``KERAS_BACKEND`` in the environment that is not a backend nnrun runs on (Keras would fail at
    import with a ValueError). A valid one is honoured by the commands that choose no backend (explain, export,
    serve, …); train, cv and tune take it from the config's ``backend:``, predict and evaluate from
    ``--backend`` or ``NNRUN_BACKEND``.

    Raises:
        UsageError: ``KERAS_BACKEND`` names another backend.
    """
    if _USER_BACKEND and _USER_BACKEND not in BACKENDS:
        raise UsageError(f"the environment's KERAS_BACKEND={_USER_BACKEND} is not a backend nnrun runs Keras on "
                         f"({' or '.join(BACKENDS)}); unset it (train, cv and tune take the backend from the config's "
                         "backend: or --set backend=jax; predict and evaluate from --backend or NNRUN_BACKEND)")


def jax_installed() -> bool:
    """Whether JAX can be imported (the optional ``nnrun[jax]`` extra), found without importing it."""
    return importlib.util.find_spec("jax") is not None and importlib.util.find_spec("jaxlib") is not None


def loaded_backend() -> str | None:
    """The backend Keras already runs on in this process, or None before Keras is imported."""
    module = sys.modules.get("keras")
    return module.backend.backend() if module is not None and hasattr(module, "backend") else None


def select(wanted: str, forced: bool = True) -> str:
    """Choose the Keras backend of this process, before Keras is imported.

    Args:
        wanted: ``tensorflow`` or ``jax``.
        forced: when Keras already runs on another backend, refuse (True) or keep that one (False).

    Returns:
        The backend Keras runs (or will run) on.

    Raises:
        UsageError: JAX asked for but not installed; a forced backend other than the one already loaded.
    """
    check_user_backend()
    current = loaded_backend()
    if current is not None:
        if current != wanted and forced:
            raise UsageError(f"the {wanted} backend was asked for, but Keras already runs on {current} in this "
                             "process (the backend is fixed when Keras is first imported); run nnrun in a new process")
        return current
    if wanted == "jax" and not jax_installed():
        raise UsageError("backend jax: JAX is not installed; install it with `pip install 'nnrun[jax]'` "
                         "(or use backend: tensorflow)")
    os.environ["KERAS_BACKEND"] = wanted
    if wanted == "jax":
        use_xla_cache()
    return wanted


#: Where compiled XLA programs are kept between commands on JAX (``NNRUN_XLA_CACHE`` overrides; ``off``
#: disables), and the most it may hold (least recently used entries go first).
XLA_CACHE_ENV = "NNRUN_XLA_CACHE"
XLA_CACHE_MAX_BYTES = 256 * 2**20


#: The file that marks a folder as nnrun's XLA cache: JAX's size cap deletes ``*-cache`` files there, so nnrun
#: uses only a folder it made (or an empty one, which it then marks), never one holding someone else's files.
XLA_CACHE_MARK = ".nnrun-xla.txt"  # not "*-cache": JAX's eviction lists those


def xla_cache_dir() -> str | None:
    """The directory of JAX's persistent compilation cache nnrun uses: ``NNRUN_XLA_CACHE`` (``~`` expanded),
    else ``$XDG_CACHE_HOME/nnrun/xla`` (``~/.cache/nnrun/xla``). None — no cache, silently: the cache is only a
    speed-up — when disabled (``off``, ``0``, empty), when the directory cannot be created and written, when it
    lies inside a run directory (a folder with ``run.json`` above it), or when it already holds files and is not
    marked as nnrun's (``XLA_CACHE_MARK``): JAX evicts ``*-cache`` files there, and nnrun never deletes a file
    it did not create."""
    chosen = os.environ.get(XLA_CACHE_ENV)
    if chosen is not None and chosen.strip().lower() in ("", "0", "off", "false", "no"):
        return None
    if chosen is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "nnrun", "xla")
    where = os.path.abspath(os.path.expanduser(chosen))
    parent = where
    while True:  # not inside a run: predict and evaluate never add files to one
        if os.path.isfile(os.path.join(parent, "run.json")):
            return None
        parent, child = os.path.dirname(parent), parent
        if parent == child:
            break
    try:
        os.makedirs(where, exist_ok=True)
        mark = os.path.join(where, XLA_CACHE_MARK)
        if not os.path.isfile(mark):
            if os.listdir(where):
                return None  # someone else's folder
            with open(mark, "w", encoding="utf-8") as f:
                f.write("nnrun's XLA compilation cache (JAX); delete the folder to clear it\n")
    except OSError:
        return None
    return where if os.access(where, os.W_OK | os.X_OK) else None


def use_xla_cache() -> None:
    """Keep JAX's compiled programs on disk across commands (JAX's persistent compilation cache), before JAX
    is imported. XLA compiles each of a command's programs (build, train step, predict, metrics) anew in every
    process: about 2 s of a 6 s ``nnrun train configs/xor.yaml`` on 2 CPU cores; a later command with the same
    shapes loads them instead. JAX keys an entry by the program, its compile options, the device and the
    jax/jaxlib versions, so a hit runs the same machine code (results are bit-identical, tested). Entries are
    written for every program (JAX's default keeps only those over 1 s of compile time), under a size cap with
    file locking (``filelock``) so that concurrent commands share the directory safely. A user's own
    ``JAX_COMPILATION_CACHE_DIR`` wins. Nothing happens once JAX is imported (its settings read the
    environment at import).
    """
    if "jax" in sys.modules or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    where = xla_cache_dir()
    if where is None:
        return
    os.environ["JAX_COMPILATION_CACHE_DIR"] = where
    import warnings

    # a damaged entry (a process killed while JAX wrote it) is recompiled, and JAX warns about it on every
    # later command; the program is correct either way, so the warning is noise to nnrun's users
    warnings.filterwarnings("ignore", message=r"Error (reading|writing) persistent compilation cache entry")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    if importlib.util.find_spec("filelock") is not None:  # JAX needs it for the size cap (eviction + locks)
        os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(XLA_CACHE_MAX_BYTES))


def backend_name() -> str:
    """The backend Keras runs on, or will run on when imported (``KERAS_BACKEND``, default tensorflow)."""
    return loaded_backend() or os.environ.get("KERAS_BACKEND") or "tensorflow"


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C++ logging bypasses sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence C++ log lines (file descriptor 2) for the duration, unless ``--debug`` (the LiteRT interpreter
    announces its XNNPACK delegate on stderr)."""
    if debug_enabled():
        yield
        return
    with _quiet_stderr():
        yield


#: Modules Keras imports at its own import only for features nnrun does not use (its scikit-learn wrappers,
#: ``keras.visualization``'s pyplot galleries), each behind ``try: import … except ImportError``: about 1.2 s
#: of CPU per command for scikit-learn, 0.4 s for matplotlib (the package, which ``import matplotlib.pyplot``
#: loads before pyplot). They are kept out while Keras imports; nnrun imports them itself, later and
#: normally, where it uses them (``explain``, ``cv``; the report's plots) — ``predict`` never does.
KERAS_OPTIONAL_IMPORTS = frozenset({"sklearn", "matplotlib"})


class _Refuse:
    """A meta-path finder that makes ``import`` of the named modules fail (ImportError) while installed."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name in self.names:
            raise ImportError(f"{name} is not imported while Keras imports (nnrun.backend)")


@contextmanager
def _without(names: frozenset[str]) -> Iterator[None]:
    """Refuse to import ``names`` (those not imported yet) for the duration; nothing is cached, so a later
    ``import`` of them works."""
    finder = _Refuse(frozenset(n for n in names if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def debug_enabled() -> bool:
    """Whether ``--debug`` / ``NNRUN_DEBUG=1`` asked for TensorFlow's logs and tracebacks."""
    return os.environ.get("NNRUN_DEBUG", "") not in ("", "0")


def keras() -> Any:
    """Import and return the ``keras`` module, quietly: Keras 3 on the backend ``select`` chose (TensorFlow
    when none was); TensorFlow itself is imported only on the TensorFlow backend.

    Raises:
        UsageError: ``KERAS_BACKEND`` names a backend nnrun does not run on, or JAX that is not installed.
        RunError: the backend or Keras is not installed or fails to import.
    """
    global _keras
    if _keras is not None:
        return _keras
    if loaded_backend() is None and os.environ.get("KERAS_BACKEND", _USER_BACKEND) == _USER_BACKEND:
        select(_USER_BACKEND or "tensorflow")  # no command chose: the user's valid KERAS_BACKEND, else TensorFlow
    debug = debug_enabled()
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet_stderr() if not debug else nullcontext(), _without(KERAS_OPTIONAL_IMPORTS):
            import keras as k

            if k.backend.backend() == "tensorflow":
                import tensorflow as tf

                if not debug:
                    import absl.logging

                    absl.logging.set_verbosity(absl.logging.ERROR)
                    tf.get_logger().setLevel("ERROR")
    except ImportError as exc:
        raise RunError(f"cannot import Keras on {os.environ['KERAS_BACKEND']}: {exc}; reinstall with "
                       "`make install`") from None
    _keras = k
    return k


#: Keras' random image layers mark themselves ``supports_jit = False`` because TensorFlow's XLA cannot compile
#: their ImageProjectiveTransform op, and one such layer makes Keras run the whole model without XLA. On JAX
#: their ops (``jax.scipy.ndimage.map_coordinates``) compile, and without XLA JAX runs the model op by op:
#: configs/digits_cnn.yaml's RandomRotation made a train step 30 times slower (0.16 s against 0.005 s per batch
#: of 32). Their seed state still advances every step under XLA (tested). RandomCrop is not listed: its
#: slices need static offsets, which XLA refuses.
JAX_JIT_LAYERS = frozenset({"RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear", "RandomPerspective"})


def jit_on_jax(model: Any) -> Any:
    """On the JAX backend, let Keras compile ``model``'s train, test and predict steps with XLA: the random
    image layers of ``JAX_JIT_LAYERS`` are marked as XLA-compatible and, when every layer then is, the model's
    ``jit_compile`` is set (Keras' ``"auto"`` on JAX). This also covers a model trained on TensorFlow, whose
    saved compile config says ``jit_compile: false`` (TensorFlow's choice on a CPU). A no-op on TensorFlow.

    Returns:
        ``model`` itself (compiled, or built-and-compiled by Keras' loader).
    """
    k = keras()
    if k.backend.backend() != "jax" or not getattr(model, "compiled", False):
        return model
    layers, stack = [], list(model.layers)
    while stack:
        layer = stack.pop()
        layers.append(layer)
        stack.extend(getattr(layer, "layers", []))
    for layer in layers:
        if type(layer).__name__ in JAX_JIT_LAYERS:
            layer.supports_jit = True
    if all(layer.supports_jit for layer in layers):
        model.jit_compile = True
    return model


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed``: Python, NumPy, Keras' global seed (and TensorFlow's on TensorFlow).

    Keras also seeds TensorFlow whenever it can import it, even on JAX: there the import is blocked for the
    call (``sys.modules[name] = None`` makes ``import`` fail), so a JAX process stays without TensorFlow.
    """
    k = keras()
    if k.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        k.utils.set_random_seed(seed)
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        k.utils.set_random_seed(seed)
    finally:
        del sys.modules["tensorflow"]
