"""Screens of the platform's own health: /health, /logs and /errors (admins).

Short lines a phone does not wrap; log lines in <pre> so columns stay aligned; every
screen fits one Telegram message (the oldest lines give way first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradedeck.bot import keyboards
from tradedeck.bot.formatting import escape
from tradedeck.bot.views import Screen
from tradedeck.domain.errors import PermissionDenied
from tradedeck.domain.roles import Actor
from tradedeck.ops.log_buffer import LogLine
from tradedeck.ops.system import State, age_text, byte_text
from tradedeck.services import Services

MESSAGE_BUDGET = 3800
"""Characters of one screen, under Telegram's 4,096 with room for markup."""

LOG_LINES = 15
LOG_LINES_MAX = 50
FIELD_CHARS = 60

_ICON = {State.OK: "✅", State.WARN: "⚠️", State.FAIL: "❌"}
_LEVEL = {"debug": "DBG", "info": "INF", "warning": "WRN", "error": "ERR", "critical": "CRT"}


async def health(services: Services, actor: Actor) -> Screen:
    try:
        report = await services.system.health(actor)
    except PermissionDenied as error:
        return Screen(f"❌ {escape(error.detail)}")
    r = report.resources
    used = r.memory_total - r.memory_available
    lines = [
        f"{_ICON[report.state]} <b>Health</b> · tradedeck {escape(report.version)} · "
        f"up {age_text(report.uptime_seconds)}",
        *(f"{_ICON[c.state]} {escape(c.name)}: {escape(c.detail)}" for c in report.checks),
        "",
        "<b>Resources</b>",
        f"CPU: process {r.cpu_percent:.0f}% of a core · machine {r.system_cpu_percent:.0f}% "
        f"of {r.cpus}",
        f"Load: {' / '.join(f'{x:.2f}' for x in r.load)}",
        f"Memory: process {byte_text(r.rss_bytes)} · machine {byte_text(used)} of "
        f"{byte_text(r.memory_total)} ({used / r.memory_total:.0%})",
        f"Disk: {byte_text(r.disk_free)} free of {byte_text(r.disk_total)} "
        f"({r.disk_free / r.disk_total:.0%}) at {escape(r.disk_path)}",
        f"Threads: {r.threads}" + (f" · open files: {r.open_files}" if r.open_files else ""),
    ]
    return Screen("\n".join(lines), keyboards.refresh("health", keyboards.system_buttons()))


def logs(services: Services, actor: Actor, limit: int = LOG_LINES, level: str = "info") -> Screen:
    try:
        found = services.system.log_lines(actor, min(max(limit, 1), LOG_LINES_MAX), level)
    except PermissionDenied as error:
        return Screen(f"❌ {escape(error.detail)}")
    title = f"📜 <b>Logs</b> · last {len(found)} at {escape(level)} or above"
    if not found:
        return Screen(f"{title}\nNothing logged yet.", _logs_keyboard(level))
    rendered = [_log_line(line) for line in found]
    body = _fit(rendered, MESSAGE_BUDGET - len(title))
    dropped = len(rendered) - len(body)
    if dropped:
        title += f" ({dropped} older not shown)"
    return Screen(f"{title}\n<pre>{escape(chr(10).join(body))}</pre>", _logs_keyboard(level))


def errors(services: Services, actor: Actor, hours: float = 24.0) -> Screen:
    try:
        groups = services.system.errors(actor, hours)
    except PermissionDenied as error:
        return Screen(f"❌ {escape(error.detail)}")
    markup = keyboards.refresh("errors", keyboards.system_buttons())
    if not groups:
        return Screen(f"✅ <b>No errors</b> in the last {hours:g} h.", markup)
    total = sum(g.count for g in groups)
    lines = [f"⚠️ <b>Errors</b> · {total} in the last {hours:g} h, {len(groups)} kinds"]
    for group in groups:
        times = f"×{group.count} · last {_clock(group.last_at)}"
        if group.count > 1:
            times += f" · first {_clock(group.first_at)}"
        entry = [f"<b>{escape(group.event)}</b> {times}", f"   {escape(group.logger)}"]
        detail = group.last.exception or _fields(group.last.fields)
        if detail:
            entry.append(f"   <code>{escape(_clip(detail, 200))}</code>")
        if sum(len(x) + 1 for x in lines + entry) > MESSAGE_BUDGET:
            lines.append("… more in GET /api/v1/system/errors")
            break
        lines.extend(entry)
    return Screen("\n".join(lines), markup)


def _logs_keyboard(level: str) -> Any:
    view = "logs" if level == "info" else f"logs_{level}"
    return keyboards.refresh(view, keyboards.system_buttons())


def _log_line(line: LogLine) -> str:
    text = f"{line.at:%H:%M:%S} {_LEVEL.get(line.level, line.level[:3].upper())} {line.event}"
    extra = _fields(line.fields)
    if extra:
        text += f" {extra}"
    if line.exception:
        text += f" | {line.exception}"
    return _clip(text, 300)


def _fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={_clip(str(v), FIELD_CHARS)}" for k, v in fields.items())


def _fit(lines: list[str], budget: int) -> list[str]:
    """The newest lines that fit ``budget`` characters once escaped, oldest first."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        cost = len(escape(line)) + 1
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    kept.reverse()
    return kept


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clock(at: datetime) -> str:
    return at.strftime("%m-%d %H:%M UTC")
