"""A whole JSON document of rows as predict input: ``[[...], ...]``, one row ``[...]``, ``{"x": [[...], ...]}``
or ``[{"feature": value, ...}, ...]``. Read whole (JSON cannot be cut into chunks). No TensorFlow here."""

from __future__ import annotations

import json
from typing import Any

from nnrun.errors import DataError


def json_rows(text: str, name: str, names: list[str]) -> Any:
    """A JSON document of rows (lists in feature order, or objects keyed by feature name) as a DataFrame.

    Args:
        text: the document. name: the input in messages. names: the model's feature names.

    Returns:
        A DataFrame of objects, one column per feature, rows labelled 0.. (messages cite ``row N``).

    Raises:
        DataError: invalid JSON (line:column named), or rows ``rows_frame`` refuses.
    """
    return rows_frame(parse_json(text, name), name, names)


def parse_json(text: str, name: str) -> Any:
    """``json.loads`` with nnrun's message for invalid JSON.

    Raises:
        DataError: ``name:line:column: invalid JSON: …``.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise DataError(f"{name}: invalid JSON: {exc}") from None


def rows_frame(doc: Any, name: str, names: list[str]) -> Any:
    """Parsed JSON rows as a DataFrame (``nnrun predict`` on a JSON file, ``nnrun serve``'s ``rows``): a list of
    rows, one row, ``{"x": rows}`` or one object; each row a list in feature order or an object keyed by
    feature name (other keys are ignored, as a table's other columns are).

    Returns:
        A DataFrame of objects, one column per feature, rows labelled 0.. (messages cite ``row N``).

    Raises:
        DataError: not a list of rows, a row of the wrong length or with a nested value, an object without a
            feature (naming the keys that are not features).
    """
    import pandas as pd

    names = list(names)
    if isinstance(doc, dict):
        if "x" not in doc:
            if set(names) <= set(doc):
                doc = [doc]
            else:
                raise DataError(f"{name}: expected a list of rows, or an object with key \"x\"")
        else:
            doc = doc["x"]
    if not isinstance(doc, list) or not doc:
        raise DataError(f"{name}: expected a non-empty list of rows")
    if not isinstance(doc[0], (list, dict)):
        doc = [doc]
    rows = []
    for i, row in enumerate(doc):
        if isinstance(row, dict):
            missing = [f for f in names if f not in row]
            if missing:
                unknown = [k for k in row if k not in names]
                also = f" (unknown key(s): {', '.join(map(repr, unknown[:3]))})" if unknown else ""
                raise DataError(f"{name}: row {i + 1}: missing feature {missing[0]!r}{also}; the model takes: "
                                f"{', '.join(names)}")
            row = [row[f] for f in names]
        if not isinstance(row, list):
            raise DataError(f"{name}: row {i + 1}: expected a list of {len(names)} values or an object keyed by "
                            f"feature name, got {type(row).__name__}")
        if len(row) != len(names):
            raise DataError(f"{name}: row {i + 1}: expected {len(names)} features, got {len(row)}")
        for j, v in enumerate(row):
            if isinstance(v, (list, dict)) or isinstance(v, bool):
                raise DataError(f"{name}: row {i + 1}, feature {j}: expected a number or a string, got "
                                f"{json.dumps(v)}")
        rows.append(row)
    # columns of numbers only become float64 or int64 (no parsing of their text: the same values, faster)
    return pd.DataFrame(rows, columns=names, dtype=object).infer_objects()
