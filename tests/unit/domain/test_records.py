"""The trading path's records: hand-written constructors and copies that must not drift
from the fields they serve.

Their ``__init__`` and ``copy`` are written out (mypyc compiles those; a generated
``__init__`` stays interpreted), so a field added later and forgotten in either would
be silently dropped or left at its default. These tests build every record with a
distinct value of its own type in every field, by keyword and by position, and check
each value arrives; and that a record built from its required fields alone has the
defaults the dataclass declares.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import enum
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import Fill, Order, OrderType, Side
from tradedeck.domain.positions import Position
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.risk import OrderCheck

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WRITTEN_OUT = [Order, Fill, Balance, Position, Candle, ExchangeUpdate, OrderRequest, OrderCheck]


def _field_kinds(cls: type[object]) -> dict[str, tuple[str, object]]:
    """Each field's declared type, read off the source: a compiled class keeps only a
    rough runtime type in its annotations (``int | None`` becomes ``type``)."""
    module = sys.modules[cls.__module__]
    source = Path(module.__file__ or "").with_name(cls.__module__.rsplit(".", 1)[-1] + ".py")
    tree = ast.parse(source.read_text())
    body = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    kinds: dict[str, tuple[str, object]] = {}
    for statement in body.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            text = ast.unparse(statement.annotation)
            first = next(o.strip() for o in text.split("|") if o.strip() != "None")
            head = first.split("[", 1)[0]
            kinds[statement.target.id] = (head, vars(module).get(head, vars(builtins).get(head)))
    return kinds


def _distinct_value(head: str, kind: object, number: int) -> object:
    """A value of the field's own type (the compiled build checks types), unlike every
    other field's and unlike the field's default."""
    if head == "dict":
        return {f"key-{number}": f"value-{number}"}
    if head == "list":
        return [f"item-{number}"]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return list(kind)[-1]
    if kind is bool:
        return True
    if kind is int:
        return 1000 + number
    if kind is D:
        return D(number) + D("0.5")
    if kind is datetime:
        return T0 + timedelta(days=number)
    assert kind is str, f"no sample value for {head}"
    return f"value-{number}"


def every_field_set(cls: type[object]) -> dict[str, object]:
    kinds = _field_kinds(cls)
    return {
        field.name: _distinct_value(*kinds[field.name], number)
        for number, field in enumerate(dataclasses.fields(cls))  # type: ignore[arg-type]
    }


def _values(record: object) -> dict[str, object]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_every_field_reaches_the_record_by_keyword_and_by_position(cls: type[object]) -> None:
    values = every_field_set(cls)
    assert _values(cls(**values)) == values
    assert _values(cls(*values.values())) == values


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_a_record_of_its_required_fields_has_the_declared_defaults(cls: type[object]) -> None:
    values = every_field_set(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    required = {
        f.name: values[f.name]
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    record = cls(**required)
    for f in fields:
        if f.name in required:
            continue
        expected = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        assert getattr(record, f.name) == expected, f.name
    second = cls(**required)
    for f in fields:  # a default container is the record's own, never shared
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(second, f.name) is not getattr(record, f.name), f.name


@pytest.mark.parametrize("cls", [Order, Balance, Position], ids=lambda c: c.__name__)
def test_fast_copies_carry_every_field_and_share_no_state(cls: type[object]) -> None:
    original = cls(**every_field_set(cls))
    clone = original.copy()  # type: ignore[attr-defined]
    assert type(clone) is cls
    assert clone == original
    assert clone is not original
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    assert _values(clone) == every_field_set(cls)
    setattr(clone, fields[0].name, "changed")
    assert getattr(original, fields[0].name) == "value-0"


def test_a_fill_stamped_with_its_pnl_keeps_everything_else() -> None:
    fill = Fill(**every_field_set(Fill))  # type: ignore[arg-type]
    stamped = fill.with_realized_pnl(D("1.5"))
    assert stamped == dataclasses.replace(fill, realized_pnl=D("1.5"))


def test_an_order_request_still_refuses_a_source_it_could_not_store() -> None:
    with pytest.raises(InvalidInput) as refused:
        OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, D(1), source="x" * 65)
    assert refused.value.code == "invalid_source"
    with pytest.raises(InvalidInput):
        OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, D(1), source="")
