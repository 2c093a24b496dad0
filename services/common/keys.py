"""API keys: random tokens shown once, stored only as SHA-256 hashes.

A key is 32 random bytes, so a fast hash is enough: there is nothing to brute-force. Lookup is by
the hash, so no stored secret is ever compared with the presented one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

KeyKind = Literal["agency", "reader"]
PREFIX = "ioc_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for."""

    key_id: int
    kind: KeyKind
    subject: str  # the agency id, or the reader's name


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_key(connection: Any, kind: KeyKind, subject: str) -> tuple[int, str]:
    """Stores a new key's hash; returns its id and the key itself, which is never stored."""
    key = new_key()
    key_id: int = await connection.fetchval(
        "INSERT INTO api_keys (kind, subject, key_hash) VALUES ($1, $2, $3) RETURNING id",
        kind,
        subject,
        hash_key(key),
    )
    return key_id, key


async def list_keys(connection: Any) -> list[Any]:
    rows: list[Any] = await connection.fetch(
        "SELECT id, kind, subject, created_at, revoked_at FROM api_keys ORDER BY id"
    )
    return rows


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
