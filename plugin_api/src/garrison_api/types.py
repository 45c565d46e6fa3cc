"""Value types that cross the boundary between the host and its plugins.

Every type here is a frozen attrs class: a plugin receives values, never handles
on the host's mutable state. Time is UTC epoch milliseconds everywhere; prices
are in the quote currency (USDT); quantities are in base-asset units (contracts
times ``Market.contract_size``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

#: A JSON-friendly scalar, the only kind of value an ``Event`` carries.
Scalar = str | int | float | bool | None

_EMPTY: Mapping[str, float] = MappingProxyType({})


def _frozen_mapping(value: Mapping[str, object] | None) -> Mapping[str, object]:
    # A read-only copy, so a value type cannot be changed behind its back.
    if not value:
        return _EMPTY
    return MappingProxyType(dict(value))


class Side(enum.StrEnum):
    """Direction of a position (not of an order: closing a long sells)."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short: ``pnl = sign * (exit - entry) * qty``."""
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class SignalKind(enum.StrEnum):
    """Whether a signal opens a position or asks to close one."""

    ENTRY = "entry"
    EXIT = "exit"


class TradingState(enum.StrEnum):
    """What the host lets through the risk chain.

    ``running`` lets everything through; ``reducing`` lets only orders that
    shrink a position (an operator's choice); ``halted`` is the kill switch:
    no entries, while exits still pass unless the profile's ``trading_state``
    rule says ``halted_blocks_exits = true``. Protective stops already resting
    at the exchange keep working in every state.
    """

    RUNNING = "running"
    REDUCING = "reducing"
    HALTED = "halted"


class ExitReason(enum.StrEnum):
    """Why a position (or a phantom) closed."""

    SIGNAL = "signal"
    STOP = "stop"
    TAKE_PROFIT = "take_profit"
    HORIZON = "horizon"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


class Level(enum.StrEnum):
    """Importance of an event, for notifiers that filter or rate-limit."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


# Not slotted: a frozen slotted attrs class sets each field through
# object.__setattr__, a dict-backed one writes its __dict__ directly, about a
# third faster, and replays build one Candle per bar.
@attrs.frozen(slots=False)
class Candle:
    """One closed bar. ``ts`` is the bar's OPEN time; it closes at ``ts + timeframe``."""

    symbol: str
    timeframe: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


# The hash is cached: the journal looks a market's JSON up by it for every intent.
@attrs.frozen(cache_hash=True)
class Market:
    """Trading rules of one instrument, as the exchange publishes them."""

    symbol: str
    tick_size: float
    lot_step: float
    min_qty: float
    min_notional: float = 0.0
    contract_size: float = 1.0
    max_qty: float | None = None
    max_leverage: float | None = None


@attrs.frozen
class Signal:
    """A strategy's opinion at the close of a candle.

    ``entry`` is the reference price the strategy reasoned with (usually the
    close). ``stop`` and ``take_profit`` are absolute prices; when
    ``bracket_from_fill`` is true the host keeps their *distance* from
    ``entry`` and re-anchors them on the actual fill price (Turtle's "stop at
    fill − 2N"), otherwise they stay where they are. ``features`` are named
    numbers for scorers and the journal.

    ``side`` is always the side of the *position*: an exit signal with
    ``side=LONG`` asks to close a long (it sells). ``ts`` is the open time of
    the candle the strategy decided on.
    """

    symbol: str
    ts: int
    side: Side
    kind: SignalKind = SignalKind.ENTRY
    entry: float = float("nan")
    stop: float | None = None
    take_profit: float | None = None
    reason: str = ""
    features: Mapping[str, float] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    bracket_from_fill: bool = False
    #: False makes the signal phantom-only: journaled, scored and followed to
    #: its outcome like any other, but never sized or ordered. (API 1.1)
    execute: bool = True
    #: How long, in market milliseconds after its (phantom) fill, the phantom
    #: of this signal may run before it resolves at the close as ``horizon``;
    #: None takes the host's ``[engine] phantom_max_bars``. (API 1.1)
    horizon_ms: int | None = None

    @property
    def risk_per_unit(self) -> float | None:
        """Distance from entry to stop in price, or None without a stop."""
        if self.stop is None:
            return None
        return abs(self.entry - self.stop)


@attrs.frozen
class Score:
    """A scorer's verdict on a signal: ``value`` in [0, 1], higher is better.

    ``model`` names the kind of model (``"river:logreg"``, ``"prior"``).
    Since API 1.2 a score also says exactly which model gave it, so any trade
    can be traced to the model that allowed it: ``version`` (the scorer's own
    id of the model state, such as a saved state's version) and
    ``model_hash`` (a digest of the model's bytes, SHA-256 hex where the
    scorer can give one). Both are journaled with the score.
    """

    value: float
    model: str = ""
    details: Mapping[str, float] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    #: The scorer's id of the model state that gave the score. (API 1.2)
    version: str = ""
    #: A digest of that model's bytes (SHA-256 hex where available). (API 1.2)
    model_hash: str = ""


@attrs.frozen
class OrderIntent:
    """What the host means to send to the exchange, before the risk chain rules on it.

    ``side`` is the position's direction; with ``reduce_only`` the order closes
    (part of) that position instead of opening it. ``market`` travels with the
    intent so risk rules can check exchange minimums without another lookup.
    """

    id: str
    ts: int
    symbol: str
    side: Side
    qty: float
    price: float
    market: Market
    reduce_only: bool = False
    stop: float | None = None
    take_profit: float | None = None
    order_type: OrderType = OrderType.MARKET
    strategy: str = ""
    signal_id: str | None = None

    @property
    def notional(self) -> float:
        return abs(self.qty * self.price * self.market.contract_size)

    @property
    def is_buy(self) -> bool:
        """True when the order buys: opening a long or closing a short."""
        return (self.side is Side.LONG) != self.reduce_only


@attrs.frozen
class Order:
    """An order as sent to (or simulated for) the exchange."""

    id: str
    intent_id: str
    client_order_id: str
    ts: int
    symbol: str
    side: Side
    reduce_only: bool
    qty: float
    order_type: OrderType
    status: OrderStatus = OrderStatus.OPEN
    price: float | None = None
    #: Why the order ended as it did (a rejection's or cancellation's reason). (API 1.1)
    reason: str = ""


@attrs.frozen
class Fill:
    """An execution of (part of) an order. ``ts`` is the open time of the bar it happened in."""

    order_id: str
    intent_id: str
    ts: int
    symbol: str
    side: Side
    reduce_only: bool
    qty: float
    price: float
    fee: float = 0.0
    reason: str = ""


@attrs.frozen
class Position:
    """An open position as the host tracks it."""

    symbol: str
    side: Side
    qty: float
    entry_price: float
    entry_ts: int
    stop: float | None = None
    take_profit: float | None = None
    strategy: str = ""
    intent_id: str = ""
    #: The journaled signal that opened the position, when one did. (API 1.1)
    signal_id: str | None = None

    @property
    def notional(self) -> float:
        return abs(self.qty * self.entry_price)


@attrs.frozen
class Trade:
    """A closed round trip. ``pnl`` is net of ``fees``; ``r_multiple`` is pnl over initial risk."""

    id: str
    symbol: str
    side: Side
    qty: float
    entry_ts: int
    entry_price: float
    exit_ts: int
    exit_price: float
    exit_reason: ExitReason
    pnl: float
    fees: float = 0.0
    r_multiple: float | None = None
    strategy: str = ""


@attrs.frozen
class Outcome:
    """How a signal turned out, real or phantom; what online scorers learn from.

    ``r_multiple`` is the result in units of the initial risk (entry to stop);
    for a real trade it is net of fees. Since API 1.1 an outcome names the
    journaled signal it belongs to (``signal_id``), the score the signal
    got (``score``: its first gating scorer's, else its first shadow
    scorer's; None when no scorer rated it) and the prices it was measured
    between (None from a host older than 1.1).

    Since API 1.2 it also carries the largest favourable and adverse moves
    the trade saw while it was open, from its entry and in units of its
    initial risk, both zero or positive (``mfe_r``, ``mae_r``; None from an
    older host or without a stop). On the bar that closes it, only the part
    of the bar the rules say happened before the exit counts: a stop-out
    adds no favourable move of that bar, and the stop or target itself is
    the extreme reached.
    """

    signal: Signal
    strategy: str
    r_multiple: float
    exit_reason: ExitReason
    closed_ts: int
    phantom: bool
    signal_id: str = ""
    score: float | None = None
    entry_price: float | None = None
    exit_price: float | None = None
    #: Maximum favourable excursion in R, >= 0. (API 1.2)
    mfe_r: float | None = None
    #: Maximum adverse excursion in R, >= 0. (API 1.2)
    mae_r: float | None = None

    @property
    def won(self) -> bool:
        return self.r_multiple > 0


@attrs.frozen
class Veto:
    """A risk rule's refusal.

    ``halt`` asks the host to halt trading, until ``halt_until`` (ms) if set.
    """

    stage: str
    reason: str
    halt: bool = False
    halt_until: int | None = None


@attrs.frozen
class AccountState:
    """The account as the host sees it at ``ts``.

    ``equity`` is balance plus unrealised profit; ``peak_equity`` is the highest
    equity seen in this run; ``day_start_equity`` is equity at the start of the
    current UTC day. ``used_margin`` is the margin of the open positions.
    ``pending`` (API 1.1) holds every order the risk chain has approved that
    has not filled yet, those approved earlier in the same step included:
    rules that count positions, exposure or margin must count them too.
    """

    ts: int
    balance: float
    equity: float
    peak_equity: float
    day_start_equity: float
    used_margin: float
    positions: tuple[Position, ...] = ()
    state: TradingState = TradingState.RUNNING
    leverage: float = 1.0
    pending: tuple[OrderIntent, ...] = ()

    @property
    def pending_entries(self) -> tuple[OrderIntent, ...]:
        """Approved, unfilled orders that open or add to a position."""
        return tuple(p for p in self.pending if not p.reduce_only)

    def pending_entry(self, symbol: str) -> OrderIntent | None:
        """The first approved, unfilled entry in ``symbol``, if any."""
        for intent in self.pending:
            if intent.symbol == symbol and not intent.reduce_only:
                return intent
        return None

    @property
    def pending_margin(self) -> float:
        """Margin the pending entries will take when they fill (notional / leverage)."""
        if not self.pending or self.leverage <= 0:
            return 0.0
        return sum(p.notional for p in self.pending if not p.reduce_only) / self.leverage

    @property
    def free_margin(self) -> float:
        """Equity not yet committed as margin, to open positions or to pending entries."""
        return self.equity - self.used_margin - self.pending_margin

    @property
    def drawdown(self) -> float:
        """Fraction below the peak, 0.0 at a new high."""
        if self.peak_equity <= 0:
            return 0.0
        return max(0.0, 1.0 - self.equity / self.peak_equity)

    @property
    def daily_pnl(self) -> float:
        return self.equity - self.day_start_equity

    def position(self, symbol: str) -> Position | None:
        for pos in self.positions:
            if pos.symbol == symbol:
                return pos
        return None


@attrs.frozen
class Event:
    """Something worth telling an operator: a fill, a veto, a plugin failure, a halt.

    ``kind`` is a dotted name (``trade.closed``, ``plugin.failed``,
    ``risk.halted``); ``data`` holds JSON-friendly scalars only.
    """

    ts: int
    kind: str
    message: str
    level: Level = Level.INFO
    source: str = "host"
    data: Mapping[str, Scalar] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
