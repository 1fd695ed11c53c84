import asyncio
import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from tradedeck.domain.errors import DomainError
from tradedeck.security.confirmations import (
    ConfirmationError,
    ConfirmationService,
    ConfirmationToken,
    PendingAction,
)
from tradedeck.storage.kv import MemoryKeyValueStore

from .conftest import FakeClock

SECRET = b"s" * 32
ALICE = 111
BOB = 222


@pytest.fixture
def store(clock: FakeClock) -> MemoryKeyValueStore:
    return MemoryKeyValueStore(clock=clock)


@pytest.fixture
def service(store: MemoryKeyValueStore, clock: FakeClock) -> ConfirmationService:
    return ConfirmationService(store, SECRET, ttl_seconds=30, clock=clock)


def buy(user_id: int = ALICE) -> PendingAction:
    return PendingAction(
        kind="buy",
        user_id=user_id,
        params={"symbol": "ETH/BTC", "amount": "0.5"},
        summary="Buy 0.5 ETH/BTC at market",
        created_at=1000.0,
    )


async def refused(
    service: ConfirmationService, user_id: int, token: ConfirmationToken, sig: str | None = None
) -> str:
    with pytest.raises(ConfirmationError) as info:
        await service.consume(user_id, token.id, token.signature if sig is None else sig)
    return info.value.code


async def test_create_then_consume_returns_the_action(service: ConfirmationService) -> None:
    token = await service.create(buy())
    assert await service.consume(ALICE, token.id, token.signature) == buy()


async def test_token_shape_and_signature(service: ConfirmationService, clock: FakeClock) -> None:
    token = await service.create(buy())
    assert len(token.id) == 8
    assert token.expires_at == clock.now + 30
    expected = hmac.new(SECRET, f"{token.id}:{ALICE}:buy".encode(), hashlib.sha256)
    assert token.signature == expected.hexdigest()[:16]


async def test_ids_are_random(service: ConfirmationService) -> None:
    ids = {(await service.create(buy())).id for _ in range(200)}
    assert len(ids) == 200


async def test_action_is_kept_server_side_with_the_ttl(
    service: ConfirmationService, store: MemoryKeyValueStore
) -> None:
    token = await service.create(buy())
    data = service.callback_data(token, "ok")
    assert "ETH" not in data and "0.5" not in data
    raw = await store.get(f"confirm:{token.id}")
    assert raw is not None and json.loads(raw)["action"]["params"]["amount"] == "0.5"


async def test_callback_data_round_trip_within_64_bytes(service: ConfirmationService) -> None:
    token = await service.create(buy(user_id=-(10**15)))
    for verb in ("ok", "no"):
        data = service.callback_data(token, verb)
        assert data == f"cf:{verb}:{token.id}:{token.signature}"
        assert len(data.encode()) <= 64
        assert service.parse_callback(data) == (verb, token.id, token.signature)


def test_callback_data_refuses_unknown_verb() -> None:
    token = ConfirmationToken(id="abcdefgh", signature="0" * 16, expires_at=0)
    with pytest.raises(ValueError):
        ConfirmationService.callback_data(token, "yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "cf:ok",
        "cf:go:abcdefgh:0123456789abcdef",
        "cf:ok:abcdefg:0123456789abcdef",
        "cf:ok:abcdefgh:0123456789abcde",
        "cf:ok:abcdefgh:0123456789ABCDEF",
        "cf:ok:abc:efgh:0123456789abcdef",
        "cf:ok:abcdefgh:0123456789abcdef:extra",
        "xx:ok:abcdefgh:0123456789abcdef",
        "cf:ok:abcdefgh:0123456789abcdef\n",
    ],
)
def test_parse_callback_refuses_anything_else(data: str) -> None:
    assert ConfirmationService.parse_callback(data) is None


async def test_second_tap_and_replay_are_expired(service: ConfirmationService) -> None:
    token = await service.create(buy())
    await service.consume(ALICE, token.id, token.signature)
    assert await refused(service, ALICE, token) == "expired"
    assert await refused(service, ALICE, token) == "expired"


async def test_expires_after_ttl(service: ConfirmationService, clock: FakeClock) -> None:
    token = await service.create(buy())
    clock.now += 30
    assert await refused(service, ALICE, token) == "expired"


async def test_service_deadline_holds_even_if_the_store_keeps_it(
    clock: FakeClock,
) -> None:
    # A store whose clock lags (or that sweeps lazily) must not stretch the TTL.
    lagging = FakeClock()
    service = ConfirmationService(MemoryKeyValueStore(clock=lagging), SECRET, clock=clock)
    token = await service.create(buy())
    clock.now += 31
    assert await refused(service, ALICE, token) == "expired"


async def test_unknown_id_is_expired(service: ConfirmationService) -> None:
    token = ConfirmationToken(id="AAAAAAAA", signature="0" * 16, expires_at=0)
    assert await refused(service, ALICE, token) == "expired"


async def test_bad_signature_is_forged_and_keeps_the_action(
    service: ConfirmationService,
) -> None:
    token = await service.create(buy())
    flipped = ("1" if token.signature[0] == "0" else "0") + token.signature[1:]
    assert await refused(service, ALICE, token, flipped) == "forged"
    assert await refused(service, ALICE, token, "zz") == "forged"
    assert await refused(service, ALICE, token, token.signature.upper()) == "forged"
    assert await service.consume(ALICE, token.id, token.signature) == buy()


async def test_malformed_id_is_forged(service: ConfirmationService) -> None:
    token = ConfirmationToken(id="../../etc", signature="0" * 16, expires_at=0)
    assert await refused(service, ALICE, token) == "forged"


async def test_signature_of_another_action_is_forged(service: ConfirmationService) -> None:
    first = await service.create(buy())
    second = await service.create(buy())
    assert await refused(service, ALICE, first, second.signature) == "forged"
    assert await service.consume(ALICE, first.id, first.signature) == buy()


async def test_signature_from_another_secret_is_forged(
    service: ConfirmationService, store: MemoryKeyValueStore, clock: FakeClock
) -> None:
    token = await service.create(buy())
    other = ConfirmationService(store, b"t" * 32, clock=clock)
    assert await refused(other, ALICE, token) == "forged"
    assert await service.consume(ALICE, token.id, token.signature) == buy()


async def test_foreign_press_is_refused_and_does_not_destroy(
    service: ConfirmationService,
) -> None:
    token = await service.create(buy(ALICE))
    assert await refused(service, BOB, token) == "foreign"
    with pytest.raises(ConfirmationError) as info:
        await service.cancel(BOB, token.id, token.signature)
    assert info.value.code == "foreign"
    assert await service.consume(ALICE, token.id, token.signature) == buy(ALICE)


async def test_cancel_discards_with_the_same_checks(service: ConfirmationService) -> None:
    token = await service.create(buy())
    with pytest.raises(ConfirmationError) as info:
        await service.cancel(ALICE, token.id, "0" * 16)
    assert info.value.code == "forged"
    assert await service.cancel(ALICE, token.id, token.signature) == buy()
    assert await refused(service, ALICE, token) == "expired"


async def test_concurrent_consumes_have_one_winner(service: ConfirmationService) -> None:
    token = await service.create(buy())
    results = await asyncio.gather(
        *(service.consume(ALICE, token.id, token.signature) for _ in range(10)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, PendingAction)]
    losers = [r for r in results if isinstance(r, ConfirmationError)]
    assert len(winners) == 1 and len(losers) == 9
    assert {e.code for e in losers} == {"expired"}


async def test_consume_and_cancel_race_has_one_winner(service: ConfirmationService) -> None:
    token = await service.create(buy())
    results = await asyncio.gather(
        service.consume(ALICE, token.id, token.signature),
        service.cancel(ALICE, token.id, token.signature),
        return_exceptions=True,
    )
    assert sum(isinstance(r, PendingAction) for r in results) == 1


async def test_corrupt_stored_value_is_refused(
    service: ConfirmationService, store: MemoryKeyValueStore
) -> None:
    token = await service.create(buy())
    await store.set(f"confirm:{token.id}", "{not json")
    assert await refused(service, ALICE, token) == "expired"


def test_error_is_a_domain_error_with_code_and_detail() -> None:
    error = ConfirmationError("forged", "nope")
    assert isinstance(error, DomainError)
    assert (error.code, error.detail) == ("forged", "nope")


@pytest.mark.parametrize("secret", [b"", b"short"])
def test_short_secret_is_refused(store: MemoryKeyValueStore, secret: bytes) -> None:
    with pytest.raises(ValueError):
        ConfirmationService(store, secret)


@pytest.mark.parametrize("ttl", [0, -1, float("inf")])
def test_bad_ttl_is_refused(store: MemoryKeyValueStore, ttl: float) -> None:
    with pytest.raises(ValueError):
        ConfirmationService(store, SECRET, ttl_seconds=ttl)


@pytest.mark.parametrize("kind", ["", "Buy", "buy:sell", "x" * 33])
def test_kind_is_a_plain_name(kind: str) -> None:
    with pytest.raises(ValidationError):
        PendingAction(kind=kind, user_id=1, params={}, summary="s", created_at=0)


@pytest.mark.parametrize(
    "kind", ["buy", "sell", "close", "cancel_order", "kill", "resume", "risk_limits"]
)
async def test_every_dangerous_kind_round_trips(service: ConfirmationService, kind: str) -> None:
    action = PendingAction(kind=kind, user_id=ALICE, params={"x": "1"}, summary="s")
    token = await service.create(action)
    assert await service.consume(ALICE, token.id, token.signature) == action
