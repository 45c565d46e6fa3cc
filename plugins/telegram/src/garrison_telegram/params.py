"""The Telegram notifier's parameters, structured from the profile's ``params`` table."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import attrs
from garrison_api import Level

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _to_level(value: object) -> Level:
    if isinstance(value, Level):
        return value
    try:
        return Level(str(value).lower())
    except ValueError:
        names = ", ".join(level.value for level in Level)
        raise ValueError(f"telegram: min_level must be one of {names}, got {value!r}") from None


def _ids(key: str, value: object) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"telegram: {key} is a list of Telegram ids, got {value!r}")
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValueError(
                f"telegram: {key} holds whole-number Telegram ids, got {item!r} in {value!r}"
            )
        ids.append(item)
    return tuple(ids)


def _chat_ids(value: object) -> tuple[int, ...]:
    return _ids("chat_ids", value)


def _allowed_users(value: object) -> tuple[int, ...]:
    return _ids("allowed_users", value)


def _prefixes(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"telegram: {key} is a list of event-kind prefixes, got {value!r}")
    found: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise ValueError(f"telegram: {key} holds non-empty strings, got {item!r} in {value!r}")
        found.append(item)
    return tuple(found)


def _mute_kinds(value: object) -> tuple[str, ...]:
    return _prefixes("mute_kinds", value)


def _heartbeat_kinds(value: object) -> tuple[str, ...]:
    return _prefixes("heartbeat_kinds", value)


def _env_name(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ValueError(
            f"telegram: token_env names the environment variable holding the bot token "
            f"(e.g. GARRISON_TELEGRAM_TOKEN), got {value!r}; the token itself never goes in "
            "the profile"
        )


def _api_base(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError(f"telegram: api_base must be an http(s) URL, got {value!r}")


def _count(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"telegram: {attribute.name} must be a whole number >= 0, got {value!r}")


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"telegram: {attribute.name} must be a number >= 0, got {value!r}")


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    _seconds(_instance, attribute, value)
    if value <= 0:
        raise ValueError(f"telegram: {attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class TelegramParams:
    """Where alerts go, who may command the host, and how often each priority may speak.

    The defaults are the reference bot's: critical 1 per 10 minutes and 6 per
    hour, the same critical message at most once per 24 hours; error 5 per
    minute, warning 10, info 60; one heartbeat per hour. A limit of 0 mutes
    the priority. See the plugin's README for every key.
    """

    token_env: str = attrs.field(default="GARRISON_TELEGRAM_TOKEN", validator=_env_name)
    chat_ids: tuple[int, ...] = attrs.field(default=(), converter=_chat_ids)
    allowed_users: tuple[int, ...] = attrs.field(default=(), converter=_allowed_users)
    api_base: str = attrs.field(default="https://api.telegram.org", validator=_api_base)
    commands: bool = True
    control_socket: str = ""
    min_level: Level = attrs.field(default=Level.INFO, converter=_to_level)
    mute_kinds: tuple[str, ...] = attrs.field(
        # Refusals are journaled, not told: a stranger's messages must not use up the
        # warning budget and so silence the host's own warnings.
        default=("control.command", "telegram.command", "telegram.refused"),
        converter=_mute_kinds,
    )
    heartbeat_kinds: tuple[str, ...] = attrs.field(
        default=("heartbeat",), converter=_heartbeat_kinds
    )
    heartbeat_every_s: float = attrs.field(default=3600.0, validator=_seconds)
    critical_per_10min: int = attrs.field(default=1, validator=_count)
    critical_per_hour: int = attrs.field(default=6, validator=_count)
    critical_latch_hours: float = attrs.field(default=24.0, validator=_seconds)
    error_per_minute: int = attrs.field(default=5, validator=_count)
    warning_per_minute: int = attrs.field(default=10, validator=_count)
    info_per_minute: int = attrs.field(default=60, validator=_count)
    heartbeat_per_hour: int = attrs.field(default=1, validator=_count)
    confirm_ttl_s: float = attrs.field(default=60.0, validator=_positive)
    poll_timeout_s: int = attrs.field(default=25, validator=_count)
    request_timeout_s: float = attrs.field(default=10.0, validator=_positive)
