"""Messages as Telegram HTML: every piece of text escaped, every message within the limit.

Telegram's HTML parse mode needs only ``&``, ``<`` and ``>`` escaped, so an
event's text (a symbol, an exception with angle brackets, a Markdown
asterisk) can never break the formatting or inject markup.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from typing import Any

from garrison_api import Event

from garrison_telegram.priority import Priority

#: Telegram's longest message, in characters.
MAX_MESSAGE = 4096

#: The longest text kept from one field, and the most data entries shown.
MAX_FIELD = 600
MAX_DATA = 20

ICONS = {
    Priority.CRITICAL: "🚨",
    Priority.ERROR: "🔴",
    Priority.WARNING: "⚠️",
    Priority.INFO: "ℹ️",
    Priority.HEARTBEAT: "💓",
}

_NAMES = {
    Priority.CRITICAL: ("critical", "criticals"),
    Priority.ERROR: ("error", "errors"),
    Priority.WARNING: ("warning", "warnings"),
    Priority.INFO: ("info", "infos"),
    Priority.HEARTBEAT: ("heartbeat", "heartbeats"),
}


def esc(value: Any) -> str:
    """``value`` as text safe inside Telegram HTML, cut to :data:`MAX_FIELD` characters."""
    text = str(value)
    if len(text) > MAX_FIELD:
        text = text[: MAX_FIELD - 1] + "…"
    return html.escape(text, quote=False)


def utc(ts_ms: int) -> str:
    """Epoch milliseconds as ``2026-12-06 02:10:00 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ms / 1000))


def fit(text: str) -> str:
    """``text`` cut to Telegram's limit, at a line end when there is one."""
    if len(text) <= MAX_MESSAGE:
        return text
    cut = text.rfind("\n", 0, MAX_MESSAGE - 2)
    return text[: cut if cut > 0 else MAX_MESSAGE - 2] + "\n…"


def suppressed_line(counts: Mapping[Priority, int]) -> str:
    """``12 warnings, 1 info held back by the rate limits``, or "" when nothing was."""
    parts = [
        f"{n} {_NAMES[p][0] if n == 1 else _NAMES[p][1]}"
        for p in Priority
        if (n := counts.get(p, 0)) > 0
    ]
    return f"{', '.join(parts)} suppressed by the rate limits" if parts else ""


def event_message(event: Event, priority: Priority, suppressed: Mapping[Priority, int]) -> str:
    """The message telling ``event`` (with what the rate limits held back since the last)."""
    title = f"<b>{esc(priority.value.upper())}</b> · <code>{esc(event.kind)}</code>"
    lines = [f"{ICONS[priority]} {title}"]
    lines.append(esc(event.message))
    items = list(event.data.items())
    for key, value in items[:MAX_DATA]:
        lines.append(f"• {esc(key)}: <code>{esc(value)}</code>")
    if len(items) > MAX_DATA:
        lines.append(f"• … {len(items) - MAX_DATA} more")
    lines.append(f"<i>{esc(event.source)} · {esc(utc(event.ts))}</i>")
    note = suppressed_line(suppressed)
    if note:
        lines.append(f"<i>({esc(note)} since the last message)</i>")
    return fit("\n".join(lines))


def table(title: str, rows: Iterable[tuple[str, Any]]) -> str:
    """A titled list of ``name: value`` lines."""
    lines = [f"<b>{esc(title)}</b>"]
    lines.extend(f"{esc(name)}: <code>{esc(_num(value))}</code>" for name, value in rows)
    return fit("\n".join(lines))


def _num(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return "—" if value is None else value
