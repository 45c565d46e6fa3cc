"""The fake account fills like the replay broker: market at the open, stops on the bar's range."""

from __future__ import annotations

import numpy as np
import pytest
from garrison.engine.feed import Series
from garrison.fakex import FakeError, Faults, MarketTape
from garrison.fakex.account import FakeAccount, Fees
from garrison_api import Market

M5 = 300_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % M5
MARKET = Market(symbol="AAAUSDT", tick_size=0.1, lot_step=0.1, min_qty=0.1, min_notional=5.0)


def tape_of(bars: list[tuple[float, float, float, float]]) -> MarketTape:
    """A tape of AAAUSDT 5m bars (open, high, low, close), time at the first bar's open."""
    cols = np.array(bars, np.float64)
    s = Series(
        "AAAUSDT",
        "5m",
        np.array([T0 + i * M5 for i in range(len(bars))], np.int64),
        cols[:, 0].copy(),
        cols[:, 1].copy(),
        cols[:, 2].copy(),
        cols[:, 3].copy(),
        np.full(len(bars), 5.0),
    )
    tape = MarketTape([s], markets={"AAAUSDT": MARKET})
    tape.reset(T0)
    return tape


def close_bar(tape: MarketTape, account: FakeAccount) -> None:
    when, closed, _ = tape.step()
    account.on_bar_close(when, {symbol: bar for symbol, _, bar in closed})


def account_on(tape: MarketTape, take_profit_first: bool = False) -> FakeAccount:
    fees = Fees(taker=0.001, maker=0.0005)
    return FakeAccount(tape, balance=10_000.0, fees=fees, take_profit_first=take_profit_first)


def test_a_market_order_fills_at_the_open_of_the_bar_in_progress_with_the_taker_fee() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 102.0, 100.0, 101.0)])
    account = account_on(tape)
    order = account.place_order(
        symbol="AAAUSDT", side="buy", kind="market", qty=2.0, client_id="a", now_ms=T0
    )
    assert (order.status, order.avg_price, order.filled_qty) == ("filled", 100.0, 2.0)
    assert order.fee == pytest.approx(0.2)
    (position,) = account.positions()
    assert (position.side, position.size, position.entry_price) == ("long", 2.0, 100.0)
    wallet, available, unrealised = account.balance()
    assert wallet == pytest.approx(10_000.0 - 0.2)
    assert unrealised == 0.0
    assert available == pytest.approx(wallet - 2.0 * 100.0 / account.leverage("AAAUSDT"))


def test_an_attached_stop_rests_and_fills_at_its_trigger_on_the_bar_that_reaches_it() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 100.6, 97.0, 98.0), (98.0, 99, 97, 98)])
    account = account_on(tape)
    entry = account.place_order(
        symbol="AAAUSDT", side="buy", kind="market", qty=1.0, attached_stop=98.5, now_ms=T0
    )
    (stop,) = account.open_orders()
    assert (stop.kind, stop.side, stop.status, stop.parent_id) == (
        "stop_market",
        "sell",
        "untriggered",
        entry.id,
    )
    assert account.positions()[0].stop_loss == 98.5
    close_bar(tape, account)  # low 99 stays above the stop
    assert stop.status == "untriggered"
    close_bar(tape, account)  # low 97 reaches it
    assert (stop.status, stop.avg_price, stop.filled_qty) == ("filled", 98.5, 1.0)
    assert account.positions() == []
    fill = account.fills()[-1]
    assert fill.realized_pnl == pytest.approx(-1.5)
    assert fill.fee == pytest.approx(98.5 * 0.001)


def test_a_stop_fills_at_the_open_when_the_bar_opened_beyond_it() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (95.0, 96.0, 94.0, 95.0)])
    account = account_on(tape)
    account.place_order(symbol="AAAUSDT", side="buy", kind="market", qty=1.0, now_ms=T0)
    stop = account.place_order(
        symbol="AAAUSDT",
        side="sell",
        kind="stop_market",
        qty=1.0,
        trigger_price=98.0,
        reduce_only=True,
        now_ms=T0,
    )
    close_bar(tape, account)
    assert stop.status == "untriggered"
    close_bar(tape, account)
    assert (stop.status, stop.avg_price) == ("filled", 95.0)


@pytest.mark.parametrize(("tp_first", "reason"), [(False, "stop_loss"), (True, "take_profit")])
def test_a_bar_touching_both_exits_by_the_configured_rule(tp_first: bool, reason: str) -> None:
    tape = tape_of([(100.0, 100.5, 99.5, 100.0), (100.0, 110.0, 90.0, 100.0)])
    account = account_on(tape, tp_first)
    account.place_order(
        symbol="AAAUSDT",
        side="buy",
        kind="market",
        qty=1.0,
        attached_stop=95.0,
        attached_take_profit=105.0,
        now_ms=T0,
    )
    close_bar(tape, account)
    close_bar(tape, account)
    exits = [o for o in account.orders() if o.stop_kind is not None]
    by_kind = {o.stop_kind: o for o in exits}
    assert by_kind[reason].status == "filled"
    other = by_kind["take_profit" if reason == "stop_loss" else "stop_loss"]
    assert (other.status, other.cancel_reason) == ("canceled", "position_closed")
    exit_fill = account.fills()[-1]
    assert exit_fill.maker is (reason == "take_profit")
    assert exit_fill.price == (95.0 if reason == "stop_loss" else 105.0)


def test_refusals_carry_their_codes() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 101, 100, 101)])
    account = account_on(tape)

    def place(**kwargs: object) -> None:
        fields: dict[str, object] = {"symbol": "AAAUSDT", "side": "buy", "kind": "market"}
        fields.update(qty=1.0, now_ms=T0)
        fields.update(kwargs)
        account.place_order(**fields)  # type: ignore[arg-type]

    place(client_id="x")
    cases = {
        "duplicate_client_id": {"client_id": "x"},
        "invalid_qty": {"qty": 0.15},
        "unknown_symbol": {"symbol": "ZZZUSDT"},
        "reduce_only_rejected": {"side": "buy", "reduce_only": True},
        "insufficient_margin": {"qty": 5_000.0},
        "would_trigger_immediately": {"attached_stop": 100.5},
        "invalid_price": {"attached_stop": 99.95},
    }
    for code, kwargs in cases.items():
        with pytest.raises(FakeError) as caught:
            place(**kwargs)
        assert caught.value.code == code, kwargs
    with pytest.raises(FakeError) as caught:
        account.place_order(
            symbol="AAAUSDT",
            side="sell",
            kind="stop_market",
            qty=1.0,
            trigger_price=100.5,
            reduce_only=True,
            now_ms=T0,
        )
    assert caught.value.code == "would_trigger_immediately"
    with pytest.raises(FakeError) as caught:
        account.cancel_order("AAAUSDT", client_id="x")
    assert caught.value.code == "order_not_found"


def test_closing_the_position_cancels_its_reduce_only_conditionals() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 101, 100, 101)])
    account = account_on(tape)
    account.place_order(
        symbol="AAAUSDT", side="buy", kind="market", qty=1.0, attached_stop=95.0, now_ms=T0
    )
    account.place_order(
        symbol="AAAUSDT", side="sell", kind="market", qty=1.0, reduce_only=True, now_ms=T0
    )
    assert account.open_orders() == []
    assert account.positions() == []
    assert account.fills()[-1].realized_pnl == 0.0


def test_partial_fill_fault_fills_the_rest_at_the_next_open() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 101, 100, 101), (101, 102, 100, 101)])
    account = FakeAccount(tape, faults=Faults(partial_fills=1))
    order = account.place_order(symbol="AAAUSDT", side="buy", kind="market", qty=1.0, now_ms=T0)
    assert (order.status, order.filled_qty) == ("partially_filled", 0.5)
    close_bar(tape, account)
    assert (order.status, order.filled_qty) == ("filled", 1.0)
    assert order.avg_price == pytest.approx(100.25)
    assert [f.price for f in account.fills()] == [100.0, 100.5]


def test_reject_stops_fault_leaves_the_entry_filled_but_unprotected() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 101, 100, 101)])
    faults = Faults(reject_stops=1)
    account = FakeAccount(tape, faults=faults)
    account.place_order(
        symbol="AAAUSDT", side="buy", kind="market", qty=1.0, attached_stop=95.0, now_ms=T0
    )
    (position,) = account.positions()
    assert position.stop_loss is None
    rejected = [o for o in account.orders() if o.stop_kind == "stop_loss"]
    assert [o.status for o in rejected] == ["rejected"]
    assert faults.injected == {"reject_stops": 1}


def test_insufficient_margin_fault_refuses_the_next_opening_order_only() -> None:
    tape = tape_of([(100.0, 101.0, 99.0, 100.5), (100.5, 101, 100, 101)])
    account = FakeAccount(tape, faults=Faults(insufficient_margin=1))
    with pytest.raises(FakeError, match="insufficient_margin"):
        account.place_order(symbol="AAAUSDT", side="buy", kind="market", qty=1.0, now_ms=T0)
    account.place_order(symbol="AAAUSDT", side="buy", kind="market", qty=1.0, now_ms=T0)
    assert len(account.positions()) == 1
