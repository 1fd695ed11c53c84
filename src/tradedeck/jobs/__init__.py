"""Scheduled jobs inside the app: scans, revalidation, market refresh, queued backtests."""
