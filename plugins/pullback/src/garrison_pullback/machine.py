"""The per-symbol setup state machine: breakout, pullback into the zone, confirmation.

One bar moves a setup by at most one transition. For a long (a short is the
mirror image, support for resistance):

- ``neutral`` → ``broken_up`` when the close is above the resistance zone
  (level·(1 + zone)), the structure is not a downtrend (``structure_filter``)
  and, with ``use_ema``, the close is above the EMA. The level, the breakout
  bar's high and volume ratio, and the previous pivot low are remembered.
- ``broken_up`` → ``pullback_up`` when a bar's low reaches the zone
  (low ≤ level·(1 + zone)) and it closes at or above the level; that bar is
  the first pullback extreme, and counts as a confirmation when it is bullish.
- ``pullback_up``: a lower low becomes the new extreme and restarts the count;
  each bullish candle (close > open) counts; at ``confirmation_candles`` the
  setup is ``confirmed`` and the strategy builds the signal.
- from ``broken_up`` or ``pullback_up`` back to ``neutral``: a close below the
  level (``invalidated``) or a downtrend structure (``regime_change``).
- ``in_trade`` after a signal, while the symbol holds a position (the strategy
  checks at each bar; a signal that did not become a position frees the symbol
  at the next bar).
"""

from __future__ import annotations

from typing import Any

NEUTRAL = "neutral"
BROKEN_UP = "broken_up"
BROKEN_DOWN = "broken_down"
PULLBACK_UP = "pullback_up"
PULLBACK_DOWN = "pullback_down"
IN_TRADE = "in_trade"
PHASES = (NEUTRAL, BROKEN_UP, BROKEN_DOWN, PULLBACK_UP, PULLBACK_DOWN, IN_TRADE)

# What ``advance`` reports (None: nothing happened).
BREAKOUT = "breakout"
PULLBACK = "pullback"
CONFIRMED = "confirmed"
INVALIDATED = "invalidated"
REGIME_CHANGE = "regime_change"
UPDATED = "updated"


class Setup:
    """The setup of one symbol (and timeframe). Mutable, internal to the strategy."""

    __slots__ = (
        "breakout_extreme",
        "breakout_ts",
        "breakout_volume_ratio",
        "confirmations",
        "direction",
        "level",
        "phase",
        "previous_pivot",
        "pullback_extreme",
        "signal_ts",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to ``neutral``, forgetting the setup."""
        self.phase = NEUTRAL
        self.direction = 0
        self.level = 0.0
        self.breakout_ts = -1
        self.breakout_extreme = 0.0
        self.breakout_volume_ratio = 0.0
        self.previous_pivot = 0.0
        self.pullback_extreme = 0.0
        self.confirmations = 0
        self.signal_ts = -1

    def dump(self) -> dict[str, Any]:
        """JSON-friendly copy of every field."""
        return {name: getattr(self, name) for name in self.__slots__}

    def load(self, data: dict[str, Any]) -> None:
        """Restore what ``dump`` gave; refuses an unknown phase or a value of the wrong type."""
        phase = data.get("phase")
        if phase not in PHASES:
            raise ValueError(f"pullback: stored setup has an unknown phase {phase!r}")
        fresh = Setup()
        for name in self.__slots__:
            value = data.get(name, getattr(fresh, name))
            expected = type(getattr(fresh, name))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not expected:
                raise ValueError(
                    f"pullback: stored setup field {name!r} must be {expected.__name__}, "
                    f"got {value!r}"
                )
        for name in self.__slots__:
            value = data.get(name, getattr(fresh, name))
            expected = type(getattr(fresh, name))
            setattr(self, name, float(value) if expected is float else value)


class Machine:
    """Moves setups bar by bar; knows the zone, the confirmation count and the filters."""

    __slots__ = ("_confirmations", "_structure_filter", "_up", "_use_ema", "_zone")

    def __init__(
        self, zone_pct: float, confirmations: int, structure_filter: bool, use_ema: bool
    ) -> None:
        self._zone = zone_pct
        self._up = 1.0 + zone_pct
        self._confirmations = confirmations
        self._structure_filter = structure_filter
        self._use_ema = use_ema

    def neutral(
        self,
        setup: Setup,
        ts: int,
        high: float,
        low: float,
        close: float,
        resistance: float,
        support: float,
        structure: float,
        ema: float,
    ) -> str | None:
        """A breakout from ``neutral``, or None. The caller fills in the previous pivot."""
        if (
            resistance > 0.0
            and close > resistance * self._up
            and not (self._structure_filter and structure < 0.0)
            and not (self._use_ema and not close > ema)
        ):
            setup.phase = BROKEN_UP
            setup.direction = 1
            setup.level = resistance
            setup.breakout_ts = ts
            setup.breakout_extreme = high
            return BREAKOUT
        if (
            support > 0.0
            and close < support * (1.0 - self._zone)
            and not (self._structure_filter and structure > 0.0)
            and not (self._use_ema and not close < ema)
        ):
            setup.phase = BROKEN_DOWN
            setup.direction = -1
            setup.level = support
            setup.breakout_ts = ts
            setup.breakout_extreme = low
            return BREAKOUT
        return None

    def active(
        self,
        setup: Setup,
        open_: float,
        high: float,
        low: float,
        close: float,
        structure: float,
    ) -> str | None:
        """One bar of a setup after its breakout: pullback, confirmation or invalidation.

        Returns ``UPDATED`` when the bar changed the setup without moving it (a new
        breakout extreme, a confirmation counted, a deeper pullback), so that every
        change can be saved; None when it changed nothing.
        """
        phase = setup.phase
        level = setup.level
        if phase in (BROKEN_UP, PULLBACK_UP):
            if close < level:
                setup.reset()
                return INVALIDATED
            if self._structure_filter and structure < 0.0:
                setup.reset()
                return REGIME_CHANGE
            if phase == BROKEN_UP:
                extended = high > setup.breakout_extreme
                if extended:
                    setup.breakout_extreme = high
                if low > level * self._up:
                    return UPDATED if extended else None
                setup.phase = PULLBACK_UP
                setup.pullback_extreme = low
                setup.confirmations = 1 if close > open_ else 0
                return CONFIRMED if setup.confirmations >= self._confirmations else PULLBACK
            changed = False
            if low < setup.pullback_extreme:
                setup.pullback_extreme = low
                setup.confirmations = 0
                changed = True
            if close > open_:
                setup.confirmations += 1
                changed = True
            if setup.confirmations >= self._confirmations:
                return CONFIRMED
            return UPDATED if changed else None
        # broken_down / pullback_down: the mirror image.
        if close > level:
            setup.reset()
            return INVALIDATED
        if self._structure_filter and structure > 0.0:
            setup.reset()
            return REGIME_CHANGE
        if phase == BROKEN_DOWN:
            extended = low < setup.breakout_extreme
            if extended:
                setup.breakout_extreme = low
            if high < level * (1.0 - self._zone):
                return UPDATED if extended else None
            setup.phase = PULLBACK_DOWN
            setup.pullback_extreme = high
            setup.confirmations = 1 if close < open_ else 0
            return CONFIRMED if setup.confirmations >= self._confirmations else PULLBACK
        changed = False
        if high > setup.pullback_extreme:
            setup.pullback_extreme = high
            setup.confirmations = 0
            changed = True
        if close < open_:
            setup.confirmations += 1
            changed = True
        if setup.confirmations >= self._confirmations:
            return CONFIRMED
        return UPDATED if changed else None
