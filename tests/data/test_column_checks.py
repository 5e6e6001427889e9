"""Issue 18 item 9: id-like text columns and extreme outliers in a normalised column are warned about."""

from __future__ import annotations

from pathlib import Path

from nnrun.config.load import load_config
from nnrun.training.prepare import prepare


def _passengers(tmp_path: Path, normalize: bool = True) -> Path:
    lines = ["name,sex,fare,survived"]
    for i in range(60):
        fare = 250000 if i in (7, 30) else 10 + (i * 7) % 40
        lines.append(f"Passenger {i},{'male' if i % 3 else 'female'},{fare},{i % 2}")
    (tmp_path / "passengers.csv").write_text("\n".join(lines) + "\n")
    config = tmp_path / "passengers.yaml"
    config.write_text(
        "name: passengers\n"
        f"data: {{path: passengers.csv, target: survived, normalize: {str(normalize).lower()}}}\n"
        "model:\n  layers: [{type: Dense, units: 1, activation: sigmoid}]\n  loss: binary_crossentropy\n"
        "training: {validation_split: 0.0}\n"
    )
    return config


def test_an_id_column_and_outliers_are_named(tmp_path):
    warnings: list[str] = []
    prepare(load_config(_passengers(tmp_path)), warnings.append)
    ids = [w for w in warnings if "'name'" in w]
    assert len(ids) == 1 and "60 distinct values in 60 training rows (100%)" in ids[0]
    assert "data.drop: [name]" in ids[0]
    outliers = [w for w in warnings if "'fare'" in w]
    assert len(outliers) == 1, warnings
    assert "2 value(s) more than 10 robust SDs" in outliers[0]
    assert "passengers.csv:9" in outliers[0]  # row 7 of the data, after the header line
    assert not any("'sex'" in w for w in warnings)


def test_no_outlier_warning_without_normalize(tmp_path):
    warnings: list[str] = []
    prepare(load_config(_passengers(tmp_path, normalize=False)), warnings.append)
    assert not any("'fare'" in w for w in warnings)
