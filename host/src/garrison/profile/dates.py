"""ISO dates and datetimes of a profile (``[data] start``/``end``) as UTC epoch milliseconds."""

from __future__ import annotations

import datetime as dt

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


def iso_to_ms(value: str) -> int:
    """UTC epoch milliseconds of an ISO date (``2024-03-01``) or datetime.

    A datetime without an offset is taken to be UTC; one with an offset
    (``2024-03-01T08:00:00+08:00``, ``...Z``) is converted. Raises ValueError
    naming the value when it is neither.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO date or datetime string, got {value!r}")
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=_UTC)
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO date (2024-03-01) or datetime (2024-03-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def toml_datetime_to_iso(value: object) -> object:
    """A TOML date or datetime literal as the ISO string a profile field holds.

    TOML lets ``start = 2024-03-01`` be written unquoted; the profile keeps
    such values as strings. Anything else is returned unchanged.
    """
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
