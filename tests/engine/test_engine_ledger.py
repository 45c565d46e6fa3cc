"""The ledger: fees, trade pnl and R, equity marks, halts, and the day's starting equity."""

from __future__ import annotations

import pytest
from garrison.engine.ledger import DAY_MS, Ledger
from garrison_api import ExitReason, Fill, Side, TradingState

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000


def fill(
    side: Side,
    price: float,
    *,
    qty: float = 2.0,
    fee: float = 0.0,
    reduce_only: bool = False,
    ts: int = T0,
    symbol: str = "BTCUSDT",
) -> Fill:
    return Fill(
        order_id="o",
        intent_id="i1",
        ts=ts,
        symbol=symbol,
        side=side,
        reduce_only=reduce_only,
        qty=qty,
        price=price,
        fee=fee,
        reason="stop" if reduce_only else "entry",
    )


def ledger(balance: float = 10_000.0) -> Ledger:
    return Ledger(starting_balance=balance, leverage=5.0, start_ms=T0)


def test_entry_fee_is_booked_at_once() -> None:
    books = ledger()
    pos = books.open_position(
        fill(Side.LONG, 100.0, fee=0.2), stop=95.0, take_profit=None, strategy="s", signal_id="7"
    )
    assert books.balance == pytest.approx(9_999.8)
    assert (pos.entry_price, pos.qty, pos.stop, pos.strategy, pos.intent_id) == (
        100.0,
        2.0,
        95.0,
        "s",
        "i1",
    )
    assert books.positions["BTCUSDT"] is pos


@pytest.mark.parametrize(
    ("side", "exit_price", "gross"),
    [(Side.LONG, 110.0, 20.0), (Side.LONG, 95.0, -10.0), (Side.SHORT, 90.0, 20.0)],
)
def test_trade_pnl_is_net_of_both_fees_and_r_is_over_initial_risk(
    side: Side, exit_price: float, gross: float
) -> None:
    books = ledger()
    stop = 95.0 if side is Side.LONG else 105.0
    books.open_position(
        fill(side, 100.0, fee=0.2), stop=stop, take_profit=None, strategy="s", signal_id="7"
    )
    trade, signal_id = books.close_position(
        fill(side, exit_price, fee=0.3, reduce_only=True, ts=T0 + 4 * BAR), ExitReason.STOP
    )
    assert signal_id == "7"
    assert trade.fees == pytest.approx(0.5)
    assert trade.pnl == pytest.approx(gross - 0.5)
    assert trade.r_multiple == pytest.approx((gross - 0.5) / (5.0 * 2.0))
    assert (trade.entry_ts, trade.exit_ts, trade.exit_reason) == (
        T0,
        T0 + 4 * BAR,
        ExitReason.STOP,
    )
    assert (trade.entry_price, trade.exit_price, trade.side, trade.qty) == (
        100.0,
        exit_price,
        side,
        2.0,
    )
    assert books.balance == pytest.approx(10_000.0 + gross - 0.5)
    assert books.positions == {}


def test_trade_without_stop_has_no_r() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0), stop=None, take_profit=None, strategy="s", signal_id=None
    )
    trade, _ = books.close_position(fill(Side.LONG, 101.0, reduce_only=True), ExitReason.SIGNAL)
    assert trade.r_multiple is None


def test_trade_ids_count_up() -> None:
    books = ledger()
    ids = []
    for _ in range(3):
        books.open_position(
            fill(Side.LONG, 100.0), stop=99.0, take_profit=None, strategy="s", signal_id=None
        )
        trade, _ = books.close_position(fill(Side.LONG, 99.0, reduce_only=True), ExitReason.STOP)
        ids.append(trade.id)
    assert ids == ["1", "2", "3"]


def test_equity_marks_open_positions_at_the_last_close() -> None:
    books = ledger()
    books.open_position(
        fill(Side.SHORT, 100.0, qty=3.0), stop=None, take_profit=None, strategy="s", signal_id=None
    )
    books.marks["BTCUSDT"] = 90.0
    assert books.unrealised() == pytest.approx(30.0)
    assert books.equity() == pytest.approx(10_030.0)
    assert books.used_margin() == pytest.approx(3.0 * 90.0 / 5.0)
    state = books.snapshot(T0 + BAR)
    assert (state.equity, state.peak_equity, state.free_margin) == pytest.approx(
        (10_030.0, 10_030.0, 10_030.0 - 54.0)
    )
    books.marks["BTCUSDT"] = 105.0
    state = books.snapshot(T0 + 2 * BAR)
    assert state.peak_equity == pytest.approx(10_030.0)
    assert state.drawdown == pytest.approx(1.0 - 9_985.0 / 10_030.0)


class _Series:
    """A mark source as the replay's series state is one: the close at ``pos``."""

    def __init__(self, closes: list[float]) -> None:
        self.closes = closes
        self.pos = -1


def test_a_mark_source_is_read_when_the_account_is_valued() -> None:
    books = ledger()
    series = _Series([101.0, 95.0, 110.0])
    books.mark_sources["BTCUSDT"] = series
    books.marks["BTCUSDT"] = 1.0  # ignored: the source speaks for the symbol
    books.open_position(
        fill(Side.LONG, 100.0), stop=None, take_profit=None, strategy="s", signal_id=None
    )
    assert books.unrealised() == pytest.approx(0.0)  # before its first bar: the entry price
    series.pos = 1
    assert books.unrealised() == pytest.approx(-10.0)
    series.pos = 2
    assert books.snapshot(T0 + BAR).equity == pytest.approx(10_020.0)
    assert books.used_margin() == pytest.approx(2.0 * 110.0 / 5.0)


# --- trading state -------------------------------------------------------------------------


def test_indefinite_halt_until_resumed() -> None:
    books = ledger()
    assert books.halt(None) is True
    assert books.state is TradingState.HALTED
    books.mark(T0 + 365 * DAY_MS)
    assert books.state is TradingState.HALTED
    assert books.halt(None) is False
    assert books.halt(T0 + DAY_MS) is False  # a timed halt cannot shorten an indefinite one
    books.resume()
    assert (books.state, books.halted_until) == (TradingState.RUNNING, None)
    assert books.snapshot(T0).state is TradingState.RUNNING


def test_timed_halt_expires_at_its_time() -> None:
    books = ledger()
    until = T0 + DAY_MS
    assert books.halt(until) is True
    assert books.snapshot(until - 1).state is TradingState.HALTED
    assert books.snapshot(until).state is TradingState.RUNNING
    assert books.halted_until is None


def test_later_timed_halt_extends_an_earlier_one() -> None:
    books = ledger()
    books.halt(T0 + DAY_MS)
    assert books.halt(T0 + DAY_MS // 2) is False
    assert books.halted_until == T0 + DAY_MS
    assert books.halt(T0 + 2 * DAY_MS) is True
    assert books.snapshot(T0 + DAY_MS).state is TradingState.HALTED
    assert books.snapshot(T0 + 2 * DAY_MS).state is TradingState.RUNNING


def test_indefinite_halt_outranks_a_timed_one() -> None:
    books = ledger()
    books.halt(T0 + DAY_MS)
    assert books.halt(None) is True
    books.mark(T0 + 2 * DAY_MS)
    assert books.state is TradingState.HALTED


# --- the day's starting equity -------------------------------------------------------------


def test_day_start_equity_rolls_over_at_utc_midnight() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0), stop=None, take_profit=None, strategy="s", signal_id=None
    )
    books.marks["BTCUSDT"] = 80.0
    state = books.snapshot(T0 + DAY_MS - 1)
    assert state.day_start_equity == 10_000.0
    assert state.daily_pnl == pytest.approx(-40.0)
    books.marks["BTCUSDT"] = 90.0
    state = books.snapshot(T0 + DAY_MS + BAR)
    assert state.day_start_equity == pytest.approx(9_980.0)
    assert state.daily_pnl == pytest.approx(0.0)
    books.marks["BTCUSDT"] = 95.0
    state = books.snapshot(T0 + DAY_MS + 2 * BAR)
    assert state.day_start_equity == pytest.approx(9_980.0)  # same day: unchanged
    assert state.daily_pnl == pytest.approx(10.0)


def test_day_start_equity_follows_a_skipped_day() -> None:
    books = ledger()
    books.balance = 9_000.0
    assert books.snapshot(T0 + 3 * DAY_MS).day_start_equity == 9_000.0


# --- partial fills (execution reports may deliver them) -------------------------------------


def test_partial_entry_fills_average_the_price_and_add_the_fees() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0, qty=1.0, fee=0.1),
        stop=95.0,
        take_profit=None,
        strategy="s",
        signal_id="7",
    )
    pos = books.open_position(
        fill(Side.LONG, 103.0, qty=2.0, fee=0.2),
        stop=None,
        take_profit=None,
        strategy="s",
        signal_id="7",
    )
    assert pos.qty == 3.0
    assert pos.entry_price == pytest.approx(102.0)
    assert pos.stop == 95.0  # the bracket stays when a later fill brings none
    assert pos.signal_id == "7"
    assert books.balance == pytest.approx(10_000.0 - 0.3)


def test_partial_exits_realise_as_they_come_and_the_trade_closes_at_zero() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0, qty=4.0, fee=0.4),
        stop=95.0,
        take_profit=None,
        strategy="s",
        signal_id="7",
    )
    pos, trade, signal_id = books.reduce_position(
        fill(Side.LONG, 110.0, qty=1.0, fee=0.1, reduce_only=True), ExitReason.SIGNAL
    )
    assert (pos.qty, trade, signal_id) == (3.0, None, "7")
    assert books.balance == pytest.approx(10_000.0 - 0.4 + 10.0 - 0.1)
    pos, trade, _ = books.reduce_position(
        fill(Side.LONG, 90.0, qty=3.0, fee=0.3, reduce_only=True, ts=T0 + 5 * BAR),
        ExitReason.STOP,
    )
    assert trade is not None
    assert "BTCUSDT" not in books.positions
    assert trade.qty == 4.0
    assert trade.exit_price == pytest.approx((110.0 + 3 * 90.0) / 4)
    assert trade.fees == pytest.approx(0.8)
    assert trade.pnl == pytest.approx(10.0 - 30.0 - 0.8)
    assert trade.r_multiple == pytest.approx((10.0 - 30.0 - 0.8) / (5.0 * 4.0))
    assert books.balance == pytest.approx(10_000.0 + trade.pnl)


def test_an_entry_fill_against_the_other_side_is_refused() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0), stop=95.0, take_profit=None, strategy="s", signal_id=None
    )
    with pytest.raises(RuntimeError, match="against a held long position"):
        books.open_position(
            fill(Side.SHORT, 100.0), stop=105.0, take_profit=None, strategy="s", signal_id=None
        )


def test_restart_state_round_trips() -> None:
    books = ledger()
    books.open_position(
        fill(Side.LONG, 100.0, fee=0.2), stop=95.0, take_profit=None, strategy="s", signal_id="7"
    )
    books.halt(T0 + DAY_MS)
    saved = books.snapshot_state()
    again = ledger(1.0)
    again.restore_state(saved, dict(books.positions))
    assert again.snapshot_state() == saved
    assert again.state is TradingState.HALTED
