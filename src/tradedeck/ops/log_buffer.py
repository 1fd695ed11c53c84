"""The process's recent log lines, kept in memory, for /logs and /errors.

A trader on a phone cannot ssh in to read journald. The platform keeps its own last log
lines, rendered by the same formatter as stderr (so with the same secrets masked), and
answers from them. Bounded twice: the last ``capacity`` lines of any level, and apart
from them the last ``error_capacity`` errors, so a chatty hour of INFO lines cannot push
the one error that matters out of /errors.

A logging handler: records arrive from any thread (executors log too); readers take a
snapshot under the handler's lock.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tradedeck.ops.logging import build_formatter

LEVELS = ("debug", "info", "warning", "error", "critical")
"""Level names as the log writes them, least severe first."""

T = TypeVar("T")
_MAIN_KEYS = frozenset({"event", "level", "logger", "timestamp", "exception"})


def level_rank(level: str) -> int:
    """0 for debug up to 4 for critical; an unknown name ranks as info."""
    try:
        return LEVELS.index(level.lower())
    except ValueError:
        return 1


@dataclass(frozen=True, slots=True)
class LogLine:
    at: datetime
    level: str
    logger: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None  # what was raised: "RuntimeError: exchange down"

    @property
    def is_error(self) -> bool:
        return level_rank(self.level) >= level_rank("error")


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Errors of one kind (same logger, same event): how many, when, the latest one."""

    logger: str
    event: str
    count: int
    first_at: datetime
    last_at: datetime
    last: LogLine


class LogBuffer(logging.Handler):
    def __init__(
        self, capacity: int = 2000, error_capacity: int = 500, level: int = logging.INFO
    ) -> None:
        super().__init__(level)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._errors: deque[tuple[int, LogLine]] = deque(maxlen=error_capacity)
        self._error_count = 0  # errors ever kept: the sequence number of the newest
        self.setFormatter(build_formatter(json=True))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = parse_line(self.format(record))
        except Exception:  # a log line must never break the code that logged it
            self.handleError(record)
            return
        self._lines.append(line)
        if line.is_error:
            self._error_count += 1
            self._errors.append((self._error_count, line))

    def lines(self, limit: int = 20, min_level: str = "info") -> list[LogLine]:
        """The newest ``limit`` lines at ``min_level`` or above, oldest first."""
        floor = level_rank(min_level)
        picked: list[LogLine] = []
        for line in reversed(self._snapshot(self._lines)):
            if level_rank(line.level) >= floor:
                picked.append(line)
                if len(picked) >= limit:
                    break
        picked.reverse()
        return picked

    def errors(self, since: datetime) -> list[ErrorGroup]:
        """Errors since ``since``, grouped by kind, the most recent kind first."""
        return group_errors(line for _, line in self._snapshot(self._errors) if line.at >= since)

    def errors_after(self, seen: int) -> tuple[list[LogLine], int]:
        """The errors kept since the one numbered ``seen`` (0: all), and the newest number:
        pass it back next time to get only what came after."""
        kept = self._snapshot(self._errors)
        newest = kept[-1][0] if kept else seen
        return [line for number, line in kept if number > seen], newest

    def error_count(self, since: datetime) -> int:
        return sum(1 for _, line in self._snapshot(self._errors) if line.at >= since)

    def _snapshot(self, lines: Iterable[T]) -> list[T]:
        self.acquire()  # the lock emit runs under: no append while we copy
        try:
            return list(lines)
        finally:
            self.release()

    @classmethod
    def install(cls, root: logging.Logger | None = None) -> LogBuffer:
        buffer = cls()
        (root or logging.getLogger()).addHandler(buffer)
        return buffer

    def uninstall(self, root: logging.Logger | None = None) -> None:
        (root or logging.getLogger()).removeHandler(self)


def group_errors(lines: Iterable[LogLine]) -> list[ErrorGroup]:
    """Errors grouped by kind (logger and event), the most recent kind first."""
    groups: dict[tuple[str, str], list[LogLine]] = {}
    for line in lines:
        groups.setdefault((line.logger, line.event), []).append(line)
    found = [
        ErrorGroup(logger, event, len(lines), lines[0].at, lines[-1].at, lines[-1])
        for (logger, event), lines in groups.items()
    ]
    found.sort(key=lambda g: g.last_at, reverse=True)
    return found


def parse_line(rendered: str) -> LogLine:
    """One rendered JSON log line back into its parts."""
    document = json.loads(rendered)
    if not isinstance(document, dict):
        raise ValueError("a log line renders as a JSON object")
    stamp = document.get("timestamp")
    at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime.now(UTC)
    exception = document.get("exception")
    raised = _raised(exception) if isinstance(exception, str) and exception.strip() else None
    return LogLine(
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        level=str(document.get("level", "info")).lower(),
        logger=str(document.get("logger", "")),
        event=str(document.get("event", "")),
        fields={k: v for k, v in document.items() if k not in _MAIN_KEYS},
        exception=raised,
    )


def _raised(traceback: str) -> str:
    """The first line of the exception a rendered traceback ends with: frames and their
    source lines are indented, the exception's own text is not (and may span lines)."""
    lines = traceback.rstrip().splitlines()
    start = 0
    for index, line in enumerate(lines):
        if line.startswith(" "):
            start = index + 1
    return (lines[start:] or lines[-1:])[0]
