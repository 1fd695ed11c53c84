"""The order path's write on PostgreSQL as one statement: one round trip.

Why. Storing an order's update is up to five upserts and inserts plus the kill-switch
read. Through asyncpg every statement is a round trip of its own, and with BEGIN and
COMMIT that made about eight per order: most of the latency a live order adds on
PostgreSQL. Here a single statement writes every table: each table's rows travel as one
JSON parameter (exact decimals as text, aware times in ISO 8601) and a data-modifying CTE
per table reads them with ``jsonb_populate_recordset``. A statement is a transaction of its own
(the connection is in autocommit), so the write is all or nothing; with a guard, every
part of it is conditioned on the guard's query finding nothing in the same snapshot, and
the guard's row comes back to say why nothing was written.

The SQL is generated from the tables' metadata (columns and keys), so it follows the
schema; PostgreSQL turns each JSON value into its column's type. (One array parameter per
column, through ``unnest``, measured slower: asyncpg checks every element it encodes.)
It runs on the order path's own asyncpg connection (``direct_pg``), as a prepared
statement asyncpg keeps per shape of update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects import postgresql

from tradedeck.storage.compiled import compiled_query, written_columns
from tradedeck.storage.direct_pg import DirectConnection

Row = Mapping[str, Any]
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_QUOTE = _DIALECT.identifier_preparer.quote


@dataclass(frozen=True, slots=True)
class Target:
    """A table the statement writes: rows with the same ``keys`` replace the stored row
    (an upsert); without keys, rows are inserted."""

    table: Table
    keys: tuple[str, ...] = ()


class OneStatementWriter:
    """Writes rows into several tables with one statement, optionally guarded.

    The statement's commit does not wait for the WAL to reach the disk
    (``synchronous_commit`` off for that transaction alone: the flush was 0.5-0.7 ms of
    an order's write). PostgreSQL stays consistent
    through any crash, and any later durable commit flushes these too; what a power cut
    can take is the last fraction of a second of them, as SQLite's WAL at
    ``synchronous=NORMAL`` (the embedded default) can."""

    def __init__(
        self,
        connection: DirectConnection,
        targets: Sequence[Target],
        guard: Select[Any],
    ) -> None:
        self._connection = connection
        self._targets = list(targets)
        self._by_name = {t.table.name: t for t in self._targets}
        self._columns = {t.table.name: written_columns(t.table) for t in self._targets}
        self._guard = compiled_query(guard, _DIALECT)
        self._statements: dict[tuple[tuple[str, ...], bool], str] = {}

    async def write(self, rows: Mapping[str, Sequence[Row]], *, guarded: bool) -> Row | None:
        """Write ``rows`` (by table name; empty lists are skipped). With ``guarded``, the
        guard's first row when it finds one, and then nothing is written; else None."""
        present = tuple(t.table.name for t in self._targets if rows.get(t.table.name))
        if not present and not guarded:
            return None
        params = [self._json(name, rows[name]) for name in present]
        found = await self._connection.fetchrow(self._statement(present, guarded), *params)
        if not guarded or found is None or not found["halted"]:
            return None
        return {k: v for k, v in found.items() if k != "halted"}

    def _json(self, name: str, rows: Sequence[Row]) -> str:
        """The rows as a JSON array of objects, one key per written column."""
        keys = self._by_name[name].keys
        if keys:  # one row per key, the last one winning, as a run of upserts would
            rows = list({tuple(r[k] for k in keys): r for r in rows}.values())
        columns = self._columns[name]
        return json.dumps(
            [{c: row[c] for c in columns} for row in rows],
            default=_json_value,
            separators=(",", ":"),
        )

    def _statement(self, present: tuple[str, ...], guarded: bool) -> str:
        key = (present, guarded)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self._sql(present, guarded)
        return statement

    def _sql(self, present: tuple[str, ...], guarded: bool) -> str:
        guard = f"SELECT true AS halted, q.* FROM ({self._guard}) AS q"  # noqa: S608 - ours
        parts = [f"guard AS ({guard})"] if guarded else []
        condition = " WHERE NOT EXISTS (SELECT 1 FROM guard)" if guarded else ""
        for i, name in enumerate(present):
            target = self._by_name[name]
            written = self._columns[name]
            columns = ", ".join(_QUOTE(c) for c in written)
            table = _QUOTE(name)
            source = f"jsonb_populate_recordset(NULL::{table}, CAST(${i + 1} AS text)::jsonb)"
            # Names come from the schema, quoted; every value is bound.
            sql = f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}"  # noqa: S608
            sql += condition
            if target.keys:
                keys = ", ".join(_QUOTE(k) for k in target.keys)
                updates = ", ".join(
                    f"{_QUOTE(c)} = EXCLUDED.{_QUOTE(c)}"
                    for c in self._columns[name]
                    if c not in target.keys
                )
                sql += f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
            parts.append(f"write_{i} AS ({sql})")
        # One row, always: it carries the commit mode, so that set_config is evaluated.
        final = "SELECT set_config('synchronous_commit', 'off', true) AS commit_mode"
        if guarded:
            final = f"SELECT g.* FROM ({final}) AS m LEFT JOIN guard AS g ON true"  # noqa: S608
        return f"WITH {', '.join(parts)} {final}"


def _json_value(value: object) -> str:
    """What ``json`` cannot write itself: exact decimals, and aware times (as the column
    types bind them: a naive time is refused, not guessed)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")
