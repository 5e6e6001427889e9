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
EMBEDDING_DIM = 8


# ----------------------------------------------------------------------------------------- columns
def resolve_column(col: int | str, columns: list[str], header: bool, name: str, key: str) -> str:
    """A column given by name or 0-based index (negative from the end) as its name.

    Raises:
        DataError: unknown name (with a suggestion), a name without a header row, an index out of range.
    """
    if isinstance(col, str):
        if col in columns:
            return col
        if not header:
            raise DataError(f"{name}: {key} is the column name {col!r}, but the file has no header row; give the "
                            f"column index (0..{len(columns) - 1}) or set data.header: true")
        from nnrun.config.registry import suggest

        raise DataError(f"{name}: {key}: no column named {col!r}{suggest(col, columns)}; columns are: "
                        f"{', '.join(columns)}")
    if not -len(columns) <= col < len(columns):
        raise DataError(f"{name}: {key}: column index {col} is out of range; the file has {len(columns)} columns "
                        f"(0..{len(columns) - 1}, or -1 for the last)")
    return columns[col]


def select(columns: list[str], header: bool, data_cfg: Any, name: str) -> tuple[list[str], str]:
    """The feature columns and the target column a ``data:`` section picks from a file's columns.

    Returns:
        (feature names in order, target name).

    Raises:
        DataError: unknown columns, or no feature column left.
    """
    target = resolve_column(data_cfg.target, columns, header, name, "data.target")
    drop = {resolve_column(c, columns, header, name, f"data.drop[{i}]") for i, c in enumerate(data_cfg.drop)}
    if data_cfg.features is not None:
        features = [resolve_column(c, columns, header, name, f"data.features[{i}]")
                    for i, c in enumerate(data_cfg.features)]
        if target in features:
            raise DataError(f"{name}: data.features: includes the target column {target!r}")
        dup = sorted({c for c in features if features.count(c) > 1})
        if dup:
            raise DataError(f"{name}: data.features: column {dup[0]!r} is listed twice (by name and by index?)")
    else:
        features = [c for c in columns if c != target and c not in drop]
    for key in ("missing", "fill_value", "categorical"):
        mapping = getattr(data_cfg, key, None)
        if isinstance(mapping, dict):
            unknown = [c for c in mapping if c not in features]
            if unknown:
                from nnrun.config.registry import suggest

                raise DataError(f"{name}: data.{key}: {unknown[0]!r} is not a feature column"
                                f"{suggest(unknown[0], features)}; features are: {', '.join(features)}")
    if not features:
        raise DataError(f"{name}: no feature columns left (columns: {', '.join(columns)}; target {target!r}; "
                        f"dropped: {', '.join(sorted(drop)) or 'none'})")
    return features, target


def na_set(data_cfg: Any) -> set[str]:
    """The cell texts that mean 'missing' (``data.na_values`` or the defaults)."""
    return set(data_cfg.na_values) if data_cfg.na_values is not None else set(NA_VALUES)


def policy(data_cfg: Any, col: str) -> str:
    """The missing-value policy for one column."""
    m = data_cfg.missing
    return m.get(col, "error") if isinstance(m, dict) else m


def fill_constant(data_cfg: Any, col: str) -> Any:
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
    missing = _missing(series, na)

    def text(v: Any) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    values = np.array([text(v) for v in series.tolist()], dtype=object)
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


def bad_number(cell: Any) -> str:
    """What is wrong with a cell in a numeric column, for messages."""
    if _overflow(cell):
        return f"expected a finite number within float32 range (±3.4e38), got {cell!r}"
    return f"expected a number, got {cell!r}"


def kinds(frame: Any, features: list[str], data_cfg: Any, where: Callable[[Any], str],
          text: bool = False) -> dict[str, str]:
    """``numeric`` or ``categorical`` for each feature column.

    Declared columns (``data.categorical``) are categorical; a column whose every present value is text is
    categorical too; a column of numbers with a few text cells is an error (most likely a typo).

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
        else:
            i = int(np.flatnonzero(bad)[0])
            raise DataError(bad_cell_message(where(frame.index[i]), col, frame[col].iloc[i]))
    return out


def bad_cell_message(at: str, col: str, cell: Any) -> str:
    """The one message for a cell that is not a number in a numeric column (training, evaluate, predict).

    Args:
        at: ``file:line`` of the cell. col: its column. cell: the cell as read.
    """
    if _overflow(cell):
        return f"{at}: column {col!r}: {bad_number(cell)}"
    return (f"{at}: column {col!r}: expected a number, got {cell!r} (the column's other values are numbers); fix "
            "the cell, add it to data.na_values if it means 'missing', or list the column in data.categorical")


def missing_message(where: Callable[[Any], str], labels: list[Any], col: str, cell: Any) -> str:
    """The one message for missing cells in a column without a fill (training, evaluate, predict).

    Args:
        where: row label -> ``file:line``. labels: the labels of the rows with a missing cell, in file order.
        col: the column. cell: the first missing cell as read (``''``, ``'?'``, ``None``).
    """
    lines = ", ".join(where(i).rsplit(":", 1)[-1].strip() for i in labels[:5])
    more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
    return (f"{where(labels[0])}: column {col!r}: missing value ({cell!r}) in {len(labels)} row(s): {lines}{more}; "
            f"set data.missing (drop, mean, median, most_frequent, constant; for all columns or as {{{col}: median}}) "
            "or fix the rows")


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
            raise DataError(missing_message(where, list(frame.index[rows]), col, frame[col].iloc[rows[0]]))


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


def fit(frame: Any, features: list[str], kind: dict[str, str], data_cfg: Any, source: str) -> dict:
    """Learn the feature spec on the training rows: fill values, vocabularies, normalization statistics.

    Args:
        frame: the training rows (raw columns).

    Returns:
        The spec (JSON-able): ``{"columns": [{"name", "kind", "missing", "fill"}], "numeric": [...],
        "categorical": [{"name", "input", "vocabulary", "encoding", "output_dim"}], "na_values": [...],
        "normalize": bool, "mean": [...], "variance": [...]}``.

    Raises:
        DataError: a fill that cannot be learnt (a column with no values in the training split, mean of a
            categorical column).
    """
    na = na_set(data_cfg)
    columns, cats = [], []
    declared = data_cfg.categorical if isinstance(data_cfg.categorical, dict) else {}
    for col in features:
        pol = policy(data_cfg, col)
        explicit = isinstance(data_cfg.missing, dict)
        entry: dict[str, Any] = {"name": col, "kind": kind[col], "missing": pol, "fill": None}
        if kind[col] == "text":
            columns.append(entry)
            continue
        if kind[col] == "numeric":
            values, missing, _ = parse_numeric(frame[col], na)
            present = values[~missing & ~np.isnan(values)]
            if pol in ("mean", "median", "most_frequent") and present.size == 0:
                raise DataError(f"{source}: column {col!r}: no values in the training split to learn a {pol} from")
            if pol == "mean":
                entry["fill"] = float(present.mean())
            elif pol == "median":
                entry["fill"] = float(np.median(present))
            elif pol == "most_frequent":
                uniq, counts = np.unique(present, return_counts=True)
                entry["fill"] = float(uniq[np.argmax(counts)])  # ties: the smallest, as scikit-learn's SimpleImputer
            elif pol == "constant" and fill_constant(data_cfg, col) is None:
                entry["missing"] = "error"  # a fill_value mapping without this column: its missing cells are errors
            elif pol == "constant":
                value = fill_constant(data_cfg, col)
                try:
                    entry["fill"] = float(value)
                except (TypeError, ValueError):
                    raise DataError(f"{source}: column {col!r} is numeric but fill_value is {value!r}; give a "
                                    "number") from None
        else:
            values, missing = parse_category(frame[col], na)
            if pol in ("mean", "median"):
                if explicit:
                    raise DataError(f"{source}: column {col!r} is categorical: missing: {pol} needs numbers; use "
                                    "most_frequent or constant")
                pol = entry["missing"] = "most_frequent"
            present = values[~missing]
            if pol == "most_frequent":
                if present.size == 0:
                    raise DataError(f"{source}: column {col!r}: no values in the training split")
                uniq, counts = np.unique(present.astype(str), return_counts=True)
                entry["fill"] = str(uniq[np.argmax(counts)])
            elif pol == "constant" and fill_constant(data_cfg, col) is not None:
                entry["fill"] = str(fill_constant(data_cfg, col))
            elif pol == "constant":
                entry["missing"] = "error"
            vocab = sorted(set(present.tolist()) | ({entry["fill"]} if entry["fill"] is not None else set()))
            spec = declared.get(col)
            encoding = spec.encoding if spec is not None else "one_hot"
            cats.append({
                "name": col, "input": f"cat_{len(cats)}", "vocabulary": vocab, "encoding": encoding,
                "output_dim": (spec.output_dim or EMBEDDING_DIM) if encoding == "embedding" else None,
            })
        columns.append(entry)
    out = {
        "columns": columns,
        "numeric": [c["name"] for c in columns if c["kind"] == "numeric"],
        "categorical": cats,
        "text": next((c["name"] for c in columns if c["kind"] == "text"), None),
        "na_values": sorted(na),
        "normalize": bool(data_cfg.normalize),
        "mean": None,
        "variance": None,
    }
    reshape = getattr(data_cfg, "reshape", None)
    if reshape:
        if cats or out["text"]:
            raise DataError(f"{source}: data.reshape needs numeric feature columns only")
        if int(np.prod(reshape)) != len(out["numeric"]):
            raise DataError(f"{source}: data.reshape {list(reshape)} holds {int(np.prod(reshape))} values per example "
                            f"but there are {len(out['numeric'])} feature columns")
        out["shape"] = out["reshape"] = list(reshape)
    if not (reshape or (data_cfg.normalize and out["numeric"])):
        return out
    x, _, _ = transform(frame, out, lambda label: source)  # once, for the pixel range and the statistics
    num = (x["numeric"] if isinstance(x, dict) else x).astype(np.float64)
    if reshape:
        out["range"] = [float(num.min()), float(num.max())] if num.size else None
    if data_cfg.normalize and out["numeric"]:
        axes = tuple(range(num.ndim - 1))  # per feature; per channel for reshaped images
        out["mean"] = num.mean(axis=axes).tolist()
        out["variance"] = num.var(axis=axes).tolist()
    return out


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
        frame: DataFrame holding (at least) the spec's feature columns.
        where: row label -> ``file:line`` for messages.
        skip_bad: report bad rows instead of raising, and leave them out.

    Returns:
        (inputs, ok, problems): model inputs for the good rows (see the module doc), the mask of good rows
        (shape (num_rows,)), and one message per bad row (the first problem in that row).

    Raises:
        DataError: (without ``skip_bad``) the first bad cell: not a number, or missing with no fill.
    """
    if spec.get("text"):
        col = spec["text"]
        if col not in frame.columns:
            raise DataError(f"{where(frame.index[0]) if len(frame) else 'input'}: no text column {col!r}")
        texts = np.array([clean_text(v) for v in frame[col].tolist()], dtype=object).reshape(-1, 1)
        return texts, np.ones(len(frame), dtype=bool), []
    na = set(spec["na_values"])
    n = len(frame)
    ok = np.ones(n, dtype=bool)
    problems: dict[int, str] = {}

    def report(col: str, mask: np.ndarray, what: Callable[[int], str]) -> None:
        rows = np.flatnonzero(mask & ok)
        if rows.size == 0:
            return
        if not skip_bad:  # the messages training gives for the same cells
            if what is how_to_fill:
                raise DataError(missing_message(where, list(frame.index[rows]), col, frame[col].iloc[rows[0]]))
            if what is not dropped:
                raise DataError(bad_cell_message(where(frame.index[rows[0]]), col, frame[col].iloc[rows[0]]))
            lines = ", ".join(where(frame.index[i]).rsplit(":", 1)[-1].strip() for i in rows[:5])
            more = f" (and {rows.size - 5} more)" if rows.size > 5 else ""
            raise DataError(f"{where(frame.index[rows[0]])}: column {col!r}: {what(int(rows[0]))}"
                            + (f"; rows affected: {lines}{more}" if rows.size > 1 else ""))
        for i in rows:
            problems.setdefault(int(i), f"{where(frame.index[i])}: column {col!r}: {what(int(i))}")
        ok[rows] = False

    def how_to_fill(_: int) -> str:
        return "missing value; set data.missing (drop, mean, median, most_frequent, constant) or fill the cell"

    def dropped(_: int) -> str:
        return ("missing value; the run was trained with missing: drop for this column, so it has no value to "
                "fill in: fill the cell (or retrain with mean, median, most_frequent or constant)")

    numeric = np.empty((n, len(spec["numeric"])), dtype=np.float32)
    by_name = {c["name"]: c for c in spec["columns"]}
    missing_cols = [c["name"] for c in spec["columns"] if c["name"] not in frame.columns]
    if missing_cols:
        raise DataError(f"{where(frame.index[0]).rsplit(':', 1)[0]}: missing feature column(s) "
                        f"{', '.join(map(repr, missing_cols))}")
    for j, col in enumerate(spec["numeric"]):
        values, missing, bad = parse_numeric(frame[col], na)
        report(col, bad, lambda i, col=col: bad_number(frame[col].iloc[i]))
        fill = by_name[col]["fill"]
        if fill is None:
            report(col, missing, dropped if by_name[col]["missing"] == "drop" else how_to_fill)
        else:
            values = np.where(missing, fill, values)
        numeric[:, j] = values
    cats = {}
    for c in spec["categorical"]:
        values, missing = parse_category(frame[c["name"]], na)
        fill = by_name[c["name"]]["fill"]
        if fill is None:
            report(c["name"], missing, dropped if by_name[c["name"]]["missing"] == "drop" else how_to_fill)
        else:
            values = np.where(missing, fill, values)
        cats[c["input"]] = values.astype(str).astype(object).reshape(-1, 1)
    msgs = [problems[i] for i in sorted(problems)]
    if spec.get("reshape"):
        return numeric[ok].reshape(-1, *spec["reshape"]), ok, msgs
    if not spec["categorical"]:
        return (numeric if ok.all() else numeric[ok]), ok, msgs
    inputs = {"numeric": numeric[ok]} if spec["numeric"] else {}
    inputs.update({k: v[ok] for k, v in cats.items()})
    return inputs, ok, msgs


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
