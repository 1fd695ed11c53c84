"""Statements compiled once by SQLAlchemy, then run on the driver's own connection.

Why. On the order path (see ``hop``) every statement run through a SQLAlchemy
connection pays for its machinery again: the compiled-cache lookup, an execution context,
a result object, the type processing row by row; inside aiosqlite's worker thread that
was most of the time a fill's write took. Here a statement is compiled once for the
engine's dialect, together with its columns' bind processors (the column types' own
conversions: exact decimals as text and UTC times in SQLite's format, or as they are for
asyncpg), and a run is one ``executemany`` on a DB-API cursor. The SQL and the values
are SQLAlchemy's own, so what is stored reads back through the models unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class CompiledWrite:
    """An INSERT (or upsert) of ``table`` whose parameters are whole rows of it."""

    sql: str
    columns: tuple[tuple[str, Processor | None], ...]
    """Each parameter's column, in order, with its bind processor (None: as it is)."""

    @classmethod
    def of(cls, statement: ClauseElement, table: Table, dialect: Dialect) -> CompiledWrite:
        """``statement`` writing every column of ``table`` but a generated key."""
        compiled = statement.compile(dialect=dialect, column_keys=written_columns(table))
        assert isinstance(compiled, SQLCompiler)
        names = compiled.positiontup or ()
        columns = tuple((name, table.c[name].type.bind_processor(dialect)) for name in names)
        return cls(compiled.string, columns)

    def run(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = self.columns
        cursor.executemany(
            self.sql,
            [tuple(row[n] if p is None else p(row[n]) for n, p in columns) for row in rows],
        )


def written_columns(table: Table) -> list[str]:
    """Every column but a generated key (the database numbers those rows itself)."""
    generated = table.autoincrement_column
    return [c.name for c in table.columns if c is not generated]


def compiled_query(statement: ClauseElement, dialect: Dialect) -> str:
    """A query with its values written in (they are constants of the code, never input)."""
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
