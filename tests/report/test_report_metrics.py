"""compute_report on small hand-computed cases."""

from __future__ import annotations

import itertools
import math
import statistics

import attrs
import pytest
from garrison.report import Report, SymbolStats, compute_report
from garrison_api.types import ExitReason, Side, Trade

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_760_054_400_000  # 2025-10-10 00:00 UTC


def trade(
    pnl: float,
    *,
    symbol: str = "BTCUSDT",
    side: Side = Side.LONG,
    entry_ts: int = T0,
    exit_ts: int | None = None,
    r: float | None = None,
    fees: float = 0.0,
    ident: str = "t",
) -> Trade:
    return Trade(
        id=ident,
        symbol=symbol,
        side=side,
        qty=1.0,
        entry_ts=entry_ts,
        entry_price=100.0,
        exit_ts=entry_ts + HOUR if exit_ts is None else exit_ts,
        exit_price=100.0 + pnl,
        exit_reason=ExitReason.SIGNAL,
        pnl=pnl,
        fees=fees,
        r_multiple=r,
    )


def test_zero_trades_and_no_equity_is_a_flat_report() -> None:
    report = compute_report([], [], starting_balance=1000.0)
    assert report.trades == report.wins == report.losses == 0
    assert report.win_rate is None
    assert report.profit_factor is None
    assert report.expectancy_r is None
    assert report.avg_win is None
    assert report.avg_loss is None
    assert report.net_pnl == 0.0
    assert report.gross_loss == 0.0
    assert math.copysign(1.0, report.gross_loss) == 1.0  # not -0.0
    assert report.ending_balance == report.ending_equity == 1000.0
    assert report.open_positions is None
    assert report.return_pct == 0.0
    assert report.max_drawdown == 0.0
    assert report.max_drawdown_usdt == 0.0
    assert report.sharpe is None
    assert report.exposure is None
    assert report.start_ts is None
    assert report.end_ts is None
    assert report.per_symbol == ()


def test_counts_profit_factor_and_expectancy() -> None:
    trades = [
        trade(30.0, r=3.0, fees=0.5),
        trade(-10.0, r=-1.0, fees=0.5),
        trade(20.0, r=None, side=Side.SHORT),  # no initial risk: left out of expectancy
        trade(-5.0, r=-0.5),
        trade(0.0, r=0.0),  # breakeven: neither win nor loss
    ]
    report = compute_report(trades, [], starting_balance=1000.0)
    assert (report.trades, report.wins, report.losses) == (5, 2, 2)
    assert (report.longs, report.shorts) == (4, 1)
    assert report.win_rate == pytest.approx(2 / 5)
    assert report.gross_profit == 50.0
    assert report.gross_loss == 15.0
    assert report.net_pnl == 35.0
    assert report.fees == 1.0
    assert report.profit_factor == pytest.approx(50.0 / 15.0)
    assert report.expectancy_r == pytest.approx((3.0 - 1.0 - 0.5 + 0.0) / 4)
    assert report.avg_win == 25.0
    assert report.avg_loss == -7.5
    assert report.largest_win == 30.0
    assert report.largest_loss == -10.0
    assert report.ending_balance == 1035.0
    assert report.return_pct == pytest.approx(3.5)


def test_profit_factor_is_none_without_losses() -> None:
    report = compute_report([trade(10.0), trade(5.0)], [], starting_balance=100.0)
    assert report.profit_factor is None
    assert report.win_rate == 1.0


def test_profit_factor_is_zero_without_wins() -> None:
    report = compute_report([trade(-10.0)], [], starting_balance=100.0)
    assert report.profit_factor == 0.0


def test_max_drawdown_from_equity_curve() -> None:
    # Peak 1200 then trough 900: 300 USDT, 25 %. A later drop from a higher peak
    # (2000 -> 1600 = 400 USDT, 20 %) has the larger amount but the smaller fraction.
    values = [1000.0, 1200.0, 900.0, 1100.0, 2000.0, 1600.0, 1700.0]
    equity = [(T0 + i * HOUR, v) for i, v in enumerate(values)]
    report = compute_report([], equity, starting_balance=1000.0)
    assert report.max_drawdown == pytest.approx(0.25)
    assert report.max_drawdown_usdt == pytest.approx(400.0)
    assert report.ending_equity == 1700.0
    assert report.ending_balance == 1000.0  # nothing realised: no closed trade
    assert report.return_pct == pytest.approx(70.0)


def test_a_deeper_drawdown_seen_on_every_close_is_the_one_reported() -> None:
    # Hourly points see 25 % / 400 USDT; between them a close went 30 % (360 USDT) down.
    values = [1000.0, 1200.0, 900.0, 1100.0, 2000.0, 1600.0, 1700.0]
    equity = [(T0 + i * HOUR, v) for i, v in enumerate(values)]
    report = compute_report([], equity, starting_balance=1000.0, marked_drawdown=(0.3, 360.0))
    assert (report.max_drawdown, report.max_drawdown_usdt) == (0.3, 400.0)
    # Shallower than the points: the points stand.
    report = compute_report([], equity, starting_balance=1000.0, marked_drawdown=(0.1, 10.0))
    assert report.max_drawdown == pytest.approx(0.25)
    with pytest.raises(ValueError, match="marked_drawdown"):
        compute_report([], equity, starting_balance=1000.0, marked_drawdown=(1.5, 0.0))


def test_starting_balance_is_the_first_peak() -> None:
    equity = [(T0, 900.0), (T0 + HOUR, 950.0)]
    report = compute_report([], equity, starting_balance=1000.0)
    assert report.max_drawdown == pytest.approx(0.1)
    assert report.max_drawdown_usdt == pytest.approx(100.0)


def test_realised_curve_stands_in_for_missing_equity() -> None:
    trades = [
        trade(100.0, entry_ts=T0, exit_ts=T0 + HOUR),
        trade(-300.0, entry_ts=T0 + 2 * HOUR, exit_ts=T0 + 3 * HOUR),
        trade(50.0, entry_ts=T0 + 4 * HOUR, exit_ts=T0 + 5 * HOUR),
    ]
    report = compute_report(trades, [], starting_balance=1000.0)
    # 1000 -> 1100 -> 800 -> 850: the drop from 1100 to 800.
    assert report.max_drawdown_usdt == pytest.approx(300.0)
    assert report.max_drawdown == pytest.approx(300.0 / 1100.0)
    assert report.ending_balance == pytest.approx(850.0)


def test_sharpe_from_daily_closes() -> None:
    # Several points a day; only each UTC day's last point counts. Day 3 has no
    # point and carries day 2's close; the starting balance opens day 1.
    equity = [
        (T0 + 1 * HOUR, 1005.0),
        (T0 + 23 * HOUR, 1010.0),  # day 1 close
        (T0 + DAY + 2 * HOUR, 1050.0),
        (T0 + DAY + 20 * HOUR, 1000.0),  # day 2 close
        (T0 + 3 * DAY + 5 * HOUR, 1030.0),  # day 4 close
    ]
    report = compute_report([], equity, starting_balance=1000.0)
    closes = [1000.0, 1010.0, 1000.0, 1000.0, 1030.0]
    returns = [b / a - 1.0 for a, b in itertools.pairwise(closes)]
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    assert report.sharpe == pytest.approx(expected, rel=1e-12)


def test_sharpe_is_none_within_one_day_or_when_flat() -> None:
    one_day = [(T0, 1000.0), (T0 + 5 * HOUR, 1100.0)]
    assert compute_report([], one_day, starting_balance=1000.0).sharpe is None
    flat = [(T0 + d * DAY, 1000.0) for d in range(5)]
    assert compute_report([], flat, starting_balance=1000.0).sharpe is None


def test_exposure_and_durations() -> None:
    trades = [
        trade(1.0, entry_ts=T0, exit_ts=T0 + 2 * HOUR),
        trade(1.0, symbol="ETHUSDT", entry_ts=T0 + HOUR, exit_ts=T0 + 3 * HOUR),  # overlaps
        trade(1.0, entry_ts=T0 + 6 * HOUR, exit_ts=T0 + 7 * HOUR),
    ]
    equity = [(T0, 1000.0), (T0 + 10 * HOUR, 1003.0)]
    report = compute_report(trades, equity, starting_balance=1000.0)
    assert report.exposure == pytest.approx(4 / 10)  # hours 0-3 and 6-7 of 10
    assert report.avg_duration_ms == pytest.approx((2 + 2 + 1) / 3 * HOUR)
    assert report.max_duration_ms == 2 * HOUR
    assert (report.start_ts, report.end_ts) == (T0, T0 + 10 * HOUR)


def test_per_symbol_stats() -> None:
    trades = [
        trade(10.0, symbol="SOLUSDT", r=2.0),
        trade(-5.0, symbol="SOLUSDT", r=-1.0),
        trade(-4.0, symbol="BTCUSDT", r=-1.0),
        trade(8.0, symbol="SOLUSDT", r=1.5),
    ]
    report = compute_report(trades, [], starting_balance=1000.0)
    btc, sol = report.per_symbol
    assert btc == SymbolStats("BTCUSDT", 1, 0, 1, 0.0, -4.0, 0.0, -1.0)
    assert (sol.symbol, sol.trades, sol.wins, sol.losses) == ("SOLUSDT", 3, 2, 1)
    assert sol.win_rate == pytest.approx(2 / 3)
    assert sol.net_pnl == 13.0
    assert sol.profit_factor == pytest.approx(18.0 / 5.0)
    assert sol.expectancy_r == pytest.approx(2.5 / 3)


def test_ending_equity_and_realised_balance_are_apart() -> None:
    # Two closed trades (+120, -20, fees already in pnl) and a position still
    # open that is 55 USDT in profit at the last mark.
    trades = [
        trade(120.0, entry_ts=T0, exit_ts=T0 + HOUR, fees=1.5),
        trade(-20.0, entry_ts=T0 + HOUR, exit_ts=T0 + 2 * HOUR, fees=1.0),
    ]
    equity = [(T0, 1000.0), (T0 + HOUR, 1120.0), (T0 + 2 * HOUR, 1100.0), (T0 + DAY, 1155.0)]
    report = compute_report(trades, equity, starting_balance=1000.0, open_positions=1)
    assert report.ending_balance == 1100.0
    assert report.ending_equity == 1155.0
    assert report.return_pct == pytest.approx(15.5)  # on equity
    assert report.open_positions == 1


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_open_positions_is_named(bad: object) -> None:
    with pytest.raises(ValueError, match="open_positions must be a whole number >= 0"):
        compute_report([], [], starting_balance=1.0, open_positions=bad)  # type: ignore[arg-type]


def test_report_is_frozen() -> None:
    report = compute_report([], [], starting_balance=1.0)
    assert isinstance(report, Report)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        report.trades = 3  # type: ignore[misc]


@pytest.mark.parametrize("balance", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_starting_balance_is_named(balance: float) -> None:
    with pytest.raises(ValueError, match="starting_balance"):
        compute_report([], [], starting_balance=balance)


def test_equity_out_of_order_is_named() -> None:
    equity = [(T0, 1000.0), (T0 + 2 * HOUR, 1001.0), (T0 + HOUR, 1002.0)]
    with pytest.raises(ValueError, match=r"equity point 2 \(ts=.*\) is earlier than point 1"):
        compute_report([], equity, starting_balance=1000.0)


def test_non_finite_equity_is_named() -> None:
    with pytest.raises(ValueError, match="equity point 1"):
        compute_report([], [(T0, 1.0), (T0 + 1, float("nan"))], starting_balance=1.0)


def test_bad_trades_are_named() -> None:
    with pytest.raises(ValueError, match=r"trade 'x'.*pnl"):
        compute_report([trade(float("nan"), ident="x")], [], starting_balance=1.0)
    backwards = trade(1.0, ident="y", entry_ts=T0, exit_ts=T0 - 1)
    with pytest.raises(ValueError, match=r"trade 'y'.*exit_ts"):
        compute_report([backwards], [], starting_balance=1.0)
