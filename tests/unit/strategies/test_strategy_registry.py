"""User strategy files: the good ones load, a broken one is named by file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradedeck.domain.errors import InvalidInput
from tradedeck.strategies.registry import StrategyRegistry, failure_location

GOOD = '''\
"""A user's own strategy."""
from __future__ import annotations

import pandas as pd
from pydantic import Field

from tradedeck.strategies import indicators
from tradedeck.strategies.base import Strategy, StrategyParams


class EmaParams(StrategyParams):
    period: int = Field(default=5, ge=2)


class EmaAbove(Strategy):
    name = "ema_above"
    description = "Long while the close is above its EMA"
    Params = EmaParams

    @property
    def warmup(self) -> int:
        return self.params.period

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["ema"] = indicators.ema(frame["close"], self.params.period)
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] > frame["ema"]

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] < frame["ema"]
'''

BROKEN_AT_RUN_TIME = """\
import pandas as pd
from tradedeck.strategies.base import Strategy


class Divides(Strategy):
    name = "divides"

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["x"] = 1 / 0
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] > 0

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return frame["close"] < 0
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def frame(n: int = 50) -> pd.DataFrame:
    close = np.linspace(100.0, 120.0, n)
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0},
        index=index,
    )


def test_builtins_are_known_by_name_with_a_params_schema() -> None:
    registry = StrategyRegistry.load(None)
    assert registry.names() == ["bollinger_breakout", "macd_trend", "rsi_reversion", "sma_cross"]
    assert registry.errors() == ()
    described = {info.name: info for info in registry.describe()}
    schema = described["rsi_reversion"].params_schema
    assert {"period", "oversold", "overbought", "stop_loss"} <= set(schema["properties"])
    assert schema["properties"]["period"]["minimum"] == 2
    assert described["sma_cross"].source == "builtin"


def test_an_unknown_strategy_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        StrategyRegistry.load(None).get("moon_shot")
    assert caught.value.code == "unknown_strategy"
    assert "'moon_shot'" in caught.value.detail and "sma_cross" in caught.value.detail


def test_create_validates_params() -> None:
    registry = StrategyRegistry.load(None)
    assert registry.create("SMA_Cross", {"fast": 5, "slow": 20}).warmup == 20
    with pytest.raises(InvalidInput, match="sma_cross: params: fast \\(20\\) must be shorter"):
        registry.create("sma_cross", {"fast": 20, "slow": 5})


def test_broken_files_are_reported_with_file_and_line_and_the_good_one_loads(
    tmp_path: Path,
) -> None:
    good = write(tmp_path, "ema_above.py", GOOD)
    syntax = write(tmp_path, "syntax.py", "import pandas\n\ndef broken(:\n    pass\n")
    raises = write(tmp_path, "raises.py", "import os\n\nx = 1\nraise RuntimeError('no config')\n")
    missing = write(tmp_path, "missing.py", "import numpy\nimport not_a_real_module_xyz\n")
    incomplete = write(
        tmp_path,
        "incomplete.py",
        """\
        import pandas as pd
        from tradedeck.strategies.base import Strategy


        class Half(Strategy):
            name = "half"

            def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
                return frame

            def entry(self, frame: pd.DataFrame) -> pd.Series:
                return frame["close"] > 0
        """,
    )
    unnamed = write(
        tmp_path,
        "unnamed.py",
        """\
        from tradedeck.strategies.builtin.sma_cross import SmaCross


        class Copy(SmaCross):
            name = "Not A Name"
        """,
    )
    taken = write(
        tmp_path,
        "taken.py",
        """\
        from tradedeck.strategies.builtin.sma_cross import SmaCross


        class Again(SmaCross):
            name = "sma_cross"
        """,
    )
    write(tmp_path, "notes.py", "VALUE = 1\n")
    write(tmp_path, "_helpers.py", "raise RuntimeError('never imported on its own')\n")

    registry = StrategyRegistry.load(tmp_path)

    assert "ema_above" in registry.names()
    assert registry.source("ema_above") == str(good)
    errors = {Path(e.file).name: str(e) for e in registry.errors()}
    assert errors["syntax.py"].startswith(f"{syntax}:3: SyntaxError: ")
    assert errors["raises.py"] == f"{raises}:4: RuntimeError: no config"
    assert errors["missing.py"].startswith(f"{missing}:2: ModuleNotFoundError: ")
    assert errors["incomplete.py"] == f"{incomplete}:5: Half: does not implement exit"
    assert errors["unnamed.py"].startswith(f"{unnamed}:4: Copy: needs a class attribute `name`")
    assert errors["taken.py"].startswith(f"{taken}:4: strategy name 'sma_cross' is already taken")
    assert errors["notes.py"].endswith("notes.py:1: defines no Strategy subclass")
    assert "_helpers.py" not in errors
    assert registry.get("sma_cross").__module__ == "tradedeck.strategies.builtin.sma_cross"

    signals = registry.create("ema_above", {"period": 3}).signals(frame())
    assert signals.entry[3:].all()  # a steady rise stays above its EMA
    with pytest.raises(InvalidInput, match="ema_above: period"):
        registry.create("ema_above", {"period": 1})


def test_a_missing_directory_is_a_load_error_not_a_crash(tmp_path: Path) -> None:
    registry = StrategyRegistry.load(tmp_path / "nowhere")
    assert "sma_cross" in registry.names()
    assert [e.message for e in registry.errors()] == ["strategies directory does not exist"]


def test_a_run_time_failure_points_at_the_users_line(tmp_path: Path) -> None:
    path = write(tmp_path, "divides.py", BROKEN_AT_RUN_TIME)
    registry = StrategyRegistry.load(tmp_path)
    strategy = registry.create("divides")
    with pytest.raises(ZeroDivisionError) as caught:
        strategy.signals(frame())
    assert failure_location(caught.value, strategy) == (
        f"{path}:9: ZeroDivisionError: division by zero"
    )
