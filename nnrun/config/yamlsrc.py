"""Safe YAML loading that remembers where every key and value came from.

PyYAML follows YAML 1.1, which has traps this loader closes:
- ``1e-3`` is a string in YAML 1.1 (only ``1.0e-3`` is a float); here every YAML 1.2 float is a float
  (regex from the YAML 1.2 core schema, https://yaml.org/spec/1.2.2/#1032-tag-resolution).
- duplicate keys silently keep the last value; here they are an error naming both lines (a key that
  overrides one brought in by a merge key ``<<`` is not a duplicate).
- ``no``/``off``/``yes``/``on`` stay booleans, but their source text is kept so that a schema error can
  say "quote it".
- Only plain data is built (SafeLoader): tags that construct Python objects are refused.
- Alias expansion is bounded, so an anchor "bomb" is refused quickly with bounded memory; an alias inside
  its own anchor (a recursive document) is refused instead of looping forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnrun.errors import ConfigError

#: Largest config file read (inline data beyond this belongs in a data file).
MAX_CONFIG_BYTES = 64 * 1024 * 1024

#: Largest number of nodes (after expanding aliases) one document may hold.
MAX_NODES = 1_000_000

#: YAML 1.2 floats that need a dot or an exponent: ``09`` is not a float (YAML 1.1 keeps it a string).
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9]+[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats; its own resolver table so the global SafeLoader is untouched."""

    yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes every string ``_Loader`` would read as something else (``'1e3'``)."""

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def dump_yaml(data: object) -> str:
    """Write plain data as YAML that ``load_yaml`` reads back to the same values."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)


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
        elif not _PLAIN_KEY.fullmatch(str(part)):  # empty, spaces, dots, control characters: quote it
            out += f"[{str(part)!r}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


_PLAIN_KEY = re.compile(r"[^\s.\[\]'\"]+")


def _mark(name: str, node: yaml.Node) -> str:
    m = node.start_mark
    return f"{name}:{m.line + 1}:{m.column + 1}"


def _expanded_size(root: yaml.Node, mark: Callable[[yaml.Node], str]) -> int:
    """Number of nodes once aliases are expanded, computed on the shared node graph in linear time.

    Raises:
        ConfigError: an alias refers to a node that contains it (``a: &a [*a]``), which never ends.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()
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
            open_.discard(id(n))
        elif id(n) in open_:  # reached again from inside itself
            raise ConfigError(
                f"{mark(n)}: an alias refers to the anchor that contains it (a recursive document); "
                "configs must be plain trees"
            )
        else:
            open_.add(id(n))
            stack.append((n, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str, name: str, prefix: tuple = (), located: bool = True) -> tuple[object, Source]:
    """Parse one YAML document safely, recording the location of every value.

    Args:
        text: the YAML text.
        name: the file name to show in messages.
        prefix: key path that the document's root stands at (used for ``--set`` values).
        located: add ``:line:column`` to ``name`` in locations; False for one-line texts such as a
            ``--set`` value, whose messages name the whole ``--set key=value`` instead.

    Returns:
        (data, source): plain Python data (dict/list/str/int/float/bool/None) and its locations.

    Raises:
        ConfigError: syntax errors, duplicate keys, Python object tags, non-scalar keys, a bad merge key,
            a recursive document, or one that expands past ``MAX_NODES`` nodes.
    """
    loader = _new_loader(text, name, located)
    node = _compose(loader, name, located)
    builder = _TreeBuilder(loader, name, located)
    if node is None:
        return None, builder.source
    if _expanded_size(node, builder.mark) > MAX_NODES:
        raise ConfigError(
            f"{builder.mark(node)}: the document expands to more than {MAX_NODES:,} values "
            "(anchors and aliases expanding exponentially?); refusing to load it"
        )
    try:
        data = builder.build(node, tuple(prefix))
    except RecursionError:
        raise ConfigError(f"{name}: the document is nested too deeply to be a config") from None
    return data, builder.source


def _new_loader(text: str, name: str, located: bool) -> _Loader:
    """A loader over ``text``; control characters (checked before parsing starts) are a ConfigError."""
    try:
        return _Loader(text)
    except yaml.reader.ReaderError as exc:
        pos = exc.position
        line, col = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        where = f"{name}:{line}:{col}" if located else name
        raise ConfigError(
            f"{where}: invalid YAML: control character U+{exc.character:04X} is not allowed; remove it"
        ) from None


def _compose(loader: _Loader, name: str, located: bool) -> yaml.Node | None:
    """The document's node graph (aliases still shared), or None for an empty document."""
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        where = f"{name}:{m.line + 1}:{m.column + 1}" if m and located else name
        what = exc.problem or exc.context
        if exc.context and exc.problem and exc.problem.startswith("but "):  # "expected …, but found …"
            what = f"{exc.context}, {exc.problem}"
        raise ConfigError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:  # other reader errors
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}: the document is nested too deeply to be a config") from None
    finally:
        loader.dispose()


class _TreeBuilder:
    """Builds plain data from a composed node graph, recording each value's location in ``source``."""

    def __init__(self, loader: _Loader, name: str, located: bool) -> None:
        self.loader = loader
        self.name = name
        self.located = located
        self.source = Source(name)
        self._pairs: dict[int, dict] = {}  # id(mapping node) -> its key -> value node, merges applied

    def mark(self, node: yaml.Node) -> str:
        """``file:line:column`` of ``node`` (just the name when not ``located``)."""
        return _mark(self.name, node) if self.located else self.name

    def build(self, n: yaml.Node, path: tuple) -> object:
        """The plain value of node ``n`` standing at key ``path``."""
        if isinstance(n, yaml.ScalarNode):
            self.source.locations[path] = Located(self.mark(n), n.value)
            try:
                return self.loader.construct_object(n, deep=True)
            except yaml.constructor.ConstructorError as exc:
                raise ConfigError(
                    f"{self.mark(n)}: {format_path(path)}: {exc.problem}; "
                    "only plain YAML data (mappings, lists, strings, numbers, booleans) is allowed"
                ) from None
        self.source.locations[path] = Located(self.mark(n))
        if n.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            raise ConfigError(
                f"{self.mark(n)}: {format_path(path)}: tag {n.tag!r} is not allowed; only plain YAML data is"
            )
        if isinstance(n, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(n.value)]
        return {key: self.build(value_node, path + (key,)) for key, value_node in self.pairs(n, path).items()}

    def pairs(self, n: yaml.MappingNode, path: tuple) -> dict:
        """Key -> value node of a mapping, merge keys applied: its own keys override merged ones, and of
        several merged mappings (``<<: [*a, *b]``) the first listed wins, as YAML's merge key defines."""
        if id(n) in self._pairs:
            return self._pairs[id(n)]
        merged: dict = {}
        own: dict = {}
        lines: dict = {}
        for key_node, value_node in n.value:
            if key_node.tag == _MERGE_TAG:
                for key, value in self._merged(value_node, path).items():
                    merged.setdefault(key, value)
                continue
            key = self.key_of(key_node, path)
            if key in own:
                raise ConfigError(
                    f"{self.mark(key_node)}: {format_path(path + (key,))}: duplicate key "
                    f"(first defined at line {lines[key]}); remove one of them"
                )
            own[key] = value_node
            lines[key] = key_node.start_mark.line + 1
        result = {**merged, **own}
        self._pairs[id(n)] = result
        return result

    def _merged(self, value_node: yaml.Node, path: tuple) -> dict:
        """The pairs a merge key ``<<`` brings in (one mapping, or a list of them: the first listed wins)."""
        merged: dict = {}
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise ConfigError(
                    f"{self.mark(src)}: {format_path(path)}: the merge key << expects a mapping or a list "
                    "of mappings (such as *defaults), got a "
                    f"{'list' if isinstance(src, yaml.SequenceNode) else 'scalar'}"
                )
            for key, value in self.pairs(src, path).items():
                merged.setdefault(key, value)
        return merged

    def key_of(self, key_node: yaml.Node, path: tuple) -> object:
        """A mapping key as plain data: a scalar only; ``no:`` as a key means the text "no"."""
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(f"{self.mark(key_node)}: {format_path(path)}: keys must be plain strings")
        try:
            key = self.loader.construct_object(key_node)
        except yaml.constructor.ConstructorError as exc:
            raise ConfigError(
                f"{self.mark(key_node)}: {format_path(path)}: {exc.problem}; only plain YAML data is allowed"
            ) from None
        if isinstance(key, bool) or key is None:
            return key_node.value
        return key if isinstance(key, (str, int, float)) else str(key)


def read_yaml_file(path: Path) -> tuple[object, Source]:
    """Read and parse a YAML file (see ``load_yaml``); an empty file (or only comments) gives ``None``.

    Raises:
        ConfigError: the file is missing, a directory, unreadable, not UTF-8, binary, or invalid YAML.
    """
    name = str(path)
    if not path.exists():
        raise ConfigError(f"{name}: no such config file")
    if path.is_dir():
        raise ConfigError(f"{name}: is a directory, expected a YAML config file")
    if not path.is_file():
        raise ConfigError(f"{name}: not a regular file (a device or pipe?); expected a YAML config file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name}: {path.stat().st_size:,} bytes; a config is at most {MAX_CONFIG_BYTES:,} bytes "
                          "(put large data in a CSV file and give data.path)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the config file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{name}:{line}:{col}: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise ConfigError(f"{name}: the file holds NUL bytes: it is binary, not a YAML config")
    return load_yaml(text, name)
