"""Charts: candles with indicator overlays and backtest equity curves, as PNG bytes.

``render`` holds the pure drawing functions; ``service.ChartService`` is what the faces,
the backtester and the scanner call, so charts are always drawn off the event loop.
"""
