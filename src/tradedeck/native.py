"""Which modules of the trading path are compiled with mypyc, and whether a build is stale.

Why compile them: a backtest sends every one of its tens of thousands of orders through
the order manager, the risk engine and the paper engine (one trading path, no shortcut
for the simulation), and the interpreter's cost per call is most of what such an order
costs. mypyc compiles these modules from the same typed source to C extensions that run
the same code about two and a half times as fast; everything else stays interpreted.

The build is optional: ``setup.py`` compiles when mypyc is importable (``make`` installs
it with the dev tools and builds without isolation) and ``TRADEDECK_COMPILE`` is not
``0``; otherwise the package is pure Python and behaves the same. An editable install
puts the compiled files beside the sources, and Python imports an extension before a
``.py`` of the same name, so an edited source with an older compiled file beside it
would silently run the old code: :func:`stale` names those modules, ``make`` rebuilds
them, and the test suite refuses to run until it has.

The list lives here, with nothing but the standard library, so that the build, ``make``
and the tests read one list: ``python src/tradedeck/native.py`` prints the sources,
``--clean`` removes the compiled files of an editable install.
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

MODULES: tuple[str, ...] = (
    "tradedeck.domain.money",
    "tradedeck.domain.orders",
    "tradedeck.domain.balances",
    "tradedeck.domain.markets",
    "tradedeck.domain.positions",
    "tradedeck.domain.candles",
    "tradedeck.domain.roles",
    "tradedeck.exchanges.base",
    "tradedeck.exchanges.book",
    "tradedeck.exchanges.paper",
    "tradedeck.trading.requests",
    "tradedeck.trading.risk",
    "tradedeck.trading.killswitch",
    "tradedeck.trading.order_manager",
    "tradedeck.trading.valuation",
    "tradedeck.backtest.engine",
    "tradedeck.backtest.memory",
)
"""The trading path's hot modules (mypyc compiles them as one group, so calls between
them are native calls). A module that defines a pydantic model cannot be in it."""

GROUP = "tradedeck"
"""The name of the shared library that holds the group's code (``tradedeck__mypyc``)."""

_SRC = Path(__file__).resolve().parent.parent


def source(module: str) -> Path:
    """The ``.py`` file of one of :data:`MODULES` (relative to the source root)."""
    return Path(*module.split(".")).with_suffix(".py")


def compiled_files(module: str) -> list[Path]:
    """The compiled extension files of ``module`` beside its source, if any."""
    folder = _SRC / source(module).parent
    name = module.rsplit(".", 1)[-1]
    return [
        folder / f"{name}{suffix}"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (folder / f"{name}{suffix}").exists()
    ]


def is_compiled(module: str) -> bool:
    """Whether ``module``, once imported, runs compiled (it must be imported already)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def stale() -> list[str]:
    """Modules whose compiled file beside the source is older than the source."""
    found = []
    for module in MODULES:
        code = _SRC / source(module)
        if any(f.stat().st_mtime < code.stat().st_mtime for f in compiled_files(module)):
            found.append(module)
    return found


def clean() -> list[Path]:
    """Remove the compiled files of an editable install (the sources then run as they are)."""
    removed = [f for module in MODULES for f in compiled_files(module)]
    removed += [p for p in _SRC.glob(f"{GROUP}__mypyc.*") if p.suffix in {".so", ".pyd"}]
    for path in removed:
        path.unlink()
    return removed


if __name__ == "__main__":
    if sys.argv[1:] == ["--clean"]:
        for path in clean():
            print(f"removed {path}")
    else:
        print(" ".join(f"src/{source(m)}" for m in MODULES))
