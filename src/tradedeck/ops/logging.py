"""Structured logging: one JSON object per line on stderr, secrets masked before rendering.

structlog and the standard library share a single handler and renderer, so a uvicorn access
line, an SQLAlchemy warning and our own events land in the same format and can be queried
together. Nothing happens at import: the entry point calls :func:`configure_logging`, which
keeps libraries and tests that import this module from having their logging rewired.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "***"

_SENSITIVE_KEY_PARTS = ("token", "secret", "password", "authorization", "apikey")
# Nested containers are walked so a secret inside a logged dict is masked too; the cap keeps a
# self-referencing structure from recursing forever.
_MAX_REDACT_DEPTH = 8

# Libraries that install their own handlers; they are made to propagate to ours instead.
_ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    # Separators dropped so "api_key", "api-key", "X-Api-Key" and "apikey" all match.
    normalised = key.lower().replace("_", "").replace("-", "")
    return any(part in normalised for part in _SENSITIVE_KEY_PARTS)


def _redact_value(value: Any, depth: int) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if depth >= _MAX_REDACT_DEPTH:
        return value
    # New containers, never in-place edits: the caller still owns what it passed to the log.
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _is_sensitive_key(k) else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def _drop_color(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """uvicorn adds an ANSI-coloured copy of each message; a JSON line needs it once."""
    event_dict.pop("color_message", None)
    return event_dict


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Mask values whose key names a credential, and every pydantic secret, before rendering.

    Logs are copied to places with weaker access control than the database (terminals,
    aggregators, bug reports), so a credential that reaches a log line must be assumed leaked.
    Matching on key names errs toward masking: a hidden ``token_count`` is a cheaper mistake
    than a printed token.
    """
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if _is_sensitive_key(key) else _redact_value(value, 0)
    return event_dict


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time, not at configuration time.

    Test runners swap ``sys.stderr`` per test; a handler holding the original stream would
    write past the capture, or into a capture that has since been closed.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignore: the stream is always the current ``sys.stderr``."""


def _parse_level(level: str) -> int:
    levels = logging.getLevelNamesMapping()
    try:
        return levels[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def build_formatter(*, json: bool = True) -> logging.Formatter:
    """The one rendering of a log record, structlog's or the standard library's: JSON (or
    a console line), with every secret masked. The stderr handler and the in-memory
    buffer behind /logs (``ops/log_buffer.py``) both use it, so they never disagree."""
    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
        finishing: list[Processor] = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        finishing = []
    return structlog.stdlib.ProcessorFormatter(
        # Only records from the standard library run this chain; ExtraAdder keeps their
        # ``extra=`` fields, which then pass through redaction like any other field.
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.ExtraAdder(),
            _drop_color,
            redact_secrets,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *finishing,
            renderer,
        ],
    )


def configure_logging(
    level: str = "INFO", json: bool = True, *, cache_loggers: bool = True
) -> None:
    """Route structlog and standard logging to one stderr handler rendering JSON lines.

    Safe to call again (tests do, and so may a CLI that re-reads its settings): the handler
    installed by a previous call is replaced, never stacked, so no line is printed twice.
    ``json=False`` swaps in a human-readable renderer for local development.
    ``cache_loggers=False`` is for tests: a cached logger keeps this chain for good, so a
    later test could no longer capture what the module logs.

    Call it before starting uvicorn and pass ``log_config=None`` to ``uvicorn.run``; otherwise
    uvicorn installs its own handlers again on startup.
    """
    level_no = _parse_level(level)
    handler = _StderrHandler()
    handler.setFormatter(build_formatter(json=json))

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_no)
    # aiogram logs every handled update at INFO; the audit trail already records each
    # one with its outcome, so a second line per update is only cost and noise.
    logging.getLogger("aiogram.event").setLevel(max(level_no, logging.WARNING))
    # httpx logs every request's full URL at INFO, and URLs carry secrets here: the
    # webhook's secret path (the sandbox delivers updates with httpx), a heartbeat URL.
    logging.getLogger("httpx").setLevel(max(level_no, logging.WARNING))

    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
    # SQLAlchemy reports misuse through ``warnings``; captured, they reach the log as JSON.
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            # Before the event leaves structlog: the record it becomes may also reach
            # handlers other than ours (a test runner's capture, a library's), unrendered.
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Caching is safe across reconfiguration: this chain never varies between calls;
        # level and renderer live on the stdlib side, which is replaced above.
        cache_logger_on_first_use=cache_loggers,
    )
