"""Parameters of the Turtle strategy, as a profile's ``[strategies.params]`` table gives them."""

from __future__ import annotations

import math
import re
from typing import Literal

import attrs

#: (entry, exit) breakout periods of the two classic systems.
SYSTEM_PERIODS: dict[int, tuple[int, int]] = {1: (20, 10), 2: (55, 20)}

_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhdw]$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _system(_inst: object, _attr: attrs.Attribute[int], value: object) -> None:
    if not _is_int(value) or value not in SYSTEM_PERIODS:
        raise ValueError(f"turtle: system must be 1 or 2, got {value!r}")


def _period_or_none(_inst: object, attr: attrs.Attribute[int | None], value: object) -> None:
    if value is None:
        return
    if not _is_int(value) or value < 1:  # type: ignore[operator]
        raise ValueError(f"turtle: {attr.name} must be a whole number of bars >= 1, got {value!r}")


def _period(_inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if not _is_int(value) or value < 1:  # type: ignore[operator]
        raise ValueError(f"turtle: {attr.name} must be a whole number of bars >= 1, got {value!r}")


def _stop_n(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"turtle: {attr.name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"turtle: {attr.name} must be a positive number of N, got {value!r}")


def _timeframe(_inst: object, attr: attrs.Attribute[str | None], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _TIMEFRAME.match(value):
        raise ValueError(
            f"turtle: {attr.name} must be a bar size like '5m', '4h' or '1d', got {value!r}"
        )


#: ``ruleset`` names of the classic systems (the 19-rule set is the ``turtle_rules`` strategy).
RULESETS: dict[str, int] = {"system1": 1, "system2": 2}


def _ruleset(_inst: object, attr: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and value not in RULESETS:
        raise ValueError(
            f"turtle: {attr.name} must be 'system1' or 'system2', got {value!r} "
            "(the 19-rule set is the strategy 'turtle_rules')"
        )


@attrs.frozen
class TurtleParams:
    """Turtle System 1 (20/10) or System 2 (55/20) breakouts with a stop at ``stop_n``·N.

    ``entry_period``/``exit_period`` override the chosen system's breakout
    periods; ``atr_period`` is N's Wilder ATR length; ``timeframe`` narrows the
    strategy to one bar size (None: every timeframe the feed provides).
    ``ruleset = "system1" | "system2"`` is another way to say ``system``.
    """

    system: Literal[1, 2] = attrs.field(default=1, validator=_system)
    entry_period: int | None = attrs.field(default=None, validator=_period_or_none)
    exit_period: int | None = attrs.field(default=None, validator=_period_or_none)
    atr_period: int = attrs.field(default=20, validator=_period)
    stop_n: float = attrs.field(default=2.0, validator=_stop_n)
    timeframe: str | None = attrs.field(default=None, validator=_timeframe)
    ruleset: Literal["system1", "system2"] | None = attrs.field(default=None, validator=_ruleset)

    def __attrs_post_init__(self) -> None:
        if self.ruleset is None:
            return
        chosen = RULESETS[self.ruleset]
        if self.system not in (1, chosen):
            raise ValueError(
                f"turtle: ruleset {self.ruleset!r} contradicts system = {self.system}; give one"
            )
        # Frozen: set once here, so ``system`` always says which system runs.
        object.__setattr__(self, "system", chosen)

    @property
    def entry(self) -> int:
        """Bars of the entry breakout channel."""
        return self.entry_period or SYSTEM_PERIODS[self.system][0]

    @property
    def exit(self) -> int:
        """Bars of the exit breakout channel."""
        return self.exit_period or SYSTEM_PERIODS[self.system][1]
