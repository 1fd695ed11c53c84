import hashlib
import re

from tradedeck.security.tokens import constant_time_equals, hash_token, new_token, token_prefix


def test_new_token_is_prefixed_urlsafe_and_unique() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"td_[A-Za-z0-9_-]{43}", token)


def test_hash_token_is_sha256_hex_and_deterministic() -> None:
    token = new_token()
    digest = hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert digest == hash_token(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_token(new_token()) != digest


def test_token_prefix_shows_eight_characters() -> None:
    token = new_token()
    assert token_prefix(token) == token[:8]
    assert token_prefix(token).startswith("td_")
    assert len(token_prefix(token)) == 8


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert not constant_time_equals("", "a")


def test_constant_time_equals_accepts_non_ascii_instead_of_raising() -> None:
    assert constant_time_equals("clé", "clé")
    assert not constant_time_equals("clé", "cle")
