"""The Telegram face (aiogram v3): routers by area, middlewares, keyboards, formatting.

Handlers stay thin: parse the update, call a service with the user's Actor, format the
answer. Nothing here touches the exchange or the database directly.
"""
