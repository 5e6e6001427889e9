"""explain's surrogate rules name the class, also when the model predicts one class only for every row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnrun.evaluation.explain import surrogate

META = {"task": "classification", "classes": ["Iris-setosa", "Iris-versicolor"], "features": {}}


def test_one_predicted_class_is_named_in_the_rules():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    tree = surrogate(frame, np.array([1, 1, 1, 1]), META, seed=0)
    assert tree["rules"] == "|--- class: Iris-versicolor\n" and tree["agree"] == 4


def test_two_predicted_classes_are_named_in_the_rules():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    rules = surrogate(frame, np.array([0, 0, 1, 1]), META, seed=0)["rules"]
    assert "class: Iris-setosa" in rules and "class: Iris-versicolor" in rules and "class: 0" not in rules
