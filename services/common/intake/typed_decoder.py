"""A feed's JSON Schema compiled once to a msgspec decoder: JSON text decoded and validated in
one pass, in C, for the valid majority (3.5 us a message for orjson and the compiled schema
validator together, about 1 for this).

It is only a fast path, so it must never accept what the reference way refuses: a schema using
anything it cannot express exactly gets no decoder, and whatever the decoder refuses goes the
reference way (``decode``, then the schema validator), which words the rejection. What it
decodes equals what orjson would (unknown members are left out, so a feed whose mapping reads a
path its schema does not declare gets no decoder either; integers stay within orjson's 64 bits).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Required, TypedDict, Union

import msgspec
from fastjsonschema.draft04 import DOLLAR_FINDER
from fastjsonschema.draft07 import CodeGeneratorDraft07

# A number too large for a double, which orjson refuses anywhere but the decoder only checks in
# the members it reads: looked for as a 3-digit exponent or a 100-digit run (more than it
# takes; such a record goes the reference way), in the record's bytes with every digit made
# "0", "E" made "e", signs dropped and anything else a space (a regex costs ten times as much).
NUMBER_SHAPES = bytes(
    ord("0") if chr(b) in "0123456789" else ord("e") if chr(b) in "eE" else ord(" ")
    for b in range(256)
)
LONG_RUN = b"0" * 100


def _may_overflow(value: bytes) -> bool:
    shapes = value.translate(NUMBER_SHAPES, b"+-")
    return b"e000" in shapes or LONG_RUN in shapes


ANNOTATIONS = {"title", "description", "$schema", "$id", "$comment", "examples"}
KEYWORDS = {
    "object": {"type", "properties", "required"},
    "array": {"type", "items", "minItems"},
    "string": {"type", "minLength", "maxLength", "pattern", "format"},
    "integer": {"type", "minimum", "maximum"},
    "number": {"type", "minimum", "maximum"},
    "boolean": {"type"},
}
# orjson reads integers of 64 bits as int, larger ones as float: keep within what both read as
# an int (msgspec bounds are signed 64-bit; a larger one goes the reference way).
INT_RANGE = (-(2**63), 2**63 - 1)


class Inexpressible(ValueError):
    """The schema uses something the decoder could not check exactly as the validator does."""


class TypedDecoder:
    def __init__(self, message_type: Any) -> None:
        self._decoder = msgspec.json.Decoder(message_type)

    def __call__(self, value: bytes) -> dict[str, Any] | None:
        """The record's message, or None where the reference way must decide."""
        try:
            # Strict UTF-8 first: the decoder would pass bad bytes inside members it leaves out.
            value.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if _may_overflow(value):
            return None
        try:
            message: dict[str, Any] = self._decoder.decode(value)  # bytes: faster than text
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        return message


def typed_decoder(schema: dict[str, Any], paths: Iterable[str]) -> TypedDecoder | None:
    """The schema's decoder, or None where it cannot stand in for the reference way exactly:
    ``paths``, the dotted paths the feed's mapping reads, must all be declared."""
    try:
        message_type = _type_of(schema, "message")
    except Inexpressible:
        return None
    if not all(_declared(schema, path) for path in paths):
        return None
    return TypedDecoder(message_type)


def _type_of(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        raise Inexpressible(name)
    keywords = node.keys() - ANNOTATIONS
    if "enum" in node:
        values = node["enum"]
        if keywords - {"enum", "type"} or node.get("type", "string") != "string":
            raise Inexpressible(name)
        if not values or not all(isinstance(v, str) for v in values):
            raise Inexpressible(name)
        return Literal[tuple(values)]
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in KEYWORDS or keywords - KEYWORDS[kind]:
        raise Inexpressible(name)
    if kind == "object":
        return _object(node, name)
    if kind == "array":
        items = _type_of(node.get("items"), f"{name}_item")
        return Annotated[list[items], msgspec.Meta(min_length=node.get("minItems"))]  # type: ignore[valid-type]
    if kind == "string":
        return Annotated[str, _string_meta(node, name)]
    if kind == "boolean":
        return bool
    low, high = node.get("minimum"), node.get("maximum")
    if kind == "integer":
        if not all(b is None or type(b) is int for b in (low, high)):
            raise Inexpressible(name)
        return Annotated[int, _int_meta(low, high)]
    if not all(b is None or type(b) in (int, float) for b in (low, high)):
        raise Inexpressible(name)
    # A number is either, as orjson gives it: an integer stays an int.
    as_int = Annotated[int, _int_meta(low, high)]
    as_float = Annotated[float, msgspec.Meta(ge=low, le=high)]
    return Union[as_int, as_float]  # noqa: UP007


def _object(node: dict[str, Any], name: str) -> Any:
    properties = node.get("properties", {})
    required = node.get("required", [])
    if not isinstance(properties, dict) or not set(required) <= properties.keys():
        raise Inexpressible(name)  # a required member not declared would be left out unseen
    fields = {}
    for key, sub in properties.items():
        member = _type_of(sub, f"{name}_{key}")
        fields[key] = Required[member] if key in required else member
    return TypedDict(f"{name}_object", fields, total=False)  # type: ignore[operator]


def _string_meta(node: dict[str, Any], name: str) -> msgspec.Meta:
    pattern = node.get("pattern")
    if "format" in node:
        regex = CodeGeneratorDraft07.FORMAT_REGEXS.get(node["format"])
        # The validator matches a format's regex at the start: the same as a search from "^".
        if pattern is not None or regex is None or not regex.startswith("^"):
            raise Inexpressible(name)
        pattern = regex
    elif pattern is not None:
        pattern = DOLLAR_FINDER.sub(r"\\Z", pattern)  # "$" as the validator reads it: the end
    return msgspec.Meta(
        min_length=node.get("minLength"), max_length=node.get("maxLength"), pattern=pattern
    )


def _int_meta(low: float | None, high: float | None) -> msgspec.Meta:
    lowest = INT_RANGE[0] if low is None else max(int(-(-low // 1)), INT_RANGE[0])
    highest = INT_RANGE[1] if high is None else min(int(high // 1), INT_RANGE[1])
    return msgspec.Meta(ge=lowest, le=highest)


def _declared(schema: dict[str, Any], path: str) -> bool:
    """Whether the schema declares every member on a dotted path (``lanes[].vehicles``)."""
    node: Any = schema
    for part in path.split("."):
        listed = part.endswith("[]")
        node = node.get("properties", {}).get(part.removesuffix("[]"))
        if not isinstance(node, dict):
            return False
        if listed:
            node = node.get("items")
            if not isinstance(node, dict):
                return False
    return True
