"""Serve the emulator in its own process: ``python -m tradedeck.exchanges.emulator --port 8765``.

It serves spot and USDⓈ-M futures on one loopback port and prints, before accepting
requests, the key, secret and ccxt settings to use (``--port 0`` picks a free port; the
printed URL has the real one). A test that runs it as a subprocess reads those lines, then
drives it over ``/_control`` (see ``control.py``), e.g. ``POST /_control/price``
``{"symbol": "BTCUSDT", "price": "29000"}``.
"""

from __future__ import annotations

import argparse
import secrets
import socket
from decimal import Decimal

import uvicorn

from tradedeck.exchanges.emulator.app import BinanceEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Binance spot + USDⓈ-M futures emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--key", default="emulatorKey")
    parser.add_argument("--secret", default=None, help="default: a random one, printed")
    parser.add_argument(
        "--deposit",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help="starting spot balance, repeatable (default USDT=10000)",
    )
    parser.add_argument(
        "--futures-deposit",
        default="10000",
        metavar="USDT",
        help="starting USDⓈ-M wallet balance (default 10000)",
    )
    args = parser.parse_args(argv)
    secret = args.secret or secrets.token_hex(16)
    emulator = BinanceEmulator()
    emulator.add_key(args.key, secret)
    for item in args.deposit or ["USDT=10000"]:
        asset, _, amount = item.partition("=")
        emulator.deposit(asset.upper(), Decimal(amount))
    emulator.deposit_futures(Decimal(args.futures_deposit))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # requests queue from here on, so the printed URL is usable at once
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    print(f"apiKey={args.key} secret={secret}", flush=True)
    print(f'ccxt: tradedeck.exchanges.emulator.aim_ccxt(client, "{url}")', flush=True)
    print(f"listening={url}", flush=True)
    config = uvicorn.Config(emulator.app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
