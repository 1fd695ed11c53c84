"""Scanner fixtures: the core, standing still, on both database backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.integration.scanner.history import MARKETS, clear_candles
from tradedeck.services import Services, start_services


async def core(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    settings = make_settings(tmp_path, database_url, **{"markets": MARKETS, **overrides})
    services = await start_services(settings, start_feed=False)
    await clear_candles(services.repository)  # each test stores the candles it reasons on
    return services


@pytest.fixture
async def services(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    started = await core(tmp_path, database_url)
    try:
        yield started
    finally:
        await started.stop()
