"""Exchanges: the paper matching engine (paper trading and backtests) and, later, ccxt live."""
