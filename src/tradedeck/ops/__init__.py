"""Operating the platform: structured logs and Prometheus metrics.

Kept free of trading logic so every face (API, bot, workers) reports in the same shape.
"""
