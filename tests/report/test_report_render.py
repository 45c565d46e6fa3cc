"""render_report on a non-terminal console: numbers present, chart sized, no crash on edge cases."""

from __future__ import annotations

import io
import re

from garrison.report import compute_report, equity_chart, halt_lines, render_report
from garrison_api.types import ExitReason, Side, Trade
from rich.console import Console

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_760_054_400_000  # 2025-10-10 00:00 UTC


def make_trade(symbol: str, pnl: float, r: float, entry_ts: int) -> Trade:
    return Trade(
        id=f"{symbol}-{entry_ts}",
        symbol=symbol,
        side=Side.LONG,
        qty=1.0,
        entry_ts=entry_ts,
        entry_price=100.0,
        exit_ts=entry_ts + 2 * HOUR,
        exit_price=100.0 + pnl,
        exit_reason=ExitReason.TAKE_PROFIT if pnl > 0 else ExitReason.STOP,
        pnl=pnl,
        r_multiple=r,
    )


def render(
    report_trades: list[Trade],
    equity: list[tuple[int, float]],
    width: int = 100,
    *,
    open_positions: int | None = None,
    halts: tuple[tuple[int, str], ...] = (),
) -> str:
    console = Console(file=io.StringIO(), width=width)
    report = compute_report(
        report_trades, equity, starting_balance=10_000.0, open_positions=open_positions
    )
    render_report(report, equity, console, title="Backtest turtle BTC", halts=halts)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def sample() -> tuple[list[Trade], list[tuple[int, float]]]:
    trades = [
        make_trade("BTCUSDT", 250.0, 2.5, T0),
        make_trade("BTCUSDT", -100.0, -1.0, T0 + DAY),
        make_trade("SOLUSDT", 400.0, 4.0, T0 + 2 * DAY),
    ]
    equity = [(T0 + i * HOUR, 10_000.0 + 5.5 * i - (i % 9) * 12.0) for i in range(24 * 20)]
    return trades, equity


def test_summary_and_per_symbol_numbers_are_shown() -> None:
    trades, equity = sample()
    out = render(trades, equity)
    assert "Backtest turtle BTC" in out
    assert "+550.00" in out  # net pnl
    assert "66.67%" in out  # win rate 2/3
    assert "6.50" in out  # profit factor 650 / 100
    assert "1.833" in out  # expectancy (2.5 - 1 + 4) / 3
    assert "BTCUSDT" in out
    assert "SOLUSDT" in out
    assert "+150.00" in out  # BTCUSDT net pnl
    assert "∞ (no losses)" in out  # SOLUSDT has no losing trade
    assert "Per symbol" in out


def row(out: str, label: str) -> str:
    """The value cell of the summary row ``label``."""
    match = re.search(rf"│ {re.escape(label)} +│ +(.+?) +│", out)
    assert match is not None, f"no {label!r} row in:\n{out}"
    return match.group(1)


def test_ending_equity_and_realised_balance_are_both_shown() -> None:
    trades, equity = sample()
    equity.append((equity[-1][0] + HOUR, 10_725.25))  # an open position in profit at the end
    out = render(trades, equity, width=120, open_positions=2)
    assert row(out, "Ending equity") == "10,725.25"
    assert row(out, "Ending balance (realised)") == "10,550.00"  # 10,000 + 550 closed
    assert row(out, "Open positions at end") == "2"
    assert row(out, "Return") == "+7.25%"


def test_open_positions_row_only_when_given() -> None:
    trades, equity = sample()
    assert "Open positions at end" not in render(trades, equity)


def test_halts_say_when_trading_stopped() -> None:
    trades, equity = sample()
    halt_ts = T0 + 21 * HOUR + 20 * 60_000  # 2025-10-10 21:20 UTC
    out = render(
        trades,
        equity,
        width=120,
        halts=((halt_ts, "drawdown 15.2 % > 15 % (max_drawdown)"), (halt_ts + DAY, "daily loss")),
    )
    assert "Trading halted at 2025-10-10 21:20 UTC: drawdown 15.2 % > 15 % (max_drawdown)" in out
    assert "Trading halted at 2025-10-11 21:20 UTC: daily loss" in out
    assert out.index("Trading halted") < out.index("Per symbol")
    assert "Trading halted" not in render(trades, equity)
    assert halt_lines([]) == []


def test_chart_has_dates_and_fits_the_console() -> None:
    trades, equity = sample()
    out = render(trades, equity, width=100)
    assert "Equity (USDT)" in out
    assert "2025-10-10" in out  # first x tick label
    assert "\x1b[" not in out  # a file console gets no colour codes
    assert max(len(line) for line in out.splitlines()) <= 100


def test_chart_width_follows_console_width() -> None:
    _, equity = sample()
    for width in (60, 140):
        chart = equity_chart(equity, width=width, height=12, colorless=True)
        assert chart is not None
        lines = chart.splitlines()
        assert max(len(line) for line in lines) == width
        assert len(lines) == 12


def test_short_runs_label_hours() -> None:
    equity = [(T0 + i * 300_000, 1000.0 + i) for i in range(100)]
    chart = equity_chart(equity, width=80, height=10, colorless=True)
    assert chart is not None
    assert "10-10 00:00" in chart


def test_long_curves_are_thinned_but_keep_extremes() -> None:
    equity = [(T0 + i * 300_000, 1000.0) for i in range(50_000)]
    equity[31_337] = (equity[31_337][0], 123.0)  # one deep spike must survive thinning
    chart = equity_chart(equity, width=80, height=10, colorless=True)
    assert chart is not None
    lines = chart.splitlines()
    # Row above the bottom frame: the spike is drawn there only if it was kept
    # (without it the curve is flat and the y range collapses onto it).
    bottom_row = lines[-3].split("┤", 1)[-1].rstrip("│")
    assert bottom_row.strip(), chart
    top_row = lines[2].split("┤", 1)[-1].rstrip("│")
    assert top_row.strip(), chart


def test_zero_trades_and_no_equity_do_not_crash() -> None:
    out = render([], [])
    assert "Trades" in out
    assert "0 (0 W / 0 L" in out
    assert "fewer than 2 points" in out
    assert "Equity (USDT)" not in out


def test_single_equity_point_has_no_chart() -> None:
    out = render([], [(T0, 10_000.0)])
    assert "fewer than 2 points" in out
    assert equity_chart([(T0, 1.0)], width=80, height=10, colorless=True) is None


def test_narrow_console_still_renders() -> None:
    trades, equity = sample()
    out = render(trades, equity, width=40)
    assert "Equity (USDT)" in out


def test_repeated_renders_do_not_leak_between_charts() -> None:
    first = equity_chart([(T0, 1.0), (T0 + DAY, 2.0)], width=60, height=10, colorless=True)
    equity_chart([(T0, 50.0), (T0 + DAY, 70.0)], width=90, height=14, colorless=True)
    again = equity_chart([(T0, 1.0), (T0 + DAY, 2.0)], width=60, height=10, colorless=True)
    assert first == again


def test_degenerate_curves_do_not_crash() -> None:
    same_instant = equity_chart([(T0, 1.0), (T0, 2.0)], width=60, height=8, colorless=True)
    flat = equity_chart([(T0, 5.0), (T0 + 1, 5.0)], width=60, height=8, colorless=True)
    assert same_instant is not None
    assert flat is not None
    assert "10-10 00:00" in flat
