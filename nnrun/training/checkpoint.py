"""Checkpoints of a run: the files ``nnrun train --resume`` continues from.

A checkpoint is ``last.keras`` (model and optimizer state), ``best.keras`` (the best epoch's weights so far, when
a metric is tracked) and ``checkpoint.json`` (epoch, history, best epoch, callback counters, RNG states and the
SHA-256 of both model files), written as a small two-phase commit: the model files go to
``.<name>.pending``, then ``checkpoint.json`` records their SHA-256, then they are renamed into place. A
process killed at any moment leaves a checkpoint that ``recover`` can complete or that still matches its
files, so a resumed run never mixes epochs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.errors import ConfigError, RunError


@dataclass
class ResumeState:
    """What a checkpoint restores besides the model: position, history, best epoch, callback counters.

    Attributes:
        epoch: epochs completed (training continues at this 0-based epoch).
        history: metric name -> one value per completed epoch.
        seconds: training time so far, in seconds.
        best_epoch: 1-based best epoch by the monitored metric, or None. best_value: its value.
        callbacks: saved counters of EarlyStopping/ReduceLROnPlateau (``"early_stopping"``: {wait, best, …}).
        best_weights: the best epoch's weights (``model.get_weights()``), or None.
        rng_states: the model's SeedGenerator states (see ``rng_states``).
    """

    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    best_epoch: int | None = None
    best_value: float | None = None
    callbacks: dict[str, dict] = field(default_factory=dict)
    best_weights: list | None = None
    rng_states: list | None = None


def _seed_generators(model: Any) -> list[Any]:
    """Keras SeedGenerators of every layer (Dropout and the random layers). Their state is not saved in
    ``.keras`` files, so checkpoints store it to resume with the same dropout masks."""
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        found.extend(getattr(layer, "_seed_generators", []) or [])
    return found


def rng_states(model: Any) -> list[list[int]]:
    """The state of each SeedGenerator, in layer order."""
    import numpy as np

    return [[int(v) for v in np.asarray(g.state.numpy()).ravel()] for g in _seed_generators(model)]


def set_rng_states(model: Any, states: list[list[int]] | None) -> None:
    """Restore SeedGenerator states saved by ``rng_states``."""
    import numpy as np

    generators = _seed_generators(model)
    if not states or len(states) != len(generators):
        return
    for gen, value in zip(generators, states, strict=True):
        gen.state.assign(np.asarray(value, dtype=gen.state.dtype))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(run_dir: Path, model: Any, best_weights: list | None, best_changed: bool, record: dict) -> None:
    """Write a checkpoint of ``model`` (two-phase commit, see the module docstring).

    Args:
        run_dir: the run directory.
        model: the model at the end of the checkpointed epoch.
        best_weights: the best epoch's weights, or None (no ``best.keras``).
        best_changed: the best weights changed since the last checkpoint (``best.keras`` is rewritten; else
            it is kept when present).
        record: the fields of ``checkpoint.json`` (epoch, history, seconds, best_epoch, …); ``files`` and
            ``rng_states`` are added.

    Raises:
        RunError: a file cannot be written.
    """
    files: dict[str, str] = {}
    pending: list[tuple[Path, Path]] = []
    last_pending = rundir.pending_path(run_dir / rundir.LAST_MODEL)
    rundir.save_model(model, last_pending)
    files[rundir.LAST_MODEL] = _sha(last_pending)
    pending.append(run_dir / rundir.LAST_MODEL)
    if best_weights is not None:
        if best_changed or not (run_dir / rundir.BEST_MODEL).exists():
            current = model.get_weights()
            model.set_weights(best_weights)
            best_pending = rundir.pending_path(run_dir / rundir.BEST_MODEL)
            try:
                rundir.save_model(model, best_pending)
            finally:
                model.set_weights(current)
            pending.append(run_dir / rundir.BEST_MODEL)
            files[rundir.BEST_MODEL] = _sha(best_pending)
        else:
            files[rundir.BEST_MODEL] = _sha(run_dir / rundir.BEST_MODEL)
    rundir.write_json(run_dir / rundir.CHECKPOINT, {**record, "files": files, "rng_states": rng_states(model)})
    for final in pending:  # the second phase: the record names every file's SHA-256
        rundir.commit_pending(final)


def recover(run_dir: Path) -> dict:
    """Read ``checkpoint.json`` and finish an interrupted checkpoint commit.

    Returns:
        The checkpoint record (epoch, history, best, callbacks, files with their SHA-256).

    Raises:
        RunError: no checkpoint, or files that match neither the record nor a pending commit.
    """
    record_path = run_dir / rundir.CHECKPOINT
    if not record_path.exists():
        raise RunError(f"{run_dir}: no checkpoint to resume from (the run stopped before its first checkpoint); "
                       "train it again")
    record = rundir.read_json(record_path)
    if not (isinstance(record, dict) and isinstance(record.get("epoch"), int) and isinstance(record.get("files"), dict)
            and isinstance(record.get("history"), dict)):
        raise RunError(f"{record_path}: damaged (expected epoch, history and files); cannot resume safely")
    for name, sha in record["files"].items():
        final = run_dir / name
        pending = rundir.pending_path(final)
        if final.exists() and _sha(final) == sha:
            continue
        if pending.exists() and _sha(pending) == sha:
            rundir.commit_pending(final)
            continue
        raise RunError(f"{final}: does not match {rundir.CHECKPOINT} (epoch {record.get('epoch')}); "
                       "cannot resume safely")
    return record


def load(run_dir: Path, epochs: int) -> tuple[Any, ResumeState]:
    """Load a run's checkpoint: ``last.keras`` (model + optimizer state), best weights and training state.

    Args:
        run_dir: the run directory.
        epochs: the configured ``training.epochs`` (the checkpoint must be short of it).

    Returns:
        (the model, with its RNG states restored; the ResumeState).

    Raises:
        RunError: no usable checkpoint. ConfigError: the run already has ``epochs`` epochs.
    """
    from nnrun.inference.predictor import load_model

    record = recover(run_dir)
    if record["epoch"] >= epochs:
        raise ConfigError(
            f"{run_dir}: the run already has {record['epoch']} epochs (training.epochs is {epochs})",
            hint=f"to train longer: nnrun train --resume {run_dir} --set training.epochs={record['epoch'] + 10}",
        )
    model = load_model(run_dir, rundir.LAST_MODEL)
    has_best = rundir.BEST_MODEL in record["files"]
    best = load_model(run_dir, rundir.BEST_MODEL).get_weights() if has_best else None
    state = ResumeState(
        epoch=record["epoch"], history=record["history"], seconds=record.get("seconds", 0.0),
        best_epoch=record.get("best_epoch"), best_value=record.get("best_value"),
        callbacks=record.get("callbacks", {}), best_weights=best, rng_states=record.get("rng_states"),
    )
    set_rng_states(model, state.rng_states)
    return model, state
