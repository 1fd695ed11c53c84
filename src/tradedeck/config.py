"""Settings from the environment (prefix TRADEDECK_), a `.env` file, or defaults.

With nothing configured tradedeck runs embedded: SQLite in the data directory, the paper
exchange on replayed real candles. Every value is validated once at start-up, and a bad
one stops the process with a single line naming the variable.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradedeck.domain.candles import TIMEFRAME_SECONDS, check_timeframe

ENV_PREFIX = "TRADEDECK_"


class StrategyRun(BaseModel):
    """One strategy run live on one market: an entry of ``TRADEDECK_STRATEGIES``.

    Whether the strategy exists and its params are valid is checked at start-up, once the
    user's strategy files are loaded; here only the shape is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(min_length=1, max_length=40)
    symbol: str = Field(min_length=3, max_length=40)
    timeframe: str | None = Field(
        default=None, description="must be the market's replayed timeframe; None = that one"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    amount: Decimal | None = Field(default=None, gt=0, description="base amount per entry")
    risk_percent: Decimal | None = Field(
        default=None, gt=0, le=100, description="equity % at risk per entry (to the stop)"
    )

    @field_validator("strategy")
    @classmethod
    def _strategy_name(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return check_timeframe(value)

    @model_validator(mode="after")
    def _one_size(self) -> StrategyRun:
        if (self.amount is None) == (self.risk_percent is None):
            raise ValueError("give exactly one of amount or risk_percent")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Path(".tradedeck")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default SQLite in DATA_DIR"
    )
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True

    # Paper exchange
    paper_balances: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=lambda: {"BTC": Decimal(1), "USD": Decimal(10000), "USDT": Decimal(10000)}
    )
    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    slippage_bps: Decimal = Field(default=Decimal(5), ge=0, le=1000)
    volume_share: Decimal = Field(default=Decimal("0.25"), ge=0, le=1)
    replay_speed: float = Field(default=300.0, gt=0, description="replayed seconds per real second")
    markets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    valuation_currency: str = "BTC"

    # Risk limits (defaults; an admin can change them at run time)
    max_order_notional_trader: Decimal = Field(default=Decimal("0.5"), gt=0)
    max_order_notional_admin: Decimal = Field(default=Decimal(2), gt=0)
    max_exposure_pct: Decimal = Field(default=Decimal(50), gt=0, le=100)
    max_positions: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=0.0, ge=0)
    daily_drawdown_pct: Decimal = Field(default=Decimal(10), gt=0, le=100)
    max_consecutive_rejections: int = Field(default=10, ge=1)

    # Telegram: no token = the local sandbox (emulated Bot API + web chat at /sandbox);
    # a token and a public URL = webhook; a token alone = long polling; "off" disables it.
    telegram: Literal["auto", "off"] = "auto"
    telegram_token: SecretStr | None = None
    public_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_admins: Annotated[list[int], NoDecode] = Field(default_factory=list)
    trades_per_minute: int = Field(default=5, ge=1)
    commands_per_minute: int = Field(default=30, ge=1)
    telegram_admin_chat: int | None = Field(
        default=None,
        description="chat id of the admin channel for security events (unknown users, "
        "rate-limit breaches, kill switch); unset = every admin's private chat",
    )

    # Notifications: critical and high priority are sent at once; medium (scanner signals)
    # and low (informational) are sent as one digest per chat per window. With REDIS_URL
    # set, events go through a Redis stream read by a consumer group (at least once).
    notify_medium_interval_seconds: float = Field(default=300.0, gt=0)
    notify_low_interval_seconds: float = Field(default=1800.0, gt=0)
    notify_stream: str = Field(default="tradedeck:events", min_length=1)
    notify_stream_maxlen: int = Field(default=100_000, ge=100)
    notify_consumer: str | None = Field(
        default=None, description="consumer name in the group; default the host name"
    )
    notify_claim_idle_seconds: float = Field(
        default=60.0, gt=0, description="pending events idle this long are taken over"
    )
    notify_dedup_ttl_seconds: float = Field(default=172_800.0, gt=0)

    # Signal webhook
    signal_secret: SecretStr | None = None
    signal_max_age_seconds: float = Field(default=30.0, gt=0)

    # Market scanner and scheduled jobs (empty lists mean: all markets, each market's own
    # recorded timeframe, all known strategies)
    scan_interval_seconds: float = Field(default=60.0, gt=0)
    scan_markets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    scan_timeframes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    scan_strategies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    scan_strong_score: float = Field(default=0.5, gt=0, le=1)
    scan_candles: int = Field(default=300, ge=30, le=5000)
    scan_revalidate_seconds: float = Field(default=15.0, gt=0)
    scan_retention_days: float = Field(default=7.0, gt=0)
    markets_refresh_seconds: float = Field(default=86400.0, gt=0)

    # Watchdog (`tradedeck watchdog`, a separate process): the trading process beats every
    # HEARTBEAT_INTERVAL seconds; a beat older than the timeout, the daily drawdown limit or
    # a burst of rejected orders makes the watchdog halt trading and cancel every open order.
    heartbeat_interval_seconds: float = Field(default=3.0, gt=0)
    watchdog_heartbeat_timeout: float = Field(default=15.0, gt=0)
    watchdog_interval_seconds: float = Field(default=1.0, gt=0)
    watchdog_max_rejections_per_minute: int = Field(default=20, ge=1)
    watchdog_cancel_grace_seconds: float = Field(
        default=10.0, ge=0, description="how long a live trading process gets to cancel itself"
    )
    watchdog_id: str | None = Field(default=None, max_length=40)
    watchdog_database_url: str | None = Field(
        default=None, description="the database the watchdog acts on; default DATABASE_URL"
    )
    watchdog_telegram_token: SecretStr | None = None
    watchdog_telegram_api_base: str | None = None
    watchdog_exchange_api_key: SecretStr | None = Field(
        default=None,
        description="the watchdog's own exchange key for canceling (cancel-only where the "
        "exchange offers it); unset = the trading key",
    )
    watchdog_exchange_api_secret: SecretStr | None = None

    # Monitoring heartbeat: every MONITORING_INTERVAL seconds a "still alive" message to an
    # optional monitoring chat and a ping to an optional healthchecks-style URL (a failed
    # ping is logged, never fatal). Both unset = no heartbeat job.
    monitoring_chat: int | None = Field(
        default=None, description="chat id that gets a heartbeat message every interval"
    )
    heartbeat_url: SecretStr | None = Field(
        default=None,
        description="URL pinged every interval (healthchecks.io and the like); secret, since "
        "whoever has it can fake the platform's pings",
    )
    heartbeat_method: Literal["GET", "POST"] = "GET"
    heartbeat_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    monitoring_interval_seconds: float = Field(default=60.0, gt=0)

    # Strategies
    strategies_dir: Path | None = Field(
        default=None,
        description="directory of user strategy files (*.py) loaded next to the built-ins; "
        "unset = built-ins only",
    )
    strategies: Annotated[list[StrategyRun], NoDecode] = Field(
        default_factory=list,
        description="strategies run live on each closed candle, as a JSON list of objects: "
        '[{"strategy": "sma_cross", "symbol": "ETH/BTC", "params": {"fast": 10}, '
        '"amount": "0.1"}] (or "risk_percent" instead of "amount")',
    )

    # Live exchange: EXCHANGE=paper (the default) paper-trades; a ccxt exchange id such as
    # "binance" trades live through ccxt with the keys below. Each secret is given directly
    # or as a *_FILE path (docker/systemd secrets), not both. The files and keys come before
    # EXCHANGE on purpose: its check that live trading has keys reads them.
    exchange_api_key_file: Path | None = None
    exchange_api_key: SecretStr | None = None
    exchange_api_secret_file: Path | None = None
    exchange_api_secret: SecretStr | None = None
    exchange_api_password_file: Path | None = Field(
        default=None, description="file holding the API passphrase some exchanges require"
    )
    exchange_api_password: SecretStr | None = Field(
        default=None, description="API passphrase (okx, kucoin...); most exchanges have none"
    )
    exchange: str = Field(default="paper", description='"paper" or a ccxt exchange id')
    exchange_market_type: Literal["spot", "perpetual"] = "spot"
    market_data: str = Field(
        default="replay",
        description='where paper trading gets prices: "replay" (the bundled recordings) or a '
        "ccxt exchange id whose public candles feed the paper exchange (no keys needed)",
    )
    exchange_testnet: bool = Field(default=False, description="use the exchange's sandbox")
    exchange_api_url: str | None = Field(
        default=None,
        description="override of the exchange's REST base URL (the local emulator in tests "
        "and demos); never needed for the real exchange",
    )
    exchange_leverage: int = Field(default=1, ge=1, le=125, description="perpetuals only")
    exchange_margin_mode: Literal["isolated", "cross"] = "isolated"
    exchange_markets_refresh_hours: float = Field(default=24.0, gt=0)
    exchange_poll_seconds: float = Field(default=2.0, gt=0)
    exchange_reconcile_seconds: float = Field(default=300.0, gt=0)

    @field_validator(
        "exchange_api_key_file",
        "exchange_api_secret_file",
        "exchange_api_password_file",
        "exchange_api_key",
        "exchange_api_secret",
        "exchange_api_password",
        "exchange_api_url",
        mode="before",
    )
    @classmethod
    def _empty_exchange_value_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("exchange_api_key", "exchange_api_secret", "exchange_api_password")
    @classmethod
    def _secret_or_its_file(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """The secret itself, or the content of its *_FILE; both given is a mistake."""
        name = str(info.field_name)
        path = info.data.get(f"{name}_file")
        if path is None:
            return value
        setting = ENV_PREFIX + name.upper()
        if value is not None:
            raise ValueError(f"give either {setting} or {setting}_FILE, not both")
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ValueError(f"{setting}_FILE {path} cannot be read: {error.strerror}") from None
        if not content:
            raise ValueError(f"{setting}_FILE {path} is empty")
        return SecretStr(content)

    @field_validator("market_data")
    @classmethod
    def _market_data(cls, value: str) -> str:
        value = value.strip().lower()
        return value if value == "replay" else _ccxt_exchange_id(value)

    @field_validator("exchange")
    @classmethod
    def _exchange_id(cls, value: str, info: ValidationInfo) -> str:
        """Either paper, or an exchange ccxt knows, with the keys to trade on it."""
        value = value.strip().lower()
        if value == "paper":
            return value
        value = _ccxt_exchange_id(value, "paper")
        missing = [
            ENV_PREFIX + name.upper()
            for name in ("exchange_api_key", "exchange_api_secret")
            if info.data.get(name) is None
        ]
        if missing:
            raise ValueError(
                f"live trading on {value} needs {' and '.join(missing)} "
                f"(or the *_FILE variant); set {ENV_PREFIX}EXCHANGE=paper to paper-trade"
            )
        return value

    @field_validator("exchange_api_url")
    @classmethod
    def _exchange_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("strategies_dir", mode="before")
    @classmethod
    def _optional_dir(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("strategies", mode="before")
    @classmethod
    def _parse_strategies(cls, value: Any) -> Any:
        """JSON text from the environment; a bad entry is named by its position."""
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(value, list):
            raise ValueError("expected a JSON list of strategy objects")
        runs: list[StrategyRun] = []
        for index, entry in enumerate(value):
            try:
                runs.append(StrategyRun.model_validate(entry))
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                message = str(first["msg"]).removeprefix("Value error, ")
                raise ValueError(
                    f"entry {index}: {where + ': ' if where else ''}{message}"
                ) from None
        seen: set[tuple[str, str]] = set()
        for index, run in enumerate(runs):
            if (run.strategy, run.symbol) in seen:
                raise ValueError(f"entry {index}: {run.strategy} on {run.symbol} is given twice")
            seen.add((run.strategy, run.symbol))
        return runs

    @field_validator("scan_markets", "scan_strategies", mode="before")
    @classmethod
    def _parse_scan_names(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            parts = [s.strip() for s in value.split(",") if s.strip()]
            return [p.upper() for p in parts] if info.field_name == "scan_markets" else parts
        return value

    @field_validator("scan_timeframes", mode="before")
    @classmethod
    def _parse_scan_timeframes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        if isinstance(value, list):
            unknown = [t for t in value if t not in TIMEFRAME_SECONDS]
            if unknown:
                raise ValueError(
                    f"unknown timeframe {unknown[0]!r}; expected one of "
                    + ", ".join(TIMEFRAME_SECONDS)
                )
        return value

    @field_validator("paper_balances", mode="before")
    @classmethod
    def _parse_balances(cls, value: Any) -> Any:
        """Accept `BTC=1,USDT=10000` as well as a mapping."""
        if isinstance(value, str):
            result: dict[str, str] = {}
            for part in filter(None, (p.strip() for p in value.split(","))):
                asset, sep, amount = part.partition("=")
                if not sep or not asset.strip():
                    raise ValueError(
                        f"expected ASSET=AMOUNT pairs separated by commas, got {part!r}"
                    )
                result[asset.strip().upper()] = amount.strip()
            return result
        return value

    @field_validator("paper_balances")
    @classmethod
    def _non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in value.items():
            if amount < 0 or not amount.is_finite():
                raise ValueError(f"balance of {asset} must be a non-negative number")
        return value

    @field_validator("markets", mode="before")
    @classmethod
    def _parse_markets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip().upper() for s in value.split(",") if s.strip()]
        return value

    @field_validator("telegram_admins", mode="before")
    @classmethod
    def _parse_admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return [int(v) for v in value.replace(" ", "").split(",") if v]
            except ValueError:
                raise ValueError("expected numeric Telegram user ids separated by commas") from None
        return value

    @field_validator("public_url", "telegram_api_base", mode="before")
    @classmethod
    def _url(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or value == "":
            return cls.model_fields[str(info.field_name)].default
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("watchdog_telegram_api_base", mode="before")
    @classmethod
    def _optional_url(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator(
        "watchdog_telegram_token",
        "watchdog_exchange_api_key",
        "watchdog_exchange_api_secret",
        "watchdog_id",
        "telegram_admin_chat",
        "notify_consumer",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value

    @field_validator("database_url", "watchdog_database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tradedeck.db').resolve()}"

    @property
    def resolved_watchdog_database_url(self) -> str:
        return self.watchdog_database_url or self.resolved_database_url


def describe_error(error: ValidationError) -> str:
    """One line naming the first bad setting as the user would write it."""
    first = error.errors()[0]
    name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
    return f"invalid setting {name}: {first['msg']}"


def _ccxt_exchange_id(value: str, alternative: str = "replay") -> str:
    """``value`` when ccxt knows the exchange; a readable error with a suggestion if not."""
    import difflib

    try:
        import ccxt
    except ImportError:
        raise ValueError(f"the exchange {value!r} needs ccxt: install tradedeck[live]") from None
    known: list[str] = list(ccxt.exchanges)
    if value not in known:
        close = difflib.get_close_matches(value, known, n=3, cutoff=0.7)
        hint = f"did you mean {', '.join(close)}?" if close else "see ccxt.exchanges"
        raise ValueError(f"{value!r} is not a ccxt exchange id ({hint}), nor {alternative!r}")
    return value
