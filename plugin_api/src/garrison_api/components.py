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
    """A plugin's own persistent namespace in the host's storage (JSON-serialisable values).

    Each component use has its own namespace, kept apart per mode: a backtest
    never sees (or overwrites) what a live or paper run of the same profile
    stored. Every ``set`` is durable when it returns.
    """

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class BlobStore(Protocol):
    """A component's own store of named binary files (model weights, tables). API 1.1.

    Scoped like :class:`KeyValueStore` (per component use and mode). ``put``
    is durable when it returns and gives back the SHA-256 (hex) of the bytes,
    so a model can be traced to the exact file that scored a signal.
    """

    def put(self, name: str, data: bytes) -> str:
        """Store ``data`` under ``name`` (replacing it); return its SHA-256 hex digest."""
        ...

    def get(self, name: str) -> bytes | None:
        """The bytes stored under ``name``, or None."""
        ...

    def sha256(self, name: str) -> str | None:
        """The SHA-256 hex digest of what is stored under ``name``, or None."""
        ...

    def delete(self, name: str) -> None:
        """Forget ``name``; deleting a missing name is not an error."""
        ...

    def names(self) -> list[str]:
        """Every stored name, sorted."""
        ...


class ComponentServices(Protocol):
    """What the host hands a component's optional ``start(services)``. API 1.1.

    ``name`` is the component's use name in the profile; ``mode`` is
    ``replay``, ``paper`` or ``live``. ``storage`` and ``blobs`` are the
    component's own namespaces (see :class:`KeyValueStore`).

    API 1.3: ``control_socket`` is the path of the host's control socket
    while it serves one, else None (steer the host through it with
    :func:`garrison_api.control.control_request`). The host starts serving
    after components start, so read it when it is needed, not once in
    ``start``; a host older than 1.3 has no such attribute: read it with
    ``getattr(services, "control_socket", None)``. ``emit`` may be called from
    any thread since 1.3 (from a thread of the component's own, the event is
    journaled at the engine's next step or loop turn).
    """

    @property
    def name(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def storage(self) -> KeyValueStore: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def control_socket(self) -> str | None:
        """The host's control socket while it serves one, else None. API 1.3."""
        ...

    def emit(self, event: Event) -> None:
        """Put an event on the host's bus (journaled, sent to notifiers); any thread (1.3)."""
        ...


@runtime_checkable
class Lifecycle(Protocol):
    """Optional for every component (API 1.1): set up before the first call, tidy up after.

    ``start`` is called once, before the component's first call, with its
    services (restore saved state there); ``stop`` once, after its last call,
    also when the run fails or is interrupted. When ``start`` raises, the
    host says so with an event and goes on without the component: a strategy
    or notifier is left out, a sizer or scorer is quarantined (a gate it binds
    refuses), and a risk rule's place in the chain refuses every entry (a
    limit never silently goes missing). Both are called on the engine's
    thread; a notifier's ``notify`` runs on a thread of its own, so keep its
    services' stores to ``start`` and ``stop``. A component may run threads
    of its own between the two (a notifier that polls a chat for commands):
    start them in ``start``, end and join them in ``stop``, and block neither
    for long (a bounded join).
    """

    def start(self, services: ComponentServices) -> None: ...

    def stop(self) -> None: ...


class StrategyContext(Protocol):
    """What a strategy may look at while deciding. Read-only."""

    @property
    def clock(self) -> Clock: ...

    @property
    def storage(self) -> KeyValueStore: ...

    def indicators(self, symbol: str, timeframe: str | None = None) -> Mapping[str, float]:
        """Current values of the indicators this strategy declared, for ``symbol``.

        Values are ``nan`` until enough history has been seen. ``timeframe``
        (API 1.1) picks the series: one of the strategy's ``timeframes`` (its
        ``indicators``) or a key of its ``context_indicators``. None means the
        timeframe of the candle being decided on, or the symbol's only series.
        A series of another timeframe is read as of its last *closed* bar.
        """
        ...

    def candles(self, symbol: str, timeframe: str, n: int) -> Sequence[Candle]:
        """The last ``n`` closed candles of ``symbol`` in ``timeframe``, oldest first. API 1.1.

        Fewer at the start of the data. The series must be one the strategy
        reads (a decision or context timeframe), and ``n`` at most the
        strategy's ``warmup`` (at least 1): that is what the host keeps in
        every mode, so a larger ``n`` is refused in replay as it would be live.
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

    ``timeframes`` lists the bar sizes it decides on (``"5m"``, ``"4h"``; empty:
    every timeframe the feed has); ``indicators`` maps the names it reads from
    ``ctx.indicators`` to specs, computed on each of those timeframes.

    The warm-up rule: ``on_candle`` is called on a bar only when at least
    ``warmup`` earlier bars of the same series have closed; the host keeps the
    last ``warmup`` closed bars of every series the strategy reads (for
    ``ctx.candles``); and a replay that starts at a date loads ``warmup`` bars
    of each of those series before it, so the first bar of the window is warm.

    Optional (API 1.1): ``context_indicators``, a mapping of other timeframes
    to the indicators the strategy reads there without deciding on them
    (``{"4h": {"trend": Ema("close", 50)}}``; ``{"4h": {}}`` for candles only);
    ``on_outcome`` (see :class:`OutcomeAware`); ``start``/``stop`` (see
    :class:`Lifecycle`).
    """

    Params: ClassVar[type]
    warmup: int
    timeframes: tuple[str, ...]
    indicators: Mapping[str, IndicatorSpec]

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """Decide at the close of ``candle``; return entries and exits (often none)."""
        ...


#: Whole-series columns a screen reads: ``ts`` (bar open time, ms, as floats),
#: ``open``, ``high``, ``low``, ``close``, ``volume`` and every indicator the
#: strategy declared, under its own name.
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


@runtime_checkable
class OutcomeAware(Protocol):
    """Optional for strategies (API 1.1): told how each of their signals turned out.

    The host calls ``on_outcome`` once per entry signal of the strategy that
    resolves, as a closed trade or as a phantom, in market-time order and
    before the strategy's next ``on_candle``.
    """

    def on_outcome(self, outcome: Outcome) -> None: ...


class Scorer(Protocol):
    """Rates signals; online scorers also learn from outcomes.

    Optional (API 1.1): ``feature_names``, the ordered names of the signal
    features the scorer reads (see :class:`FeatureScorer`).
    """

    Params: ClassVar[type]

    def score(self, signal: Signal, ctx: StrategyContext) -> Score: ...

    def learn(self, outcome: Outcome) -> None:
        """Called once per closed trade and per resolved phantom."""
        ...


@runtime_checkable
class FeatureScorer(Protocol):
    """A scorer that says which signal features it reads, in its model's order. API 1.1.

    The host does not call ``score`` for a signal that lacks one of them; it
    records the missing names instead (a gate then refuses, a shadow passes).
    """

    feature_names: tuple[str, ...]


@runtime_checkable
class BatchScorer(Protocol):
    """A scorer that rates several signals in one call (API 1.2), e.g. one model run.

    When a strategy's calls of one step (every symbol's bar closing at the
    same instant, in the timeframe it decides on) return two or more entry
    signals, the host calls ``score_batch`` once with all of them (those
    carrying the scorer's ``feature_names``), in the order they were made,
    before it handles any, and takes each signal's score from the answer: a
    sequence of as many ``Score`` values. The signals may be of several
    symbols; ``ctx`` is the strategy's. It must give what ``score`` would
    give each one. A failure fails the whole batch (counted once), as a
    failing ``score`` would. (API 1.2 batched one ``on_candle`` call's
    signals; the step-wide batch changes no result, only the call count.)
    """

    def score_batch(self, signals: Sequence[Signal], ctx: StrategyContext) -> Sequence[Score]: ...


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
    """Tells people about events.

    Since API 1.1 the host gives each notifier its own thread with its own
    event loop and a bounded queue: ``notify`` is awaited there with the
    profile's ``[engine] notifier_timeout_s``, so a slow notifier delays no
    other and never the trading. Create async resources (sessions, clients)
    inside ``notify``, on that loop. A notifier that fails, times out or
    blocks its thread ``max_plugin_failures`` times in a row is quarantined.
    """

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
    "BatchScorer",
    "BlobStore",
    "Clock",
    "Columns",
    "ComponentServices",
    "FeatureScorer",
    "KeyValueStore",
    "Lifecycle",
    "Notifier",
    "OutcomeAware",
    "RiskRule",
    "Scorer",
    "ScreenedStrategy",
    "Sizer",
    "Strategy",
    "StrategyContext",
    "component_params",
]
