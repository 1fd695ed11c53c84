"""The live exchange settings: start-up errors name the setting, secrets never show."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tradedeck.config import Settings, describe_error
from tradedeck.exchanges.ccxt_live.models import MarginMode, MarketKind
from tradedeck.exchanges.ccxt_live.settings import LiveSettings, is_live, live_settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def startup_error(**values: Any) -> str:
    with pytest.raises(ValidationError) as failed:
        settings(**values)
    return describe_error(failed.value)


def test_paper_is_the_default_and_needs_no_keys() -> None:
    paper = settings()
    assert paper.exchange == "paper" and not is_live(paper)
    with pytest.raises(ValueError, match="TRADEDECK_EXCHANGE is paper"):
        live_settings(paper)


def test_unknown_exchange_id_names_the_setting_and_suggests() -> None:
    assert startup_error(exchange="binanse") == (
        "invalid setting TRADEDECK_EXCHANGE: Value error, 'binanse' is not a ccxt exchange "
        "id (did you mean binance, binanceus?), nor 'paper'"
    )


def test_live_without_keys_is_refused() -> None:
    assert startup_error(exchange="binance", exchange_api_key="k") == (
        "invalid setting TRADEDECK_EXCHANGE: Value error, live trading on binance needs "
        "TRADEDECK_EXCHANGE_API_SECRET (or the *_FILE variant); set TRADEDECK_EXCHANGE=paper "
        "to paper-trade"
    )


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEDECK_EXCHANGE", "Binance")
    monkeypatch.setenv("TRADEDECK_EXCHANGE_API_KEY", "the-key")
    monkeypatch.setenv("TRADEDECK_EXCHANGE_API_SECRET", "the-secret")
    monkeypatch.setenv("TRADEDECK_EXCHANGE_MARKET_TYPE", "perpetual")
    monkeypatch.setenv("TRADEDECK_EXCHANGE_LEVERAGE", "5")
    monkeypatch.setenv("TRADEDECK_EXCHANGE_MARKETS_REFRESH_HOURS", "6")
    live = live_settings(settings())
    assert live.exchange == "binance"
    assert live.market_type is MarketKind.PERPETUAL
    assert live.leverage == 5 and live.margin_mode is MarginMode.ISOLATED
    assert live.markets_refresh == timedelta(hours=6)
    assert live.api_key is not None and live.api_key.get_secret_value() == "the-key"
    assert live.has_keys


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    key, secret = tmp_path / "key", tmp_path / "secret"
    key.write_text("file-key\n")
    secret.write_text("file-secret\n")
    live = live_settings(
        settings(exchange="binance", exchange_api_key_file=key, exchange_api_secret_file=secret)
    )
    assert live.api_key is not None and live.api_key.get_secret_value() == "file-key"
    assert live.api_secret is not None and live.api_secret.get_secret_value() == "file-secret"


def test_a_secret_and_its_file_together_is_an_error(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("file-key")
    message = startup_error(
        exchange="binance",
        exchange_api_key="direct-key",
        exchange_api_key_file=key,
        exchange_api_secret="s",
    )
    assert message == (
        "invalid setting TRADEDECK_EXCHANGE_API_KEY: Value error, give either "
        "TRADEDECK_EXCHANGE_API_KEY or TRADEDECK_EXCHANGE_API_KEY_FILE, not both"
    )
    assert "direct-key" not in message and "file-key" not in message


def test_missing_or_empty_key_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert startup_error(exchange_api_secret_file=missing) == (
        "invalid setting TRADEDECK_EXCHANGE_API_SECRET: Value error, "
        f"TRADEDECK_EXCHANGE_API_SECRET_FILE {missing} cannot be read: No such file or directory"
    )
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert startup_error(exchange_api_secret_file=empty).endswith(
        f"TRADEDECK_EXCHANGE_API_SECRET_FILE {empty} is empty"
    )


def test_secrets_never_appear_in_repr() -> None:
    configured = settings(
        exchange="binance",
        exchange_api_key="visible-if-leaked-key",
        exchange_api_secret="visible-if-leaked-secret",
        exchange_api_password="visible-if-leaked-pass",
    )
    live = live_settings(configured)
    for text in (repr(configured), str(configured), repr(live), str(live)):
        assert "visible-if-leaked" not in text


def test_api_url_must_be_http() -> None:
    assert startup_error(exchange_api_url="127.0.0.1:8765") == (
        "invalid setting TRADEDECK_EXCHANGE_API_URL: Value error, must be an http(s) URL"
    )
    url = settings(exchange_api_url="http://127.0.0.1:8765/").exchange_api_url
    assert url == "http://127.0.0.1:8765"


def test_a_bundle_can_be_built_directly_for_public_data() -> None:
    public = LiveSettings(exchange="binance")
    assert not public.has_keys and public.market_type is MarketKind.SPOT
