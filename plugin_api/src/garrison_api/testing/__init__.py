"""Test kit for plugin authors: everything needed to test a plugin without the host.

- :class:`FakeClock`, :class:`MemoryStore` and :class:`StubContext`: the
  services a strategy sees, in memory; ``StubContext.for_strategy`` answers
  ``indicators(symbol, timeframe)`` and ``candles(symbol, timeframe, n)`` with
  the host's rules;
- :class:`StubServices` and :class:`MemoryBlobStore`: what an optional
  ``start(services)`` gets (name, mode, clock, key-value store, blob store,
  collected events);
- :func:`candles_from_csv`: real candles from ``timestamp_ms,open,high,low,close,volume`` files;
  :func:`random_walk`: seeded synthetic candles;
- :func:`run_strategy`: a small reference pipeline (quantity 1, no fees) that
  runs the host's steps over candles of several symbols and timeframes (fills,
  stops and take-profits on each symbol's finest timeframe only) and returns
  signals, fills, trades and vetoes;
- :func:`check_lookahead`: signals from every prefix of the data must equal the
  full run's (with several timeframes, prefixes are cut by close time);
- :func:`check_screen`: a strategy's optional ``screen`` is sound, causal and changes nothing;
- :func:`check_indicator_parity`: an indicator's vectorised ``compute`` and its
  bar-by-bar ``updater()`` agree, warm up where declared and do not look ahead;
- :class:`StrategyContract`, :class:`SizerContract`, :class:`ScorerContract`,
  :class:`RiskRuleContract`, :class:`NotifierContract`: contract tests to inherit.

It depends on ``garrison_api`` and numpy only, and never on the host.
"""

from garrison_api.testing.blobs import MemoryBlobStore
from garrison_api.testing.candles import CANDLE_COLUMNS, candles_from_csv, random_walk
from garrison_api.testing.clock import FakeClock
from garrison_api.testing.columns import screen_of, series_columns
from garrison_api.testing.compare import canonical, same
from garrison_api.testing.context import StubContext, default_market
from garrison_api.testing.contracts import SizerContract, StrategyContract
from garrison_api.testing.kind_contracts import NotifierContract, RiskRuleContract, ScorerContract
from garrison_api.testing.lookahead import LookaheadMismatch, LookaheadReport, check_lookahead
from garrison_api.testing.parity import IndicatorParityReport, check_indicator_parity
from garrison_api.testing.runner import RunResult, VetoedSignal, merge_candles, run_strategy
from garrison_api.testing.screen import ScreenReport, check_screen
from garrison_api.testing.services import StubServices
from garrison_api.testing.store import MemoryStore
from garrison_api.testing.timeframes import timeframe_ms

__all__ = [
    "CANDLE_COLUMNS",
    "FakeClock",
    "IndicatorParityReport",
    "LookaheadMismatch",
    "LookaheadReport",
    "MemoryBlobStore",
    "MemoryStore",
    "NotifierContract",
    "RiskRuleContract",
    "RunResult",
    "ScorerContract",
    "ScreenReport",
    "SizerContract",
    "StrategyContract",
    "StubContext",
    "StubServices",
    "VetoedSignal",
    "candles_from_csv",
    "canonical",
    "check_indicator_parity",
    "check_lookahead",
    "check_screen",
    "default_market",
    "merge_candles",
    "random_walk",
    "run_strategy",
    "same",
    "screen_of",
    "series_columns",
    "timeframe_ms",
]
