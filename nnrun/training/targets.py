"""The run directories of ``train`` and ``resume``: ``run.train_one`` targets whose run.json records the status.

``NewRun`` creates ``runs/<name>`` once the model passed its checks; ``ResumedRun`` continues a run from its
checkpoint. (Cross-validation's fold directories are ``crossval.FoldRun``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnrun import rundir
from nnrun.config.load import dump_resolved
from nnrun.errors import ConfigError, DataError, Interrupted, NnrunError
from nnrun.training import records
from nnrun.training.prepare import Prepared, with_data_facts

if TYPE_CHECKING:
    from nnrun.training.checkpoint import ResumeState
    from nnrun.training.fit import FitResult


class RunTarget:
    """A run directory of ``train``: ``run.json`` records its status (the base of NewRun and ResumedRun)."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.run_dir: Path | None = None
        self.info: dict = {}
        self.finished = False
        self.lock: rundir.RunLock | None = None

    def release(self) -> None:
        """Release the run's lock (``NewRun`` takes it when it creates the directory)."""
        if self.lock is not None:
            self.lock.release()

    def restore(self) -> tuple[Any, ResumeState | None]:
        """No checkpoint: build a fresh model."""
        return None, None

    def finish(self, status: str, error: str | None = None) -> None:
        """Record the status in run.json."""
        assert self.run_dir is not None
        self.info.update(status=status, ended=records.now(), error=error)
        rundir.write_json(self.run_dir / rundir.RUN, self.info)
        self.finished = status != "running"

    def interrupted(self, result: FitResult) -> NnrunError:
        """Record the stop; the error names the epoch and how to resume."""
        self.finish("interrupted", f"stopped by the user after epoch {result.epochs_run}")
        return Interrupted(
            f"{self.run_dir}: interrupted after epoch {result.epochs_run} of {self.prep.config.training.epochs} "
            "(checkpoint saved)",
            hint=f"continue with: nnrun train --resume {self.run_dir}",
        )


class NewRun(RunTarget):
    """A new run directory ``runs_dir/<name>`` (``<name>-2``, … when taken), created once the model passed its
    checks, with run.json, config.yaml, dataset.json and split.json."""

    def __init__(self, prep: Prepared, runs_dir: Path) -> None:
        super().__init__(prep)
        self.runs_dir = Path(runs_dir)

    def open(self, preprocessing: list[str]) -> Path:
        """Create the run directory and write what the run starts from."""
        prep, cfg = self.prep, self.prep.config
        self.run_dir = run_dir = rundir.create(self.runs_dir, cfg.name)
        self.lock = rundir.RunLock(run_dir).acquire()  # a resume or evaluate started meanwhile is refused
        self.info = records.run_info(prep.loaded, prep.meta, prep.table)
        self.info["preprocessing"] = preprocessing
        rundir.write_json(run_dir / rundir.RUN, self.info)
        rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(with_data_facts(cfg, prep.meta)))
        rundir.write_json(run_dir / rundir.DATASET, prep.meta)
        if prep.meta.get("streaming"):  # rows go to a split by a hash of (shard, row): no indices to list
            rundir.write_json(run_dir / rundir.SPLIT, {"split": prep.meta["streaming"]["split"], "rows": {
                k: prep.meta[f"num_{k}"] for k in ("train", "validation", "test")}})
        else:
            rundir.write_indices(run_dir / rundir.SPLIT, {"train": prep.train_idx, "validation": prep.val_idx,
                                                          "test": prep.test_idx})
        return run_dir


class ResumedRun(RunTarget):
    """An existing run directory continued from its checkpoint (the data must be unchanged)."""

    def __init__(self, prep: Prepared, run_dir: Path, overrides: tuple[str, ...]) -> None:
        super().__init__(prep)
        self.run_dir = run_dir
        self.overrides = overrides
        self.info = rundir.read_json(run_dir / rundir.RUN)
        self.from_epoch = 0

    def restore(self) -> tuple[Any, ResumeState | None]:
        """The checkpoint's model and state.

        Raises:
            DataError: the data changed. ConfigError: the run is completed (and epochs not raised) or has all
                its epochs. RunError: no usable checkpoint.
        """
        from nnrun.training import checkpoint

        run_dir, cfg, meta = self.run_dir, self.prep.config, self.prep.meta
        if self.info.get("data_sha256") != self.prep.table.sha256:
            raise DataError(f"{meta['source']}: the data changed since {run_dir} started (SHA-256 differs); "
                            "cannot resume; train a new run")
        model, state = checkpoint.load(run_dir, cfg.training.epochs)
        self.from_epoch = state.epoch
        more = any(o.strip().startswith("training.epochs=") for o in self.overrides)
        if self.info.get("status") == "completed" and not more:
            raise ConfigError(f"{run_dir}: the run is completed", hint=f"to train longer: nnrun train --resume "
                              f"{run_dir} --set training.epochs={state.epoch + 10}")
        return model, state

    def open(self, preprocessing: list[str]) -> Path:
        """Mark the run running again. A finished run's model.keras stays until the new one replaces it
        (atomically), so a stop or a failure while extending a run never leaves it without a model."""
        import os
        import platform

        run_dir = self.run_dir
        self.info.setdefault("resumed", []).append({"at": records.now(), "from_epoch": self.from_epoch})
        self.info.update(status="running", ended=None, error=None, pid=os.getpid(), host=platform.node())
        rundir.write_json(run_dir / rundir.RUN, self.info)
        rundir.write_text(run_dir / rundir.CONFIG, dump_resolved(self.prep.config))
        return run_dir
