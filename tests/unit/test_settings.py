"""Every setting is documented in .env.example, and the example itself is valid."""

from __future__ import annotations

from pathlib import Path

from tradedeck.config import ENV_PREFIX, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def example_keys() -> dict[str, str]:
    pairs = {}
    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_env_example_lists_every_setting() -> None:
    documented = set(example_keys())
    expected = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert documented == expected


def test_env_example_values_are_valid(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in example_keys().items():
        if value:
            monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 8000 and settings.database_url is None
