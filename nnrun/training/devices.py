"""Where a model trains: one device, or ``training.distribute``'s ``tf.distribute`` strategy.

``placement(training)`` makes the strategy once per process (TensorFlow's devices can be split into logical
CPUs only before they are first used); ``Placement.scope()`` is where the model must be built, compiled or
loaded so that its variables are mirrored; ``Placement.record()`` is what run.json keeps.

MirroredStrategy + ``model.fit`` fails at ``steps_per_execution`` > 1 (TF 2.21 / Keras 3.15: "You must feed a
value for placeholder tensor ... multi_step_on_iterator", Keras' multi-step loop traces an Optional whose spec
the strategy cannot see), so under a strategy the model runs one batch per call (``single_step``).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from nnrun.errors import ConfigError

_CACHE: dict[tuple, Placement] = {}


@dataclass
class Placement:
    """The strategy a model trains under.

    Attributes:
        strategy: ``mirrored``, ``multi_worker`` or ``default`` (one device, no tf.distribute).
        replicas: model replicas in sync (each gets ``batch_size / replicas`` rows of a batch).
        devices: the devices of this process's replicas, e.g. ``["/job:localhost/replica:0/task:0/device:CPU:0"]``.
        tf_strategy: the ``tf.distribute.Strategy``, or None for ``default``.
        workers: worker processes (multi_worker), 1 otherwise. task_index: this worker's index (0: the chief).
        watchdog: multi_worker's ``cluster.Watchdog``, None otherwise.
    """

    strategy: str = "default"
    replicas: int = 1
    devices: list[str] = field(default_factory=list)
    tf_strategy: Any = None
    workers: int = 1
    task_index: int = 0
    watchdog: Any = None

    @property
    def chief(self) -> bool:
        """This process writes the run directory (task 0; always without multi_worker)."""
        return self.task_index == 0
    @property
    def distributed(self) -> bool:
        """Training runs under a ``tf.distribute`` strategy."""
        return self.tf_strategy is not None

    def scope(self) -> Any:
        """The context to build, compile or load the model in (a no-op without a strategy)."""
        return self.tf_strategy.scope() if self.tf_strategy is not None else nullcontext()

    def record(self) -> dict:
        """run.json's ``distribute`` entry: ``{"strategy", "replicas", "devices", "workers"}``."""
        return {"strategy": self.strategy, "replicas": self.replicas, "devices": self.devices,
                "workers": self.workers}

    def describe(self) -> str:
        """One line for the console, e.g. ``mirrored: 2 replicas on CPU:0, CPU:1``."""
        names = ", ".join(d.rsplit("device:", 1)[-1] for d in self.devices)
        workers = f" ({self.workers} workers, this is task {self.task_index})" if self.workers > 1 else ""
        return f"distribute: {self.strategy}, {self.replicas} replicas in sync on {names}{workers}"


def placement(training: Any) -> Placement:
    """The placement ``training.distribute`` asks for (made once per process and reused).

    Args:
        training: the TrainingConfig.

    Returns:
        A Placement (``default`` when ``training.distribute`` is not set).

    Raises:
        ConfigError: logical CPUs asked for after TensorFlow initialised its devices with another split, or
            devices that do not exist.
    """
    dist = training.distribute
    if dist is None:
        return Placement()
    from nnrun.backend import keras as _keras

    _keras()  # TensorFlow imported quietly (its C++ log lines off) before the strategy starts its devices
    key = (dist.strategy, tuple(dist.devices or ()), dist.logical_cpus)
    if key not in _CACHE:
        if dist.strategy == "multi_worker":
            from nnrun.training.cluster import multi_worker_placement

            _CACHE[key] = multi_worker_placement(dist)
        else:
            _CACHE[key] = _mirrored(dist)
    return _CACHE[key]


def split_cpu(count: int | None) -> None:
    """Split the first CPU into ``count`` logical devices (None: leave it). Must run before TensorFlow first
    uses its devices; afterwards the same split is accepted and another refused.

    Raises:
        ConfigError: TensorFlow's devices were already initialised with another number of CPUs.
    """
    import tensorflow as tf

    if count is None:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise ConfigError(f"training.distribute.logical_cpus: TensorFlow already runs with {have} logical "
                              f"CPU(s) in this process, cannot split into {count}",
                              hint="run it as its own `nnrun train` process") from None


def _mirrored(dist: Any) -> Placement:
    """MirroredStrategy over ``dist.devices``, or every GPU, or the logical CPUs, or the CPU."""
    import tensorflow as tf

    split_cpu(dist.logical_cpus)
    if dist.devices:
        names = list(dist.devices)
        known = {d.name.lower() for d in tf.config.list_logical_devices()}
        short = {n.rsplit("device:", 1)[-1].lower() for n in known}
        missing = [n for n in names if n.lower() not in known and n.lower().lstrip("/") not in short
                   and n.lower().replace("/", "") not in short]
        if missing:
            raise ConfigError(f"training.distribute.devices: no device {', '.join(missing)} here; this process "
                              f"has {', '.join(sorted(known))}")
    elif tf.config.list_logical_devices("GPU"):
        names = [d.name for d in tf.config.list_logical_devices("GPU")]
    else:
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(names)
    return Placement("mirrored", strategy.num_replicas_in_sync, list(strategy.extended.worker_devices), strategy)


def single_step(model: Any, where: Placement, info: Any) -> None:
    """Under ``mirrored``, run one batch per call (see the module doc), with a note when the config asked more
    (``multi_worker`` runs its own loop: ``distributed``)."""
    if where.strategy == "mirrored" and int(model.steps_per_execution) > 1:
        info(f"distribute: steps_per_execution {int(model.steps_per_execution)} -> 1 (Keras' multi-step loop "
             "does not run under tf.distribute)")
        model.steps_per_execution = 1
        model.train_function = model.test_function = model.predict_function = None
