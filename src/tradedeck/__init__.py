"""tradedeck: a self-hosted trading platform a trader runs from Telegram."""

__version__ = "0.1.0"
