"""The composition of the core: every service built once, from settings, in order.

`create_app` (HTTP), the CLI and the tests all build the core through `start_services`,
so there is one wiring and no module-level singletons.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from tradedeck import __version__
from tradedeck.alerts.service import AlertService
from tradedeck.backtest.service import BacktestService
from tradedeck.charts.service import ChartService
from tradedeck.config import Settings
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market
from tradedeck.exchanges.ccxt_live.models import RemoteOrder
from tradedeck.exchanges.live import LiveExchange
from tradedeck.exchanges.paper import PaperConfig, PaperEngine
from tradedeck.jobs.scheduler import Scheduler
from tradedeck.jobs.service import JobsService
from tradedeck.marketdata.catalog import load_bundled_catalog
from tradedeck.marketdata.live_feed import LiveMarketData
from tradedeck.marketdata.service import MarketDataService
from tradedeck.notify.events import EventBus, InProcessBus
from tradedeck.notify.redis_bus import RedisStreamsBus
from tradedeck.ops.error_alerts import CHECK_SECONDS as ERROR_CHECK_SECONDS
from tradedeck.ops.error_alerts import ErrorAlerts
from tradedeck.ops.health_watch import CHECK_SECONDS as HEALTH_CHECK_SECONDS
from tradedeck.ops.health_watch import HealthWatch
from tradedeck.ops.heartbeat_ping import MonitoringHeartbeat
from tradedeck.ops.log_buffer import LogBuffer
from tradedeck.ops.metrics import Metrics
from tradedeck.ops.probes import (
    exchange_probe,
    kill_switch_probe,
    market_data_probe,
    watchdog_probe,
)
from tradedeck.ops.reports import CHECK_SECONDS as REPORT_CHECK_SECONDS
from tradedeck.ops.reports import ReportService
from tradedeck.ops.system import SystemService
from tradedeck.security.oneshot import MemoryOneShotStore, OneShotStore, RedisOneShotStore
from tradedeck.security.users import UserService
from tradedeck.storage.alerts import AlertStore
from tradedeck.storage.checkpoint import WalCheckpointer
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.heartbeats import make_heartbeats
from tradedeck.storage.kv import make_kv_store
from tradedeck.storage.repository import Repository
from tradedeck.storage.scans import ScanStore
from tradedeck.storage.trailing import TrailingStopStore
from tradedeck.strategies.registry import StrategyRegistry
from tradedeck.strategies.runner import StrategyRunner
from tradedeck.strategies.scanner import ScanConfig, Scanner
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.live_sync import LiveSync
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.portfolio import PortfolioService
from tradedeck.trading.risk import RiskEngine
from tradedeck.trading.risk_limits import RiskLimits
from tradedeck.trading.signals import SignalService
from tradedeck.trading.trailing import TrailingStopService
from tradedeck.trading.valuation import Valuator
from tradedeck.watchdog.heartbeat import HeartbeatWriter

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    repository: Repository
    bus: EventBus
    metrics: Metrics
    oneshot: OneShotStore
    users: UserService
    kill_switch: KillSwitch
    risk: RiskEngine
    orders: OrderManager
    portfolio: PortfolioService
    marketdata: MarketDataService
    signals: SignalService
    strategies: StrategyRegistry
    strategy_runner: StrategyRunner
    scanner: Scanner
    jobs: JobsService
    charts: ChartService
    backtests: BacktestService
    alerts: AlertService
    trailing: TrailingStopService
    reports: ReportService
    monitoring: MonitoringHeartbeat
    system: SystemService
    heartbeat: HeartbeatWriter | None = None  # for the watchdog; started last, stopped first
    checkpointer: WalCheckpointer | None = None  # a SQLite file's log, copied off the order path
    live: LiveTrading | None = None  # a real exchange (TRADEDECK_EXCHANGE), else None

    async def stop(self) -> None:
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.live is not None:
            await self.live.sync.stop()
        await self.backtests.stop()
        await self.charts.stop()
        await self.jobs.scheduler.stop()
        await self.signals.stop()
        await self.marketdata.stop()
        await self.trailing.flush()
        await self.orders.stop()
        await self.bus.stop()
        if self.live is not None:
            await self.live.exchange.close()
        await self.oneshot.close()
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        await self.repository.engine.dispose()
        self.system.logs.uninstall()


@dataclass(slots=True)
class LiveTrading:
    exchange: LiveExchange
    sync: LiveSync


def default_limits(settings: Settings) -> RiskLimits:
    return RiskLimits(
        max_order_notional_trader=settings.max_order_notional_trader,
        max_order_notional_admin=settings.max_order_notional_admin,
        max_exposure_pct=settings.max_exposure_pct,
        max_positions=settings.max_positions,
        cooldown_seconds=settings.cooldown_seconds,
        daily_drawdown_pct=settings.daily_drawdown_pct,
        max_consecutive_rejections=settings.max_consecutive_rejections,
    )


def build_scanner(
    settings: Settings,
    repository: Repository,
    marketdata: MarketDataService,
    strategies: StrategyRegistry,
    bus: EventBus | None,
) -> Scanner:
    """The scanner the settings describe; without a bus it announces no signal."""
    config = ScanConfig(
        markets=tuple(settings.scan_markets),
        timeframes=tuple(settings.scan_timeframes),
        strategies=tuple(settings.scan_strategies),
        strong=settings.scan_strong_score,
        candles=settings.scan_candles,
        retention=timedelta(days=settings.scan_retention_days),
    )
    return Scanner(
        ScanStore(repository.engine),
        strategies,
        config,
        lambda: {symbol: marketdata.timeframe(symbol) for symbol in marketdata.markets},
        bus,
    )


BACKTEST_QUEUE_INTERVAL = 2.0


def schedule_backtests(scheduler: Scheduler, backtests: BacktestService) -> None:
    """Queued backtests run as the ``backtests`` job: a submission starts it at once, and
    its interval catches anything missed."""
    scheduler.add("backtests", BACKTEST_QUEUE_INTERVAL, backtests.run_queued)
    backtests.run_by(lambda: scheduler.run_now("backtests"))


def schedule_reports(scheduler: Scheduler, reports: ReportService) -> None:
    """The hourly balance and daily PnL reports: one job checks every minute which is due."""
    scheduler.add("reports", REPORT_CHECK_SECONDS, reports.run, initial_delay=5.0)


def schedule_monitoring(
    settings: Settings, scheduler: Scheduler, monitoring: MonitoringHeartbeat
) -> None:
    """The monitoring heartbeat, when a monitoring chat or a heartbeat URL is configured."""
    if monitoring.enabled:
        scheduler.add("monitoring.heartbeat", settings.monitoring_interval_seconds, monitoring.beat)


def schedule_ops_alerts(scheduler: Scheduler, system: SystemService, bus: EventBus) -> None:
    """What reaches the admins unasked: new errors (``errors.push``) and health checks
    that start or stop failing (``health.watch``)."""
    scheduler.add(
        "errors.push", ERROR_CHECK_SECONDS, ErrorAlerts(system.logs, bus).check, initial_delay=5.0
    )
    scheduler.add(
        "health.watch", HEALTH_CHECK_SECONDS, HealthWatch(system, bus).check, initial_delay=30.0
    )


def schedule_jobs(settings: Settings, scheduler: Scheduler, scanner: Scanner) -> None:
    """The scanner's periodic jobs, by name (``GET /api/v1/jobs`` lists them)."""
    scheduler.add("scan", settings.scan_interval_seconds, scanner.scan, initial_delay=2.0)
    scheduler.add(
        "scan.revalidate",
        settings.scan_revalidate_seconds,
        scanner.revalidate,
        initial_delay=settings.scan_revalidate_seconds,
    )
    scheduler.add(
        "markets.refresh",
        settings.markets_refresh_seconds,
        scanner.refresh_markets,
        initial_delay=settings.markets_refresh_seconds,
    )
    scheduler.add("scans.prune", 3600.0, scanner.prune, initial_delay=60.0)


def build_bus(settings: Settings) -> EventBus:
    """Redis Streams with a consumer group when Redis is configured (events survive a
    restart and reach exactly one replica's notifier), else the in-process bus."""
    if not settings.redis_url:
        return InProcessBus()
    return RedisStreamsBus.from_url(
        settings.redis_url,
        stream=settings.notify_stream,
        consumer=settings.notify_consumer,
        maxlen=settings.notify_stream_maxlen,
        claim_idle=settings.notify_claim_idle_seconds,
    )


async def open_repository(settings: Settings) -> Repository:
    """The database, migrated to the latest schema (the CLI needs only this much)."""
    engine = make_engine(settings.resolved_database_url)
    await upgrade(engine)
    return Repository(engine)


async def start_services(
    settings: Settings, *, metrics: Metrics | None = None, start_feed: bool = True
) -> Services:
    """Build and start the core. With ``start_feed=False`` the market stands still
    (tests drive candles themselves)."""
    repository = await open_repository(settings)
    stack: list[Any] = []
    logs = LogBuffer.install()  # from here on: what /logs and /errors answer from
    try:
        bus = build_bus(settings)
        metrics = metrics or Metrics()
        oneshot: OneShotStore = (
            RedisOneShotStore.from_url(settings.redis_url)
            if settings.redis_url
            else MemoryOneShotStore()
        )
        estimates = PaperConfig(
            fee_rate=settings.fee_rate,
            slippage_bps=settings.slippage_bps,
            volume_share=settings.volume_share,
        )
        exchange: PaperEngine | LiveExchange
        marketdata: MarketDataService
        if settings.exchange == "paper":
            if settings.market_data == "replay":
                marketdata = await MarketDataService.load(settings, repository)
            else:  # paper trading on a real exchange's public candles
                marketdata = await open_public_market_data(settings, repository)
                stack.append(marketdata)
            await repository.seed_balances(dict(settings.paper_balances))
            exchange = PaperEngine(
                marketdata.markets,
                estimates,
                balances=await repository.load_balances(),
                open_orders=await repository.load_open_orders(),
            )
        else:
            exchange = await open_live_exchange(settings, repository, estimates)
            stack.append(_Closing(exchange))
            traded = traded_markets(settings, exchange.markets)
            await exchange.prepare(traded)
            marketdata = LiveMarketData(
                settings,
                repository,
                exchange.client,
                traded,
                poll_seconds=max(settings.exchange_poll_seconds, 1.0),
            )
        valuator = Valuator(exchange.markets, exchange.last_price, settings.valuation_currency)
        kill_switch = KillSwitch(repository, bus)
        await kill_switch.refresh()
        risk = RiskEngine(
            repository,
            default_limits(settings),
            kill_switch_active=lambda: kill_switch.active,
            kill_switch_reason=kill_switch.reason,
            trip_kill_switch=kill_switch.trip,
            currency=settings.valuation_currency,
        )
        await risk.load()
        orders = OrderManager(
            exchange,
            repository,
            bus,
            risk,
            valuator,
            metrics,
            await repository.load_positions(),
        )
        kill_switch.bind_canceller(orders.cancel_all)
        orders.bind_halt(kill_switch.trip)
        live: LiveTrading | None = None
        if isinstance(exchange, LiveExchange):
            live = LiveTrading(
                exchange,
                LiveSync(
                    orders,
                    exchange,
                    bus,
                    kill_switch.trip,
                    poll_seconds=settings.exchange_poll_seconds,
                    reconcile_seconds=settings.exchange_reconcile_seconds,
                    markets_refresh_seconds=settings.exchange_markets_refresh_hours * 3600,
                    stored=repository.get_order,
                    stream=order_updates(exchange),
                ),
            )
        if live is not None and isinstance(marketdata, LiveMarketData):
            marketdata.before_closed_candles(live.sync.poll)
        portfolio = PortfolioService(orders, repository, valuator, lambda: risk.day_start_equity)
        signals = SignalService(orders, repository, valuator)
        # User strategy files are imported here, once; a broken one is reported and skipped.
        strategies = await asyncio.to_thread(StrategyRegistry.load, settings.strategies_dir)
        strategy_runner = StrategyRunner.build(
            settings.strategies,
            strategies,
            orders=orders,
            repository=repository,
            bus=bus,
            kill_switch=kill_switch,
            valuator=valuator,
            timeframes={symbol: marketdata.timeframe(symbol) for symbol in marketdata.markets},
        )
        await strategy_runner.start()
        marketdata.on_closed_candles(strategy_runner.on_candles)
        alerts = AlertService(AlertStore(repository.engine), orders.market, bus)
        await alerts.load()
        marketdata.on_closed_candles(alerts.on_candles)
        trailing = TrailingStopService(TrailingStopStore(repository.engine), orders, bus)
        await trailing.load()
        marketdata.on_prices(trailing.on_prices)
        scanner = build_scanner(settings, repository, marketdata, strategies, bus)
        backtests = BacktestService(
            make_kv_store(repository.engine, settings.redis_url),
            strategies,
            {b.symbol: b for b in load_bundled_catalog() if b.symbol in marketdata.markets},
        )
        scheduler = Scheduler()
        schedule_jobs(settings, scheduler, scanner)
        schedule_backtests(scheduler, backtests)
        reports = ReportService(repository, portfolio, bus)
        schedule_reports(scheduler, reports)
        monitoring = MonitoringHeartbeat.from_settings(
            settings, bus, kill_switch_active=lambda: kill_switch.active
        )
        schedule_monitoring(settings, scheduler, monitoring)
        system = SystemService(
            version=__version__,
            engine=repository.engine,
            data_dir=settings.data_dir,
            logs=logs,
            redis_url=settings.redis_url,
            probes=[
                exchange_probe(
                    settings.exchange, lambda: None if live is None else (live.exchange, live.sync)
                ),
                market_data_probe(
                    lambda: [marketdata.updated_at(s) for s in marketdata.markets],
                    lambda: datetime.now(UTC),
                ),
                kill_switch_probe(kill_switch),
            ],
        )
        schedule_ops_alerts(scheduler, system, bus)
        services = Services(
            settings=settings,
            repository=repository,
            bus=bus,
            metrics=metrics,
            oneshot=oneshot,
            users=UserService(repository),
            kill_switch=kill_switch,
            risk=risk,
            orders=orders,
            portfolio=portfolio,
            marketdata=marketdata,
            signals=signals,
            strategies=strategies,
            strategy_runner=strategy_runner,
            scanner=scanner,
            jobs=JobsService(scheduler),
            charts=ChartService(orders, marketdata, repository),
            backtests=backtests,
            alerts=alerts,
            trailing=trailing,
            reports=reports,
            monitoring=monitoring,
            system=system,
            live=live,
        )
        system.add_probe(watchdog_probe(lambda: services.heartbeat))
        await bus.start()
        stack.append(bus)
        if live is not None:  # the exchange may have moved while we were down: read it first
            await live.sync.start(run_loop=start_feed)
            stack.append(live.sync)
        await signals.start()
        stack.append(signals)
        await marketdata.start(orders, risk, valuator, kill_switch, run_feed=start_feed)
        if start_feed:  # a market standing still (tests) runs its jobs by hand only
            await scheduler.start()
        services.heartbeat = HeartbeatWriter(
            make_heartbeats(repository.engine, settings.redis_url),
            kill_switch,
            orders,
            interval=settings.heartbeat_interval_seconds,
        )
        await services.heartbeat.start()
        services.checkpointer = WalCheckpointer.for_engine(repository.engine)
        if services.checkpointer is not None:
            await services.checkpointer.start()
        return services
    except BaseException:
        for item in reversed(stack):
            with contextlib.suppress(Exception):
                await item.stop()
        await repository.engine.dispose()
        logs.uninstall()
        raise


@dataclass(slots=True)
class _Closing:
    """Closes a live exchange's client when start-up fails after it was opened."""

    exchange: LiveExchange

    async def stop(self) -> None:
        await self.exchange.close()


async def open_live_exchange(
    settings: Settings, repository: Repository, estimates: PaperConfig
) -> LiveExchange:
    """The ccxt client for TRADEDECK_EXCHANGE, its markets loaded, holding what the
    database knows (reconciliation corrects it against the exchange right after)."""
    from tradedeck.exchanges.ccxt_live.client import CcxtClient  # ccxt: the `live` extra
    from tradedeck.exchanges.ccxt_live.settings import live_settings

    config = live_settings(settings)
    client = CcxtClient(config)
    exchange = LiveExchange(client, estimates, kind=config.market_type)
    try:
        open_orders = await repository.load_open_orders()
        await exchange.start(
            open_orders,
            await repository.load_balances(),
            await repository.fill_ids(o.id for o in open_orders),
        )
    except BaseException:
        await client.close()
        raise
    return exchange


async def open_public_market_data(settings: Settings, repository: Repository) -> LiveMarketData:
    """Candles of TRADEDECK_MARKET_DATA's exchange, read with a keyless ccxt client."""
    from tradedeck.exchanges.ccxt_live.client import CcxtClient  # ccxt: the `live` extra
    from tradedeck.exchanges.ccxt_live.settings import LiveSettings

    client = CcxtClient(
        LiveSettings(
            exchange=settings.market_data,
            api_url=settings.exchange_api_url,
            testnet=settings.exchange_testnet,
        )
    )
    try:
        available = await client.load_markets()
        markets = traded_markets(settings, {s: m.market for s, m in available.items()})
    except BaseException:
        await client.close()
        raise
    return LiveMarketData(
        settings,
        repository,
        client,
        markets,
        poll_seconds=max(settings.exchange_poll_seconds, 1.0),
        close_source=True,
    )


def order_updates(exchange: LiveExchange) -> Callable[[], AsyncIterator[RemoteOrder]] | None:
    """The exchange's order-update stream, where ccxt has one (else polling alone)."""
    from tradedeck.exchanges.ccxt_live.stream import OrderStream  # ccxt: the `live` extra

    try:
        stream = OrderStream(exchange.client.settings)
    except InvalidInput as unsupported:
        log.info("order_stream_unavailable", detail=unsupported.detail)
        return None
    exchange.on_close(stream.close)
    return stream.updates


def traded_markets(settings: Settings, available: Mapping[str, Market]) -> dict[str, Market]:
    """The markets TRADEDECK_MARKETS names (an exchange lists thousands), all of which the
    exchange must have; BTC/USDT when none is named."""
    source = settings.exchange if settings.exchange != "paper" else settings.market_data
    wanted = settings.markets or ["BTC/USDT"]
    unknown = [symbol for symbol in wanted if symbol not in available]
    if unknown:
        raise InvalidInput(
            "unknown_market",
            f"TRADEDECK_MARKETS names markets {source} does not list: {', '.join(unknown)}",
        )
    return {symbol: available[symbol] for symbol in wanted}
