"""``$filter``: an OData expression parsed into a tree, then built into a SQLAlchemy condition on
an entity's source. Input never reaches SQL as text: literals become bound parameters, names are
looked up among the entity's properties. A bad expression raises ``QueryError`` saying what and
where.

Supported (the README lists them): ``eq ne gt ge lt le``, ``and or not``, ``add sub mul div
mod``, parentheses; string functions ``substringof startswith endswith contains length indexof
substring tolower toupper trim concat``; date functions ``year month day hour minute second
fractionalseconds date time now mindatetime maxdatetime totaloffsetminutes``; ``round floor
ceiling``; paths through single related entities (``Datastream/id``) and into JSON
(``properties/commune``). Not supported (a 400 says so): ``geo.*`` and ``st_*`` functions,
``geography'...'`` literals, lambda operators (``any``, ``all``).

Hostile input costs little and fails as a ``QueryError``: the expression's length is checked
before it is read, its tokens are counted, and how deep it nests is bounded, so that neither
the parser, the builder nor SQLAlchemy's compiler recurses deep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    Numeric,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from services.api.sta.entities import EntityType


class QueryError(ValueError):
    """A query option the service cannot answer: the message says which and why."""


MAX_FILTER_LENGTH = 16_000  # characters; checked before reading, so a longer one costs nothing
MAX_TOKENS = 4_000  # 500 clauses such as ``name eq 'x' or`` take 2,000
# Parentheses, not, unary minus, function arguments, operators chained on one side, the
# members of a path: each is a level of the parser, the builder or SQLAlchemy's compiler.
MAX_DEPTH = 32
LARGEST_INTEGER = 2**63 - 1  # PostgreSQL's bigint: a larger number is refused, not sent


Type = Literal["number", "text", "time", "bool", "json", "null"]


# --- the tree --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Literal_:
    value: object  # str, float, int, bool, datetime or None


@dataclass(frozen=True, slots=True)
class Path:
    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Operation:
    operator: str  # eq, and, add, not, neg, ...
    operands: tuple[Node, ...]  # any number for and/or: a long chain is one node, not a deep tree


Node = Literal_ | Path | Call | Operation


# --- tokens ----------------------------------------------------------------------------------
_NOT_SPACE = re.compile(r"\S")
_TOKEN = re.compile(
    r"""(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<geography>geo(?:graphy|metry)'(?:[^']|'')*')
    | (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_@][\w.@]*(?:/[A-Za-z_@$][\w.@]*)*)
    | (?P<punct>[(),:-])  # ":" only to say that a lambda (any, all) is not supported
    )""",
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while next_token := _NOT_SPACE.search(expression, at):  # from ``at``: no copy of the rest
        at = next_token.start()
        if len(tokens) == MAX_TOKENS:
            raise QueryError(f"$filter: more than {MAX_TOKENS} tokens")
        match = _TOKEN.match(expression, at)
        if match is None or match.lastgroup is None:
            raise QueryError(f"$filter: cannot read {expression[at : at + 20]!r} at {at}")
        tokens.append(
            _Token(match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup))
        )
        at = match.end()
    return tokens


# --- parsing ---------------------------------------------------------------------------------
class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.at = 0
        self.depth = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("$filter is empty")
        node = self._or()
        if self.at < len(self.tokens):
            token = self.tokens[self.at]
            raise QueryError(f"$filter: unexpected {token.text!r} at {token.at}")
        if _depth(node) > MAX_DEPTH:  # a chain of operators deepens the tree, not the parser
            raise _too_deep()
        return node

    def _nested(self, parse: Callable[[], Node]) -> Node:
        """``parse`` one level deeper: the parser recurses at most ``MAX_DEPTH`` levels."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _too_deep()
        node = parse()
        self.depth -= 1
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, *words: str) -> str | None:
        token = self._peek()
        if token is not None and token.kind in ("name", "punct") and token.text in words:
            self.at += 1
            return token.text
        return None

    def _expect(self, text: str) -> None:
        if self._take(text) is None:
            token = self._peek()
            found = f"{token.text!r} at {token.at}" if token else "the end"
            raise QueryError(f"$filter: expected {text!r}, found {found}")

    def _or(self) -> Node:
        operands = [self._and()]
        while self._take("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Operation("or", tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._take("and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else Operation("and", tuple(operands))

    def _not(self) -> Node:
        if self._take("not"):
            return Operation("not", (self._nested(self._not),))
        return self._comparison()

    def _comparison(self) -> Node:
        node = self._additive()
        operator = self._take(*_COMPARISONS)
        if operator:
            node = Operation(operator, (node, self._additive()))
        return node

    def _additive(self) -> Node:
        node = self._multiplicative()
        while operator := self._take("add", "sub"):
            node = Operation(operator, (node, self._multiplicative()))
        return node

    def _multiplicative(self) -> Node:
        node = self._unary()
        while operator := self._take("mul", "div", "mod"):
            node = Operation(operator, (node, self._unary()))
        return node

    def _unary(self) -> Node:
        if self._take("-"):
            return Operation("neg", (self._nested(self._unary),))
        return self._primary()

    def _primary(self) -> Node:
        token = self._peek()
        if token is None:
            raise QueryError("$filter ends where a value was expected")
        self.at += 1
        if token.kind == "string":
            return Literal_(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            return Literal_(_number(token))
        if token.kind == "time":
            return Literal_(_time(token))
        if token.kind == "geography":
            raise QueryError(f"$filter: geospatial literals are not supported (at {token.at})")
        if token.text == "(":
            node = self._nested(self._or)
            self._expect(")")
            return node
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal_(token.text == "true")
            if token.text == "null":
                return Literal_(None)
            if self._take("("):
                _check_supported(token)
                args: list[Node] = []
                if not self._take(")"):
                    args.append(self._nested(self._or))
                    while self._take(","):
                        args.append(self._nested(self._or))
                    self._expect(")")
                return Call(token.text, tuple(args))
            return Path(tuple(token.text.split("/")))
        raise QueryError(f"$filter: unexpected {token.text!r} at {token.at}")


def bigint(digits: str, what: str) -> int:
    """``digits`` as an integer PostgreSQL's bigint holds, or a ``QueryError`` naming ``what``."""
    significant = digits.lstrip("0") or "0"  # int() reads at most 4,300 digits: count first
    if len(significant) > len(str(LARGEST_INTEGER)) or int(significant) > LARGEST_INTEGER:
        raise QueryError(f"{what} is past {LARGEST_INTEGER}, the largest integer")
    return int(significant)


def _number(token: _Token) -> int | float:
    """An integer exactly (ids are bigints, beyond a float's 53 bits), else a float."""
    if re.fullmatch(r"\d+", token.text):
        return bigint(token.text, f"$filter: the integer at {token.at}")
    number = float(token.text)
    if not math.isfinite(number):
        raise QueryError(f"$filter: the number at {token.at} is past a float's range")
    return number


def _time(token: _Token) -> datetime:
    try:
        return datetime.fromisoformat(token.text.replace("Z", "+00:00"))
    except ValueError as error:  # 2024-02-30, month 13: the token's pattern reads no calendar
        raise QueryError(f"$filter: {token.text} at {token.at} is not a time: {error}") from None


def _check_supported(function: _Token) -> None:
    """A lambda or a geospatial function is refused by its name, before its arguments
    (``d: ...``, ``geography'...'``) would fail to parse with a less useful message."""
    name = function.text
    if name.rsplit("/", 1)[-1] in ("any", "all"):
        raise QueryError(f"$filter: lambda operators (any, all) are not supported ({name})")
    if name.startswith(("geo.", "st_")):
        raise QueryError(f"$filter: the geospatial function {name} is not supported")


def _depth(node: Node) -> int:
    """How deep ``node`` nests, a path's members counted: walked without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Path):
            depth += len(node.segments) - 1
        deepest = max(deepest, depth)
        if isinstance(node, Operation | Call):
            children = node.operands if isinstance(node, Operation) else node.args
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep() -> QueryError:
    return QueryError(
        f"$filter nests more than {MAX_DEPTH} deep "
        "(parentheses, not, -, function arguments, chained operators, path members)"
    )


def parse(expression: str) -> Node:
    if len(expression) > MAX_FILTER_LENGTH:
        raise QueryError(f"$filter: longer than {MAX_FILTER_LENGTH} characters")
    return _Parser(expression).parse()


# Operators and functions whose SQL can fail on a row's value (an overflow, a negative length):
# a condition holding one is evaluated only on rows the caller may see (``repository``).
_MAY_FAIL = {"add", "sub", "mul", "div", "mod", "neg"}


def conjuncts(node: Node) -> tuple[Node, ...]:
    """The conditions a ``$filter`` ANDs at its top, each one a condition of its own."""
    if isinstance(node, Operation) and node.operator == "and":
        return node.operands
    return (node,)


def may_fail(node: Node) -> bool:
    """Whether evaluating ``node`` on some row could raise a database error rather than give
    true, false or unknown: it computes (arithmetic) or calls a function. Comparisons of
    properties, paths and literals cannot. Walked without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Call):
            return True
        if isinstance(current, Operation):
            if current.operator in _MAY_FAIL:
                return True
            stack.extend(current.operands)
    return False


# --- building SQL ----------------------------------------------------------------------------
Typed = tuple[Any, Type]


def condition(
    node: Node, entity: EntityType, source: Any, entity_of: Callable[[str], EntityType]
) -> ColumnElement[bool]:
    """The SQL condition of a parsed ``$filter`` on ``source`` (a FROM of ``entity``)."""
    built, kind = _Builder(entity_of).build(node, entity, source)
    if kind != "bool":
        raise QueryError("$filter must be a condition (a comparison, a boolean function)")
    return built  # type: ignore[no-any-return]


class _Builder:
    def __init__(self, entity_of: Callable[[str], EntityType]) -> None:
        self.entity_of = entity_of

    def build(self, node: Node, entity: EntityType, source: Any) -> Typed:
        if isinstance(node, Literal_):
            return _literal(node.value)
        if isinstance(node, Path):
            return self._path(node.segments, entity, source, hint=None)
        if isinstance(node, Call):
            return self._call(node, entity, source)
        return self._operation(node, entity, source)

    def _operand(self, node: Node, other: Node, entity: EntityType, source: Any) -> Typed:
        """An operand, typed by the other side where it is a path to an observation's result
        (a number or a text state)."""
        if isinstance(node, Path) and isinstance(other, Literal_):
            hint: Type = "text" if isinstance(other.value, str) else "number"
            return self._path(node.segments, entity, source, hint=hint)
        return self.build(node, entity, source)

    def _operation(self, node: Operation, entity: EntityType, source: Any) -> Typed:
        operator, operands = node.operator, node.operands
        if operator in ("and", "or"):
            conditions = [self._boolean(o, entity, source) for o in operands]
            return (and_(*conditions) if operator == "and" else or_(*conditions)), "bool"
        if operator == "not":
            return not_(self._boolean(operands[0], entity, source)), "bool"
        if operator == "neg":
            value, kind = self.build(operands[0], entity, source)
            _require(kind, "number", "-")
            return -value, "number"
        (left, left_kind) = self._operand(operands[0], operands[1], entity, source)
        (right, right_kind) = self._operand(operands[1], operands[0], entity, source)
        if operator in _COMPARISONS:
            return _compare(operator, left, left_kind, right, right_kind), "bool"
        _require(left_kind, "number", operator)
        _require(right_kind, "number", operator)
        if operator == "add":
            return left + right, "number"
        if operator == "sub":
            return left - right, "number"
        if operator == "mul":
            return left * right, "number"
        if operator == "div":
            return cast(left, Float) / func.nullif(cast(right, Float), 0), "number"
        # By zero: null, as div gives, not a database error.
        return func.mod(cast(left, Numeric), func.nullif(cast(right, Numeric), 0)), "number"

    def _boolean(self, node: Node, entity: EntityType, source: Any) -> Any:
        value, kind = self.build(node, entity, source)
        _require(kind, "bool", "and/or/not")
        return value

    def _path(
        self, segments: tuple[str, ...], entity: EntityType, source: Any, *, hint: Type | None
    ) -> Typed:
        head, rest = segments[0], segments[1:]
        if head in ("id", "@iot.id"):
            if rest:
                raise QueryError(f"$filter: {head} has no properties")
            return source.c.id, "number"
        relation = entity.relation(head)
        if relation is not None:
            if relation.many:
                raise QueryError(
                    f"$filter: {entity.singular}/{head} is a collection; "
                    "lambda operators (any, all) are not supported"
                )
            if not rest:
                raise QueryError(f"$filter: name a property of {head}")
            target = self.entity_of(relation.target)
            inner = target.source.alias()
            value, value_kind = self._path(rest, target, inner, hint=hint)
            scalar = (
                select(value)
                .where(inner.c[relation.there] == source.c[relation.here])
                .limit(1)
                .scalar_subquery()
            )
            return scalar, value_kind
        prop = entity.property(head)
        if prop is None:
            raise QueryError(f"$filter: {entity.singular} has no property {head!r}")
        if prop.kind == "json":
            if not rest:
                raise QueryError(f"$filter: {head} is an object; compare one of its members")
            member = source.c[prop.column]
            for name in rest[:-1]:
                member = member[name]
            text = member[rest[-1]].astext
            if hint == "number":
                # A member that is not a number compares as unknown, never as an error.
                is_number = text.regexp_match(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
                return case((is_number, cast(text, Float))), "number"
            return text, "text"
        if rest:
            raise QueryError(f"$filter: {head} has no properties")
        if prop.kind == "result":
            if hint == "text":
                return source.c.result_text, "text"
            return source.c.result_number, "number"
        return source.c[prop.column], _KINDS[prop.kind]

    def _call(self, node: Call, entity: EntityType, source: Any) -> Typed:
        spec = _FUNCTIONS.get(node.name)
        if spec is None:
            raise QueryError(f"$filter: unknown function {node.name!r}")
        argument_kinds, result_kind, build = spec
        if len(node.args) not in argument_kinds:
            expected = " or ".join(str(len(k)) for k in argument_kinds.values())
            raise QueryError(f"$filter: {node.name} takes {expected} argument(s)")
        args = []
        for arg, kind in zip(node.args, argument_kinds[len(node.args)], strict=True):
            value, actual = self.build(arg, entity, source)
            _require(actual, kind, node.name)
            args.append(value)
        return build(*args), result_kind


_KINDS: dict[str, Type] = {"text": "text", "number": "number", "time": "time"}


def _literal(value: object) -> Typed:
    if value is None:
        return null(), "null"
    if isinstance(value, bool):
        return literal(value), "bool"
    if isinstance(value, int):
        return literal(value, BigInteger), "number"
    if isinstance(value, float):
        return literal(value, Float), "number"
    if isinstance(value, datetime):
        return literal(value, DateTime(timezone=True)), "time"
    return literal(str(value), Text), "text"


def _require(kind: Type, expected: Type, where: str) -> None:
    if kind != expected and kind != "null":
        raise QueryError(f"$filter: {where} needs a {expected}, not a {kind}")


def _compare(operator: str, left: Any, left_kind: Type, right: Any, right_kind: Type) -> Any:
    if "null" in (left_kind, right_kind):
        if operator not in ("eq", "ne"):
            raise QueryError("$filter: null can only be compared with eq or ne")
        value = right if left_kind == "null" else left
        return value.is_(None) if operator == "eq" else value.is_not(None)
    if left_kind != right_kind:
        raise QueryError(f"$filter: cannot compare a {left_kind} with a {right_kind}")
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }[operator]


def _utc(value: Any) -> Any:
    return func.timezone("UTC", value)


def _part(field: str) -> Callable[[Any], Any]:
    return lambda value: cast(func.extract(field, _utc(value)), Float)


_Spec = tuple[dict[int, tuple[Type, ...]], Type, Callable[..., Any]]
_FUNCTIONS: dict[str, _Spec] = {
    "substringof": ({2: ("text", "text")}, "bool", lambda a, b: func.strpos(b, a) > 0),
    "contains": ({2: ("text", "text")}, "bool", lambda a, b: func.strpos(a, b) > 0),
    "startswith": ({2: ("text", "text")}, "bool", lambda a, b: func.starts_with(a, b)),
    "endswith": (
        {2: ("text", "text")},
        "bool",
        lambda a, b: func.right(a, func.length(b)) == b,
    ),
    "length": ({1: ("text",)}, "number", lambda a: func.length(a)),
    "indexof": ({2: ("text", "text")}, "number", lambda a, b: func.strpos(a, b) - 1),
    "substring": (
        {2: ("text", "number"), 3: ("text", "number", "number")},
        "text",
        lambda a, start, length=None: (
            func.substr(a, cast(start, Integer) + 1)
            if length is None
            else func.substr(a, cast(start, Integer) + 1, cast(length, Integer))
        ),
    ),
    "tolower": ({1: ("text",)}, "text", lambda a: func.lower(a)),
    "toupper": ({1: ("text",)}, "text", lambda a: func.upper(a)),
    "trim": ({1: ("text",)}, "text", lambda a: func.btrim(a)),
    "concat": ({2: ("text", "text")}, "text", lambda a, b: func.concat(a, b)),
    "year": ({1: ("time",)}, "number", _part("year")),
    "month": ({1: ("time",)}, "number", _part("month")),
    "day": ({1: ("time",)}, "number", _part("day")),
    "hour": ({1: ("time",)}, "number", _part("hour")),
    "minute": ({1: ("time",)}, "number", _part("minute")),
    "second": ({1: ("time",)}, "number", lambda a: func.floor(_part("second")(a))),
    "fractionalseconds": (
        {1: ("time",)},
        "number",
        lambda a: _part("second")(a) - func.floor(_part("second")(a)),
    ),
    "date": ({1: ("time",)}, "time", lambda a: func.date_trunc("day", a, "UTC")),
    "time": (
        {1: ("time",)},
        "number",
        lambda a: cast(func.extract("epoch", _utc(a) - func.date_trunc("day", _utc(a))), Float),
    ),
    "totaloffsetminutes": ({1: ("time",)}, "number", lambda a: literal(0, BigInteger)),
    "now": ({0: ()}, "time", lambda: func.now()),
    "mindatetime": ({0: ()}, "time", lambda: literal(datetime.min.replace(tzinfo=UTC))),
    "maxdatetime": ({0: ()}, "time", lambda: literal(datetime.max.replace(tzinfo=UTC))),
    "round": ({1: ("number",)}, "number", lambda a: func.round(cast(a, Float))),
    "floor": ({1: ("number",)}, "number", lambda a: func.floor(a)),
    "ceiling": ({1: ("number",)}, "number", lambda a: func.ceiling(a)),
}
