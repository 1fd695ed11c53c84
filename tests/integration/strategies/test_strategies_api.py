"""GET /api/v1/strategies over real HTTP: what can run, what failed to load, what runs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings, serve


async def test_strategies_lists_params_load_errors_and_runs(tmp_path: Path) -> None:
    user_dir = tmp_path / "strategies"
    user_dir.mkdir()
    broken = user_dir / "broken.py"
    broken.write_text("x = 1\ny = (\n")
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
        strategies_dir=user_dir,
        strategies=[{"strategy": "rsi_reversion", "symbol": "LTC/BTC", "risk_percent": "1"}],
    )
    live = await serve(settings)
    try:
        viewer = await live.token("vera", "viewer")
        async with live.client(viewer) as api:
            response = await api.get("/api/v1/strategies")
            one = await api.get("/api/v1/strategies/macd_trend")
            unknown = await api.get("/api/v1/strategies/moon_shot")
        async with live.client() as anonymous:
            refused = await anonymous.get("/api/v1/strategies")
    finally:
        await live.stop()

    assert response.status_code == 200
    body = response.json()
    names = [s["name"] for s in body["strategies"]]
    assert names == ["bollinger_breakout", "macd_trend", "rsi_reversion", "sma_cross"]
    rsi = next(s for s in body["strategies"] if s["name"] == "rsi_reversion")
    assert rsi["params"]["properties"]["oversold"]["default"] == 30.0
    assert rsi["source"] == "builtin"
    (error,) = body["load_errors"]
    assert error.startswith(f"{broken}:2: SyntaxError: ")
    (run,) = body["running"]
    assert (run["strategy"], run["symbol"], run["timeframe"]) == ("rsi_reversion", "LTC/BTC", "5m")
    assert run["risk_percent"] == "1" and run["in_position"] is False
    assert run["params"]["period"] == 14

    assert one.status_code == 200 and one.json()["name"] == "macd_trend"
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_strategy"
    assert "sma_cross" in unknown.json()["detail"]
    assert refused.status_code == 401
