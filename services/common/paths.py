"""Dotted paths into a department's message (``tram.ma``, ``lanes[].vehicles``): the one reader
the normaliser, the simulator and its fault injector share."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


class PathMissing(LookupError):
    """The message has nothing at the path; the text says which part."""


def path_reader(path: str) -> Callable[[Any], Any]:
    """Compiles a dotted path; ``lanes[].vehicles`` reads every lane's vehicles as a list.
    The reader raises ``PathMissing`` where the message has nothing there."""
    if "[]" in path:
        list_path, _, item_path = path.partition("[]")
        read_list = path_reader(list_path)
        read_item = path_reader(item_path.removeprefix(".")) if item_path else None

        def read_each(message: Any) -> list[Any]:
            items = read_list(message)
            if not isinstance(items, list) or not items:
                raise PathMissing(f"{list_path} must be a non-empty list")
            return [read_item(item) for item in items] if read_item else items

        return read_each
    keys = tuple(path.split("."))
    if len(keys) == 1:  # most paths: one step, without the loop
        (key,) = keys

        def read_one(message: Any) -> Any:
            try:
                return message[key]
            except (KeyError, TypeError, IndexError):
                raise PathMissing(f"{path} is missing") from None

        return read_one

    def read(message: Any) -> Any:
        try:
            for key in keys:
                message = message[key]
        except (KeyError, TypeError, IndexError):
            raise PathMissing(f"{path} is missing") from None
        return message

    return read


def value_at(message: Any, path: str) -> Any:
    """What the message holds at ``path``, or None."""
    try:
        return path_reader(path)(message)
    except PathMissing:
        return None


def with_value_at(message: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the message with ``path`` set; the message itself where the path is not there
    already or runs through a list (``a[].b``)."""
    if "[" in path or value_at(message, path) is None:
        return message
    changed = copy.deepcopy(message)
    *parents, leaf = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    target[leaf] = value
    return changed


def holding(path: str, value: Any) -> dict[str, Any]:
    """A message holding ``value`` at the dotted ``path`` (no lists) and nothing else."""
    message: dict[str, Any] = {}
    target = message
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value
    return message
