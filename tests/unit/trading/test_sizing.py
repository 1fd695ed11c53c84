from decimal import Decimal

import pytest

from tradedeck.domain.errors import InvalidInput
from tradedeck.trading.sizing import atr_based, fixed_fractional, half_kelly


def test_fixed_fractional_loses_exactly_the_risk_at_the_stop() -> None:
    amount = fixed_fractional(Decimal(10_000), Decimal(1), Decimal(100), Decimal(95))
    assert amount == Decimal(20)
    assert amount * (Decimal(100) - Decimal(95)) == Decimal(100)  # 1% of 10,000


def test_fixed_fractional_without_stop_is_a_share_of_equity() -> None:
    assert fixed_fractional(Decimal(10_000), Decimal(10), Decimal(50)) == Decimal(20)


def test_atr_based_places_the_stop_multiplier_atrs_away() -> None:
    assert atr_based(Decimal(10_000), Decimal(2), Decimal(5), Decimal(2)) == Decimal(20)


def test_half_kelly() -> None:
    assert half_kelly(Decimal("0.6"), Decimal(1)) == Decimal("0.1")
    assert half_kelly(Decimal("0.3"), Decimal(1)) == 0  # no edge: bet nothing


@pytest.mark.parametrize(
    "call",
    [
        lambda: fixed_fractional(Decimal(1), Decimal(0), Decimal(1)),
        lambda: fixed_fractional(Decimal(1), Decimal(1), Decimal(1), Decimal(1)),
        lambda: atr_based(Decimal(1), Decimal(1), Decimal(0)),
        lambda: half_kelly(Decimal(2), Decimal(1)),
    ],
)
def test_nonsense_inputs_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        call()
