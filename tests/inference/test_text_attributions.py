"""predict --explain on text models: integrated gradients per token, taken at the embedding output."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

LAYERS = {
    # a padding mask (mask_zero) carried into a recurrent layer
    "lstm": "    - {type: Embedding, input_dim: 60, output_dim: 8, mask_zero: true}\n    - {type: LSTM, units: 8}\n",
    # no mask: padding positions are real inputs; the baseline is then exactly the empty text
    "pool": "    - {type: Embedding, input_dim: 60, output_dim: 8}\n    - {type: GlobalAveragePooling1D}\n",
}
POSITIVE, NEGATIVE = ["great", "good", "lovely"], ["bad", "awful", "poor"]
FILLER = ["the", "movie", "was", "really", "food", "service", "quite", "and", "plot", "very"]


@pytest.fixture(scope="module")
def text_runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("text")
    rng = random.Random(0)
    rows = []
    for i in range(240):
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if i % 2 else NEGATIVE)]
        rng.shuffle(words)
        rows.append(f"{' '.join(words)}\t{i % 2}")
    (folder / "texts.tsv").write_text("\n".join(rows) + "\n")
    runs = {}
    for kind, layers in LAYERS.items():
        (folder / f"{kind}.yaml").write_text(
            f"name: {kind}\nseed: 0\ndata: {{path: texts.tsv, header: false, quotechar: null, target: 1}}\n"
            "model:\n  layers:\n    - {type: TextVectorization, max_tokens: 60, output_sequence_length: 8}\n"
            f"{layers}    - {{type: Dense, units: 1, activation: sigmoid}}\n  loss: binary_crossentropy\n"
            "  optimizer: {type: adam, learning_rate: 0.03}\ntraining: {epochs: 10, batch_size: 32}\n")
        result = invoke("train", folder / f"{kind}.yaml", "--runs-dir", folder / "runs", "--json", "--quiet",
                        "--no-plots")
        assert result.exit_code == 0, result.stderr
        runs[kind] = Path(json.loads(result.stdout)["run_dir"])
    return runs


TEXTS = "the movie was great\nawful food and very bad service\nzzz qqq\nplot\n"


@pytest.mark.parametrize("kind", list(LAYERS))
def test_token_attributions_are_complete_and_find_the_sentiment_word(text_runs, tmp_path, kind):
    (tmp_path / "in.txt").write_text(TEXTS)
    result = invoke("predict", text_runs[kind], "--input", tmp_path / "in.txt", "--explain", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [[t for t, _ in r["attr_tokens"]] for r in rows] == [
        ["the", "movie", "was", "great"], ["awful", "food", "and", "very", "bad", "service"], ["[UNK]", "[UNK]"],
        ["plot"]]
    for r in rows:  # completeness: baseline + the tokens' attributions = the predicted class's probability
        explained = r["probabilities"][str(r["prediction"])]
        total = r["attr_baseline"] + sum(a for _, a in r["attr_tokens"])
        assert total == pytest.approx(explained, rel=0.01), r
    assert [r["prediction"] for r in rows[:2]] == [1, 0]
    great = dict(rows[0]["attr_tokens"])
    assert max(great, key=lambda t: abs(great[t])) == "great" and great["great"] > 0.1
    assert rows[0]["attr_top"].startswith("great:+")
    assert len(rows[1]["attr_top"].split()) == 5  # the five largest of six tokens


def test_the_baseline_of_a_model_without_mask_is_the_empty_text(text_runs, tmp_path):
    (tmp_path / "in.txt").write_text(TEXTS)
    explained = invoke("predict", text_runs["pool"], "--input", tmp_path / "in.txt", "--explain", "--format", "json")
    (tmp_path / "empty.jsonl").write_text('{"0": ""}\n')
    empty = invoke("predict", text_runs["pool"], "--input", tmp_path / "empty.jsonl", "--format", "json")
    assert empty.exit_code == 0, empty.stderr
    p_empty = json.loads(empty.stdout)[0]["probabilities"]
    for r in json.loads(explained.stdout):
        assert r["attr_baseline"] == pytest.approx(p_empty[str(r["prediction"])], abs=1e-6)


def test_csv_output_has_the_compact_column_only(text_runs, tmp_path):
    (tmp_path / "in.txt").write_text(TEXTS)
    result = invoke("predict", text_runs["lstm"], "--input", tmp_path / "in.txt", "--explain")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["prediction", "prob_0", "prob_1", "attr_baseline", "attr_top"]
    tops = [dict(pair.rsplit(":", 1) for pair in r["attr_top"].split()) for r in rows]
    assert set(tops[2]) == {"[UNK]"} and list(tops[3]) == ["plot"]
    assert np.isfinite([float(v) for top in tops for v in top.values()]).all()


def test_explain_permutes_the_text_column_whole(text_runs, tmp_path):
    import shutil

    run = shutil.copytree(text_runs["pool"], tmp_path / "pool")
    rng = random.Random(1)
    rows = [f"{' '.join(rng.sample(FILLER, 3) + [rng.choice(POSITIVE if i % 2 else NEGATIVE)])}\t{i % 2}"
            for i in range(60)]
    (tmp_path / "held_out.tsv").write_text("\n".join(rows) + "\n")
    result = invoke("explain", run, "--data", tmp_path / "held_out.tsv", "--repeats", "4", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["subset"], doc["rows"], doc["metric"], doc["repeats"]) == ("file", 60, "accuracy", 4)
    [column] = doc["columns"]  # the text is one column, shuffled whole (not its tokens)
    assert column["column"] == "col0" and column["rank"] == 1
    # the label is in the text only: shuffled texts keep ~half of the labels right (a drop of about score - 0.5)
    assert doc["score"] >= 0.9 and 0.25 <= column["mean"] <= doc["score"] - 0.25, doc
    assert doc["surrogate"] is None  # no readable tree over a text
    assert (run / "importance.png").stat().st_size > 1000
