"""Serve the emulator for a demo: ``python -m tradedeck.exchanges.emulator --port 8765``.

It binds to loopback by default and prints the key, secret and ccxt settings to use; prices
move through ``POST /_control/price`` (``{"symbol": "BTCUSDT", "price": "29000"}``).
"""

from __future__ import annotations

import argparse
import secrets
from decimal import Decimal

import uvicorn

from tradedeck.exchanges.emulator.app import BinanceEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Binance spot REST emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", default="emulatorKey")
    parser.add_argument("--secret", default=None, help="default: a random one, printed")
    parser.add_argument(
        "--deposit",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help="starting balance, repeatable (default USDT=10000)",
    )
    args = parser.parse_args(argv)
    secret = args.secret or secrets.token_hex(16)
    emulator = BinanceEmulator()
    emulator.add_key(args.key, secret)
    for item in args.deposit or ["USDT=10000"]:
        asset, _, amount = item.partition("=")
        emulator.deposit(asset.upper(), Decimal(amount))
    print(f"apiKey={args.key} secret={secret}")
    print(f'ccxt: tradedeck.exchanges.emulator.aim_ccxt(client, "http://{args.host}:{args.port}")')
    uvicorn.run(emulator.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
