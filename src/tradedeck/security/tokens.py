"""Opaque API tokens: handed to the caller once, stored only as a hash.

A token carries no claims; the server looks its hash up. That makes revocation a row delete
and keeps a database leak from turning into working credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "td_"  # noqa: S105 - a public marker, not a credential
"""Lets secret scanners and humans recognise a leaked tradedeck token at a glance."""

DISPLAY_PREFIX_LENGTH = 8


def new_token() -> str:
    """Return a fresh token with 256 bits of randomness behind the ``td_`` prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which the token is stored and looked up.

    A fast, unsalted hash is right here, unlike for passwords: the token is 256 random bits,
    so there is no dictionary to try and a salt or a slow KDF (bcrypt, argon2) would add
    nothing an attacker has to overcome. Being deterministic and cheap also lets every request
    find its row by an indexed equality lookup instead of scanning and re-hashing.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_prefix(token: str) -> str:
    """Return the first characters of a token, enough to tell tokens apart in a list.

    Eight characters are ``td_`` plus five random ones: recognisable for the owner, far too
    few to help guess the rest.
    """
    return token[:DISPLAY_PREFIX_LENGTH]


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two secrets without leaking, through timing, how long a prefix matched.

    Both sides are encoded first because ``hmac.compare_digest`` refuses non-ASCII ``str``;
    a hostile header must produce ``False``, not a ``TypeError`` and a 500.
    """
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
