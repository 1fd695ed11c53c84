"""Price alerts: a user's level on a market, fired once when the price crosses it."""
