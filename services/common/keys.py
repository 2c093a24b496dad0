"""API keys: random tokens shown once, stored only as SHA-256 hashes.

A key is 32 random bytes, so a fast hash is enough: there is nothing to brute-force. Lookup is by
the hash, so no stored secret is ever compared with the presented one. Its first characters (the
``prefix``: ``ioc_`` and 8 of its 43) are kept and shown, so an operator can tell which key a
wall holds; what is left is still 210 random bits. A label says what the key is for, and the
API notes when each was last used (``services/api/key_usage.py``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

KeyKind = Literal["agency", "reader", "operator"]
KEY_KINDS: tuple[KeyKind, ...] = ("agency", "reader", "operator")
PREFIX = "ioc_"
SHOWN = 8  # random characters of the prefix
LABEL_MAX = 200  # characters (the column's CHECK)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for."""

    key_id: int
    kind: KeyKind
    subject: str  # the agency id, or the reader's or operator's name


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    """The first characters of a key, shown where the key may not be (``ioc_AbCd1234``)."""
    return key[: len(PREFIX) + SHOWN]


async def issue_key(
    connection: Any, kind: KeyKind, subject: str, label: str | None = None
) -> tuple[int, str]:
    """Stores a new key's hash and prefix; returns its id and the key itself, never stored."""
    key = new_key()
    key_id: int = await connection.fetchval(
        "INSERT INTO api_keys (kind, subject, key_hash, prefix, label)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        kind,
        subject,
        hash_key(key),
        key_prefix(key),
        label,
    )
    return key_id, key


async def list_keys(
    connection: Any, *, kind: KeyKind | None = None, subject: str | None = None
) -> list[Any]:
    """Every key by id, or those of one kind, or one subject (a unit's code, a reader's name)."""
    rows: list[Any] = await connection.fetch(
        "SELECT id, kind, subject, prefix, label, created_at, last_used_at, revoked_at"
        " FROM api_keys WHERE ($1::text IS NULL OR kind = $1)"
        " AND ($2::text IS NULL OR subject = $2) ORDER BY id",
        kind,
        subject,
    )
    return rows


async def record_uses(connection: Any, uses: Mapping[int, datetime]) -> None:
    """When keys were last used (by id), in one statement; a time never moves back."""
    if not uses:
        return
    await connection.execute(
        "UPDATE api_keys k SET last_used_at = u.at"
        " FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)"
        " WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
        list(uses),
        list(uses.values()),
    )


async def revoke_key(connection: Any, key_id: int) -> bool:
    """Revokes a key at once (every API process looks keys up per request); False if unknown."""
    status: str = await connection.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", key_id
    )
    return status == "UPDATE 1"


async def find_principal_by_hash(connection: Any, key_hash: str) -> Principal | None:
    row = await connection.fetchrow(
        "SELECT id, kind, subject FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )
    if row is None:
        return None
    return Principal(key_id=row["id"], kind=row["kind"], subject=row["subject"])


async def key_is_live(connection: Any, key_id: int) -> bool:
    """Whether the key is still known and not revoked: what an open stream asks now and then."""
    live: bool | None = await connection.fetchval(
        "SELECT revoked_at IS NULL FROM api_keys WHERE id = $1", key_id
    )
    return live is True
