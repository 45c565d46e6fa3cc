"""A notifier that writes each event as one loguru line, leaving sinks to the host."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs
from garrison_api import Event, Level
from loguru import logger

# loguru's level names for each event level.
LOGURU_LEVELS: dict[Level, str] = {
    Level.DEBUG: "DEBUG",
    Level.INFO: "INFO",
    Level.WARNING: "WARNING",
    Level.ERROR: "ERROR",
    Level.CRITICAL: "CRITICAL",
}

_RANK = {level: rank for rank, level in enumerate(Level)}


def _to_level(value: object) -> Level:
    if isinstance(value, Level):
        return value
    try:
        return Level(str(value).lower())
    except ValueError:
        names = ", ".join(level.value for level in Level)
        raise ValueError(f"log: min_level must be one of {names}, got {value!r}") from None


def _to_kinds(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"log: kinds is a list of event-kind prefixes, got {value!r}")
    kinds: list[str] = []
    for kind in value:
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"log: kinds must be non-empty strings, got {kind!r} in {value!r}")
        kinds.append(kind)
    return tuple(kinds)


@attrs.frozen
class LogParams:
    """Which events to write: at ``min_level`` or above, and (if given) whose kind starts
    with one of ``kinds`` (``["trade.", "risk."]``; empty: every kind)."""

    min_level: Level = attrs.field(default=Level.INFO, converter=_to_level)
    kinds: tuple[str, ...] = attrs.field(default=(), converter=_to_kinds)


class LogNotifier:
    """Writes every event that passes the filters through loguru, one line each.

    The line reads ``<kind> [<source>] <message>``; the event's ``kind``,
    ``source``, ``ts`` and ``data`` travel as bound ``extra`` fields for sinks
    that format or serialise them. Configuring sinks is the host's job.
    """

    Params: ClassVar[type[LogParams]] = LogParams

    def __init__(self, params: LogParams | None = None) -> None:
        self.params = params if params is not None else LogParams()
        self._min_rank = _RANK[self.params.min_level]
        self._kinds = self.params.kinds

    def accepts(self, event: Event) -> bool:
        """True when ``event`` passes the level and kind filters."""
        if _RANK[event.level] < self._min_rank:
            return False
        return not self._kinds or event.kind.startswith(self._kinds)

    async def notify(self, event: Event) -> None:
        """Write ``event`` as one log line, if it passes the filters."""
        if not self.accepts(event):
            return
        message = " ".join(event.message.splitlines())
        logger.bind(
            kind=event.kind, source=event.source, event_ts=event.ts, data=dict(event.data)
        ).log(LOGURU_LEVELS[event.level], "{} [{}] {}", event.kind, event.source, message)
