"""A small, safe expression language for rules and argument templates. No `eval`.

Syntax (Python-like): literals (`1`, `2.5`, `'text'`, `"text"`, `true`, `false`,
`null`, `[1, 2]`), names and paths (`results.search.hits[0].title`), slices
(`items[0:3]`), arithmetic (`+ - * / // %`), comparisons (`== != < <= > >=`,
`in`, `not in`), `and`, `or`, `not`, conditional (`a if cond else b`) and calls to
a fixed set of functions (see `FUNCTIONS`).

Evaluation works on JSON-like data only (dict, list, str, number, bool, None):
a missing key or index yields `null`, ordering comparisons with `null` are false,
and sizes and steps are budgeted (`workflows.budgets`), checked before allocating.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, assert_never

from workflows.budgets import (
    MAX_BUILT_SIZE,
    MAX_RESULT_SIZE,
    Budget,
    BudgetExceeded,
    json_size,
    text_size,
)
from workflows.budgets import MAX_SIZE as MAX_SIZE  # re-exported where it was defined before
from workflows.limits import MAX_EXPRESSION_DEPTH as MAX_DEPTH
from workflows.limits import MAX_EXPRESSION_LENGTH as MAX_SOURCE_LENGTH


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


class BudgetError(EvaluationError):
    """Evaluating would pass a limit of `workflows.budgets` (checked before allocating)."""


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
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
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


@dataclass(frozen=True, slots=True)
class Constant:
    """A constant: number, string, boolean or null."""

    value: Any


@dataclass(frozen=True, slots=True)
class Name:
    """A top-level name read from the scope (`inputs`, `results`...)."""

    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Attr:
    """`target.field`."""

    target: Expr
    field: str


@dataclass(frozen=True, slots=True)
class Index:
    """`target[key]`."""

    target: Expr
    key: Expr


@dataclass(frozen=True, slots=True)
class Slice:
    """`target[start:stop]`, either bound optional."""

    target: Expr
    start: Expr | None
    stop: Expr | None


@dataclass(frozen=True, slots=True)
class Call:
    """`function(args...)`; `function` is a key of `FUNCTIONS`."""

    function: str
    args: tuple[Expr, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    """`-operand` or `+operand`."""

    op: str
    operand: Expr
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic: `left op right` with op one of `+ - * / // %`."""

    op: str
    left: Expr
    right: Expr
    position: int


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison chain: `operands[0] operators[0] operands[1] ...`."""

    operators: tuple[str, ...]
    operands: tuple[Expr, ...]
    position: int


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Conditional:
    """`then if test else otherwise`."""

    then: Expr
    test: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class ListDisplay:
    """`[item, ...]`."""

    items: tuple[Expr, ...]


Expr = (
    Constant
    | Name
    | Attr
    | Index
    | Slice
    | Call
    | Unary
    | Binary
    | Compare
    | And
    | Or
    | Not
    | Conditional
    | ListDisplay
)


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `node`, in source order."""
    match node:
        case Constant() | Name():
            return ()
        case Attr(target=target) | Not(operand=target) | Unary(operand=target):
            return (target,)
        case Index(target=target, key=key):
            return (target, key)
        case Slice(target=target, start=start, stop=stop):
            return tuple(part for part in (target, start, stop) if part is not None)
        case Binary(left=left, right=right):
            return (left, right)
        case Conditional(then=then, test=test, otherwise=otherwise):
            return (then, test, otherwise)
        case Call(args=parts) | Compare(operands=parts) | And(parts=parts) | Or(parts=parts):
            return parts
        case ListDisplay(items=parts):
            return parts
        case _:
            assert_never(node)


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

    def parse(self) -> Expr:
        if self.current.kind == "end":
            raise ExpressionSyntaxError("empty expression", self.source, 0)
        node = self.expression()
        if self.current.kind != "end":
            raise ExpressionSyntaxError(
                f"unexpected '{self.current.value}'", self.source, self.current.position
            )
        return node

    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError("expression nested too deeply", self.source, 0)
        try:
            node = self.or_expr()
            if self.accept("keyword", "if"):
                test = self.or_expr()
                self.expect("keyword", "else")
                otherwise = self.expression()
                return Conditional(node, test, otherwise)
            return node
        finally:
            self.depth -= 1

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.accept("keyword", "or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.not_expr()]
        while self.accept("keyword", "and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_expr(self) -> Expr:
        if self.accept("keyword", "not"):
            self.nest()
            negated = Not(self.not_expr())
            self.depth -= 1
            return negated
        return self.comparison()

    def comparison(self) -> Expr:
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
        return Compare(tuple(operators), tuple(operands), position)

    def additive(self) -> Expr:
        depth = self.depth
        node = self.term()
        while self.current.kind == "op" and self.current.value in ("+", "-"):
            token = self.advance()
            self.nest()
            node = Binary(token.value, node, self.term(), token.position)
        self.depth = depth
        return node

    def term(self) -> Expr:
        depth = self.depth
        node = self.unary()
        while self.current.kind == "op" and self.current.value in ("*", "/", "//", "%"):
            token = self.advance()
            self.nest()
            node = Binary(token.value, node, self.unary(), token.position)
        self.depth = depth
        return node

    def unary(self) -> Expr:
        if self.current.kind == "op" and self.current.value in ("-", "+"):
            token = self.advance()
            self.nest()
            operand = Unary(token.value, self.unary(), token.position)
            self.depth -= 1
            return operand
        return self.postfix()

    def postfix(self) -> Expr:
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
                node = Attr(node, token.value)
            elif self.accept("op", "["):
                self.nest()
                node = self.subscript(node)
            else:
                self.depth = depth
                return node

    def subscript(self, target: Expr) -> Expr:
        start: Expr | None = None
        if not (self.current.kind == "op" and self.current.value == ":"):
            start = self.expression()
        if self.accept("op", ":"):
            stop: Expr | None = None
            if not (self.current.kind == "op" and self.current.value == "]"):
                stop = self.expression()
            self.expect("op", "]")
            return Slice(target, start, stop)
        self.expect("op", "]")
        assert start is not None
        return Index(target, start)

    def primary(self) -> Expr:
        token = self.current
        literal = self.literal(token)
        if literal is not None:
            self.advance()
            return literal
        if token.kind == "name":
            self.advance()
            if self.accept("op", "("):
                return self.call(token)
            return Name(token.value, token.position)
        if self.accept("op", "("):
            node = self.expression()
            self.expect("op", ")")
            return node
        if self.accept("op", "["):
            return ListDisplay(self.items("]"))
        found = token.value or "end of expression"
        raise ExpressionSyntaxError(f"unexpected '{found}'", self.source, token.position)

    def literal(self, token: Token) -> Constant | None:
        """The constant `token` spells, or None if it is not a literal."""
        if token.kind == "number":
            text = token.value
            is_float = "." in text or "e" in text.lower()
            return Constant(float(text) if is_float else int(text))
        if token.kind == "string":
            return Constant(_unquote(token.value, self.source, token.position))
        if token.kind == "keyword" and token.value in _CONSTANTS:
            return Constant(_CONSTANTS[token.value])
        return None

    def call(self, name: Token) -> Call:
        if name.value not in FUNCTIONS:
            raise ExpressionSyntaxError(
                f"unknown function '{name.value}'", self.source, name.position
            )
        return Call(name.value, self.items(")"), name.position)

    def items(self, closing: str) -> tuple[Expr, ...]:
        """Comma-separated expressions up to `closing` (consumed)."""
        items: list[Expr] = []
        if not self.accept("op", closing):
            items.append(self.expression())
            while self.accept("op", ","):
                items.append(self.expression())
            self.expect("op", closing)
        return tuple(items)


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
    tree: Expr

    def evaluate(
        self, scope: Mapping[str, Any], *, budget: Budget | None = None, bounded: bool = True
    ) -> Any:
        """The value on `scope`, spending `budget` (a fresh one if None).

        `bounded=False` skips the budgets added after the first histories were
        recorded; only replays of those histories use it.
        """
        if bounded and budget is None:
            budget = Budget()
        try:
            return _Evaluator(self.source, scope, budget if bounded else None).eval(self.tree)
        except EvaluationError:
            raise
        except BudgetExceeded as exc:
            raise BudgetError(str(exc), self.source) from None
        except RecursionError:
            raise EvaluationError("expression too deep", self.source) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise EvaluationError(str(exc), self.source) from None
        except Exception as exc:  # any other failure of the tree's own expression
            raise EvaluationError(f"{type(exc).__name__}: {exc}", self.source) from None

    def is_reference(self) -> bool:
        """Whether the expression only reads existing data (a constant or a path)."""
        return isinstance(self.tree, Constant) or _path_of(self.tree) is not None

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


def _walk_names(node: Expr, found: set[str]) -> None:
    if isinstance(node, Name):
        found.add(node.name)
        return
    for child in children(node):
        _walk_names(child, found)


def _path_of(node: Expr) -> tuple[str, ...] | None:
    match node:
        case Name(name=name):
            return (name,)
        case Attr(target=target, field=step) | Index(target=target, key=Constant(value=str(step))):
            base = _path_of(target)
            return None if base is None else (*base, step)
        case _:
            return None


def _walk_paths(node: Expr, found: list[tuple[str, ...]]) -> None:
    if isinstance(node, Name | Attr | Index):
        path = _path_of(node)
        if path is not None:
            found.append(path)
            return
    for child in children(node):
        _walk_paths(child, found)


_STRINGIFYING = frozenset({"lower", "upper", "strip", "split"})  # call str() on their argument


class _Evaluator:
    def __init__(self, source: str, scope: Mapping[str, Any], budget: Budget | None) -> None:
        self.source = source
        self.scope = scope
        self.budget = budget

    def fail(self, message: str, position: int | None = None) -> EvaluationError:
        return EvaluationError(message, self.source, position)

    def eval(self, node: Expr) -> Any:
        if self.budget is not None:
            self.budget.spend(1)
        match node:
            case Constant(value=value):
                return value
            case Name():
                return self.name(node)
            case Attr(target=target, field=field):
                return _lookup(self.eval(target), field)
            case Index(target=target, key=key):
                return _lookup(self.eval(target), self.eval(key))
            case Slice():
                return self.slice(node)
            case And(parts=parts):
                return self.all_of(parts)
            case Or(parts=parts):
                return self.any_of(parts)
            case Not(operand=operand):
                return not self.eval(operand)
            case Conditional(then=then, test=test, otherwise=otherwise):
                return self.eval(then) if self.eval(test) else self.eval(otherwise)
            case ListDisplay(items=items):
                return [self.eval(item) for item in items]
            case Unary():
                return self.unary(node)
            case Binary(op=op, left=left, right=right, position=position):
                return self.binary(op, self.eval(left), self.eval(right), position)
            case Compare(operators=operators, operands=operands):
                return self.compare(operators, operands)
            case Call():
                return self.call(node)
            case _:
                assert_never(node)

    def name(self, node: Name) -> Any:
        if node.name not in self.scope:
            raise self.fail(f"unknown name '{node.name}'", node.position)
        return self.scope[node.name]

    def slice(self, node: Slice) -> Any:
        target = self.eval(node.target)
        start = None if node.start is None else self.eval(node.start)
        stop = None if node.stop is None else self.eval(node.stop)
        if not isinstance(target, list | str):
            return None
        return target[start:stop]

    def all_of(self, parts: Sequence[Expr]) -> Any:
        value: Any = True
        for part in parts:
            value = self.eval(part)
            if not value:
                return value
        return value

    def any_of(self, parts: Sequence[Expr]) -> Any:
        value: Any = False
        for part in parts:
            value = self.eval(part)
            if value:
                return value
        return value

    def unary(self, node: Unary) -> Any:
        operand = self.eval(node.operand)
        if not _is_number(operand):
            raise self.fail(f"'{node.op}' needs a number, got {_type(operand)}", node.position)
        return -operand if node.op == "-" else operand

    def call(self, node: Call) -> Any:
        args = [self.eval(arg) for arg in node.args]
        self.check_call(node, args)
        try:
            result = FUNCTIONS[node.function](*args)
        except (TypeError, ValueError, AttributeError) as exc:
            raise self.fail(f"{node.function}(): {exc}", node.position) from None
        return _check_size(result, self, node.position)

    def check_call(self, node: Call, args: list[Any]) -> None:
        """Refuse, before it runs, a call whose result would pass the size limits."""
        function = node.function
        if not args:
            return
        if function == "join" and isinstance(args[0], list):
            separator = args[1] if len(args) > 1 else ", "
            if isinstance(separator, str):
                self.check_join(args[0], separator, node.position)
        elif function == "json":
            self.check_text(json_size(args[0], MAX_SIZE, self.budget), node.position)
        elif function == "str":
            self.check_text(text_size(args[0], MAX_SIZE, self.budget), node.position)
        elif function in _STRINGIFYING and self.over_result_size(args[0]):
            raise BudgetExceeded(f"{function}(): argument larger than {MAX_RESULT_SIZE}")

    def over_result_size(self, value: Any) -> bool:
        if self.budget is None or isinstance(value, str):
            return False
        return json_size(value, MAX_RESULT_SIZE, self.budget) > MAX_RESULT_SIZE

    def check_join(self, items: list[Any], separator: str, position: int) -> None:
        total = len(separator) * max(len(items) - 1, 0)
        for item in items:
            if total > MAX_SIZE:
                break
            total += text_size(item, MAX_SIZE, self.budget)
        self.check_text(total, position)

    def check_text(self, size: int, position: int) -> None:
        if size > MAX_SIZE:
            raise self.fail(f"result larger than {MAX_SIZE} items", position)

    def repeat(self, left: str | list[Any], times: int, position: int) -> Any:
        if len(left) * max(times, 0) > MAX_SIZE:
            raise self.fail(f"result larger than {MAX_SIZE} items", position)
        if isinstance(left, list) and self.budget is not None and times > 0:
            per_copy = json_size(left, MAX_BUILT_SIZE, self.budget)
            if per_copy * times > MAX_BUILT_SIZE:
                raise BudgetExceeded(
                    f"a list built by repetition would pass {MAX_BUILT_SIZE} items and "
                    "characters, counted through its elements"
                )
        return left * times

    def add(self, left: Any, right: Any, position: int) -> Any:
        if _is_number(left) and _is_number(right):
            return left + right
        same = isinstance(left, str) and isinstance(right, str)
        if same or (isinstance(left, list) and isinstance(right, list)):
            if len(left) + len(right) > MAX_SIZE:
                raise self.fail(f"result larger than {MAX_SIZE} items", position)
            return left + right
        raise self.fail(f"cannot add {_type(left)} and {_type(right)}", position)

    def binary(self, op: str, left: Any, right: Any, position: int) -> Any:
        if op == "+":
            return self.add(left, right, position)
        if op == "*" and isinstance(left, str | list) and isinstance(right, int):
            return self.repeat(left, right, position)
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

    def compare(self, operators: Sequence[str], operands: Sequence[Expr]) -> bool:
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
