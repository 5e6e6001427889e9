"""Pydantic's validation errors translated into nnrun's located one-line messages.

Each message reads ``file:line:column: key.path: what was found, what was expected``; the wording is
asserted by the tests, so change it only on purpose.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nnrun.config import registry
from nnrun.config.schema import RUN_NAME_LIMIT, fields_at
from nnrun.config.yamlsrc import Source, format_path


def translate(exc: ValidationError, source: Source, data: dict) -> list[str]:
    """Turn pydantic's errors into located one-line messages, one per key path.

    Args:
        exc: the error raised by ``Config.model_validate(data)``.
        source: where each key path of ``data`` came from.
        data: the plain data that was validated (to tell real keys from pydantic's union tags).

    Returns:
        The messages, in pydantic's order.
    """
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = _data_path(err["loc"], data)
        if loc in seen:  # a union reports one error per member; the first says enough
            continue
        seen.add(loc)
        lines.append(f"{source.where(loc)}: {format_path(loc)}: {_message(err, loc, source)}")
    return lines


_UNION_TAGS = {"int", "str", "function-after", "function-before"}


def _data_path(loc: tuple, data: object) -> tuple:
    """Pydantic's error location without its union-member tags (``function-after[...]``, ``str``).

    A part is dropped only when it is such a tag and not a real key at that point of the data, so a
    user's key named ``[`` or ``str`` stays in the path.
    """
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and ("[" in part or part in _UNION_TAGS):
            continue
        else:
            node = None
        path.append(part)
    return tuple(path)

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _show(value: Any, text: str | None) -> str:
    if isinstance(value, bool):
        unquoted = f" (from unquoted {text})" if text and text.lower() not in ("true", "false") else ""
        return ("true" if value else "false") + unquoted
    if value is None:
        return "nothing (null)"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value) if isinstance(value, str) else str(value)


def _message(err: dict, loc: tuple, source: Source) -> str:
    kind = err["type"]
    value = err.get("input")
    text = source.text(loc)
    got = _show(value, text)
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        fields = fields_at(loc[:-1])
        hint = registry.suggest(str(loc[-1]), fields)
        if not hint and len(loc) == 2:  # a key of another section: data.test_split for training.test_split
            other = [s for s in ("data", "model", "training") if s != loc[0] and str(loc[-1]) in fields_at((s,))]
            hint = f" (did you mean {other[0]}.{loc[-1]}?)" if other else ""
        return f"unknown key{hint}; expected one of: {', '.join(fields)}"
    if kind == "string_type" and isinstance(value, bool):
        return f"expected a string, got {got}; quote it: '{text or str(value).lower()}'"
    if kind == "string_type" and text is not None and value is not None and not isinstance(value, (dict, list)):
        return f"expected a string, got {got}; quote it: '{text}'"  # name: 123, name: 2024-01-01
    if kind == "bool_not_number":
        return f"expected a number, got {got}"
    if loc == ("data", "target"):
        quote = f"; quote it if you meant the column named '{text}'" if isinstance(value, bool) and text else ""
        return f"expected a column name (string) or index (integer), got {got}{quote}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        ctx = err.get("ctx", {})
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<", "less_than_equal": "<="}[kind]
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"expected a value {bound} {limit}, got {got}"
    if kind == "string_pattern_mismatch" and loc == ("name",):
        value = err.get("input")
        if isinstance(value, str) and len(value) > RUN_NAME_LIMIT:
            return f"a run name has at most {RUN_NAME_LIMIT} characters, got {len(value)}; shorten it"
        return (
            f"expected a run name of letters, digits, '.', '_' or '-' (no path separators, not starting "
            f"with '.'; at most {RUN_NAME_LIMIT} characters), got {got}"
        )
    if kind == "too_short":
        return "expected at least one item, got an empty list"
    if kind == "literal_error":
        return f"expected {err.get('ctx', {}).get('expected', 'one of the allowed values')}, got {got}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}" + (f", got {got}" if kind not in ("data_source",) else "")
