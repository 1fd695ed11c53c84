"""Trading services: order manager, risk engine, kill switch, portfolio and PnL, sizing."""
