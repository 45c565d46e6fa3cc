"""Faults the fake exchange can inject, toggled per test from Python or over HTTP.

Everything is off by default. Count-valued faults apply to the next N
occasions and count down; ``injected`` counts what was actually injected,
by fault name, so a test (or ``GET /_fake/state``) can check the fault
happened. Each venue dialect renders a fault the way its venue would (HTTP
status, error code and body); this module only decides *whether* one fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

#: Faults that are a count of occasions (everything else is a setting).
COUNTED = (
    "lost_replies",
    "errors_5xx_after_booking",
    "rate_limit",
    "duplicate_candles",
    "out_of_order_candles",
    "gap_candles",
    "partial_fills",
    "reject_stops",
    "insufficient_margin",
)


@attrs.define
class Faults:
    """What goes wrong, and how often. Mutable: tests flip fields between requests."""

    #: Next N order creates: the order is booked, the reply never comes (held
    #: ``lost_reply_hold_s`` seconds, past any sane client timeout).
    lost_replies: int = 0
    lost_reply_hold_s: float = 30.0
    #: Next N order creates: booked, then answered with HTTP ``error_5xx_status``.
    errors_5xx_after_booking: int = 0
    error_5xx_status: int = 502
    #: Lost replies and 5xx after booking strike only plain orders (market, limit), or
    #: only conditional ones (stops, take-profits); both false: the next order creates.
    booking_faults_plain_only: bool = False
    booking_faults_conditional_only: bool = False
    #: Next N REST requests (order requests only if ``rate_limit_orders_only``)
    #: are refused as over the rate limit (Bybit 10006 then HTTP 403 when
    #: repeated; Binance 429 then 418 when repeated).
    rate_limit: int = 0
    rate_limit_orders_only: bool = False
    #: Abort public websockets (the client sees close code 1006) every K bar
    #: closes, instead of sending that close's candles. 0: never.
    ws_close_every: int = 0
    #: Send no candles on websockets for S market-seconds from the next bar
    #: close on (connections and pongs kept). Consumed when it starts.
    ws_stall_s: float = 0.0
    #: Answer no ping while true.
    drop_pongs: bool = False
    #: Next N closed-candle messages are sent twice.
    duplicate_candles: int = 0
    #: Next N closed-candle messages are sent after the next bar's first update.
    out_of_order_candles: int = 0
    #: Next N closed-candle messages are never sent (REST still has the bars).
    gap_candles: int = 0
    #: Next N market orders fill in two parts: half now, the rest at the next bar's open.
    partial_fills: int = 0
    #: Next N stop orders are rejected (an attached stop-loss: the entry fills
    #: but the stop is not set; a separate stop order: refused when placed).
    reject_stops: int = 0
    #: Next N opening orders are refused for insufficient margin.
    insufficient_margin: int = 0
    #: Server clock (``/v5/market/time``, ``/fapi/v1/time``, signature windows)
    #: runs this far ahead of the wall clock; negative: behind.
    clock_skew_ms: int = 0
    #: What was injected so far, by fault name.
    injected: dict[str, int] = attrs.field(factory=dict)

    def take(self, name: str) -> bool:
        """Use one occasion of the counted fault ``name``: True when it fires now."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        self.note(name)
        return True

    def strikes_booked(self, conditional: bool) -> bool:
        """May a lost reply or 5xx strike a booked order of this kind (``booking_faults_*``)?"""
        if conditional:
            return not self.booking_faults_plain_only
        return not self.booking_faults_conditional_only

    def note(self, name: str, n: int = 1) -> None:
        """Count ``n`` injections of ``name``."""
        self.injected[name] = self.injected.get(name, 0) + n

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set fields from JSON-like ``changes``; ValueError names a bad key or value."""
        fields = {f.name: f for f in attrs.fields(Faults) if f.name != "injected"}
        for key, value in changes.items():
            field = fields.get(key)
            if field is None:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(fields))}")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"fault {key!r} takes true or false, not {value!r}")
            elif isinstance(current, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"fault {key!r} takes a whole number, not {value!r}")
                if value < 0 and key != "clock_skew_ms":
                    raise ValueError(f"fault {key!r} must be >= 0, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"fault {key!r} takes a number >= 0, not {value!r}")
            setattr(self, key, type(current)(value))

    def as_dict(self) -> dict[str, Any]:
        """Every setting and the injection counts, as JSON-ready values."""
        return attrs.asdict(self)

    def any_candle_faults(self) -> bool:
        """Is any closed-candle fault armed? (Lets the hot path skip :meth:`shape_candles`.)"""
        return bool(self.duplicate_candles or self.out_of_order_candles or self.gap_candles)

    def shape_candles(self, closed: list[T], opened: list[T]) -> list[T]:
        """The messages of one bar close in sending order, candle faults applied.

        ``closed`` are the closed-candle messages, ``opened`` the next bars'
        first updates; normally all closed ones go first.
        """
        if not self.any_candle_faults():
            return closed + opened
        first: list[T] = []
        late: list[T] = []
        for message in closed:
            if self.take("gap_candles"):
                continue
            if self.take("duplicate_candles"):
                first.extend((message, message))
            elif self.take("out_of_order_candles"):
                late.append(message)
            else:
                first.append(message)
        return first + opened + late
