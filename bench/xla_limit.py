"""The practical limit of one training epoch on this machine: a hand-fused XLA loop, no Keras.

The bench's section-2 MLP (features-64-64-1, relu, sigmoid head, binary cross-entropy) trained by plain SGD in
one ``jax.jit`` per epoch: ``jax.lax.scan`` over the epoch's batches (a full batch each; the rows beyond
the last full batch are dropped), no metrics, no callbacks, no host round trip per batch. Whatever a
framework adds per step shows as the gap between this and its steady epoch (bench/jax_backend.py).

Prints one JSON line: ``{"rows", "features", "batch_size", "epochs", "epoch_seconds": [...],
"steady_epoch_seconds"}`` (the median of the epochs after the first, which compiles).

    python bench/xla_limit.py --rows 200000 --features 50 --batch-size 256 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np


def init(key: jax.Array, sizes: list[int]) -> list[tuple[jax.Array, jax.Array]]:
    """Glorot-uniform weights and zero biases for consecutive layer widths ``sizes``."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        key, sub = jax.random.split(key)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append((jax.random.uniform(sub, (fan_in, fan_out), minval=-limit, maxval=limit), jnp.zeros(fan_out)))
    return params


def loss(params: list, x: jax.Array, y: jax.Array) -> jax.Array:
    """Binary cross-entropy of the relu MLP's sigmoid output (from logits, for stability)."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    logits = (x @ params[-1][0] + params[-1][1])[:, 0]
    return jnp.mean(jnp.maximum(logits, 0) - logits * y + jnp.log1p(jnp.exp(-jnp.abs(logits))))


@jax.jit
def epoch(params: list, xb: jax.Array, yb: jax.Array, lr: float = 0.01) -> tuple[list, jax.Array]:
    """One epoch: SGD over the batches ``xb`` (steps, batch, features), ``yb`` (steps, batch), fused by scan."""

    def step(p: list, batch: tuple) -> tuple[list, jax.Array]:
        value, grads = jax.value_and_grad(loss)(p, *batch)
        return jax.tree_util.tree_map(lambda a, g: a - lr * g, p, grads), value

    params, losses = jax.lax.scan(step, params, (xb, yb))
    return params, losses.mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    steps = args.rows // args.batch_size
    x = rng.standard_normal((steps, args.batch_size, args.features)).astype(np.float32)
    y = (x[..., 0] * x[..., 1] > 0).astype(np.float32)
    xb, yb = jax.device_put(x), jax.device_put(y)
    params = init(jax.random.PRNGKey(0), [args.features, 64, 64, 1])
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        params, value = epoch(params, xb, yb)
        value.block_until_ready()
        times.append(time.perf_counter() - start)
    print(json.dumps({"rows": steps * args.batch_size, "features": args.features, "batch_size": args.batch_size,
                      "epochs": args.epochs, "epoch_seconds": times, "loss": float(value),
                      "steady_epoch_seconds": statistics.median(times[1:]) if len(times) > 1 else times[0]}))


if __name__ == "__main__":
    main()
