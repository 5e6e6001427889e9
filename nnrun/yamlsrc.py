"""Safe YAML loading that remembers where every key and value came from.

PyYAML follows YAML 1.1, which has traps this loader closes:
- ``1e-3`` is a string in YAML 1.1 (only ``1.0e-3`` is a float); here every YAML 1.2 float is a float
  (regex from the YAML 1.2 core schema, https://yaml.org/spec/1.2.2/#1032-tag-resolution).
- duplicate keys silently keep the last value; here they are an error naming both lines.
- ``no``/``off``/``yes``/``on`` stay booleans, but their source text is kept so that a schema error can
  say "quote it".
- Only plain data is built (SafeLoader): tags that construct Python objects are refused.
- Alias expansion is bounded, so an anchor "bomb" is refused quickly with bounded memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnrun.errors import ConfigError

#: Largest number of nodes (after expanding aliases) one document may hold.
MAX_NODES = 1_000_000

_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats; its own resolver table so the global SafeLoader is untouched."""

    yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


@dataclass
class Located:
    """Where a value sits in its source: ``file:line:column`` (1-based) and its source text."""

    where: str
    text: str | None = None


@dataclass
class Source:
    """A parsed document and the location of each key path in it.

    Attributes:
        name: the file name shown in messages (or ``<string>``).
        locations: key path -> Located, for every mapping value and sequence item.
    """

    name: str
    locations: dict[tuple, Located] = field(default_factory=dict)

    def where(self, path: tuple) -> str:
        """Location of ``path``, or of its nearest ancestor present in the source."""
        for i in range(len(path), -1, -1):
            loc = self.locations.get(tuple(path[:i]))
            if loc is not None:
                return loc.where
        return self.name

    def text(self, path: tuple) -> str | None:
        """The source text of a scalar at ``path`` (``no`` for a value read as False), if known."""
        loc = self.locations.get(tuple(path))
        return loc.text if loc else None


def format_path(path: tuple) -> str:
    """Render a key path the way users write it: ``model.layers[2].units``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def _mark(name: str, node: yaml.Node) -> str:
    m = node.start_mark
    return f"{name}:{m.line + 1}:{m.column + 1}"


def _expanded_size(root: yaml.Node) -> int:
    """Number of nodes once aliases are expanded, computed on the shared node graph in linear time."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        n, done = stack.pop()
        if id(n) in sizes:
            continue
        children = [] if isinstance(n, yaml.ScalarNode) else (
            [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else list(n.value)
        )
        if done:
            sizes[id(n)] = min(MAX_NODES + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str, name: str, prefix: tuple = ()) -> tuple[object, Source]:
    """Parse one YAML document safely, recording the location of every value.

    Args:
        text: the YAML text.
        name: the file name to show in messages.
        prefix: key path that the document's root stands at (used for ``--set`` values).

    Returns:
        (data, source): plain Python data (dict/list/str/int/float/bool/None) and its locations.

    Raises:
        ConfigError: syntax errors, duplicate keys, Python object tags, non-scalar keys, or a document
            that expands past ``MAX_NODES`` nodes.
    """
    source = Source(name)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # reader errors (control characters and the like)
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None:
        return None, source
    if _expanded_size(node) > MAX_NODES:
        raise ConfigError(
            f"{_mark(name, node)}: the document expands to more than {MAX_NODES:,} values "
            "(anchors and aliases expanding exponentially?); refusing to load it"
        )

    def build(n: yaml.Node, path: tuple) -> object:
        if isinstance(n, yaml.ScalarNode):
            source.locations[path] = Located(_mark(name, n), n.value)
            try:
                return loader.construct_object(n, deep=True)
            except yaml.constructor.ConstructorError as exc:
                raise ConfigError(
                    f"{_mark(name, n)}: {format_path(path)}: {exc.problem}; "
                    "only plain YAML data (mappings, lists, strings, numbers, booleans) is allowed"
                ) from None
        source.locations[path] = Located(_mark(name, n))
        if n.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            raise ConfigError(
                f"{_mark(name, n)}: {format_path(path)}: tag {n.tag!r} is not allowed; "
                "only plain YAML data is"
            )
        if isinstance(n, yaml.SequenceNode):
            return [build(item, path + (i,)) for i, item in enumerate(n.value)]
        loader.flatten_mapping(n)  # YAML merge keys (<<)
        out: dict = {}
        seen: dict = {}
        for key_node, value_node in n.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{_mark(name, key_node)}: {format_path(path)}: keys must be plain strings")
            key = loader.construct_object(key_node)
            if isinstance(key, bool) or key is None:
                key = key_node.value  # `no:` as a key means the text "no"
            elif not isinstance(key, (str, int, float)):
                key = str(key)
            if key in seen:
                raise ConfigError(
                    f"{_mark(name, key_node)}: {format_path(path + (key,))}: duplicate key "
                    f"(first defined at line {seen[key]}); remove one of them"
                )
            seen[key] = key_node.start_mark.line + 1
            out[key] = build(value_node, path + (key,))
        return out

    full_prefix = tuple(prefix)
    data = build(node, full_prefix)
    return data, source


def read_yaml_file(path: Path) -> tuple[object, Source]:
    """Read and parse a YAML file (see ``load_yaml``).

    Raises:
        ConfigError: the file is missing, a directory, not UTF-8, empty, or invalid YAML.
    """
    name = str(path)
    if not path.exists():
        raise ConfigError(f"{name}: no such config file")
    if path.is_dir():
        raise ConfigError(f"{name}: is a directory, expected a YAML config file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the config file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{name}:{line}: the file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise ConfigError(f"{name}: the file holds NUL bytes: it is binary, not a YAML config")
    return load_yaml(text, name)
