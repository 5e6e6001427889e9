"""Issue 18 item 20: history.csv grows one row per epoch while training (``tail -f`` works, a killed run
keeps its curve), and a resume continues it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT


def test_history_csv_is_appended_each_epoch_and_continued_on_resume(tmp_path):
    from nnrun import api

    seen: list[list[str]] = []

    def progress(epoch: int, epochs: int, logs: dict) -> None:
        seen.append((tmp_path / "xor" / "history.csv").read_text().splitlines())

    api.train(ROOT / "configs" / "xor.yaml", ("training.epochs=3",), tmp_path, progress=progress)
    assert [len(lines) for lines in seen] == [2, 3, 4]  # the header, then one row per finished epoch
    assert seen[0][0] == "epoch,accuracy,loss" and seen[-1][-1].startswith("3,")
    run = Path(tmp_path / "xor")
    seen.clear()
    api.train(None, ("training.epochs=5",), tmp_path, progress=progress, resume=run)
    assert [len(lines) for lines in seen] == [5, 6]
    assert [ln.split(",")[0] for ln in seen[-1]] == ["epoch", "1", "2", "3", "4", "5"]
