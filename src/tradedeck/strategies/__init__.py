"""Indicators, strategies and the scanner: the "trading brain" a user watches.

A strategy only says where it would enter and exit; orders always go through the order
manager and the risk engine, whether the candles are live, replayed or a backtest's.
"""
