"""Text and image models from YAML (issue 7): preprocessing inside the model, keras-hub layers, shape errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, invoke

POSITIVE = ["great", "good", "lovely", "excellent", "fine"]
NEGATIVE = ["bad", "awful", "poor", "terrible", "broken"]

TEXT = """name: words
seed: 0
data:
  path: {path}
  header: false
  quotechar: null
  target: 1
model:
  layers:
{layers}
    - {{type: Dense, units: 1, activation: sigmoid}}
  loss: binary_crossentropy
  optimizer: {{type: adam, learning_rate: 0.02}}
  metrics: [accuracy]
training:
  epochs: 8
  batch_size: 16
  validation_split: 0.25
"""

BAG = """    - {type: TextVectorization, max_tokens: 40, output_sequence_length: 6}
    - {type: Embedding, input_dim: 40, output_dim: 8}
    - {type: GlobalAveragePooling1D}"""


def _sentences(path: Path, n: int = 80) -> Path:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        good = i % 2 == 0
        word = rng.choice(POSITIVE if good else NEGATIVE)
        lines.append(f'the "thing" was {word} {rng.choice(["today", "again", "here"])}\t{int(good)}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(config: Path, runs: Path, *extra: str):
    result = invoke("train", config, "--runs-dir", runs, "--json", "--quiet", "--no-plots", *extra)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    return Path(doc["run_dir"]), doc


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("text")
    config = tmp / "words.yaml"
    config.write_text(TEXT.format(path=_sentences(tmp / "s.tsv"), layers=BAG))
    return _train(config, tmp / "runs")


def test_text_model_adapts_its_vocabulary_and_learns(text_run):
    run, doc = text_run
    assert doc["evaluation"]["metrics"]["accuracy"] >= 0.9
    spec = json.loads((run / "dataset.json").read_text())["features"]
    assert spec["text"] == "col0" and spec["numeric"] == []
    assert "TextVectorization" in (run / "summary.txt").read_text()
    run_info = json.loads((run / "run.json").read_text())
    assert any("TextVectorization: vocabulary of" in line for line in run_info["preprocessing"])


def test_text_model_evaluates_the_same_after_loading(text_run):
    run, _ = text_run
    before = json.loads((run / "evaluation.json").read_text())["metrics"]
    result = invoke("evaluate", run, "--json", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["loss"] == pytest.approx(before["loss"], abs=1e-6)


def test_quotes_in_sentences_are_text_with_quotechar_null(text_run):
    run, _ = text_run
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["num_examples"] == 80  # default CSV quoting would have merged lines at the '"'


def test_bidirectional_lstm_and_transformer_encoder_train_from_yaml(tmp_path):
    data = _sentences(tmp_path / "s.tsv", 40)
    lstm = """    - {type: TextVectorization, max_tokens: 40, output_sequence_length: 6}
    - {type: Embedding, input_dim: 40, output_dim: 8, mask_zero: true}
    - {type: Bidirectional, layer: {type: LSTM, units: 4}}"""
    hub = """    - {type: TextVectorization, max_tokens: 40, output_sequence_length: 6}
    - {type: TokenAndPositionEmbedding, vocabulary_size: 40, sequence_length: 6, embedding_dim: 8}
    - {type: TransformerEncoder, intermediate_dim: 8, num_heads: 2}
    - {type: GlobalAveragePooling1D}"""
    for name, layers, kind in (("lstm", lstm, "Bidirectional"), ("hub", hub, "TransformerEncoder")):
        config = tmp_path / f"{name}.yaml"
        config.write_text(TEXT.format(path=data, layers=layers).replace("epochs: 8", "epochs: 1"))
        run, _ = _train(config, tmp_path / "runs")
        assert kind in (run / "summary.txt").read_text()
        result = invoke("evaluate", run, "--json", "--no-plots")  # keras-hub layers load back (safe mode)
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("layers,message", [
    ("    - {type: Bidirectional, layer: {type: LSTM, unit: 4}}",
     "model.layers[0].layer.unit: LSTM has no argument 'unit' (did you mean 'units'?)"),
    ("    - {type: Bidirectional, layer: LSTM}",
     "model.layers[0].layer: expected the wrapped layer as a mapping, e.g. layer: {type: LSTM, units: 32}"),
    ("    - {type: Dense, units: 4}\n    - {type: TextVectorization, max_tokens: 10}",
     "model.layers[1]: TextVectorization takes the raw texts: it must be the first layer"),
])
def test_nested_and_misplaced_text_layers_are_config_errors(tmp_path, layers, message):
    config = tmp_path / "c.yaml"
    config.write_text(TEXT.format(path=tmp_path / "s.tsv", layers=layers))
    result = invoke("validate", config)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize("layer,message", [
    ("{type: LSTM, units: 4}", "model.layers[0]: LSTM needs input of shape (batch_size, timesteps, features), got "
                               "(batch_size, 4); sequence layers take a sequence per example"),
    ("{type: Conv2D, filters: 4, kernel_size: 3}", "model.layers[0]: Conv2D needs input of shape (batch_size, "
                                                   "height, width, channels), got (batch_size, 4); image layers"),
])
def test_a_layer_that_cannot_take_the_data_shape_fails_before_training(tmp_path, layer, message):
    config = tmp_path / "c.yaml"
    config.write_text(f"""name: shapes
data: {{path: {ROOT / 'data/iris.csv'}, header: false, target: 4}}
model:
  layers: [{layer}, {{type: Dense, units: 3, activation: softmax}}]
  loss: sparse_categorical_crossentropy
training: {{epochs: 1}}
""")
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "runs").exists()


def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(ROOT / "data/digits.csv.gz", "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",", max_rows=n)
    return rows[:, :64].reshape(-1, 8, 8, 1), rows[:, 64].astype(int)


CNN = """name: pixels
seed: 0
data: {data}
model:
  layers:
    - {{type: Rescaling, scale: {scale}}}
    - {{type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}}
    - {{type: GlobalAveragePooling2D}}
    - {{type: Dense, units: 10, activation: softmax}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
training: {{epochs: 1, validation_split: 0.2}}
"""


def test_pixel_columns_reshaped_to_images(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CNN.format(data=f"{{path: {ROOT / 'data/digits.csv.gz'}, header: false, target: 64, "
                                      "reshape: [8, 8, 1]}", scale=0.0625))
    run, _ = _train(config, tmp_path / "runs")
    spec = json.loads((run / "dataset.json").read_text())["features"]
    assert spec["shape"] == [8, 8, 1] and len(spec["numeric"]) == 64
    config.write_text(config.read_text().replace("reshape: [8, 8, 1]", "reshape: [8, 8, 2]"))
    result = invoke("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2
    assert "data.reshape [8, 8, 2] holds 128 values per example but there are 64 feature columns" in result.stderr


def test_a_folder_of_png_images_per_class(tmp_path):
    from nnrun.backend import keras as _keras

    keras = _keras()
    images, labels = _digits(60)
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        folder = tmp_path / "png" / f"digit_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        keras.utils.save_img(folder / f"{i}.png", np.minimum(img * 16, 255).astype(np.uint8), scale=False)
    config = tmp_path / "c.yaml"
    config.write_text(CNN.format(data=f"{{path: {tmp_path / 'png'}, image_size: [8, 8], color_mode: grayscale}}",
                                 scale=1 / 255))
    run, _ = _train(config, tmp_path / "runs")
    meta = json.loads((run / "dataset.json").read_text())
    assert meta["features"]["shape"] == [8, 8, 1] and meta["num_examples"] == 60
    assert meta["classes"] == sorted({f"digit_{v}" for v in labels})


def test_predict_reads_one_text_per_line_with_stray_quotes(text_run, tmp_path):
    run, _ = text_run
    f = tmp_path / "new.txt"
    f.write_text('a "great" one today\n\nthis was "awful\nthe thing was lovely here\n')
    result = invoke("predict", run, "--input", f, "--keep", "line,text")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "line,text,prediction,prob_0,prob_1"
    assert [ln.split(",")[0] for ln in lines[1:]] == ["1", "3", "4"]  # blank line 2 skipped, quotes kept as text
    assert [ln.rsplit(",", 3)[1] for ln in lines[1:]] == ["1", "0", "1"]


def test_predict_on_an_unquoted_text_table_keeps_every_row(text_run, tmp_path):
    run, _ = text_run
    f = tmp_path / "new.tsv"
    f.write_text('"great movie\nbad film\n"awful\nnice\n')
    result = invoke("predict", run, "--input", f)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 5  # header + 4 rows: quotes do not merge lines


def test_predict_on_png_files_gives_the_classes_of_their_pixel_rows(tmp_path):
    from nnrun.backend import keras as _keras

    keras = _keras()
    config = tmp_path / "c.yaml"
    config.write_text(CNN.format(data=f"{{path: {ROOT / 'data/digits.csv.gz'}, header: false, target: 64, "
                                      "reshape: [8, 8, 1]}", scale=0.0625).replace("epochs: 1", "epochs: 3"))
    run, _ = _train(config, tmp_path / "runs")
    images, _ = _digits(12)
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(",".join(str(int(v)) for v in img.reshape(-1)) for img in images) + "\n")
    folder = tmp_path / "png"
    folder.mkdir()
    for i, img in enumerate(images):
        keras.utils.save_img(folder / f"{i:02d}.png", img.astype(np.uint8), scale=False)
    from_rows = invoke("predict", run, "--input", rows)
    from_png = invoke("predict", run, "--input", folder)
    assert from_rows.exit_code == 0 and from_png.exit_code == 0, from_png.stderr
    png_lines = from_png.stdout.strip().splitlines()
    assert png_lines[0].startswith("file,prediction,prob_0")
    assert [ln.split(",")[0] for ln in png_lines[1:]] == [str(folder / f"{i:02d}.png") for i in range(12)]
    classes_rows = [ln.split(",")[0] for ln in from_rows.stdout.strip().splitlines()[1:]]
    classes_png = [ln.split(",")[1] for ln in png_lines[1:]]
    assert classes_png == classes_rows
