"""nnrun validate accepts a data.path glob that matches shards, as train does, and refuses one matching nothing
with train's message; a folder looked in twice is named once."""

from __future__ import annotations

from tests.conftest import invoke

CONFIG = ("name: g\ndata:\n  path: {path}\n  target: y\nmodel:\n  loss: binary_crossentropy\n  layers:\n"
          "    - {{type: Dense, units: 1, activation: sigmoid}}\n")


def _config(tmp_path, path):
    (tmp_path / "good").mkdir()
    for name in ("p1.csv", "p2.csv"):
        (tmp_path / "good" / name).write_text("a,b,y\n1,2,0\n3,4,1\n")
    (tmp_path / "c.yaml").write_text(CONFIG.format(path=path))
    return "c.yaml"  # as given: the working directory is tmp_path


def test_validate_accepts_a_glob_of_shards(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", _config(tmp_path, "good/*.csv"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("c.yaml: ok")


def test_validate_refuses_a_glob_matching_nothing_as_train_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", _config(tmp_path, "bad/*.csv"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: c.yaml:3:9: data.path: bad/*.csv: no file matches this pattern "
                                     f"(looked in {tmp_path.resolve() / 'bad'})")


def test_a_missing_file_names_the_working_directory_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", _config(tmp_path, "nope.csv"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: c.yaml:3:9: data.path: no such file or directory 'nope.csv' "
                                     f"(looked in {tmp_path.resolve()})")
