"""Every strategy the platform knows by name: the built-ins and the user's own files.

User strategies are plain Python files in ``TRADEDECK_STRATEGIES_DIR``, imported with
importlib like any module. A user's file is code we do not control, so loading it must
never take the platform down: a file that does not parse, raises while importing, or
holds a class that does not follow the strategy API is reported as ``file:line: message``
and skipped, and everything else still loads. The same ``file:line`` pointer is what
:func:`failure_location` gives when a strategy raises later, while running.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import structlog

from tradedeck.domain.errors import InvalidInput
from tradedeck.strategies.base import Strategy, StrategyParams
from tradedeck.strategies.builtin.bollinger_breakout import BollingerBreakout
from tradedeck.strategies.builtin.macd_trend import MacdTrend
from tradedeck.strategies.builtin.rsi_reversion import RsiReversion
from tradedeck.strategies.builtin.sma_cross import SmaCross

log = structlog.get_logger(__name__)

BUILTIN_STRATEGIES: Final[tuple[type[Strategy], ...]] = (
    SmaCross,
    RsiReversion,
    BollingerBreakout,
    MacdTrend,
)
NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_MODULE_PREFIX: Final = "tradedeck_user_strategy_"


@dataclass(frozen=True, slots=True)
class LoadError:
    """Why a user strategy file (or one class in it) was skipped."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 1}: {self.message}"


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    name: str
    description: str
    params_schema: dict[str, Any]
    source: str  # "builtin" or the file the class was loaded from

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": self.params_schema,
            "source": self.source,
        }


class StrategyRegistry:
    """Strategy classes by name; build one with :meth:`load` (or the constructor in tests)."""

    def __init__(
        self,
        strategies: Iterable[type[Strategy]] = BUILTIN_STRATEGIES,
        *,
        errors: Iterable[LoadError] = (),
        sources: Mapping[str, Path] | None = None,
    ) -> None:
        self._classes: dict[str, type[Strategy]] = {}
        for cls in strategies:
            if cls.name in self._classes:
                raise ValueError(f"strategy {cls.name!r} is registered twice")
            self._classes[cls.name] = cls
        self._errors = tuple(errors)
        self._sources = dict(sources or {})

    @classmethod
    def load(cls, directory: Path | None) -> StrategyRegistry:
        """The built-ins plus every loadable ``*.py`` in ``directory`` (None = built-ins only).

        Files starting with ``_`` are skipped (helpers a strategy may import itself).
        This imports user code, which is blocking work: call it off the event loop.
        """
        classes: dict[str, type[Strategy]] = {s.name: s for s in BUILTIN_STRATEGIES}
        sources: dict[str, Path] = {}
        errors: list[LoadError] = []
        if directory is not None:
            if not directory.is_dir():
                errors.append(LoadError(directory, None, "strategies directory does not exist"))
            else:
                for path in sorted(directory.glob("*.py")):
                    if path.name.startswith("_"):
                        continue
                    found, problems = _load_file(path)
                    errors.extend(problems)
                    for strategy in found:
                        if strategy.name in classes:
                            where = sources.get(strategy.name)
                            errors.append(
                                LoadError(
                                    path,
                                    _class_line(strategy),
                                    f"strategy name {strategy.name!r} is already taken by "
                                    + (str(where) if where else "a built-in strategy"),
                                )
                            )
                            continue
                        classes[strategy.name] = strategy
                        sources[strategy.name] = path
        for error in errors:
            log.warning("strategy_load_failed", error=str(error))
        return cls(classes.values(), errors=errors, sources=sources)

    def get(self, name: str) -> type[Strategy]:
        cls = self._classes.get(name.strip().lower())
        if cls is None:
            raise InvalidInput(
                "unknown_strategy",
                f"unknown strategy {name!r}; known: {', '.join(self.names())}",
            )
        return cls

    def create(
        self, name: str, params: StrategyParams | Mapping[str, Any] | None = None
    ) -> Strategy:
        """An instance with validated params (InvalidInput names the bad parameter)."""
        return self.get(name)(params)

    def names(self) -> list[str]:
        return sorted(self._classes)

    def source(self, name: str) -> str:
        path = self._sources.get(name)
        return str(path) if path is not None else "builtin"

    def describe(self) -> list[StrategyInfo]:
        return [
            StrategyInfo(
                name=name,
                description=cls.description,
                params_schema=cls.Params.model_json_schema(),
                source=self.source(name),
            )
            for name, cls in sorted(self._classes.items())
        ]

    def errors(self) -> tuple[LoadError, ...]:
        return self._errors


def failure_location(error: BaseException, strategy: type[Strategy] | Strategy) -> str:
    """``file:line: Type: message`` for an exception raised inside a strategy.

    The line is the deepest traceback frame in the strategy's own file (for a user file,
    the line the user wrote), falling back to the deepest frame at all.
    """
    cls = strategy if isinstance(strategy, type) else type(strategy)
    own = _source_file(cls)
    frames = traceback.extract_tb(error.__traceback__)
    chosen = next((f for f in reversed(frames) if own and _same_file(f.filename, own)), None)
    if chosen is None and frames:
        chosen = frames[-1]
    where = f"{chosen.filename}:{chosen.lineno}" if chosen else (own or cls.__module__)
    return f"{where}: {type(error).__name__}: {error}"


def _load_file(path: Path) -> tuple[list[type[Strategy]], list[LoadError]]:
    module_name = _module_name(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return [], [LoadError(path, None, "cannot be imported as a Python module")]
    module = importlib.util.module_from_spec(spec)
    # Registered before running so pydantic and dataclasses can resolve the file's names.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        message = f"{type(error).__name__}: {error.msg}"
        return [], [LoadError(path, error.lineno, message)]
    except (Exception, SystemExit) as error:  # user code: anything may come out of it
        sys.modules.pop(module_name, None)
        return [], [LoadError(path, _line_in(error, path), f"{type(error).__name__}: {error}")]
    found: list[type[Strategy]] = []
    errors: list[LoadError] = []
    for cls in _strategy_classes(module):
        problem = _check_class(cls)
        if problem is None:
            found.append(cls)
        else:
            errors.append(LoadError(path, _class_line(cls), f"{cls.__name__}: {problem}"))
    if not found and not errors:
        errors.append(LoadError(path, None, "defines no Strategy subclass"))
    return found, errors


def _strategy_classes(module: ModuleType) -> list[type[Strategy]]:
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Strategy)
        and value.__module__ == module.__name__
    ]
    # Abstract intermediate bases a file defines for its own strategies are not errors,
    # as long as something subclasses them in the same file.
    return [
        c
        for c in classes
        if not (inspect.isabstract(c) and any(o is not c and issubclass(o, c) for o in classes))
    ]


def _check_class(cls: type[Strategy]) -> str | None:
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        return f"does not implement {missing}"
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return (
            "needs a class attribute `name`: lowercase letters, digits and _, "
            f"starting with a letter, at most 40 characters (got {name!r})"
        )
    if not isinstance(cls.description, str):
        return "`description` must be a string"
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, StrategyParams)):
        return "`Params` must be a subclass of StrategyParams"
    try:
        instance = cls()
        warmup = instance.warmup
    except InvalidInput as error:
        return f"default parameters are invalid: {error.detail}"
    except Exception as error:
        return f"cannot be created with default parameters: {type(error).__name__}: {error}"
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        return f"`warmup` must be a non-negative integer, got {warmup!r}"
    return None


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"{_MODULE_PREFIX}{digest}_{stem}"


def _line_in(error: BaseException, path: Path) -> int | None:
    frames = traceback.extract_tb(error.__traceback__)
    own = [f.lineno for f in frames if _same_file(f.filename, str(path))]
    return own[-1] if own else None


def _class_line(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def _source_file(cls: type) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
