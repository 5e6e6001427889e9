"""Feature columns to model inputs: which columns, numeric or categorical, missing values, normalization.

A *feature spec* (a JSON-able dict, saved in the run's ``dataset.json`` under ``features``) says how raw
columns become the model's inputs. It is learnt on the training split only (``fit``) and applied the same
way to training, validation, test, ``evaluate --data`` and ``predict`` rows (``transform``):

- numeric columns: parsed as numbers; missing cells filled with the learnt value (mean, median,
  most_frequent, constant) or refused; normalization (``data.normalize``) is a Keras ``Normalization``
  layer in the model, built from the spec's mean and variance;
- categorical columns (text columns, or ``data.categorical``): kept as strings and encoded *inside* the
  model by ``StringLookup`` (vocabulary = training values; unseen values go to the out-of-vocabulary index 0)
  then one-hot or an ``Embedding``.

Model inputs: a float32 array ``(num_rows, num_numeric)`` when there are no categorical columns, else a
dict ``{"numeric": (num_rows, num_numeric), "cat_0": (num_rows, 1) strings, …}``. No TensorFlow here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from nnrun.data.readers.common import NA_VALUES
from nnrun.errors import DataError

POLICIES = ("error", "drop", "mean", "median", "most_frequent", "constant")
#: Names that moved to another module -> that module (imported on first use: ``spec`` imports this one).
EMBEDDING_DIM = 8


def na_set(data_cfg: Any) -> set[str]:
    """The cell texts that mean 'missing' (``data.na_values`` or the defaults)."""
    return set(data_cfg.na_values) if data_cfg.na_values is not None else set(NA_VALUES)


def policy(data_cfg: Any, col: str) -> str:
    """The missing-value policy for one column."""
    m = data_cfg.missing
    return m.get(col, "error") if isinstance(m, dict) else m


def fill_constant(data_cfg: Any, col: str) -> Any:
    """The ``data.fill_value`` for column ``col`` (one value for all columns, or a per-column mapping; None)."""
    f = data_cfg.fill_value
    return f.get(col) if isinstance(f, dict) else f


# ----------------------------------------------------------------------------------------- parsing
def _missing(series: Any, na: set[str]) -> np.ndarray:
    """Boolean mask of missing cells: null/NaN, or (text) one of ``na`` after stripping."""
    from pandas.api.types import is_numeric_dtype

    mask = series.isna().to_numpy(dtype=bool)
    if not is_numeric_dtype(series.dtype):
        text = series.astype(str).str.strip()
        mask = mask | text.isin(na).to_numpy(dtype=bool)
    return mask


def parse_numeric(series: Any, na: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column as float64 values.

    Returns:
        (values, missing, bad): values (NaN where missing or bad), the missing mask, and the mask of cells
        that are neither numbers nor missing (including values beyond float32's ±3.4e38 and infinities).
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    missing = _missing(series, na)
    if is_bool_dtype(series.dtype) or is_numeric_dtype(series.dtype):
        if np.iscomplexobj(series.to_numpy()):
            values = np.full(len(series), np.nan)  # complex numbers are not features: reported as bad cells
            return values, missing, ~missing
        values = np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    else:
        text = series.astype(str).str.strip().to_numpy(dtype=object)
        text[missing] = None
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.array(pd.to_numeric(pd.Series(text, dtype=object), errors="coerce"), dtype=np.float64)
        if series.dtype == object:  # JSON true/false in a number column are not numbers
            nonnum = np.fromiter((isinstance(v, bool) for v in series.tolist()), bool, len(series))
            values[nonnum] = np.nan
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(values.astype(np.float32))
    bad = ~finite & ~missing
    values = np.where(finite & ~missing, values, np.nan)
    return values, missing, bad


def parse_category(series: Any, na: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """A column as category strings (``3.0`` in a number column becomes ``3``). Returns (values, missing)."""
    from pandas.api.types import is_string_dtype

    missing = _missing(series, na)
    if is_string_dtype(series.dtype) and series.dtype != object:  # text only (pandas' str dtype): vectorised
        values = series.fillna("").str.strip().to_numpy(dtype=object)
    else:
        values = np.array([str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
                           for v in series.tolist()], dtype=object)
    values[missing] = ""
    return values, missing


#: Control characters and Unicode line/paragraph separators (U+0085 NEL, U+2028, U+2029, cp1252 leftovers such
#: as U+0096): TextVectorization would keep them inside tokens, and its saved vocabulary file (one token per
#: line) would then split such a token in two when the model is loaded.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_text(value: Any) -> str:
    """One text as the model sees it: missing -> "", control characters and line separators -> a space."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _CONTROL.sub(" ", str(value))


def _overflow(cell: Any) -> bool:
    """A cell that parses as a float but is infinite or beyond float32 (``inf``, ``2e39``)."""
    try:
        value = float(str(cell).strip())
    except ValueError:
        return False
    return not (math.isfinite(value) and abs(value) <= float(np.finfo(np.float32).max))


def shown(cell: Any) -> str:
    """A cell as messages show it: Python's repr of the plain value (``nan``, ``inf``, ``'?'``), not numpy's
    (``np.float64(nan)``)."""
    return repr(cell.item() if isinstance(cell, np.generic) else cell)


def bad_number(cell: Any) -> str:
    """What is wrong with a cell in a numeric column, for messages."""
    if _overflow(cell):
        return f"expected a finite number within float32 range (±3.4e38), got {shown(cell)}"
    return f"expected a number, got {shown(cell)}"


def kinds(frame: Any, features: list[str], data_cfg: Any, where: Callable[[Any], str],
          text: bool = False, skip_bad: bool = False) -> dict[str, str]:
    """``numeric`` or ``categorical`` for each feature column.

    Declared columns (``data.categorical``) are categorical; a column whose every present value is text is
    categorical too; a column of numbers with a few text cells is an error (most likely a typo) — with
    ``skip_bad``, numeric (the rows of its text cells are bad rows: ``bad_rows.find_bad_rows``).

    Raises:
        DataError: a mostly numeric column with a text cell (the line named), an unknown declared column.
    """
    from pandas.api.types import is_numeric_dtype

    if text:
        if len(features) != 1:
            name = where(frame.index[0]).rsplit(":", 1)[0]
            raise DataError(f"{name}: the model starts with TextVectorization, "
                            f"which takes one text column, but the features are {', '.join(features)}; "
                            "set data.features: "
                            "[<text column>] (or data.drop the others)")
        return {features[0]: "text"}
    declared = list(data_cfg.categorical or [])
    for col in declared:
        if col not in features:
            raise DataError(f"{where(frame.index[0]).rsplit(':', 1)[0]}: data.categorical: {col!r} is not a feature "
                            f"column; features are: {', '.join(features)}")
    na = na_set(data_cfg)
    out = {}
    for col in features:
        if col in declared:
            out[col] = "categorical"
            continue
        values, missing, bad = parse_numeric(frame[col], na)
        present = ~missing
        if not bad.any():
            out[col] = "numeric"
        elif bad[present].all() and not is_numeric_dtype(frame[col].dtype):
            out[col] = "categorical"
        elif skip_bad:
            out[col] = "numeric"
        else:
            i = int(np.flatnonzero(bad)[0])
            counts = (int(bad.sum()), int(present.sum()))
            raise DataError(bad_cell_message(where(frame.index[i]), col, frame[col].iloc[i], counts))
    return out


def bad_cell_message(at: str, col: str, cell: Any, counts: tuple[int, int] | None = None) -> str:
    """The one message for a cell that is not a number in a numeric column (training, evaluate, predict).

    Args:
        at: ``file:line`` of the cell. col: its column. cell: the cell as read.
        counts: (cells that are not numbers, cells present) in the column, when the whole column is at hand.
    """
    if _overflow(cell):
        return f"{at}: column {col!r}: {bad_number(cell)}"
    mix = (f"{counts[0]} of the {counts[1]} cells read in this column are text, the others numbers" if counts else
           "the column's other values are numbers")
    return (f"{at}: column {col!r}: expected a number, got {shown(cell)} ({mix}); fix the cell, add it to "
            "data.na_values if it means 'missing', or list the column in data.categorical")


def fill_policies(kind: str) -> tuple[str, ...]:
    """The ``data.missing`` policies that fit a column kind (mean and median need numbers)."""
    return POLICIES[1:] if kind == "numeric" else ("drop", "most_frequent", "constant")


def missing_message(where: Callable[[Any], str], labels: list[Any], col: str, cell: Any,
                    kind: str = "numeric") -> str:
    """The one message for missing cells in a column without a fill (training, evaluate, predict).

    Args:
        where: row label -> ``file:line``. labels: the labels of the rows with a missing cell, in file order.
        col: the column. cell: the first missing cell as read (``''``, ``'?'``, ``None``).
        kind: the column's kind: the policies suggested are those that fit it.
    """
    lines = ", ".join(where(i).rsplit(":", 1)[-1].strip() for i in labels[:5])
    more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
    fits = fill_policies(kind)
    example = "median" if kind == "numeric" else "most_frequent"
    return (f"{where(labels[0])}: column {col!r}: missing value ({shown(cell)}) in {len(labels)} row(s): "
            f"{lines}{more}; "
            f"set data.missing ({', '.join(fits)}; for all columns or as {{{col}: {example}}}) or fix the rows")


def check_missing(frame: Any, feats: list[str], kind: dict[str, str], data_cfg: Any,
                  where: Callable[[Any], str]) -> None:
    """Missing values in columns whose policy is ``error``: the column and the first rows, before any split.

    Raises:
        DataError: ``missing_message`` for the first such column.
    """
    na = na_set(data_cfg)
    for col in feats:
        if policy(data_cfg, col) != "error" or kind[col] == "text":
            continue
        mask = parse_numeric(frame[col], na)[1] if kind[col] == "numeric" else parse_category(frame[col], na)[1]
        rows = np.flatnonzero(mask)
        if rows.size:
            raise DataError(missing_message(where, list(frame.index[rows]), col, frame[col].iloc[rows[0]], kind[col]))


# -------------------------------------------------------------------------------------- fit/apply
def missing_rows(frame: Any, columns: list[str], na: set[str]) -> np.ndarray:
    """Rows with a missing value (null, or one of ``na``) in any of ``columns``, shape (num_rows,)."""
    mask = np.zeros(len(frame), dtype=bool)
    for col in columns:
        mask |= _missing(frame[col], na)
    return mask


def drop_mask(frame: Any, features: list[str], data_cfg: Any) -> np.ndarray:
    """Rows to leave out of training: a missing value in a column whose policy is ``drop``."""
    return missing_rows(frame, [c for c in features if policy(data_cfg, c) == "drop"], na_set(data_cfg))


def example_shape(spec: dict) -> tuple[int, ...]:
    """Shape of one example as the layer stack receives it (after categorical encoding), without the batch
    axis: ``(encoded_width,)`` for tables, the array's shape for NPZ/NPY data, ``(1,)`` for a text."""
    if spec.get("text"):
        return (1,)
    return tuple(spec["shape"]) if spec.get("shape") else (encoded_width(spec),)


def encoded_width(spec: dict) -> int:
    """Width of the vector the layer stack receives: numeric columns + one-hot widths + embedding widths."""
    width = len(spec["numeric"])
    for c in spec["categorical"]:
        width += len(c["vocabulary"]) + 1 if c["encoding"] == "one_hot" else c["output_dim"]
    return width


def transform(
    frame: Any, spec: dict, where: Callable[[Any], str], skip_bad: bool = False
) -> tuple[Any, np.ndarray, list[str]]:
    """Raw rows to model inputs with a learnt spec.

    Args:
        frame: DataFrame holding (at least) the spec's feature columns, shape (num_rows, >= num_features).
        where: row label -> ``file:line`` for messages.
        skip_bad: report bad rows instead of raising, and leave them out.

    Returns:
        (inputs, ok, problems): model inputs for the good rows (see the module doc), the mask of good rows
        (shape (num_rows,)), and one message per bad row (the first problem in that row).

    Raises:
        DataError: (without ``skip_bad``) the first bad cell: not a number (``bad_cell_message``), or missing
            with no fill (``missing_message``), worded as training words them.
    """
    if spec.get("text"):
        col = spec["text"]
        if col not in frame.columns:
            raise DataError(f"{where(frame.index[0]) if len(frame) else 'input'}: no text column {col!r}")
        texts = np.array([clean_text(v) for v in frame[col].tolist()], dtype=object).reshape(-1, 1)
        return texts, np.ones(len(frame), dtype=bool), []
    missing_cols = [c["name"] for c in spec["columns"] if c["name"] not in frame.columns]
    if missing_cols:
        raise DataError(f"{where(frame.index[0]).rsplit(':', 1)[0]}: missing feature column(s) "
                        f"{', '.join(map(repr, missing_cols))}")
    na = set(spec["na_values"])
    by_name = {c["name"]: c for c in spec["columns"]}
    report = _Report(frame, where, skip_bad)
    report.kinds = {c["name"]: c["kind"] for c in spec["columns"]}
    numeric = np.empty((len(frame), len(spec["numeric"])), dtype=np.float32)
    for j, col in enumerate(spec["numeric"]):
        values, missing, bad = parse_numeric(frame[col], na)
        report.counts[col] = (int(bad.sum()), int((~missing).sum()))
        report.cells(col, bad, "bad")
        numeric[:, j] = report.filled(col, values, missing, by_name[col])
    cats = {}
    for c in spec["categorical"]:
        values, missing = parse_category(frame[c["name"]], na)
        cats[c["input"]] = report.filled(c["name"], values, missing, by_name[c["name"]]).astype(str) \
            .astype(object).reshape(-1, 1)
    ok, msgs = report.ok, [report.problems[i] for i in sorted(report.problems)]
    if spec.get("reshape"):
        return numeric[ok].reshape(-1, *spec["reshape"]), ok, msgs
    if not spec["categorical"]:
        return (numeric if ok.all() else numeric[ok]), ok, msgs
    inputs = {"numeric": numeric[ok]} if spec["numeric"] else {}
    inputs.update({k: v[ok] for k, v in cats.items()})
    return inputs, ok, msgs


def _fill_hint(kind: str) -> str:
    return f"missing value; set data.missing ({', '.join(fill_policies(kind))}) or fill the cell"


_DROPPED_HINT = ("missing value; the run was trained with missing: drop for this column, so it has no value to "
                 "fill in: fill the cell (or retrain with mean, median, most_frequent or constant)")


class _Report:
    """The bad cells ``transform`` meets: the first raised, or (``skip_bad``) one message per row collected
    and the row left out (``ok``)."""

    def __init__(self, frame: Any, where: Callable[[Any], str], skip_bad: bool) -> None:
        self.frame, self.where, self.skip_bad = frame, where, skip_bad
        self.ok = np.ones(len(frame), dtype=bool)
        self.problems: dict[int, str] = {}
        self.kinds: dict[str, str] = {}  # column -> numeric/categorical (the fill policies that fit)
        self.counts: dict[str, tuple[int, int]] = {}  # numeric column -> (cells not numbers, cells present)

    def filled(self, col: str, values: np.ndarray, missing: np.ndarray, column: dict) -> np.ndarray:
        """``values`` with missing cells filled (the column's learnt fill), or those cells reported."""
        if column["fill"] is not None:
            return np.where(missing, column["fill"], values)
        self.cells(col, missing, "dropped" if column["missing"] == "drop" else "missing")
        return values

    def cells(self, col: str, mask: np.ndarray, kind: str) -> None:
        """Report the cells of ``col`` in ``mask`` (rows still good): ``bad``, ``missing`` or ``dropped``."""
        rows = np.flatnonzero(mask & self.ok)
        if rows.size == 0:
            return
        if not self.skip_bad:
            raise DataError(self._first(col, rows, kind))
        for i in rows:
            what = bad_number(self.frame[col].iloc[i]) if kind == "bad" else \
                _fill_hint(self.kinds.get(col, "numeric")) if kind == "missing" else _DROPPED_HINT
            self.problems.setdefault(int(i), f"{self.where(self.frame.index[i])}: column {col!r}: {what}")
        self.ok[rows] = False

    def _first(self, col: str, rows: np.ndarray, kind: str) -> str:
        """The message that stops the read: the words training uses for the same cells."""
        labels, cell = list(self.frame.index[rows]), self.frame[col].iloc[rows[0]]
        if kind == "missing":
            return missing_message(self.where, labels, col, cell, self.kinds.get(col, "numeric"))
        if kind == "bad":
            return bad_cell_message(self.where(labels[0]), col, cell, self.counts.get(col))
        lines = ", ".join(self.where(i).rsplit(":", 1)[-1].strip() for i in labels[:5])
        more = f" (and {rows.size - 5} more)" if rows.size > 5 else ""
        return (f"{self.where(labels[0])}: column {col!r}: {_DROPPED_HINT}"
                + (f"; rows affected: {lines}{more}" if rows.size > 1 else ""))


def plain_spec(num_features: int, names: list[str]) -> dict:
    """The spec of a numbers-only table or inline data: every column numeric, no fill, no normalization."""
    return {"columns": [{"name": n, "kind": "numeric", "missing": "error", "fill": None} for n in names],
            "numeric": list(names), "categorical": [], "text": None, "na_values": list(NA_VALUES),
            "normalize": False, "mean": None, "variance": None}


# --------------------------------------------------------------------------------------- inputs
def nrows(x: Any) -> int:
    """Number of rows of model inputs (an array or a dict of arrays)."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def take(x: Any, idx: Any) -> Any:
    """Rows ``idx`` of model inputs (an array or a dict of arrays)."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    return x[idx]


def concat(parts: list[Any]) -> Any:
    """Model inputs stacked by rows."""
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


