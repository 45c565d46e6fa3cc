"""The market-data seams: a feed that yields steps, and indicators per series.

A :class:`MarketFeed` is where candles come from in every mode: recorded
files in a replay (:class:`TimelineFeed`), an exchange's websockets with REST
backfill in paper and live trading. It hands out each series' closed history
before the first step (warm-up), then one :class:`Step` per bar-close instant.
An :class:`IndicatorProvider` keeps one series' indicator values at its last
closed bar: incremental (``garrison.indicators.IncrementalIndicators``, as
live trading needs) or read off whole precomputed columns (the replay
driver's own views). The step driver (:mod:`garrison.engine.driver`) joins
both to the step processor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

import attrs
from garrison_api import Candle

from garrison.engine.feed import Series, Timeline


@attrs.frozen
class Step:
    """Every bar that closes at ``close_ms`` (UTC ms), in step order.

    Step order: longer timeframes first, then symbols in sorted order; a feed
    must yield the bars so. Bars are closed candles, never partial ones.
    ``late`` are closed candles of earlier instants that arrived after their
    own step was handed on (a live feed waits only so long): they are booked
    and taken into the indicators before ``bars``, and no strategy decides on
    them.
    """

    close_ms: int
    bars: tuple[Candle, ...]
    late: tuple[Candle, ...] = ()


class MarketFeed(Protocol):
    """Candles for one run: history for warm-up, then steps in close order."""

    def series(self) -> Sequence[tuple[str, str]]:
        """Every (symbol, timeframe) the feed delivers."""
        ...

    def history(self, symbol: str, timeframe: str) -> Sequence[Candle]:
        """Closed candles of one series before the first step, oldest first (warm-up)."""
        ...

    def steps(self) -> AsyncIterator[Step]:
        """The steps, strictly increasing in close time, each complete when yielded.

        A live feed fills any gap (through REST) before it yields the step
        after it: the engine never sees a hole in a series.
        """
        ...


class IndicatorProvider(Protocol):
    """One series' indicator values by the strategy's names, at its last closed bar."""

    @property
    def values(self) -> Mapping[str, float]:
        """A live read-only view: it follows :meth:`update` (``nan`` before warm)."""
        ...

    def update(self, candle: Candle) -> None:
        """Take the series' next closed candle."""
        ...


def _candle(series: Series, row: int) -> Candle:
    return Candle(
        series.symbol,
        series.timeframe,
        int(series.ts[row]),
        float(series.open[row]),
        float(series.high[row]),
        float(series.low[row]),
        float(series.close[row]),
        float(series.volume[row]),
    )


class TimelineFeed:
    """Recorded series as a :class:`MarketFeed`: rows before ``first_rows`` are history.

    The replay driver reads the same timeline through its own fast paths;
    this feed is the plain path, one :class:`~garrison_api.Candle` per bar.
    """

    def __init__(
        self, series: Sequence[Series], timeline: Timeline, first_rows: Sequence[int] | None = None
    ) -> None:
        self._series = list(series)
        self._timeline = timeline
        self._first = list(first_rows) if first_rows is not None else [0] * len(self._series)
        self._index = {(s.symbol, s.timeframe): i for i, s in enumerate(self._series)}

    def series(self) -> Sequence[tuple[str, str]]:
        return [(s.symbol, s.timeframe) for s in self._series]

    def history(self, symbol: str, timeframe: str) -> Sequence[Candle]:
        i = self._index[(symbol, timeframe)]
        s = self._series[i]
        return [_candle(s, row) for row in range(self._first[i])]

    async def steps(self) -> AsyncIterator[Step]:
        timeline = self._timeline
        closes = timeline.close_ms.tolist()
        sidx = timeline.series_index.tolist()
        ridx = timeline.row_index.tolist()
        bars: list[Candle] = []
        for k, close in enumerate(closes):
            if bars and close != closes[k - 1]:
                yield Step(int(closes[k - 1]), tuple(bars))
                bars = []
            bars.append(_candle(self._series[sidx[k]], ridx[k]))
        if bars:
            yield Step(int(closes[-1]), tuple(bars))
