"""Historical candles: loading files, the bundled catalog, and replaying them as a live feed.

Importing this package loads nothing; data is read only when a function asks for it.
"""
