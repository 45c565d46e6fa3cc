"""The component protocols a plugin implements, and the context the host hands them.

A component is a class with a frozen attrs ``Params`` class attribute and an
``__init__(self, params)``. The host structures the component's table of the
profile into ``Params`` (unknown keys are errors) and builds one instance per
use in the profile. Components never place orders and never read the wall
clock: they see the world only through their arguments and ``ctx``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from garrison_api.indicators import FloatArray, IndicatorSpec
from garrison_api.types import (
    AccountState,
    Candle,
    Event,
    Market,
    OrderIntent,
    Outcome,
    Position,
    Score,
    Signal,
    Veto,
)


@runtime_checkable
class Clock(Protocol):
    """The only source of time a plugin may use: simulated in replay, the wall clock live."""

    def now_ms(self) -> int:
        """Current time in UTC epoch milliseconds."""
        ...


class KeyValueStore(Protocol):
    """A plugin's own persistent namespace in the host's storage (JSON-serialisable values)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class StrategyContext(Protocol):
    """What a strategy may look at while deciding. Read-only."""

    @property
    def clock(self) -> Clock: ...

    @property
    def storage(self) -> KeyValueStore: ...

    def indicators(self, symbol: str) -> Mapping[str, float]:
        """Current values of the indicators this strategy declared, for ``symbol``.

        Values are ``nan`` until enough history has been seen.
        """
        ...

    def position(self, symbol: str) -> Position | None:
        """The host's open position in ``symbol``, or None when flat."""
        ...

    def market(self, symbol: str) -> Market:
        """Trading rules of ``symbol``."""
        ...

    def emit(self, event: Event) -> None:
        """Put an event on the host's bus (journaled, sent to notifiers)."""
        ...


class Strategy(Protocol):
    """Turns closed candles into signals.

    ``warmup`` is how many bars per symbol the strategy needs before its first
    decision; ``timeframes`` lists the bar sizes it wants (``"5m"``, ``"4h"``);
    ``indicators`` maps the names it reads from ``ctx.indicators`` to specs.
    """

    Params: ClassVar[type]
    warmup: int
    timeframes: tuple[str, ...]
    indicators: Mapping[str, IndicatorSpec]

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """Decide at the close of ``candle``; return entries and exits (often none)."""
        ...


#: Whole-series columns a screen reads: ``open``, ``high``, ``low``, ``close``,
#: ``volume`` and every indicator the strategy declared, under its own name.
Columns = Mapping[str, FloatArray]

#: One flag per bar of a series.
BarMask = npt.NDArray[np.bool_]


@runtime_checkable
class ScreenedStrategy(Strategy, Protocol):
    """A strategy that can tell in advance, for a whole series, where it may act.

    ``screen`` is optional; a strategy that has it lets a replay skip the
    ``on_candle`` calls that cannot produce anything. Given whole-series
    columns (see :data:`Columns`) it returns one flag per bar, and promises:

    - **sound**: where a flag is False, ``on_candle`` on that bar returns no
      signal, whatever the position in the symbol (flat, long or short);
    - **causal**: the flag of bar ``t`` depends on bars up to ``t`` only;
    - **stateless in between**: ``on_candle`` does not need to see the bars
      that are skipped (it keeps no per-bar state of its own).

    A flag may be True where nothing happens; that only costs a call. Live
    hosts may ignore the screen and call ``on_candle`` on every bar, so the
    decisions are the same either way. :func:`garrison_api.testing.check_screen`
    (and the ``StrategyContract``) checks all three promises on real data.
    """

    def screen(self, columns: Columns) -> BarMask:
        """Flags per bar: True where ``on_candle`` may return a signal."""
        ...


class Scorer(Protocol):
    """Rates signals; online scorers also learn from outcomes."""

    Params: ClassVar[type]

    def score(self, signal: Signal, ctx: StrategyContext) -> Score: ...

    def learn(self, outcome: Outcome) -> None:
        """Called once per closed trade and per resolved phantom."""
        ...


class Sizer(Protocol):
    """Turns a signal into a quantity, or None for "do not trade"."""

    Params: ClassVar[type]

    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None: ...


class RiskRule(Protocol):
    """One link of the veto chain. Pure: it may refuse, the host acts on the refusal.

    Every rule of the chain runs on every intent, so that every reason to
    refuse is recorded, not just the first. A rule that passes every exit
    (``intent.reduce_only``) may say so with a class attribute
    ``judges_exits = False``; the host then asks it about entries only.
    """

    Params: ClassVar[type]

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None: ...


class Notifier(Protocol):
    """Tells people about events. Called on the host's event loop; must not block."""

    Params: ClassVar[type]

    async def notify(self, event: Event) -> None: ...


#: The kinds of component a plugin can register, as they appear in the profile.
COMPONENT_KINDS: tuple[str, ...] = ("strategy", "scorer", "sizer", "risk_rule", "notifier")


def component_params(component: type) -> type:
    """The ``Params`` class of a component class, with a clear error when it has none."""
    params = getattr(component, "Params", None)
    if params is None or not hasattr(params, "__attrs_attrs__"):
        raise TypeError(
            f"{component.__module__}.{component.__qualname__} has no attrs Params class; "
            "every component declares one (an empty @attrs.frozen class is fine)"
        )
    return params  # type: ignore[no-any-return]


__all__ = [
    "COMPONENT_KINDS",
    "BarMask",
    "Clock",
    "Columns",
    "KeyValueStore",
    "Notifier",
    "RiskRule",
    "Scorer",
    "ScreenedStrategy",
    "Sizer",
    "Strategy",
    "StrategyContext",
    "component_params",
]
