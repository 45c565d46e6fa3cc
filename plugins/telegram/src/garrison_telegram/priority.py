"""Which priority an event is told at, and the rate windows of each priority."""

from __future__ import annotations

import enum

from garrison_api import Event, Level

from garrison_telegram.params import TelegramParams


class Priority(enum.StrEnum):
    """A message's priority; each has rate limits of its own."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HEARTBEAT = "heartbeat"


_BY_LEVEL = {
    Level.CRITICAL: Priority.CRITICAL,
    Level.ERROR: Priority.ERROR,
    Level.WARNING: Priority.WARNING,
    Level.INFO: Priority.INFO,
}

_RANK = {level: rank for rank, level in enumerate(Level)}


def priority_of(event: Event, params: TelegramParams) -> Priority | None:
    """The priority ``event`` is told at, or None when it is not told at all.

    Muted kinds and levels below ``min_level`` are not told; a heartbeat kind
    below ``warning`` is a heartbeat; else the level decides (debug: never).
    """
    if params.mute_kinds and event.kind.startswith(params.mute_kinds):
        return None
    if _RANK[event.level] < _RANK[params.min_level]:
        return None
    heartbeat = bool(params.heartbeat_kinds) and event.kind.startswith(params.heartbeat_kinds)
    if heartbeat and _RANK[event.level] < _RANK[Level.WARNING]:
        return Priority.HEARTBEAT
    return _BY_LEVEL.get(event.level)


def windows(params: TelegramParams) -> dict[Priority, tuple[tuple[int, float], ...]]:
    """Each priority's limits as (messages, per seconds) windows; all must have room."""
    return {
        Priority.CRITICAL: (
            (params.critical_per_10min, 600.0),
            (params.critical_per_hour, 3600.0),
        ),
        Priority.ERROR: ((params.error_per_minute, 60.0),),
        Priority.WARNING: ((params.warning_per_minute, 60.0),),
        Priority.INFO: ((params.info_per_minute, 60.0),),
        Priority.HEARTBEAT: ((params.heartbeat_per_hour, 3600.0),),
    }
