"""A whole JSON document of rows as predict input: ``[[...], ...]``, one row ``[...]``, ``{"x": [[...], ...]}``
or ``[{"feature": value, ...}, ...]``. Read whole (JSON cannot be cut into chunks). No TensorFlow here."""

from __future__ import annotations

import json
import re
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
    """``json.loads`` with nnrun's message for invalid JSON, a key twice in one object, nesting too deep for
    Python's parser, and a string holding a lone surrogate escape (``"\\udcff"``: not text, no encoding takes it).

    Raises:
        DataError: ``name:line:column: invalid JSON: …``, or one of the above, named.
    """
    from nnrun.data.readers.jsonl import DuplicateKey, unique_keys

    try:
        doc = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKey as exc:
        raise DataError(f"{name}: the key {exc.key!r} appears twice in one object; keep one "
                        "(JSON readers disagree on which one wins)") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise DataError(f"{name}: invalid JSON: {exc}") from None
    except RecursionError:
        raise DataError(f"{name}: invalid JSON: nested too deeply (rows are lists of values, or objects of "
                        "values, at most two levels deep)") from None
    if _SURROGATE_ESCAPE.search(text):  # only then can a string hold one: the walk is skipped otherwise
        where = lone_surrogate(doc)
        if where is not None:
            raise DataError(f"{name}: {where}: the string holds a lone surrogate escape (\\ud800-\\udfff "
                            "without its pair), which is not text; send the character itself, or its "
                            "surrogate pair")
    return doc


#: A ``\\uXXXX`` escape of a surrogate code point (paired or not).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def lone_surrogate(doc: Any) -> str | None:
    """Where the first string (value or key) holding a lone surrogate is in a parsed document, as
    ``rows[0][2]``, ``texts[1]`` or ``[2][0]`` (``None`` when there is none). Walks without recursion (the
    document may be nested up to the parser's limit)."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                return path or "the document"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if _has_lone_surrogate(key):
                    return f"{path or 'the document'}: key {key.encode('utf-8', 'backslashreplace').decode()!r}"
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item)
                         for i, item in reversed(list(enumerate(value))))
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
