"""Loading untrusted YAML/JSON into plain data within `workflows.limits`, before anything recurses.

Every check runs before the data can grow: the byte size before parsing, the
nesting depth while the YAML composer descends (and JSON's own recursion guard),
and YAML alias expansion as each anchored node completes (its expanded size is
memoised, so an alias bomb is refused after a few hundred nodes of work, not after
billions). The loaded data is then walked once, iteratively, for depth, value count
and non-finite numbers (`.nan`, `.inf`, `NaN`, `1e999`). Problems are
`DocumentError`s naming the path where they sit (`nodes.a.args.x`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from workflows.limits import (
    MAX_DOCUMENT_VALUES,
    MAX_NESTING_DEPTH,
    MAX_QUOTED_CHARS,
    MAX_SOURCE_BYTES,
    MAX_YAML_ALIASES,
)


class DocumentError(ValueError):
    """A document cannot be loaded; `path` says where (empty for the whole document).

    `parts` holds the same location as keys and indexes, for callers that spell
    paths their own way (the API's `body.inputs.x.0`).
    """

    def __init__(self, path: str, message: str, parts: tuple[str | int, ...] = ()) -> None:
        self.path = path
        self.message = message
        self.parts = parts
        super().__init__(f"{path}: {message}" if path else message)


class DuplicateKeyError(DocumentError):
    """A mapping repeats a key (a duplicate node id, for example)."""


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


def join_path(parts: list[str | int]) -> str:
    """`['nodes', 'a', 'args', 0]` -> `nodes.a.args[0]`, each key shortened for messages."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = shorten(part, MAX_QUOTED_CHARS)
            out = f"{out}.{key}" if out else key
    return out


def decode_source(source: str | bytes) -> str:
    """Text of a tree within `MAX_SOURCE_BYTES`; bytes must be UTF-8."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        # Characters are at most 4 bytes each: skip encoding text that is clearly too big.
        too_long = len(source) > MAX_SOURCE_BYTES
        size = len(source) if too_long else len(source.encode("utf-8", "replace"))
    if size > MAX_SOURCE_BYTES:
        raise DocumentError("", f"tree source is {size} bytes; the limit is {MAX_SOURCE_BYTES}")
    if isinstance(source, str):
        return source
    try:
        return source.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = source[exc.start : exc.start + 1].hex()
        raise DocumentError(
            "", f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); save the tree as UTF-8"
        ) from None


def load_document(source: str | bytes) -> Any:
    """YAML or JSON to checked Python data; JSON is tried first when the text looks like JSON."""
    text = decode_source(source)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except RecursionError:
            raise _too_deep("") from None
        except json.JSONDecodeError:
            pass  # flow-style YAML starts the same way
        else:
            check_data(data)
            return data
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" not in str(exc.problem):
            raise
        # libyaml's scanner looks ahead and stops at its own depth limit first.
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise _too_deep("", f" (line {line})") from None
    finally:
        loader.dispose()
    check_data(data)
    return data


def check_data(
    value: Any, path: str = "", *, max_depth: int = MAX_NESTING_DEPTH, what: str = "document"
) -> None:
    """Refuse data nested deeper than `max_depth`, holding more than `MAX_DOCUMENT_VALUES`
    values or a non-finite number. Iterative: safe on any input."""
    count = 0
    base: list[str | int] = [path] if path else []
    stack: list[tuple[Any, list[str | int]]] = [(value, base)]
    while stack:
        item, where = stack.pop()
        count += 1
        if count > MAX_DOCUMENT_VALUES:
            raise _at(where, f"{what} holds more than {MAX_DOCUMENT_VALUES} values")
        if len(where) - len(base) >= max_depth:
            raise _at(where, f"{what} is nested deeper than {max_depth} levels")
        if isinstance(item, float) and not math.isfinite(item):
            number = "NaN" if math.isnan(item) else ("-" if item < 0 else "") + "Infinity"
            raise _at(where, f"{number} is not a finite number (JSON has no NaN or Infinity)")
        if isinstance(item, Mapping):
            stack.extend((child, [*where, str(key)]) for key, child in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((child, [*where, index]) for index, child in enumerate(item))


def data_problem(
    value: Any, path: str = "", *, max_depth: int = MAX_NESTING_DEPTH, what: str = "value"
) -> DocumentError | None:
    """`check_data` as a value: the first problem, or None."""
    try:
        check_data(value, path, max_depth=max_depth, what=what)
    except DocumentError as exc:
        return exc
    return None


def _at(where: list[str | int], message: str) -> DocumentError:
    return DocumentError(join_path(where), message, tuple(where))


def _too_deep(path: str, where: str = "") -> DocumentError:
    return DocumentError(path, f"document is nested deeper than {MAX_NESTING_DEPTH} levels{where}")


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError("", f"duplicate key '{shorten(key)}'")
        result[key] = value
    return result


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """The pure-Python event parser, where libyaml is missing."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


try:  # libyaml's event parser (in PyYAML's wheels): several times faster, not recursive
    from yaml._yaml import CParser as _EventParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _EventParser = _PythonParser  # type: ignore[misc,assignment]


class _BoundedLoader(yaml.composer.Composer, _EventParser, SafeConstructor, yaml.resolver.Resolver):
    """SafeLoader semantics with PyYAML's Python composer over a fast event parser; the
    composer measures each node (values after alias expansion, depth) and refuses deep
    nesting and alias bombs as it goes, the constructor refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        _EventParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._path: list[str | int] = []
        self._aliases = 0
        # id(node) -> (expanded values, expanded depth); nodes stay alive in the graph.
        self._measured: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            return self._alias(parent, index)
        if isinstance(index, yaml.ScalarNode):
            self._path.append(str(index.value))
        elif isinstance(index, int):
            self._path.append(index)
        else:
            self._path.append("")  # the root, or a mapping key being composed
        try:
            if len(self._path) > MAX_NESTING_DEPTH:
                raise _too_deep(self._where())
            node = super().compose_node(parent, index)
            if node is not None:
                self._measure(node)
            return node
        finally:
            self._path.pop()

    def _alias(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        assert isinstance(event, yaml.AliasEvent)
        target = self.anchors.get(event.anchor or "")
        if target is not None:
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise DocumentError(
                    self._where(), f"more than {MAX_YAML_ALIASES} YAML aliases in one document"
                )
            measured = self._measured.get(id(target))
            if measured is None:
                raise DocumentError(
                    self._where(), f"YAML alias '*{event.anchor}' refers to a node that holds it"
                )
            if len(self._path) + measured[1] > MAX_NESTING_DEPTH:
                raise _too_deep(self._where())
        return super().compose_node(parent, index)  # an unknown anchor: PyYAML's own error

    def _measure(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            self._measured[id(node)] = (1, 1)
            return
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = self._measured.get(id(child), (1, 1))
            values += child_values
            depth = max(depth, child_depth)
        if values > MAX_DOCUMENT_VALUES:
            raise DocumentError(
                self._where(),
                f"document expands to more than {MAX_DOCUMENT_VALUES} values "
                "(YAML anchors and aliases are expanded)",
            )
        self._measured[id(node)] = (values, depth + 1)

    def _where(self) -> str:
        return join_path([part for part in self._path if part != ""])


def _construct_mapping(loader: _BoundedLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise DuplicateKeyError("", f"duplicate key '{shorten(str(key))}' at line {line}")
        mapping[key] = loader.construct_object(value_node)
    return mapping


_BoundedLoader.add_constructor(  # type: ignore[type-var]  # the stubs know only stock loaders
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
