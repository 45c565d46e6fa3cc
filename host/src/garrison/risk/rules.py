"""The host's own risk rules: each one a ``garrison_api.RiskRule``.

A rule looks at one order intent and the account, and either passes it
(``None``) or refuses it with a ``Veto`` whose reason names the numbers. Rules
are pure: no I/O, no clock, no state; the chain stamps the stage name and the
host acts on the veto (records it, halts when asked).

Exits (``intent.reduce_only``) shrink risk, so every rule here passes them,
except ``trading_state`` when the profile makes a halt block exits. Those
rules say so with ``judges_exits = False``, and the chain does not ask them
about exits.

Rules that count positions, exposure or margin count the account's pending
orders too (``AccountState.pending``: approved, not filled yet, those
approved earlier in the same step included), so two entries decided in one
step cannot both slip under a limit that only one of them fits.

``max_drawdown`` and ``daily_loss_limit`` are also kill switches: besides
refusing entries, they implement :class:`KillSwitch`, which the step
processor evaluates on every mark of the account, so a halt happens at the
close where the limit is crossed, not at the next entry.

Comparisons against limits allow a relative slack of ``REL_TOL`` so that a
value sitting exactly on a limit after float arithmetic (0.001 × 100000 =
100.00000000000001) is judged as on the limit, not past it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
from garrison_api import AccountState, Market, OrderIntent, Side, TradingState, Veto

from garrison.risk.defaults import next_utc_midnight_ms

#: Relative tolerance for limit comparisons and the lot-step check.
REL_TOL = 1e-9

_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


# --- Params validation --------------------------------------------------------


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _above(bound: float) -> _Validator:
    """Validator: a finite number strictly greater than ``bound``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not _is_real(value) or value <= bound:
            raise ValueError(f"{attribute.name} must be a number > {bound:g}, got {value!r}")

    return check


def _at_least(bound: float) -> _Validator:
    """Validator: a finite number greater than or equal to ``bound``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not _is_real(value) or value < bound:
            raise ValueError(f"{attribute.name} must be a number >= {bound:g}, got {value!r}")

    return check


def _whole_at_least(bound: int) -> _Validator:
    """Validator: an int greater than or equal to ``bound``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < bound:
            raise ValueError(f"{attribute.name} must be a whole number >= {bound}, got {value!r}")

    return check


def _flag(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{attribute.name} must be true or false, got {value!r}")


def _check_params(rule: object, expected: type, params: object) -> None:
    # The host builds Params from the profile; a wrong object here is a host bug
    # that should fail at construction, not on the first intent.
    if not isinstance(params, expected):
        name = type(rule).__name__
        raise TypeError(f"{name} takes a {name}.Params, got {type(params).__name__}")


# --- Number helpers -----------------------------------------------------------


def _ceiling(limit: float) -> float:
    """The largest value that does not exceed ``limit``: the limit plus its REL_TOL slack."""
    return limit + REL_TOL * abs(limit)


def _floor(limit: float) -> float:
    """The smallest value that is not short of ``limit``: the limit minus its REL_TOL slack."""
    return limit - REL_TOL * abs(limit)


def _exceeds(value: float, limit: float) -> bool:
    """``value > limit``, with ``value`` on the limit (within REL_TOL) not exceeding it."""
    return value > _ceiling(limit)


def _falls_short(value: float, floor: float) -> bool:
    """``value < floor``, with ``value`` on the floor (within REL_TOL) not short of it."""
    return value < _floor(floor)


def _usd(value: float) -> str:
    return f"{value:.2f}"


def _num(value: float) -> str:
    # Prices and quantities span 1e-7 (meme coins) to 1e6 (BTC): keep significant digits.
    return f"{value:.10g}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


# --- Rules ----------------------------------------------------------------------
#
# Every rule runs for every entry intent of a run, so limits that come from
# Params are turned into the numbers the checks compare against (fractions,
# ceilings with their slack) once, when the rule is built.

# Module constants: enum members are descriptors in Python 3.11.
_LONG = Side.LONG
_SHORT = Side.SHORT
_RUNNING = TradingState.RUNNING


@runtime_checkable
class KillSwitch(Protocol):
    """A rule the host also evaluates on every mark of the account, not only on entries.

    ``breach`` gets the account's numbers after every fill and mark of a
    step has been booked; a Veto (with ``halt``) halts trading at once.
    Host rules only: the step processor calls it on every step with open
    positions, so it must be cheap.
    """

    def breach(
        self, ts: int, equity: float, peak_equity: float, day_start_equity: float
    ) -> Veto | None: ...

    def floor(self, peak_equity: float, day_start_equity: float) -> float:
        """An equity above which ``breach`` cannot fire (generous: it may fire at or below)."""
        ...


@attrs.frozen
class TradingStateParams:
    """``halted_blocks_exits``: while halted, refuse exits too (default: exits still pass).

    A halt is a kill switch on new risk; letting a strategy's exit through
    usually loses less than waiting for the stop. Set it where an operator
    wants nothing at all sent while halted (the resting stops still work).
    """

    halted_blocks_exits: bool = attrs.field(default=False, validator=_flag)


class TradingStateRule:
    """``running`` passes all; ``reducing`` and ``halted`` pass only exits.

    ``reducing`` is an operator's choice (wind down); ``halted`` is the kill
    switch, lifted by an operator or, for a timed halt, by the clock. With
    ``halted_blocks_exits`` a halt refuses exits too.
    """

    Params: ClassVar[type] = TradingStateParams
    judges_exits: ClassVar[bool] = True

    def __init__(self, params: TradingStateParams | None = None) -> None:
        self.params = TradingStateParams() if params is None else params
        _check_params(self, TradingStateParams, self.params)
        self._block_exits = self.params.halted_blocks_exits

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse according to ``account.state``."""
        state = account.state
        if state is _RUNNING:
            return None
        if state is TradingState.REDUCING:
            if intent.reduce_only:
                return None
            return Veto("", "trading state is reducing: exits only")
        if state is TradingState.HALTED:
            if intent.reduce_only and not self._block_exits:
                return None
            if intent.reduce_only:
                return Veto("", "trading state is halted and halted_blocks_exits is on: no exits")
            return Veto("", "trading state is halted: no entries")
        # A state this rule does not know about: fail closed.
        return Veto("", f"unknown trading state {state!r}")


@attrs.frozen
class OnePositionPerSymbolParams:
    """No settings."""


class OnePositionPerSymbol:
    """Refuses an entry in a symbol the account already holds (no pyramiding, no hedging)."""

    Params: ClassVar[type] = OnePositionPerSymbolParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: OnePositionPerSymbolParams | None = None) -> None:
        self.params = OnePositionPerSymbolParams() if params is None else params
        _check_params(self, OnePositionPerSymbolParams, self.params)

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry in a symbol held, or with an entry already approved and unfilled."""
        if intent.reduce_only:
            return None
        held = account.position(intent.symbol)
        if held is None:
            if not account.pending:
                return None
            waiting = account.pending_entry(intent.symbol)
            if waiting is None:
                return None
            return Veto(
                "",
                f"an entry in {intent.symbol} is already approved and not filled yet: "
                f"{waiting.side.value} qty {_num(waiting.qty)} (intent {waiting.id}"
                + (f", {waiting.strategy})" if waiting.strategy else ")"),
            )
        return Veto(
            "",
            f"already holding a {held.side.value} position in {intent.symbol}: "
            f"qty {_num(held.qty)} at {_num(held.entry_price)}",
        )


@attrs.frozen
class MaxOpenPositionsParams:
    """``limit``: most positions open at the same time."""

    limit: int = attrs.field(default=5, validator=_whole_at_least(1))


class MaxOpenPositions:
    """Caps how many positions may be open at once, counting approved unfilled entries.

    Adding to a symbol already held (or with an entry pending) opens no new
    position, so it is not counted here (``one_position_per_symbol`` and
    ``max_notional`` see to that case). Pending exits are not subtracted:
    an exit may still fail to fill.
    """

    Params: ClassVar[type] = MaxOpenPositionsParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: MaxOpenPositionsParams | None = None) -> None:
        self.params = MaxOpenPositionsParams() if params is None else params
        _check_params(self, MaxOpenPositionsParams, self.params)
        self._limit = self.params.limit

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry in a new symbol when ``limit`` positions are open or pending."""
        if intent.reduce_only:
            return None
        open_count = len(account.positions)
        limit = self._limit
        pending = account.pending
        if pending:
            held = {p.symbol for p in account.positions}
            waiting = {p.symbol for p in pending if not p.reduce_only and p.symbol not in held}
            symbol = intent.symbol
            if open_count + len(waiting) < limit or symbol in held or symbol in waiting:
                return None
            return Veto(
                "",
                f"{open_count} open positions and {len(waiting)} approved entries not filled "
                f"yet ({', '.join(sorted(waiting))}): limit of {limit} reached",
            )
        # Below the limit, whether the symbol is held does not matter: ask only at it.
        if open_count < limit or account.position(intent.symbol) is not None:
            return None
        return Veto("", f"{open_count} open positions: limit of {limit} reached")


@attrs.frozen
class MaxNotionalParams:
    """``max_usd``: largest notional one position may have, in USDT."""

    max_usd: float = attrs.field(default=1000.0, validator=_above(0.0))


class MaxNotional:
    """Caps the notional of one position, in USDT.

    An entry that adds to a same-side position in the same symbol is judged on
    the position it would make (held notional at entry price, plus approved
    unfilled entries of that side and symbol, plus the intent).
    """

    Params: ClassVar[type] = MaxNotionalParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: MaxNotionalParams | None = None) -> None:
        self.params = MaxNotionalParams() if params is None else params
        _check_params(self, MaxNotionalParams, self.params)
        self._ceiling = _ceiling(float(self.params.max_usd))

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry whose position notional would exceed ``max_usd``."""
        if intent.reduce_only:
            return None
        notional = intent.notional
        held = account.position(intent.symbol)
        waiting = 0.0
        if account.pending:
            waiting = sum(
                p.notional
                for p in account.pending
                if p.symbol == intent.symbol and p.side is intent.side and not p.reduce_only
            )
            if waiting:
                held_notional = (
                    held.notional if held is not None and held.side is intent.side else 0.0
                )
                total = held_notional + waiting + notional
                if total <= self._ceiling:
                    return None
                return Veto(
                    "",
                    f"notional {_usd(notional)} USDT on top of {_usd(held_notional)} held and "
                    f"{_usd(waiting)} approved but not filled makes {_usd(total)}, exceeding "
                    f"max {_usd(self.params.max_usd)}",
                )
        if held is not None and held.side is intent.side:
            total = held.notional + notional
            if total <= self._ceiling:  # false past the limit and for NaN
                return None
            return Veto(
                "",
                f"notional {_usd(notional)} USDT on top of the held {_usd(held.notional)} "
                f"makes {_usd(total)}, exceeding max {_usd(self.params.max_usd)}",
            )
        if notional <= self._ceiling:
            return None
        return Veto("", f"notional {_usd(notional)} USDT exceeds max {_usd(self.params.max_usd)}")


@attrs.frozen
class ExchangeMinimumsParams:
    """No settings: the limits come from ``intent.market``."""


class ExchangeMinimums:
    """Refuses entries the exchange would reject for their size.

    Quantity must be positive, a whole number of ``market.lot_step``, at least
    ``market.min_qty`` and at most ``market.max_qty`` (when set); notional must
    reach ``market.min_notional``. Every failed condition is named.
    """

    Params: ClassVar[type] = ExchangeMinimumsParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: ExchangeMinimumsParams | None = None) -> None:
        self.params = ExchangeMinimumsParams() if params is None else params
        _check_params(self, ExchangeMinimumsParams, self.params)

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry that breaks any of the market's size rules."""
        if intent.reduce_only:
            return None
        market = intent.market
        qty = intent.qty
        if not (math.isfinite(qty) and qty > 0):
            return Veto("", f"qty {_num(qty)} must be a positive number")
        if self._meets(intent, market, qty):
            return None
        problems: list[str] = []
        step = market.lot_step
        if step > 0:
            steps = round(qty / step)
            if abs(qty - steps * step) > REL_TOL * max(qty, step):
                problems.append(f"qty {_num(qty)} is not a multiple of lot step {_num(step)}")
        if _falls_short(qty, market.min_qty):
            problems.append(f"qty {_num(qty)} is below min qty {_num(market.min_qty)}")
        if market.max_qty is not None and _exceeds(qty, market.max_qty):
            problems.append(f"qty {_num(qty)} is above max qty {_num(market.max_qty)}")
        price = intent.price
        if not (math.isfinite(price) and price > 0):
            problems.append(f"price {_num(price)} must be a positive number")
        else:
            notional = intent.notional
            if _falls_short(notional, market.min_notional):
                problems.append(
                    f"notional {_usd(notional)} USDT is below min notional "
                    f"{_usd(market.min_notional)}"
                )
        if not problems:
            return None
        return Veto("", f"{market.symbol}: " + "; ".join(problems))

    @staticmethod
    def _meets(intent: OrderIntent, market: Market, qty: float) -> bool:
        """True when every size rule is met; False when ``check`` must look closer.

        The same conditions as ``check``, asked the other way round and in one
        expression, so the usual intent passes without a list of problems.
        Anything unusual (NaN limits included) answers False and is judged
        by ``check`` itself.
        """
        step = market.lot_step
        min_qty = market.min_qty
        max_qty = market.max_qty
        min_notional = market.min_notional
        price = intent.price
        # _floor and _ceiling written out, and intent.notional too: this runs
        # for every entry, and each call would cost more than its arithmetic.
        return (
            (not step > 0 or abs(qty - round(qty / step) * step) <= REL_TOL * max(qty, step))
            and qty >= min_qty - REL_TOL * abs(min_qty)
            and (max_qty is None or qty <= max_qty + REL_TOL * abs(max_qty))
            and math.isfinite(price)
            and price > 0
            and abs(qty * price * market.contract_size)
            >= min_notional - REL_TOL * abs(min_notional)
        )


@attrs.frozen
class StopDistanceParams:
    """Settings of ``stop_distance``.

    ``max_pct`` and ``min_pct`` bound the stop's distance from the entry price,
    in percent of that price; ``require_stop`` refuses entries without a stop.
    """

    max_pct: float = attrs.field(default=10.0, validator=_above(0.0))
    min_pct: float = attrs.field(default=0.0, validator=_at_least(0.0))
    require_stop: bool = attrs.field(default=True, validator=_flag)

    def __attrs_post_init__(self) -> None:
        if self.min_pct > self.max_pct:
            raise ValueError(
                f"min_pct ({self.min_pct!r}) must not be greater than max_pct ({self.max_pct!r})"
            )


class StopDistance:
    """Entries carry a protective stop on the losing side, neither too close nor too far.

    A long's stop is below ``intent.price``, a short's above; its distance from
    the price, in percent of the price, lies within ``[min_pct, max_pct]``.
    """

    Params: ClassVar[type] = StopDistanceParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: StopDistanceParams | None = None) -> None:
        self.params = StopDistanceParams() if params is None else params
        _check_params(self, StopDistanceParams, self.params)
        self._max_fraction = self.params.max_pct / 100.0
        self._min_fraction = self.params.min_pct / 100.0
        self._max_ceiling = _ceiling(self._max_fraction)
        self._min_floor = _floor(self._min_fraction)

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry whose stop is missing, on the wrong side, or out of bounds."""
        if intent.reduce_only:
            return None
        stop = intent.stop
        if stop is None:
            if self.params.require_stop:
                return Veto("", "entry has no stop (require_stop is on)")
            return None
        price = intent.price
        if not (math.isfinite(price) and price > 0):
            return Veto("", f"price {_num(price)} must be a positive number to place a stop")
        if not math.isfinite(stop):
            return Veto("", f"stop {_num(stop)} is not a price")
        side = intent.side
        if side is _LONG and stop >= price:
            return Veto("", f"long stop {_num(stop)} is not below price {_num(price)}")
        if side is _SHORT and stop <= price:
            return Veto("", f"short stop {_num(stop)} is not above price {_num(price)}")
        distance = abs(price - stop) / price
        if distance > self._max_ceiling:
            return Veto(
                "",
                f"stop {_num(stop)} is {_pct(distance)} from price {_num(price)}, "
                f"beyond max {_pct(self._max_fraction)}",
            )
        if distance < self._min_floor:
            return Veto(
                "",
                f"stop {_num(stop)} is {_pct(distance)} from price {_num(price)}, "
                f"inside min {_pct(self._min_fraction)}",
            )
        return None


@attrs.frozen
class MaxDrawdownParams:
    """``max_pct``: drawdown from peak equity, in percent, that halts trading."""

    max_pct: float = attrs.field(default=15.0, validator=_above(0.0))


class MaxDrawdown:
    """Halts trading when equity has fallen ``max_pct`` percent below its peak.

    The halt has no end time: an operator looks at what happened and resumes.
    A kill switch: judged on every mark of the account (see :class:`KillSwitch`).
    """

    Params: ClassVar[type] = MaxDrawdownParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: MaxDrawdownParams | None = None) -> None:
        self.params = MaxDrawdownParams() if params is None else params
        _check_params(self, MaxDrawdownParams, self.params)
        self._limit = self.params.max_pct / 100.0
        self._limit_floor = _floor(self._limit)

    def floor(self, peak_equity: float, day_start_equity: float) -> float:
        """Equity above this is less than ``max_pct`` below the peak (with room for rounding)."""
        return peak_equity * (1.0 - self._limit_floor) + REL_TOL * abs(peak_equity)

    def breach(
        self, ts: int, equity: float, peak_equity: float, day_start_equity: float
    ) -> Veto | None:
        """A halting Veto once ``equity`` is ``max_pct`` below ``peak_equity``."""
        if peak_equity > 0 and 1.0 - equity / peak_equity < self._limit_floor:
            return None  # false for NaN too: an account that cannot be valued halts
        drawdown = max(0.0, 1.0 - equity / peak_equity) if peak_equity > 0 else math.nan
        return Veto(
            "",
            f"drawdown {_pct(drawdown)} (equity {_usd(equity)} vs peak {_usd(peak_equity)}) "
            f"reached max {_pct(self._limit)}",
            halt=True,
        )

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry, and ask for a halt, once drawdown reaches ``max_pct``."""
        if intent.reduce_only:
            return None
        if not (math.isfinite(account.equity) and math.isfinite(account.peak_equity)):
            # An account the host cannot value is not one to add risk to.
            return Veto(
                "",
                f"equity {_num(account.equity)} / peak {_num(account.peak_equity)} is not a number",
                halt=True,
            )
        drawdown = account.drawdown
        if drawdown < self._limit_floor:
            return None
        return Veto(
            "",
            f"drawdown {_pct(drawdown)} (equity {_usd(account.equity)} vs peak "
            f"{_usd(account.peak_equity)}) reached max {_pct(self._limit)}",
            halt=True,
        )


@attrs.frozen
class DailyLossLimitParams:
    """``max_pct``: loss since the day's start, in percent of day-start equity."""

    max_pct: float = attrs.field(default=3.0, validator=_above(0.0))


class DailyLossLimit:
    """Halts trading for the rest of the UTC day once the day's loss reaches ``max_pct``.

    The loss is measured against equity at the start of the day; the halt lasts
    until the next UTC midnight after ``account.ts``. A kill switch: judged on
    every mark of the account (see :class:`KillSwitch`).
    """

    Params: ClassVar[type] = DailyLossLimitParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: DailyLossLimitParams | None = None) -> None:
        self.params = DailyLossLimitParams() if params is None else params
        _check_params(self, DailyLossLimitParams, self.params)
        self._fraction = self.params.max_pct / 100.0

    def floor(self, peak_equity: float, day_start_equity: float) -> float:
        """Equity above this has lost less than ``max_pct`` today (with room for rounding)."""
        return day_start_equity * (1.0 - self._fraction) + 2 * REL_TOL * abs(day_start_equity)

    def breach(
        self, ts: int, equity: float, peak_equity: float, day_start_equity: float
    ) -> Veto | None:
        """A Veto halting until the next UTC midnight once the day's loss reaches the limit."""
        threshold = -self._fraction * day_start_equity
        pnl = equity - day_start_equity
        if _exceeds(pnl, threshold):
            return None
        return Veto(
            "",
            f"daily pnl {_usd(pnl)} USDT reached the loss limit of {_pct(self._fraction)} of "
            f"day-start equity {_usd(day_start_equity)} ({_usd(threshold)})",
            halt=True,
            halt_until=next_utc_midnight_ms(ts),
        )

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry, and ask for a halt until tomorrow, once the day's loss is reached."""
        if intent.reduce_only:
            return None
        fraction = self._fraction
        day_start = account.day_start_equity
        pnl = account.daily_pnl
        threshold = -fraction * day_start
        if not math.isfinite(pnl) or not math.isfinite(threshold):
            return Veto(
                "",
                f"daily pnl {_num(pnl)} against day-start equity {_num(day_start)} is not a number",
                halt=True,
                halt_until=next_utc_midnight_ms(account.ts),
            )
        if _exceeds(pnl, threshold):
            return None
        return Veto(
            "",
            f"daily pnl {_usd(pnl)} USDT reached the loss limit of {_pct(fraction)} of "
            f"day-start equity {_usd(day_start)} ({_usd(threshold)})",
            halt=True,
            halt_until=next_utc_midnight_ms(account.ts),
        )


@attrs.frozen
class SameDirectionExposureParams:
    """``max_pct_of_equity``: largest one-sided notional, in percent of equity."""

    max_pct_of_equity: float = attrs.field(default=300.0, validator=_above(0.0))


class SameDirectionExposure:
    """Caps the summed notional of positions on one side, as a percent of equity.

    Held positions count at entry price, approved unfilled entries of that
    side at their intent price; the intent adds its own notional.
    """

    Params: ClassVar[type] = SameDirectionExposureParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: SameDirectionExposureParams | None = None) -> None:
        self.params = SameDirectionExposureParams() if params is None else params
        _check_params(self, SameDirectionExposureParams, self.params)
        self._cap_fraction = self.params.max_pct_of_equity / 100.0

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry that would push one side's exposure past the cap."""
        if intent.reduce_only:
            return None
        side = intent.side
        held = 0.0
        for p in account.positions:
            if p.side is side:
                held += abs(p.qty * p.entry_price)  # Position.notional, without a property call
        for w in account.pending:
            if w.side is side and not w.reduce_only:
                held += w.notional
        total = held + intent.notional
        cap = self._cap_fraction * account.equity
        if total <= _ceiling(cap) and math.isfinite(total) and math.isfinite(cap):
            return None
        return Veto(
            "",
            f"{intent.side.value} exposure {_usd(held)} + {_usd(intent.notional)} = "
            f"{_usd(total)} USDT exceeds {self.params.max_pct_of_equity:g}% of equity "
            f"{_usd(account.equity)} ({_usd(cap)})",
        )


@attrs.frozen
class FreeMarginParams:
    """``buffer_pct``: extra margin to keep free, in percent of the margin needed."""

    buffer_pct: float = attrs.field(default=0.0, validator=_at_least(0.0))


class FreeMargin:
    """Refuses entries whose initial margin the account cannot post.

    Margin is ``notional / account.leverage``, raised by ``buffer_pct`` percent
    as headroom for fees and adverse moves before the fill. The free margin
    already excludes what approved unfilled entries will take
    (``AccountState.free_margin``).
    """

    Params: ClassVar[type] = FreeMarginParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: FreeMarginParams | None = None) -> None:
        self.params = FreeMarginParams() if params is None else params
        _check_params(self, FreeMarginParams, self.params)
        self._buffer_factor = 1.0 + self.params.buffer_pct / 100.0

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        """Refuse an entry when its margin (plus buffer) exceeds ``account.free_margin``."""
        if intent.reduce_only:
            return None
        leverage = account.leverage
        if not (math.isfinite(leverage) and leverage > 0):
            return Veto("", f"leverage {_num(leverage)} must be a positive number")
        needed = intent.notional / leverage * self._buffer_factor
        free = account.free_margin
        if needed <= _ceiling(free) and math.isfinite(needed) and math.isfinite(free):
            return None
        buffer = self.params.buffer_pct
        with_buffer = f" incl. {buffer:g}% buffer" if buffer else ""
        return Veto(
            "",
            f"margin {_usd(needed)} USDT (notional {_usd(intent.notional)} at "
            f"{leverage:g}x{with_buffer}) exceeds free margin {_usd(free)}",
        )


#: Every host rule under the name profiles use, in the default chain's order.
HOST_RULES: Mapping[str, type] = MappingProxyType(
    {
        "trading_state": TradingStateRule,
        "one_position_per_symbol": OnePositionPerSymbol,
        "max_open_positions": MaxOpenPositions,
        "max_notional": MaxNotional,
        "exchange_minimums": ExchangeMinimums,
        "stop_distance": StopDistance,
        "max_drawdown": MaxDrawdown,
        "daily_loss_limit": DailyLossLimit,
        "same_direction_exposure": SameDirectionExposure,
        "free_margin": FreeMargin,
    }
)
