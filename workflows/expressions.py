"""A small, safe expression language for rules and argument templates. No `eval`.

Syntax (Python-like): literals (`1`, `2.5`, `'text'`, `"text"`, `true`, `false`,
`null`, `[1, 2]`), names and paths (`results.search.hits[0].title`), slices
(`items[0:3]`), arithmetic (`+ - * / // %`), comparisons (`== != < <= > >=`,
`in`, `not in`), `and`, `or`, `not`, conditional (`a if cond else b`) and calls to
a fixed set of functions (see `FUNCTIONS`).

Evaluation works on JSON-like data only (dict, list, str, number, bool, None):
a missing key or index yields `null`, ordering comparisons with `null` are false,
and sizes are capped so an expression cannot exhaust memory.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from workflows.limits import MAX_EXPRESSION_DEPTH as MAX_DEPTH
from workflows.limits import MAX_EXPRESSION_LENGTH as MAX_SOURCE_LENGTH

MAX_SIZE = 100_000  # characters of a string or items of a list an expression may build


class ExpressionError(ValueError):
    """Base of expression errors. `position` is a 0-based offset into the source."""

    def __init__(self, message: str, source: str = "", position: int | None = None) -> None:
        self.message = message
        self.source = source
        self.position = position
        where = f" at column {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


class ExpressionSyntaxError(ExpressionError):
    """The expression does not parse."""


class EvaluationError(ExpressionError):
    """The expression parsed but cannot be evaluated on this data."""


# ---------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|//|[-+*/%<>()\[\].,:])
    """,
    re.VERBOSE,
)

_KEYWORDS = {
    "and",
    "or",
    "not",
    "in",
    "if",
    "else",
    "true",
    "false",
    "null",
    "True",
    "False",
    "None",
}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, name, keyword, op, end
    value: str
    position: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(
            f"expression longer than {MAX_SOURCE_LENGTH} characters", source, 0
        )
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise ExpressionSyntaxError(
                f"unexpected character {source[position]!r}", source, position
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text in _KEYWORDS:
            kind = "keyword"
        if kind != "ws":
            tokens.append(Token(kind, text, position))
        position = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def _unquote(text: str, source: str, position: int) -> str:
    body = text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 1
            escaped = body[index] if index < len(body) else ""
            if escaped not in _ESCAPES:
                raise ExpressionSyntaxError(
                    f"unknown escape '\\{escaped}'", source, position + index
                )
            out.append(_ESCAPES[escaped])
        else:
            out.append(char)
        index += 1
    return "".join(out)


# ---------------------------------------------------------------- AST

Node = tuple[Any, ...]
# ("lit", value) ("name", str) ("attr", node, str) ("index", node, node)
# ("slice", node, node|None, node|None) ("call", str, (nodes), position)
# ("unary", op, node) ("binary", op, left, right, position) ("compare", (ops), (nodes), pos)
# ("and", (nodes)) ("or", (nodes)) ("not", node) ("cond", then, test, else) ("list", (nodes))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        token = self.current
        if token.kind == kind and (value is None or token.value == value):
            return self.advance()
        return None

    def expect(self, kind: str, value: str) -> Token:
        token = self.accept(kind, value)
        if token is None:
            found = self.current.value or "end of expression"
            raise ExpressionSyntaxError(
                f"expected '{value}' but found '{found}'", self.source, self.current.position
            )
        return token

    def nest(self) -> None:
        """One level deeper in the tree being built; refused past `MAX_DEPTH`, so neither
        this parser nor the evaluator can run out of stack (operator chains count too)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(
                f"expression nested deeper than {MAX_DEPTH} levels",
                self.source,
                self.current.position,
            )

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ExpressionSyntaxError("empty expression", self.source, 0)
        node = self.expression()
        if self.current.kind != "end":
            raise ExpressionSyntaxError(
                f"unexpected '{self.current.value}'", self.source, self.current.position
            )
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError("expression nested too deeply", self.source, 0)
        try:
            node = self.or_expr()
            if self.accept("keyword", "if"):
                test = self.or_expr()
                self.expect("keyword", "else")
                otherwise = self.expression()
                return ("cond", node, test, otherwise)
            return node
        finally:
            self.depth -= 1

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.accept("keyword", "or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.accept("keyword", "and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def not_expr(self) -> Node:
        if self.accept("keyword", "not"):
            self.nest()
            node = ("not", self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        position = self.current.position
        operands = [self.additive()]
        operators: list[str] = []
        while True:
            token = self.current
            if token.kind == "op" and token.value in ("==", "!=", "<", "<=", ">", ">="):
                operators.append(self.advance().value)
            elif token.kind == "keyword" and token.value == "in":
                self.advance()
                operators.append("in")
            elif (
                token.kind == "keyword"
                and token.value == "not"
                and self.tokens[self.index + 1].kind == "keyword"
                and self.tokens[self.index + 1].value == "in"
            ):
                self.index += 2
                operators.append("not in")
            else:
                break
            operands.append(self.additive())
        if not operators:
            return operands[0]
        return ("compare", tuple(operators), tuple(operands), position)

    def additive(self) -> Node:
        depth = self.depth
        node = self.term()
        while self.current.kind == "op" and self.current.value in ("+", "-"):
            token = self.advance()
            self.nest()
            node = ("binary", token.value, node, self.term(), token.position)
        self.depth = depth
        return node

    def term(self) -> Node:
        depth = self.depth
        node = self.unary()
        while self.current.kind == "op" and self.current.value in ("*", "/", "//", "%"):
            token = self.advance()
            self.nest()
            node = ("binary", token.value, node, self.unary(), token.position)
        self.depth = depth
        return node

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.value in ("-", "+"):
            token = self.advance()
            self.nest()
            node = ("unary", token.value, self.unary(), token.position)
            self.depth -= 1
            return node
        return self.postfix()

    def postfix(self) -> Node:
        depth = self.depth
        node = self.primary()
        while True:
            if self.accept("op", "."):
                self.nest()
                token = self.current
                if token.kind not in ("name", "keyword"):
                    raise ExpressionSyntaxError(
                        "expected a field name after '.'", self.source, token.position
                    )
                self.advance()
                node = ("attr", node, token.value)
            elif self.accept("op", "["):
                self.nest()
                node = self.subscript(node)
            else:
                self.depth = depth
                return node

    def subscript(self, target: Node) -> Node:
        start: Node | None = None
        if not (self.current.kind == "op" and self.current.value == ":"):
            start = self.expression()
        if self.accept("op", ":"):
            stop: Node | None = None
            if not (self.current.kind == "op" and self.current.value == "]"):
                stop = self.expression()
            self.expect("op", "]")
            return ("slice", target, start, stop)
        self.expect("op", "]")
        assert start is not None
        return ("index", target, start)

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            text = token.value
            is_float = "." in text or "e" in text.lower()
            return ("lit", float(text) if is_float else int(text))
        if token.kind == "string":
            self.advance()
            return ("lit", _unquote(token.value, self.source, token.position))
        if token.kind == "keyword" and token.value in ("true", "True"):
            self.advance()
            return ("lit", True)
        if token.kind == "keyword" and token.value in ("false", "False"):
            self.advance()
            return ("lit", False)
        if token.kind == "keyword" and token.value in ("null", "None"):
            self.advance()
            return ("lit", None)
        if token.kind == "name":
            self.advance()
            if self.accept("op", "("):
                if token.value not in FUNCTIONS:
                    raise ExpressionSyntaxError(
                        f"unknown function '{token.value}'", self.source, token.position
                    )
                args: list[Node] = []
                if not self.accept("op", ")"):
                    args.append(self.expression())
                    while self.accept("op", ","):
                        args.append(self.expression())
                    self.expect("op", ")")
                return ("call", token.value, tuple(args), token.position)
            return ("name", token.value, token.position)
        if self.accept("op", "("):
            node = self.expression()
            self.expect("op", ")")
            return node
        if self.accept("op", "["):
            items: list[Node] = []
            if not self.accept("op", "]"):
                items.append(self.expression())
                while self.accept("op", ","):
                    items.append(self.expression())
                self.expect("op", "]")
            return ("list", tuple(items))
        found = token.value or "end of expression"
        raise ExpressionSyntaxError(f"unexpected '{found}'", self.source, token.position)


# ---------------------------------------------------------------- functions


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


def _pluck(items: Any, key: str) -> list[Any]:
    if not isinstance(items, list):
        return []
    return [item.get(key) if isinstance(item, dict) else None for item in items]


def _join(items: Any, separator: str = ", ") -> str:
    if not isinstance(items, list):
        return "" if items is None else str(items)
    return separator.join(to_text(item) for item in items)


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _first(items: Any) -> Any:
    return items[0] if isinstance(items, list | str) and items else None


def _last(items: Any) -> Any:
    return items[-1] if isinstance(items, list | str) and items else None


def _round(value: float, digits: int = 0) -> float:
    return round(value, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "count": _len,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "strip": lambda s: str(s).strip(),
    "contains": lambda haystack, needle: haystack is not None and needle in haystack,
    "startswith": lambda s, prefix: isinstance(s, str) and s.startswith(prefix),
    "endswith": lambda s, suffix: isinstance(s, str) and s.endswith(suffix),
    "split": lambda s, sep=None: str(s).split(sep),
    "join": _join,
    "pluck": _pluck,
    "min": lambda *a: min(a[0] if len(a) == 1 else a),
    "max": lambda *a: max(a[0] if len(a) == 1 else a),
    "sum": lambda items: sum(items or []),
    "abs": abs,
    "round": _round,
    "int": int,
    "float": float,
    "str": lambda v: to_text(v),
    "bool": bool,
    "default": _default,
    "defined": lambda v: v is not None,
    "first": _first,
    "last": _last,
    "keys": lambda d: list(d) if isinstance(d, dict) else [],
    "values": lambda d: list(d.values()) if isinstance(d, dict) else [],
    "json": lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")),
}


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: evaluate it many times, inspect the names it reads."""

    source: str
    tree: Node

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        try:
            return _Evaluator(self.source, scope).eval(self.tree)
        except EvaluationError:
            raise
        except RecursionError:
            raise EvaluationError("expression too deep", self.source) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise EvaluationError(str(exc), self.source) from None

    def root_names(self) -> set[str]:
        """Top-level names this expression reads (`results`, `inputs`, ...)."""
        found: set[str] = set()
        _walk_names(self.tree, found)
        return found

    def paths(self) -> list[tuple[str, ...]]:
        """Dotted paths read with literal steps, e.g. ('results', 'search', 'hits')."""
        found: list[tuple[str, ...]] = []
        _walk_paths(self.tree, found)
        return found


def _children(node: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sub-nodes of an AST node, or the items of a tuple of nodes."""
    return node[1:] if isinstance(node[0], str) else node


def _walk_names(node: Any, found: set[str]) -> None:
    if isinstance(node, tuple) and node:
        if node[0] == "name":
            found.add(node[1])
            return
        for child in _children(node):
            _walk_names(child, found)


def _path_of(node: Node) -> tuple[str, ...] | None:
    if node[0] == "name":
        return (node[1],)
    if node[0] == "attr":
        base = _path_of(node[1])
        return None if base is None else (*base, node[2])
    if node[0] == "index" and node[2][0] == "lit" and isinstance(node[2][1], str):
        base = _path_of(node[1])
        return None if base is None else (*base, node[2][1])
    return None


def _walk_paths(node: Any, found: list[tuple[str, ...]]) -> None:
    if not (isinstance(node, tuple) and node):
        return
    if node[0] in ("name", "attr", "index"):
        path = _path_of(node)
        if path is not None:
            found.append(path)
            if node[0] == "index":
                _walk_paths(node[2], found)
            return
    for child in _children(node):
        _walk_paths(child, found)


class _Evaluator:
    def __init__(self, source: str, scope: Mapping[str, Any]) -> None:
        self.source = source
        self.scope = scope

    def fail(self, message: str, position: int | None = None) -> EvaluationError:
        return EvaluationError(message, self.source, position)

    def eval(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            if node[1] not in self.scope:
                raise self.fail(f"unknown name '{node[1]}'", node[2])
            return self.scope[node[1]]
        if kind == "attr":
            return _lookup(self.eval(node[1]), node[2])
        if kind == "index":
            return _lookup(self.eval(node[1]), self.eval(node[2]))
        if kind == "slice":
            target = self.eval(node[1])
            start = None if node[2] is None else self.eval(node[2])
            stop = None if node[3] is None else self.eval(node[3])
            if not isinstance(target, list | str):
                return None
            return target[start:stop]
        if kind == "and":
            value: Any = True
            for part in node[1]:
                value = self.eval(part)
                if not value:
                    return value
            return value
        if kind == "or":
            value = False
            for part in node[1]:
                value = self.eval(part)
                if value:
                    return value
            return value
        if kind == "not":
            return not self.eval(node[1])
        if kind == "cond":
            return self.eval(node[1]) if self.eval(node[2]) else self.eval(node[3])
        if kind == "list":
            return [self.eval(item) for item in node[1]]
        if kind == "unary":
            operand = self.eval(node[2])
            if not _is_number(operand):
                raise self.fail(f"'{node[1]}' needs a number, got {_type(operand)}", node[3])
            return -operand if node[1] == "-" else operand
        if kind == "binary":
            return self.binary(node[1], self.eval(node[2]), self.eval(node[3]), node[4])
        if kind == "compare":
            return self.compare(node[1], node[2])
        if kind == "call":
            args = [self.eval(arg) for arg in node[2]]
            try:
                result = FUNCTIONS[node[1]](*args)
            except (TypeError, ValueError, AttributeError) as exc:
                raise self.fail(f"{node[1]}(): {exc}", node[3]) from None
            return _check_size(result, self, node[3])
        raise self.fail(f"unknown node {kind}")  # pragma: no cover - parser emits known nodes

    def binary(self, op: str, left: Any, right: Any, position: int) -> Any:
        if op == "+":
            if _is_number(left) and _is_number(right):
                return left + right
            if isinstance(left, str) and isinstance(right, str):
                return _check_size(left + right, self, position)
            if isinstance(left, list) and isinstance(right, list):
                return _check_size(left + right, self, position)
            raise self.fail(f"cannot add {_type(left)} and {_type(right)}", position)
        if op == "*" and isinstance(left, str | list) and isinstance(right, int):
            if len(left) * max(right, 0) > MAX_SIZE:
                raise self.fail(f"result larger than {MAX_SIZE} items", position)
            return left * right
        if not (_is_number(left) and _is_number(right)):
            raise self.fail(f"'{op}' needs numbers, got {_type(left)} and {_type(right)}", position)
        if op in ("/", "//", "%") and right == 0:
            raise self.fail("division by zero", position)
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        if op == "//":
            return left // right
        return left % right

    def compare(self, operators: Sequence[str], operands: Sequence[Node]) -> bool:
        left = self.eval(operands[0])
        for op, operand in zip(operators, operands[1:], strict=True):
            right = self.eval(operand)
            if not _compare(op, left, right):
                return False
            left = right
        return True


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op in ("in", "not in"):
        if right is None:
            contained = False
        elif isinstance(right, str):
            contained = isinstance(left, str) and left in right
        else:
            contained = left in right
        return contained if op == "in" else not contained
    if left is None or right is None:
        return False  # null never orders
    if _is_number(left) != _is_number(right):
        raise TypeError(f"cannot compare {_type(left)} with {_type(right)} using '{op}'")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _lookup(target: Any, key: Any) -> Any:
    if isinstance(target, Mapping):
        return target.get(key) if isinstance(key, str) else None
    if isinstance(target, list | str) and isinstance(key, int) and not isinstance(key, bool):
        return target[key] if -len(target) <= key < len(target) else None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _check_size(value: Any, evaluator: _Evaluator, position: int) -> Any:
    if isinstance(value, str | list) and len(value) > MAX_SIZE:
        raise evaluator.fail(f"result larger than {MAX_SIZE} items", position)
    return value


@lru_cache(maxsize=4096)
def parse(source: str) -> Expression:
    """Parse an expression (cached: trees evaluate the same sources many times)."""
    return Expression(source, _Parser(source).parse())


def evaluate(source: str, scope: Mapping[str, Any]) -> Any:
    """Parse (cached) and evaluate `source` against `scope`."""
    return parse(source).evaluate(scope)
