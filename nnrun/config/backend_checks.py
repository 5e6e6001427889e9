"""The config's ``backend:`` against its model: what needs TensorFlow cannot run on ``backend: jax``."""

from __future__ import annotations

Problem = tuple[tuple, str]


def backend_problems(config) -> list[Problem]:
    """``backend: jax`` with a layer that needs TensorFlow (string lookups, text vectorization) or declared
    categorical columns (encoded by StringLookup inside the model), or ``training.distribute`` /
    ``mixed_precision`` / ``tensorboard`` (built on TensorFlow), or ``data.streaming: true`` (shards fed to
    ``fit`` through tf.data; ``auto`` deciding to stream is refused by ``training.stream.streamed_source``)."""
    if config.backend != "jax":
        return []
    from nnrun.backend import TF_ONLY_LAYERS

    fix = "use backend: tensorflow (the default) for this model"
    problems: list[Problem] = [(("model", "layers", i, "type"), f"{layer.type} needs TensorFlow: it cannot run on "
                                f"backend: jax; {fix}")
                               for i, layer in enumerate(config.model.layers) if layer.type in TF_ONLY_LAYERS]
    if config.data.categorical:
        problems.append((("data", "categorical"), "categorical columns are encoded by StringLookup, which needs "
                         f"TensorFlow: they cannot be used with backend: jax; {fix}"))
    if config.training.distribute is not None:
        problems.append((("training", "distribute"), "training.distribute runs on TensorFlow's tf.distribute: it "
                         f"cannot be used with backend: jax; {fix}"))
    if config.training.mixed_precision is not None:
        problems.append((("training", "mixed_precision"), "training.mixed_precision is checked and set up with "
                         f"TensorFlow here: it cannot be used with backend: jax; {fix}"))
    if config.training.tensorboard:
        problems.append((("training", "tensorboard"), "Keras' TensorBoard callback writes its logs with TensorFlow "
                         f"(tf.summary): it cannot be used with backend: jax; {fix}, or tensorboard: false"))
    if config.data.streaming is True:
        problems.append((("data", "streaming"), "true feeds model.fit through tf.data, which "
                         f"needs TensorFlow: it cannot be used with backend: jax; {fix}, or data.streaming: false "
                         "(the data is read into memory)"))
    return problems

