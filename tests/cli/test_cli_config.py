"""``nnrun validate``, ``nnrun schema``, ``--help`` and ``--version`` through Click: exit codes, stdout vs
stderr, exact error lines. None of these import TensorFlow (the last test proves it in a fresh process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nnrun import __version__
from nnrun.cli import cli
from nnrun.config.load import load_config_text

ROOT = Path(__file__).resolve().parents[2]

XOR = """\
name: xor
data:
  x: [[0, 0], [0, 1], [1, 0], [1, 1]]
  y: [0, 1, 1, 0]
model:
  layers:
    - {type: Dense, units: 8, activation: tanh}
    - {type: Dense, units: 1, activation: sigmoid}
  loss: binary_crossentropy
  optimizer: {type: adam, learning_rate: 5e-2}
training:
  epochs: 200
  batch_size: 4
"""


def _run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_validate_ok_prints_one_line_on_stdout(tmp_path):
    path = _write(tmp_path, XOR)
    result = _run("validate", path)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (2 layers, loss binary_crossentropy, 200 epochs)\n"
    assert result.stderr == ""


def test_validate_shipped_config():
    result = _run("validate", ROOT / "configs" / "iris.yaml")
    assert result.exit_code == 0
    path = ROOT / "configs" / "iris.yaml"
    assert result.stdout == f"{path}: ok (2 layers, loss sparse_categorical_crossentropy, 100 epochs)\n"


def test_validate_with_set_reports_the_overridden_value(tmp_path):
    path = _write(tmp_path, XOR)
    result = _run("validate", path, "--set", "training.epochs=1e2", "--set", "model.layers.0.units=16")
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (2 layers, loss binary_crossentropy, 100 epochs)\n"


def test_validate_bad_config_exit_2_with_the_exact_error_line(tmp_path):
    path = _write(tmp_path, XOR.replace("units: 8,", "units: -3,"))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {path}:7:28: model.layers[0].units: expected a positive integer, got -3\n"
    assert "Traceback" not in result.output


def test_validate_case2_softmax_single_unit(tmp_path):
    path = _write(tmp_path, XOR.replace("units: 1, activation: sigmoid", "units: 1, activation: softmax"))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}:8:43: model.layers[1].activation: softmax over a single unit always outputs 1.0, so the "
        "model cannot learn; use activation: sigmoid with binary_crossentropy, or units: <number of classes>\n"
    )


def test_validate_case4_learning_rate_word(tmp_path):
    path = _write(tmp_path, XOR.replace("learning_rate: 5e-2", "learning_rate: fast"))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}:10:42: model.optimizer.learning_rate: expected a number, got 'fast'\n"


def test_validate_every_problem_gets_its_own_error_line(tmp_path):
    path = _write(tmp_path, XOR.replace("epochs: 200", "epoch: 200").replace("tanh", "tanh2"))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:12:10: training.epoch: unknown key (did you mean 'epochs'?); "
        "expected one of: batch_size, checkpoint_interval, class_weight, deterministic, distribute, early_stopping, "
            "epochs, mixed_precision, reduce_lr_on_plateau, shuffle, steps_per_execution, tensorboard, test_split, "
            "validation_split",
    ]


def test_validate_bad_set_exit_2(tmp_path):
    path = _write(tmp_path, XOR)
    result = _run("validate", path, "--set", "model.layers.3.units=2")
    assert result.exit_code == 2
    assert result.stderr == "error: --set model.layers.3.units=2: model.layers has 2 items; index 3 is out of range\n"


def test_validate_missing_file_exit_2(tmp_path):
    path = tmp_path / "nope.yaml"
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: no such config file\n"


def test_validate_invalid_yaml_exit_2(tmp_path):
    path = _write(tmp_path, "name: [\n")
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}:2:1: invalid YAML: expected the node content, but found '<stream end>'\n"
    assert "Traceback" not in result.output


def test_validate_python_tag_exit_2(tmp_path):
    path = _write(tmp_path, "name: !!python/object/apply:os.system [echo hi]\n")
    result = _run("validate", path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}:1:7: name: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; "
        "only plain YAML data is\n"
    )


def test_validate_without_argument_is_a_usage_error():
    result = _run("validate")
    assert result.exit_code == 2
    assert "Missing argument 'CONFIG'" in result.stderr


def test_validate_print_writes_the_resolved_config(tmp_path):
    path = _write(tmp_path, XOR)
    result = _run("validate", path, "--print", "--set", "training.batch_size=2")
    assert result.exit_code == 0
    assert result.stderr == ""
    resolved = load_config_text(result.stdout, "resolved.yaml").config
    assert resolved == load_config_text(XOR, overrides=["training.batch_size=2"]).config
    assert resolved.model.optimizer.kwargs == {"learning_rate": 0.05}
    assert resolved.training.validation_split == 0.0
    assert result.stdout.startswith("name: xor\nseed: 0\ntask: auto\n")


def test_schema_prints_json_schema():
    result = _run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "nnrun config"
    assert {"name", "data", "model", "training"} <= set(schema["properties"])
    assert result.stderr == ""


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: cli [OPTIONS] COMMAND [ARGS]...")
    for command in ("train", "evaluate", "predict", "validate", "schema"):
        assert f"  {command} " in result.stdout


def test_validate_help_has_an_example():
    result = _run("validate", "-h")
    assert result.exit_code == 0
    assert "nnrun validate configs/iris.yaml --set training.epochs=5" in result.stdout


def test_version():
    result = _run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"nnrun, version {__version__}\n"


def test_validate_does_not_import_tensorflow_or_keras(tmp_path):
    path = _write(tmp_path, XOR)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from nnrun.cli import cli\n"
        f"result = CliRunner().invoke(cli, ['validate', {str(path)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "bad = CliRunner().invoke(cli, ['validate', {0!r}, '--set', 'model.layers.0.units=0'])\n"
        "assert bad.exit_code == 2, bad.output\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print(len(heavy), heavy[:5])\n"
    ).replace("{0!r}", repr(str(path)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0 []\n"


def test_plain_progress_prints_the_last_epoch_of_an_early_stop(capsys):
    from nnrun.console import EpochProgress

    progress = EpochProgress("t")
    progress.live = False
    for epoch in range(1, 8):  # of 100: lines at 1 and 5 (every 100 // 20), then an early stop after 7
        progress(epoch, 100, {"loss": 1.0 / epoch})
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["epoch 1/100  loss=1.0000", "epoch 5/100  loss=0.2000", "epoch 7/100  loss=0.1429"]


def test_exit_codes_are_one_enum_and_each_error_kind_maps_to_its_code():
    from nnrun import errors
    from nnrun.evaluation import gates

    status = errors.ExitStatus
    assert (status.OK, status.RUNTIME, status.USAGE, status.CONFIG, status.GATE, status.INTERRUPTED) == (
        0, 1, 2, 2, 3, 130)
    kinds = {errors.ConfigError: 2, errors.DataError: 2, errors.UsageError: 2, errors.RunError: 1,
             errors.GateFailed: 3, errors.Interrupted: 130, errors.NnrunError: 1}
    assert {kind: kind.exit_code for kind in kinds} == kinds
    assert gates.GateFailed is errors.GateFailed  # one class, defined in errors
    assert errors.EXIT_GATE == 3


def test_shared_options_have_one_flag_and_one_parameter_name_in_every_command():
    flags = {"as_json": ["--json"], "overrides": ["--set"], "gates": ["--gate"], "runs_dir": ["--runs-dir"],
             "quiet": ["--quiet", "-q"], "no_plots": ["--no-plots"]}
    seen = set()
    for name, command in cli.commands.items():
        for param in command.params:
            if param.name in flags and param.param_type_name == "option":  # `runs RUNS_DIR` is an argument
                assert param.opts == flags[param.name], (name, param.name)
                seen.add(param.name)
    assert seen == set(flags)


def test_a_bug_is_one_error_line_and_exit_1_without_debug(monkeypatch):
    from nnrun import api

    def broken() -> dict:
        raise ValueError("boom")

    monkeypatch.setattr(api, "schema", broken)
    result = _run("schema")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: internal error: ValueError: boom (rerun with --debug for details)\n"


def test_ctrl_c_outside_training_exits_130(monkeypatch):
    from nnrun import api

    def interrupted() -> dict:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "schema", interrupted)
    result = _run("schema")
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted\n"
