"""A shard that disappears while a streamed run trains: the reader's DataError is raised inside ``tf.data``'s
generator, where TensorFlow reports only "Graph execution error"; the user gets the DataError itself (exit 2,
the shard named, how to continue), the run is marked failed and resumes once the shard is back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "evaluation"))
from conftest import invoke  # noqa: E402
from test_streamed_shard_changes import CONFIG, write_parts  # noqa: E402


def test_a_shard_gone_during_training_is_reported_as_itself_and_the_run_resumes(tmp_path, monkeypatch):
    from nnrun.training import checkpoint

    parts = write_parts(tmp_path / "sh")
    config = tmp_path / "s.yaml"
    config.write_text((CONFIG % parts).replace("epochs: 1,", "epochs: 2, checkpoint_interval: 0,"))
    gone = parts / "part-1.csv"
    kept = gone.read_bytes()
    save = checkpoint.save

    def save_then_lose_a_shard(*args):  # after the first epoch's checkpoint: the next read of the shards fails
        save(*args)
        gone.unlink(missing_ok=True)

    monkeypatch.setattr(checkpoint, "save", save_then_lose_a_shard)
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--json", "--quiet", "--no-plots")
    assert result.exit_code == 2, result.stdout
    error = json.loads(result.stdout)["error"]
    run = tmp_path / "runs" / "s"
    assert error["kind"] == "DataError"
    assert error["message"] == (f"{gone}: no such input file (a shard disappeared during training; restore it), "
                                f"then `nnrun train --resume {run}`")
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["error"] == error["message"]

    monkeypatch.setattr(checkpoint, "save", save)
    gone.write_bytes(kept)
    resumed = invoke("train", "--resume", run, "--json", "--quiet", "--no-plots")
    assert resumed.exit_code == 0, resumed.stderr
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2
