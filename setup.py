"""Build hook: compile the trading path's hot modules with mypyc when it is available.

Everything else about the package is declared in pyproject.toml. Why and which modules:
src/tradedeck/native.py. mypyc compiles only when it is importable here, which is
the case in ``make``'s build (no build isolation, the venv's own mypy, every dependency
installed so the types are complete); an isolated ``pip install .`` has no mypyc and so
builds pure Python. ``TRADEDECK_COMPILE=0`` builds pure Python anywhere.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from setuptools import setup


def _compiled_modules() -> list[Any]:
    if os.environ.get("TRADEDECK_COMPILE", "1") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    spec = importlib.util.spec_from_file_location("_compiled", "src/tradedeck/native.py")
    assert spec is not None and spec.loader is not None
    listing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(listing)
    sources = [os.path.join("src", str(listing.source(m))) for m in listing.MODULES]
    return list(mypycify(sources, opt_level="3", group_name=listing.GROUP))


setup(ext_modules=_compiled_modules())
