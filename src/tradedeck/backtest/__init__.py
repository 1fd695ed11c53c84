"""Backtests on the trading path: engine, metrics, reports and the background service."""
