"""Authentication primitives shared by every face (HTTP API, webhooks, Telegram).

They live apart from the faces so that the rules that keep credentials safe (hash what is
stored, compare in constant time, refuse replays) are written once and tested once.
"""
