"""``--skip-bad-rows`` for training: which rows of a table are bad — a cell that is not a number in a numeric
column, a missing cell in a column without a fill (``missing: error``), a missing or non-finite target — and one
message per bad row (its ``file:line`` and the first problem), as ``predict --skip-bad-rows`` words them.

The in-memory read (``dataset.read_table``), the streaming learning pass (``stream_spec``) and every later read
of a streamed run's shards (``stream_source``: each epoch, evaluate, resume) call the same ``find_bad_rows`` with
the same column kinds and policies, so the same rows are left out every time. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnrun.data import features as ft

#: Bad rows listed one by one in the warnings (the rest are counted).
LISTED = 20


def find_bad_rows(frame: Any, kinds: dict[str, str], no_fill: set[str], target: str, na: set[str],
                  where: Callable[[Any], str]) -> tuple[np.ndarray, list[str]]:
    """The bad rows of a frame and why.

    Args:
        frame: the rows (labelled). kinds: feature column -> numeric/categorical/text.
        no_fill: the columns whose missing cells make a row bad (policy ``error``). target: the target column.
        na: the cells read as missing. where: row label -> ``file:line``.

    Returns:
        (mask of bad rows, shape (num_rows,); one message per bad row, in row order).
    """
    from nnrun.data.dataset import bad_targets, target_problem

    problems: dict[int, str] = {}

    def note(mask: np.ndarray, what: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask):
            if int(i) not in problems:
                problems[int(i)] = f"{where(frame.index[i])}: {what(int(i))}"

    for col, kind in kinds.items():
        if kind == "text":
            continue
        if kind == "numeric":
            _, missing, bad = ft.parse_numeric(frame[col], na)
            note(bad, lambda i, c=col: f"column {c!r}: {ft.bad_number(frame[c].iloc[i])}")
        else:
            missing = ft.parse_category(frame[col], na)[1]
        if col in no_fill:
            note(missing, lambda i, c=col: f"column {c!r}: missing value ({frame[c].iloc[i]!r}) and no fill; set "
                 "data.missing")
    y_raw, _, bad_y = bad_targets(frame[target])
    note(bad_y, lambda i: target_problem(target, y_raw.iloc[i]))
    mask = np.zeros(len(frame), dtype=bool)
    mask[list(problems)] = True
    return mask, [problems[i] for i in sorted(problems)]


def no_fill_columns(features: list[str], data_cfg: Any) -> set[str]:
    """The feature columns without a fill for a missing cell (policy ``error``, or ``constant`` without a
    ``fill_value``: the spec records both as ``error``): a missing cell there makes the row bad."""
    return {c for c in features if ft.policy(data_cfg, c) == "error"
            or (ft.policy(data_cfg, c) == "constant" and ft.fill_constant(data_cfg, c) is None)}


def skipped_warning(source: str, messages: list[str]) -> list[str]:
    """The warning lines of skipped rows: the count, then the first ``LISTED`` rows and why (none: [])."""
    if not messages:
        return []
    more = f" (the first {LISTED} listed)" if len(messages) > LISTED else ""
    return [f"{source}: {len(messages)} bad row(s) skipped (--skip-bad-rows){more}",
            *(f"skipped {m}" for m in messages[:LISTED])]
