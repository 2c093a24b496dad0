"""Pull connectors are data: ``schemas/connectors/<name>.yaml`` says which feed a department's
API serves, where its pages are, how to go from one page to the next, which headers (a key) it
wants and how often to ask. Loading checks every key, so a mistake fails at start naming the file
and the key, never mid-pull. docs/connectors.md describes the format."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from services.common.feeds import FeedDefinition
from services.common.settings import SettingsError, env_secret
from services.connectors.paging import NextLink, PageNumber, Paging, SinglePage

KEYS = frozenset(
    {"feed", "url", "records", "next", "page", "params", "headers", "every", "since", "timeout"}
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PERIOD = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TIMEOUT_S = 30.0


class ConnectorDefinitionError(ValueError):
    """A connector file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Since:
    """Incremental pulls: ``param`` carries the newest ``field`` value already pulled."""

    param: str
    field: str  # dotted path in a record


@dataclass(frozen=True, slots=True)
class Connector:
    name: str  # the file's name without .yaml: the metrics' label, the mark's key
    path: Path
    feed: str
    url: str
    records: str  # dotted path to a page's list of records; "" when the page is the list
    paging: Paging
    params: Mapping[str, str]  # fixed query parameters (never secrets: URLs are logged)
    every_s: int
    since: Since | None
    timeout_s: float
    # Resolved from the environment at load: kept out of repr, so out of every log line.
    headers: Mapping[str, str] = field(repr=False)
    header_sources: Mapping[str, str] = field(default_factory=dict)  # name -> as written


def load_connectors(
    paths: Iterable[Path], feeds: Mapping[str, FeedDefinition], env: Mapping[str, str]
) -> list[Connector]:
    """Each file's connector, checked; two files of the same name are refused."""
    connectors: dict[str, Connector] = {}
    for path in paths:
        connector = load_connector(path, feeds, env)
        if connector.name in connectors:
            raise ConnectorDefinitionError(
                f"{path}: connector {connector.name!r} is also {connectors[connector.name].path}"
            )
        connectors[connector.name] = connector
    return list(connectors.values())


def connector_files(directory: Path) -> list[Path]:
    """The connector definitions of a folder (``schemas/connectors``), none if there is none."""
    return sorted(directory.glob("*.yaml")) if directory.is_dir() else []


def load_connector(
    path: Path, feeds: Mapping[str, FeedDefinition], env: Mapping[str, str]
) -> Connector:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConnectorDefinitionError(f"{path}: not YAML ({_one_line(error)})") from None
    try:
        return _connector(path, raw, feeds, env)
    except _KeyError as error:
        raise ConnectorDefinitionError(f"{path}: {error.key}: {error.problem}") from None


class _KeyError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def _connector(
    path: Path, raw: Any, feeds: Mapping[str, FeedDefinition], env: Mapping[str, str]
) -> Connector:
    name = path.name.removesuffix(".yaml")
    if not isinstance(raw, dict):
        raise _KeyError("(file)", "must be a mapping of keys (feed, url, records, every, ...)")
    if not _NAME.match(name):
        raise _KeyError("(file name)", "use lower-case letters, digits and dashes")
    unknown = sorted(str(key) for key in raw if key not in KEYS)
    if unknown:
        raise _KeyError(unknown[0], f"unknown key (known: {', '.join(sorted(KEYS))})")
    for required in ("feed", "url", "records", "every"):
        if required not in raw:
            raise _KeyError(required, "missing")
    feed = _text(raw, "feed")
    if feed not in feeds:
        raise _KeyError("feed", f"unknown feed {feed!r} (known: {', '.join(sorted(feeds))})")
    headers, sources = _headers(raw.get("headers"), env)
    return Connector(
        name=name,
        path=path,
        feed=feed,
        url=_url(raw, env),
        records=_path(raw, "records", empty=True),
        paging=_paging(raw),
        params=_params(raw.get("params")),
        every_s=period_seconds(raw["every"], "every"),
        since=_since(raw.get("since")),
        timeout_s=_timeout(raw.get("timeout", DEFAULT_TIMEOUT_S)),
        headers=headers,
        header_sources=sources,
    )


def period_seconds(value: Any, key: str) -> int:
    """``90``, ``"90"``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` as seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        match = _PERIOD.match(str(value).strip()) if isinstance(value, str) else None
        if match is None:
            raise _KeyError(key, f"{value!r} is not a period (seconds, or like 90s, 15m, 1h, 1d)")
        seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds <= 0:
        raise _KeyError(key, "must be more than 0 seconds")
    return seconds


def _text(raw: Mapping[str, Any], key: str, where: str | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _KeyError(where or key, "must be a non-empty string")
    return value.strip()


def _path(
    raw: Mapping[str, Any], key: str, *, empty: bool = False, where: str | None = None
) -> str:
    value = raw.get(key)
    key = where or key
    if value is None and empty:
        return ""
    if not isinstance(value, str):
        raise _KeyError(key, "must be a dotted path (a string)")
    value = value.strip()
    if not value and not empty:
        raise _KeyError(key, "must be a dotted path, not empty")
    if value and ("[" in value or any(not part for part in value.split("."))):
        raise _KeyError(key, f"{value!r} is not a dotted path like data.items")
    return value


def _url(raw: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The URL, each ``${NAME}`` replaced by the environment's NAME: where a platform is (its
    address differs between a test bench and the province's), never a secret, as URLs are
    logged."""
    written = _text(raw, "url")

    def resolve(match: re.Match[str]) -> str:
        found = env.get(match[1])
        if not found:
            raise _KeyError("url", f"names ${{{match[1]}}}, which is not set in the environment")
        return found

    url = _REFERENCE.sub(resolve, written)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _KeyError("url", f"{url!r} is not an http:// or https:// URL")
    if parts.username or parts.password:
        raise _KeyError("url", "must hold no credentials: a key goes in headers, as ${NAME}")
    return url


def _paging(raw: Mapping[str, Any]) -> Paging:
    if "next" in raw and "page" in raw:
        raise _KeyError("page", "a connector pages by next link or by page number, not both")
    if "next" in raw:
        return NextLink(_path(raw, "next"))
    if "page" in raw:
        page = raw["page"]
        if not isinstance(page, dict) or set(page) - {"param", "start"}:
            raise _KeyError("page", "must be {param: <query parameter>, start: <first number>}")
        start = page.get("start", 1)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise _KeyError("page.start", "must be a whole number, 0 or more")
        return PageNumber(_text(page, "param", "page.param"), start)
    return SinglePage()


def _params(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _KeyError("params", "must map query parameters to values")
    params = {}
    for name, value in raw.items():
        if isinstance(value, dict | list) or value is None:
            raise _KeyError(f"params.{name}", "must be a single value")
        if _REFERENCE.search(str(value)):
            raise _KeyError(f"params.{name}", "URLs are logged: a secret goes in headers")
        params[str(name)] = str(value)
    return params


def _headers(raw: Any, env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Header values with each ``${NAME}`` replaced by the environment's NAME (or the content of
    the file NAME_FILE names): the secret is never in the definition itself."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise _KeyError("headers", "must map header names to values")
    headers, sources = {}, {}
    for name, value in raw.items():
        key = f"headers.{name}"
        if not isinstance(value, str):
            raise _KeyError(key, "must be a string (a secret as ${NAME})")

        def resolve(match: re.Match[str], key: str = key) -> str:
            try:
                found = env_secret(env, match[1])
            except SettingsError as error:
                raise _KeyError(key, str(error)) from None
            if not found:
                raise _KeyError(key, f"names ${{{match[1]}}}, which is not set in the environment")
            return found

        headers[str(name)] = _REFERENCE.sub(resolve, value)
        sources[str(name)] = value
    return headers, sources


def _since(raw: Any) -> Since | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"param", "field"}:
        raise _KeyError(
            "since", "must be {param: <query parameter>, field: <record field it follows>}"
        )
    return Since(
        param=_text(raw, "param", "since.param"), field=_path(raw, "field", where="since.field")
    )


def _timeout(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise _KeyError("timeout", "must be a number of seconds, more than 0")
    return float(raw)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
