"""Counting categories a run never saw in training (issue 18): the model maps them to its out-of-vocabulary
slot, which is rarely what the user meant (a typo, a new label, a different spelling)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class UnseenCategories:
    """Counts, per categorical column, the predicted cells whose value is not in the training vocabulary.

    Args:
        spec: the run's feature spec (``dataset.json``'s ``features``).
    """

    def __init__(self, spec: dict) -> None:
        self.columns = [(c["name"], c["input"], frozenset(c["vocabulary"])) for c in spec.get("categorical") or []]
        self.counts: dict[str, int] = {}
        self.examples: dict[str, str] = {}

    def add(self, x: Any) -> None:
        """Count the unseen values of one batch of model inputs (a dict with the categorical inputs)."""
        if not isinstance(x, dict):
            return
        for name, key, vocabulary in self.columns:
            unseen = [v for v in x[key].ravel().tolist() if v not in vocabulary]
            if unseen:
                self.counts[name] = self.counts.get(name, 0) + len(unseen)
                self.examples.setdefault(name, str(unseen[0]))

    def notes(self) -> list[str]:
        """One line per column with unseen values (none when every value was seen in training)."""
        return [f"column {name!r}: {n} value(s) not seen in training (e.g. {self.examples[name]!r}) were predicted "
                "as an unknown category (the out-of-vocabulary slot)" for name, n in self.counts.items()]


class CountedBatches:
    """``api.predict``'s batches, iterated as given, with the unseen-category counts alongside (complete once
    the batches are exhausted): ``predict --json`` reports them.

    Args:
        batches: the (predictions, kept rows, problems) iterator. unseen: the counter ``batches`` fills.
    """

    def __init__(self, batches: Iterator[Any], unseen: UnseenCategories) -> None:
        self.batches, self.unseen = batches, unseen

    def __iter__(self) -> CountedBatches:
        return self

    def __next__(self) -> Any:
        return next(self.batches)
