"""A throwaway PostgreSQL database for a benchmark run (the one at 127.0.0.1:5432)."""

from __future__ import annotations

import uuid

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def create_pg_database() -> str | None:
    """A new empty database's name, or None (said on stdout) when PostgreSQL is not there."""
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except Exception as exc:
        print(f"postgresql: skipped ({exc})")
        return None
    name = f"td_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()
