"""The `tradedeck` command: run the platform, scan, backtest, manage users, migrate.

The person at the server's shell is its administrator, so CLI commands act as an admin
actor on the `cli` channel (and are audited as such).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from tradedeck import __version__
from tradedeck.config import Settings, describe_error
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor, Role

if TYPE_CHECKING:  # the database layer loads only for the commands that use it
    from tradedeck.storage.repository import Repository

T = TypeVar("T")
CLI_ACTOR = Actor(name="cli", role=Role.ADMIN, channel="cli")

app = typer.Typer(help="tradedeck: a self-hosted trading platform.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"tradedeck: {message}", err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise _fail(describe_error(error)) from None


def _with_repository(work: Callable[[Repository], Awaitable[T]]) -> T:
    settings = load_settings()

    async def main() -> T:
        # Imported here: the core pulls in charts and strategies, which commands that only
        # need the database (and `tradedeck backtest`'s cold start) should not pay for.
        from tradedeck.services import open_repository

        repository = await open_repository(settings)
        try:
            return await work(repository)
        finally:
            await repository.engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        raise _fail(error.detail, 1) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tradedeck {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """tradedeck: paper trading by default, REST API, signal webhook."""


@app.command()
def run() -> None:
    """Start tradedeck (API, paper exchange, market replay) and serve until Ctrl-C."""
    import uvicorn

    from tradedeck.app import create_app, drain
    from tradedeck.ops.logging import configure_logging
    from tradedeck.serving import DrainingServer

    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(
        f"tradedeck {__version__}: {base} (data in {settings.data_dir.resolve()})\n"
        f"  dashboard: {base}/dashboard (sign in with a token from `tradedeck users add`)",
        err=True,
    )
    if settings.telegram == "auto" and settings.telegram_token is None:
        typer.echo(f"  Telegram sandbox chat: {base}/sandbox", err=True)
    app = create_app(settings)
    tune_garbage_collector()
    quiet = _ExplainedStartupFailure(app.state)
    server_log = logging.getLogger("uvicorn.error")
    server_log.addFilter(quiet)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    server = DrainingServer(config, drain=partial(drain, app))
    try:
        server.run()
    except SystemExit:  # uvicorn's way out of a failed start-up
        reason = getattr(app.state, "startup_error", None)
        if reason:
            raise _fail(reason) from None
        raise
    finally:
        server_log.removeFilter(quiet)


class _ExplainedStartupFailure(logging.Filter):
    """Drops uvicorn's report of a start-up the configuration refused (the traceback and
    "Application startup failed"): the reason is one line the CLI prints itself."""

    def __init__(self, state: Any) -> None:
        super().__init__()
        self._state = state

    def filter(self, record: logging.LogRecord) -> bool:
        refused = getattr(self._state, "startup_error", None) is not None
        return not (refused and record.levelno >= logging.ERROR)


def tune_garbage_collector(*, collect: bool = True) -> None:
    """Fewer, later collections: the default thresholds make the cyclic collector run
    every few hundred allocations, and its pauses land in order latency (and a backtest's
    tens of thousands of orders pay for a full pass over everything alive). Objects made
    while starting (modules, data, caches) are moved out of its reach for good, after a
    collection unless ``collect`` is false (a short command need not pay for one)."""
    import gc

    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""

    async def work(_: Repository) -> None:
        return None

    _with_repository(work)
    typer.echo("database is up to date")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="admin, trader or viewer")] = "viewer",
    telegram_id: Annotated[int | None, typer.Option(help="numeric Telegram user id")] = None,
) -> None:
    """Create a user; the API token is printed alone on the last line (shown only once)."""

    async def work(repository: Repository) -> str:
        from tradedeck.security.users import UserService

        user, token = await UserService(repository).create(CLI_ACTOR, name, role, telegram_id)
        typer.echo(f"created {user.name} ({user.role.value}); API token:", err=True)
        return token

    token = _with_repository(work)
    sys.stdout.write(token + "\n")


@users_app.command("list")
def users_list() -> None:
    """List users, roles and how many live tokens each has."""

    async def work(repository: Repository) -> None:
        from tradedeck.security.users import UserService

        users = await UserService(repository).list(CLI_ACTOR)
        typer.echo(f"{'NAME':<20} {'ROLE':<8} {'TELEGRAM':<12} {'TOKENS':<6} STATUS")
        for u in users:
            status = "revoked" if u.disabled_at else "active"
            telegram = str(u.telegram_id) if u.telegram_id else "-"
            typer.echo(f"{u.name:<20} {u.role.value:<8} {telegram:<12} {u.tokens:<6} {status}")

    _with_repository(work)


@users_app.command("revoke")
def users_revoke(name: str) -> None:
    """Disable a user and revoke all their tokens."""

    async def work(repository: Repository) -> None:
        from tradedeck.security.users import UserService

        await UserService(repository).revoke(CLI_ACTOR, name)

    _with_repository(work)
    typer.echo(f"revoked {name}")


@app.command()
def backtest(
    strategy: Annotated[str, typer.Option(help="strategy name, e.g. sma_cross")],
    data: Annotated[Path, typer.Option(help="candle file: CSV, feather or ccxt JSON")],
    symbol: Annotated[str, typer.Option(help="market as BASE/QUOTE, e.g. BTC/USDT")],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="strategy parameter name=value; repeat")
    ] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="the file's timeframe (default: read off the candles)")
    ] = None,
    fee: Annotated[str, typer.Option(help="fee per fill as a fraction (0.001 = 0.1 %)")] = "0.001",
    slippage: Annotated[str, typer.Option(help="market-order slippage in basis points")] = "5",
    amount: Annotated[str | None, typer.Option(help="fixed base amount per entry")] = None,
    risk: Annotated[
        str | None, typer.Option(help="percent of equity to risk per entry (to the stop-loss)")
    ] = None,
    cash: Annotated[str, typer.Option(help="starting balance in the quote currency")] = "10000",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write metrics and trades to this file")
    ] = None,
) -> None:
    """Backtest a strategy on a candle file through the paper trading path.

    Without --amount or --risk each entry spends all free cash. Bad input is one line on
    stderr and exit code 2.
    """
    settings = load_settings()
    from tradedeck.backtest.console import run_command  # lazy: pandas, TA-Lib, the engine

    tune_garbage_collector(collect=False)
    try:
        run_command(
            strategy=strategy,
            params=param or [],
            data=data,
            symbol=symbol,
            timeframe=timeframe,
            fee=fee,
            slippage=slippage,
            amount=amount,
            risk=risk,
            cash=cash,
            json_out=json_out,
            strategies_dir=settings.strategies_dir,
        )
    except DomainError as error:
        raise _fail(error.detail) from None
    except OSError as error:  # the --json file cannot be written
        raise _fail(f"{error.filename or json_out}: {error.strerror}") from None


@app.command()
def scan(
    market: Annotated[
        list[str] | None,
        typer.Option("--market", help="only this market, e.g. ETH/BTC; repeat for more"),
    ] = None,
    timeframe: Annotated[
        list[str] | None,
        typer.Option("--timeframe", help="scan in this timeframe, e.g. 1h; repeat for more"),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the results as JSON instead of a table")
    ] = False,
) -> None:
    """Scan the configured markets once, as the scheduled job does, and print the ranking.

    Reads the candles `tradedeck run` stored in the local database and stores the scan
    like a scheduled one. Without options the scan settings apply (TRADEDECK_SCAN_*).
    """
    settings = load_settings()
    from tradedeck.jobs.scan_command import as_json, hint, run_scan, table  # lazy: TA-Lib
    from tradedeck.ops.logging import configure_logging

    # stdout is the result; log lines go to stderr, and a one-shot command's routine
    # progress (migrations, "scan finished") is noise there: warnings and errors only.
    configure_logging(_at_least_warning(settings.log_level), json=settings.log_json)
    try:
        outcome = asyncio.run(run_scan(settings, CLI_ACTOR, market or [], timeframe or []))
    except DomainError as error:
        raise _fail(error.detail) from None
    if outcome.error is not None:
        raise _fail(f"the scan failed: {outcome.error}", 1)
    typer.echo(as_json(outcome) if json_out else table(outcome))
    advice = hint(outcome)
    if advice is not None:
        typer.echo(f"tradedeck: {advice}", err=True)


@app.command()
def watchdog(
    status: Annotated[
        bool,
        typer.Option("--status", help="print the watchdog's health; exit 0 healthy, 1 not"),
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="run one check and exit")] = False,
) -> None:
    """Guard `tradedeck run` from a process of its own: halt trading and cancel every open
    order when its heartbeat stops, the daily drawdown limit is reached or orders are
    rejected in bursts, then alert the admins on Telegram. It never places orders."""
    from tradedeck.ops.logging import configure_logging
    from tradedeck.watchdog.process import run_watchdog, watchdog_status

    settings = load_settings()
    if status:
        report = asyncio.run(watchdog_status(settings))
        for line in report.lines():
            typer.echo(line)
        raise typer.Exit(0 if report.healthy else 1)
    configure_logging(settings.log_level, json=settings.log_json)
    action = asyncio.run(run_watchdog(settings, once=once))
    if once:
        typer.echo(action.describe() if action else "all clear")


def _at_least_warning(level: str) -> str:
    return level if level in ("ERROR", "CRITICAL") else "WARNING"


def main() -> None:
    app()
