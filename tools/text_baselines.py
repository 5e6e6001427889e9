"""Baselines for the shipped text configs, on exactly the validation split nnrun uses.

For each config: the majority class's share of the validation split, and a bag-of-words logistic regression
(scikit-learn ``CountVectorizer`` + ``LogisticRegression``, fitted on the training split only). Prints a
Markdown table (the figures in README's "Text" section).

Usage: ``python tools/text_baselines.py [CONFIG ...]`` (default: the three shipped text configs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from nnrun.config.checks import target_encoding, text_input
from nnrun.config.load import load_config
from nnrun.data.dataset import read_table
from nnrun.data.splits import split_three

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["configs/sentiment_lstm.yaml", "configs/sentiment_transformer.yaml", "configs/sms_spam.yaml"]


def baselines(config: Path) -> tuple[float, float, int]:
    """(majority accuracy, bag-of-words logistic regression accuracy, validation size) on the config's split."""
    loaded = load_config(config)
    cfg = loaded.config
    table = read_table(cfg.data, loaded.path, text=text_input(cfg))
    t = cfg.training
    tr, va, _ = split_three(table.y, t.validation_split, t.test_split, cfg.seed,
                            stratify=target_encoding(cfg) != "regression")
    texts = table.x.reshape(-1)
    labels = np.array([str(v) for v in table.y])
    values, counts = np.unique(labels[tr], return_counts=True)
    majority = float(np.mean(labels[va] == values[np.argmax(counts)]))
    vectorizer = CountVectorizer()
    clf = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(texts[tr]), labels[tr])
    bow = float(np.mean(clf.predict(vectorizer.transform(texts[va])) == labels[va]))
    return majority, bow, len(va)


def main(configs: list[str]) -> None:
    print("| config | validation rows | majority class | bag-of-words logistic regression |")
    print("|---|---|---|---|")
    for name in configs:
        majority, bow, n = baselines(ROOT / name)
        print(f"| `{name}` | {n} | {majority:.3f} | {bow:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
