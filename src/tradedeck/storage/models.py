"""Tables. Orders, fills, balances and positions mirror the domain objects field for field
so that mapping stays mechanical; the paper exchange's state is these rows."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.types import BigInteger

from tradedeck.storage.types import Money, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("telegram_id", BigInteger, nullable=True, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("client_order_id", String(64), nullable=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(16), nullable=False),
    Column("amount", Money, nullable=False),
    Column("price", Money, nullable=True),
    Column("stop_price", Money, nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("filled", Money, nullable=False),
    Column("average_price", Money, nullable=True),
    Column("fee", Money, nullable=False),
    Column("fee_currency", String(16), nullable=True),
    Column("reserved", Money, nullable=False),
    Column("triggered", Boolean, nullable=False),
    Column("role", String(16), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("oco_group", String(64), nullable=True),
    Column("stop_loss", Money, nullable=True),
    Column("take_profit", Money, nullable=True),
    Column("source", String(64), nullable=False),  # "strategy:<name>" included
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "client_order_id", name="uq_orders_user_client_order_id"),
    Index("ix_orders_status", "status"),
    Index("ix_orders_created_at", "created_at"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("filled", Money, nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
)

fills = Table(
    "fills",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False, index=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("amount", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("fee", Money, nullable=False),
    Column("fee_currency", String(16), nullable=False),
    Column("realized_pnl", Money, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False, index=True),
)

balances = Table(
    "balances",
    metadata,
    Column("asset", String(16), primary_key=True),
    Column("free", Money, nullable=False),
    Column("reserved", Money, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("symbol", String(40), primary_key=True),
    Column("amount", Money, nullable=False),
    Column("average_entry", Money, nullable=False),
    Column("realized_pnl", Money, nullable=False),
    Column("opened_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
)

kill_switch = Table(
    "kill_switch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("active", Boolean, nullable=False),
    Column("reason", Text, nullable=True),
    Column("actor", String(64), nullable=True),
    Column("changed_at", UTCDateTime, nullable=True),
)

settings_kv = Table(
    "settings_kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_by", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

daily_equity = Table(
    "daily_equity",
    metadata,
    Column("day", Date, primary_key=True),
    Column("currency", String(16), nullable=False),
    Column("start_equity", Money, nullable=False),
    Column("low_equity", Money, nullable=False),
)

candles = Table(
    "candles",
    metadata,
    Column("symbol", String(40), primary_key=True),
    Column("timeframe", String(8), primary_key=True),
    Column("opened_at", UTCDateTime, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
)

signals = Table(
    "signals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("nonce", String(128), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("order_id", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    Column("chat_id", BigInteger, nullable=True),
    Column("update_id", BigInteger, nullable=True),
    Column("latency_ms", Float, nullable=True),
)

# -- Telegram face ------------------------------------------------------------------------

once_keys = Table(
    "once_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

kv_store = Table(
    "kv_store",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True, index=True),
)

notification_levels = Table(
    "notification_levels",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("event_group", String(32), primary_key=True),
    Column("level", String(8), nullable=False),
)


# -- market scanner ------------------------------------------------------------------------

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("timeframes", String(200), nullable=False),
    Column("markets", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    # Whether the scan's new strong signals went out on the app's bus (a scan run from
    # the shell has no listeners): signals are "new" against the last announced scan.
    Column("announced", Boolean, nullable=False, server_default=true()),
    Index("ix_scans_kind_id", "kind", "id"),
    Index("ix_scans_started_at", "started_at"),
)

scan_results = Table(
    "scan_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("timeframe", String(8), nullable=False),
    Column("score", Float, nullable=False),
    Column("signal", String(8), nullable=False),
    Column("strategy", String(64), nullable=True),
    Column("indicators", Text, nullable=True),
    Column("last_close", Float, nullable=True),
    Column("candle_time", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_scan_results_scan_id", "scan_id"),
    Index("ix_scan_results_symbol_timeframe", "symbol", "timeframe", "scan_id"),
)


# -- watchdog --------------------------------------------------------------------------------

heartbeats = Table(
    "heartbeats",
    metadata,
    # "main" (the trading process), "watchdog:<id>" (each watchdog) and "watchdog.lease"
    # (who may act: one watchdog at a time kills and cancels).
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=True),
)


# -- price alerts ----------------------------------------------------------------------------

price_alerts = Table(
    "price_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("op", String(2), nullable=False),
    Column("price", Money, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("triggered_at", UTCDateTime, nullable=True),
    Column("triggered_price", Money, nullable=True),
    Index("ix_price_alerts_user_id", "user_id", "id"),
    Index("ix_price_alerts_triggered_at", "triggered_at"),
)


# -- trailing stops --------------------------------------------------------------------------

trailing_stops = Table(
    "trailing_stops",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("trail_percent", Money, nullable=False),
    Column("amount", Money, nullable=True),  # NULL: the whole position when it triggers
    Column("peak", Money, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("triggered_at", UTCDateTime, nullable=True),
    Column("trigger_price", Money, nullable=True),
    Column("order_id", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    # "long": peak is the highest price, the stop sells; "short": the lowest, it buys back.
    Column("guards", String(8), nullable=False, server_default="long"),
    Index("ix_trailing_stops_user_id", "user_id", "id"),
    Index("ix_trailing_stops_triggered_at", "triggered_at"),
)
