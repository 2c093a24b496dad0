"""The units register in the store: what the unit files say, for readers of the store alone
(Grafana's names and kinds)."""

from __future__ import annotations

from typing import Any

from services.common.units import Units


async def record(connection: Any, units: Units) -> None:
    """The store's units become exactly the files' (several API processes starting at once
    write the same rows)."""
    rows = [(u.code, u.kind, u.name, u.name_en) for u in units.by_code.values()]
    async with connection.transaction():
        await connection.executemany(
            "INSERT INTO units (code, kind, name, name_en) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,"
            " name_en = EXCLUDED.name_en",
            rows,
        )
        await connection.execute(
            "DELETE FROM units WHERE code <> ALL($1::text[])", [code for code, *_ in rows]
        )
