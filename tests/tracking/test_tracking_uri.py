"""An MLflow tracking URI whose scheme MLflow has no store for is a usage error (exit 2) naming the schemes
MLflow accepts, for ``track`` and, before any training, for ``train --mlflow`` (``tracking.uri``)."""

from __future__ import annotations

from conftest import ROOT, invoke


def test_track_refuses_an_unknown_scheme_naming_the_accepted_ones(xor_run):
    result = invoke("track", xor_run, "--mlflow", "garbage://x")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: --mlflow garbage://x: MLflow has no tracking store for this URI's scheme; it "
                            "accepts a folder path, file://, ")
    assert all(s in first for s in ("http://", "https://", "sqlite://", "databricks"))
    assert result.stderr.splitlines()[1] == ("  hint: e.g. --mlflow sqlite:///mlflow.db, --mlflow ./mlruns or "
                                             "--mlflow http://localhost:5000")


def test_train_refuses_an_unknown_scheme_before_training(tmp_path):
    result = invoke("train", ROOT / "configs/xor.yaml", "--runs-dir", tmp_path / "runs", "--quiet",
                    "--mlflow", "garbage://x")
    assert result.exit_code == 2
    assert "error: --mlflow garbage://x: MLflow has no tracking store" in result.stderr
    assert not (tmp_path / "runs").exists()
