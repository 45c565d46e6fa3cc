"""The rules of ``garrison data download`` that need no exchange: resume, closed bars, symbols."""

from __future__ import annotations

import pytest
from garrison.live.history import (
    DownloadError,
    SymbolPlan,
    closed_before,
    page_rows,
    plan_segments,
    resolve_markets,
)

TF = 300_000
T0 = 1_758_672_000_000  # 2025-09-24 00:00 UTC


def at(n: int) -> int:
    return T0 + n * TF


@pytest.mark.parametrize(
    ("span", "since", "end", "refetch", "segments"),
    [
        # Nothing stored: the whole window.
        (None, at(0), at(100), False, ((at(0), at(100)),)),
        # Stored from the start: carry on after the newest bar.
        ((at(0), at(39)), at(0), at(100), False, ((at(40), at(100)),)),
        # --since inside the stored range: still after the newest bar.
        ((at(0), at(39)), at(20), at(100), False, ((at(40), at(100)),)),
        # --since after the stored range: from --since (the user asked for that hole).
        ((at(0), at(39)), at(60), at(100), False, ((at(60), at(100)),)),
        # --since before the stored range: the bars before it first, then carry on.
        ((at(50), at(59)), at(10), at(100), False, ((at(10), at(50)), (at(60), at(100)))),
        # Up to date: nothing to fetch.
        ((at(0), at(99)), at(0), at(100), False, ()),
        # The window ends before the stored range: only the part before it.
        ((at(50), at(59)), at(10), at(30), False, ((at(10), at(30)),)),
        # --refetch: the whole window whatever is stored.
        ((at(0), at(99)), at(0), at(100), True, ((at(0), at(100)),)),
        # An empty window.
        (None, at(10), at(10), False, ()),
    ],
)
def test_resume_rule(
    span: tuple[int, int] | None,
    since: int,
    end: int,
    refetch: bool,
    segments: tuple[tuple[int, int], ...],
) -> None:
    assert plan_segments(span, since, end, TF, refetch=refetch) == segments


def test_plan_counts_bar_slots() -> None:
    plan = SymbolPlan("BTCUSDT", "BTC/USDT:USDT", "5m", ((at(0), at(10)), (at(20), at(25) + 1)))
    assert plan.bars == 10 + 6


def bar(n: int, close: float = 100.0) -> list[float]:
    return [float(at(n)), close, close + 1.0, close - 1.0, close, 5.0]


def test_closed_bars_end_before_the_newest_bar_and_by_the_clock() -> None:
    # The venue's newest bar is the one in progress: bars opening before it have closed,
    # whatever its clock says (a fake exchange's clock is not its market time).
    assert closed_before(at(13), at(1000), TF) == at(13)
    # A clock behind the newest bar wins: at at(12) + 1 bar 12 is still moving.
    assert at(11) < closed_before(at(13), at(12) + 1, TF) <= at(12)
    # No newest bar: the clock alone. Exactly at bar 12's close, bar 12 has closed.
    assert at(12) < closed_before(None, at(13), TF) <= at(13)
    assert closed_before(None, at(13) - 1, TF) == at(12)


def test_page_rows_keep_the_bars_of_the_window_sorted() -> None:
    raw = [bar(12), bar(10), bar(11), bar(9), bar(13), bar(14)]
    rows = page_rows(raw, start_ms=at(10), end_ms=at(13), timeframe="5m", where="here")
    assert rows[:, 0].tolist() == [at(10), at(11), at(12)]
    empty = page_rows([], start_ms=at(0), end_ms=at(5), timeframe="5m", where="x")
    assert empty.shape == (0, 6)


def test_page_rows_refuse_bad_candles_by_page() -> None:
    broken = [bar(1), [float(at(2)), 100.0, 99.0, 98.0, 100.0, 1.0]]  # high below the open
    with pytest.raises(DownloadError, match=r"bad candle: bybit BTCUSDT 5m page.*inconsistent"):
        page_rows(
            broken,
            start_ms=at(0),
            end_ms=at(5),
            timeframe="5m",
            where="bybit BTCUSDT 5m page",
        )
    with pytest.raises(DownloadError, match="timestamps must strictly increase"):
        page_rows([bar(1), bar(1)], start_ms=at(0), end_ms=at(5), timeframe="5m", where="p")
    with pytest.raises(DownloadError, match="not numbers"):
        page_rows(
            [["x", 1, 2, 3, 4, 5]],
            start_ms=0,
            end_ms=at(5),
            timeframe="5m",
            where="p",
        )


def test_symbols_map_to_linear_usdt_perpetuals_and_unknown_ones_are_named() -> None:
    markets_by_id = {
        "BTCUSDT": [
            {"symbol": "BTC/USDT", "swap": False, "linear": None, "settle": None},
            {"symbol": "BTC/USDT:USDT", "swap": True, "linear": True, "settle": "USDT"},
        ],
        "ETHUSDC": [{"symbol": "ETH/USDC:USDC", "swap": True, "linear": True, "settle": "USDC"}],
        "ETHUSD": [{"symbol": "ETH/USD:ETH", "swap": True, "linear": False, "settle": "ETH"}],
    }
    assert resolve_markets(markets_by_id, "bybit", ["BTCUSDT"]) == {"BTCUSDT": "BTC/USDT:USDT"}
    with pytest.raises(DownloadError, match="unknown symbol ETHUSDC, ETHUSD, NOPEUSDT on bybit"):
        resolve_markets(markets_by_id, "bybit", ["BTCUSDT", "ETHUSDC", "ETHUSD", "NOPEUSDT"])
