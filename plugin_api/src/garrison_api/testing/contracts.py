"""Contract tests a plugin's own test suite inherits.

::

    from garrison_api.testing import StrategyContract, candles_from_csv

    class TestTurtleContract(StrategyContract):
        make_strategy = TurtleStrategy          # any zero-argument factory

        def candles(self):                      # or a plain list attribute
            return candles_from_csv("data/bybit_BTCUSDT_5m.csv")[:3000]

pytest collects the inherited ``test_*`` methods (the base classes are not
named ``Test*``, so they are not collected themselves). The checks use plain
``assert`` and need nothing but ``garrison_api``.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from unittest import mock

import attrs

from garrison_api.components import Sizer, Strategy, component_params
from garrison_api.testing.compare import same
from garrison_api.testing.incremental import make_updater
from garrison_api.testing.lookahead import check_lookahead
from garrison_api.testing.runner import RunResult, run_strategy
from garrison_api.testing.screen import check_screen
from garrison_api.testing.steps import plan_steps
from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import AccountState, Candle, Market, Score, Side, Signal


def _is_spec(spec: object) -> bool:
    """Whether ``spec`` is an indicator spec the host can compute (the kit can update it)."""
    try:
        make_updater(spec)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _check_specs(where: str, specs: object, warmup: int) -> None:
    assert isinstance(specs, Mapping), f"{where} must be a Mapping, got {specs!r}"
    for key, spec in specs.items():
        assert isinstance(key, str), f"{where} key {key!r} is not a str"
        assert key, f"{where} has an empty name"
        assert _is_spec(spec), f"{where}[{key!r}] = {spec!r} is not an indicator spec"
        assert warmup >= spec.warmup, (
            f"warmup = {warmup} is shorter than indicator {key!r} of {where} needs "
            f"({spec.warmup}): the host loads only warmup bars of each series before a window"
        )


def _resolve(owner: object, name: str) -> Any:
    """A contract attribute: a value, or a factory given as class, function, method or lambda."""
    try:
        raw = inspect.getattr_static(owner, name)
    except AttributeError:
        raise AttributeError(
            f"{type(owner).__name__} must set {name!r} (see garrison_api.testing.contracts)"
        ) from None
    if isinstance(raw, staticmethod):
        return raw.__func__
    if inspect.isfunction(raw) and not inspect.signature(raw).parameters:
        return raw  # e.g. ``make_strategy = lambda: Turtle(...)`` on the class
    return getattr(owner, name)


@contextmanager
def _wall_clock_forbidden() -> Iterator[list[str]]:
    """Make ``time.time``/``time.time_ns`` raise; yields the names of those that were called."""
    called: list[str] = []

    def forbid(name: str) -> Callable[[], float]:
        def refuse() -> float:
            called.append(name)
            raise AssertionError(f"a component read the wall clock ({name}); use ctx.clock")

        return refuse

    with (
        mock.patch.object(time, "time", forbid("time.time")),
        mock.patch.object(time, "time_ns", forbid("time.time_ns")),
    ):
        yield called


def _check_params(component: type) -> object:
    params_cls = component_params(component)
    name = f"{component.__qualname__}.Params"
    assert attrs.has(params_cls), f"{name} must be an attrs class"
    try:
        params = params_cls()
    except TypeError as exc:
        raise AssertionError(f"{name}() must work with defaults only: {exc}") from exc
    fields = attrs.fields(params_cls)
    if fields:
        first = fields[0].name
        try:
            setattr(params, first, getattr(params, first))
        except attrs.exceptions.FrozenInstanceError:
            pass
        else:
            raise AssertionError(f"{name} must be frozen (@attrs.frozen)")
    return params


class StrategyContract:
    """Checks every Garrison strategy should pass. Subclass as ``Test...`` and set:

    - ``make_strategy``: a zero-argument factory returning a fresh strategy;
    - ``candles``: candles (one or more symbols) on which it signals at least
      once, as a list or a zero-argument method returning one;
    - optionally ``markets`` (symbol -> Market) and ``lookahead_cutoffs``.

    A strategy that declares ``context_indicators`` needs candles of those
    timeframes too (each symbol it decides on, every context timeframe).
    """

    markets: ClassVar[Mapping[str, Market] | None] = None
    lookahead_cutoffs: ClassVar[int] = 10

    def _make(self) -> Strategy:
        strategy: Strategy = _resolve(self, "make_strategy")()
        return strategy

    def _candles(self) -> list[Candle]:
        cached: list[Candle] | None = getattr(self, "_contract_candles", None)
        if cached is None:
            value = _resolve(self, "candles")
            cached = list(value() if callable(value) else value)
            assert cached, f"{type(self).__name__}.candles is empty"
            self._contract_candles = cached
        return cached

    def _run(self) -> RunResult:
        return run_strategy(self._make(), self._candles(), markets=self.markets)

    def test_params_are_frozen_attrs_with_defaults(self) -> None:
        _check_params(type(self._make()))

    def test_builds_from_default_params(self) -> None:
        cls: Any = type(self._make())
        strategy = cls(component_params(cls)())
        assert isinstance(strategy, cls)

    def test_declares_warmup_timeframes_and_indicators(self) -> None:
        strategy = self._make()
        name = type(strategy).__qualname__
        warmup = strategy.warmup
        assert isinstance(warmup, int), f"{name}.warmup must be an int, got {warmup!r}"
        assert not isinstance(warmup, bool), f"{name}.warmup must be an int, got {warmup!r}"
        assert warmup >= 0, f"{name}.warmup must be 0 or more, got {warmup}"
        timeframes = strategy.timeframes
        assert isinstance(timeframes, tuple), f"{name}.timeframes must be a tuple"
        for timeframe in timeframes:
            timeframe_ms(timeframe)
        _check_specs(f"{name}.indicators", strategy.indicators, warmup)

    def test_declares_optional_api_1_1_attributes_well(self) -> None:
        strategy = self._make()
        name = type(strategy).__qualname__
        context = getattr(strategy, "context_indicators", None)
        if context is not None:
            where = f"{name}.context_indicators"
            assert isinstance(context, Mapping), f"{where} must be a Mapping, got {context!r}"
            for timeframe, specs in context.items():
                assert isinstance(timeframe, str), f"{where} key {timeframe!r} is not a str"
                try:
                    timeframe_ms(timeframe)
                except ValueError as exc:
                    raise AssertionError(f"{where}: {exc}") from None
                assert timeframe not in strategy.timeframes, (
                    f"{where} has {timeframe!r}, which is also a decision timeframe: "
                    "context timeframes are read without deciding on them"
                )
                _check_specs(f"{where}[{timeframe!r}]", specs, strategy.warmup)
        for method in ("on_outcome", "start", "stop"):
            if hasattr(strategy, method):
                value = getattr(strategy, method)
                assert callable(value), f"{name}.{method} must be a method, got {value!r}"

    def test_runs_with_its_context_timeframes(self) -> None:
        # Only a strategy that reads other timeframes promises anything here.
        strategy = self._make()
        context = getattr(strategy, "context_indicators", None)
        if not context:
            return
        candles = self._candles()
        given = {c.timeframe for c in candles}
        missing = sorted(set(context) - given)
        assert not missing, (
            f"{type(self).__name__}.candles has no candles of {missing}, which "
            f"{type(strategy).__qualname__} reads as context; give them with the decision ones"
        )
        result = run_strategy(strategy, candles, markets=self.markets)
        assert result.signals, "the strategy never signals on these candles; the checks need some"

    def test_signals_on_the_given_candles(self) -> None:
        result = self._run()
        assert result.signals, "the strategy never signals on these candles; the checks need some"
        for signal in result.signals:
            assert isinstance(signal, Signal)

    def test_no_signals_before_warmup(self) -> None:
        # The runner never asks before warm-up; a signal stamped earlier was back-dated.
        strategy = self._make()
        plan = plan_steps(strategy, self._candles())
        first_allowed = {
            key: bars[strategy.warmup].ts
            for key, bars in plan.series.items()
            if len(bars) > strategy.warmup
        }
        result = run_strategy(strategy, self._candles(), markets=self.markets)
        for signal, candle in zip(result.signals, result.decided_on, strict=True):
            allowed = first_allowed.get((candle.symbol, candle.timeframe))
            early = (
                f"signal before warm-up ({strategy.warmup} bars of {candle.symbol} "
                f"{candle.timeframe}): {signal!r}"
            )
            assert allowed is not None, early
            assert signal.ts >= allowed, early

    def test_deterministic(self) -> None:
        first, second = self._run(), self._run()
        assert same(first.signals, second.signals), "two runs gave different signals"
        assert same(first.trades, second.trades), "two runs gave different trades"

    def test_no_lookahead(self) -> None:
        report = check_lookahead(
            self._make, self._candles(), cutoffs=self.lookahead_cutoffs, markets=self.markets
        )
        assert report.ok, report.describe()

    def test_screen_keeps_its_promises(self) -> None:
        # Only a strategy that declares a screen promises anything here.
        if getattr(self._make(), "screen", None) is None:
            return
        report = check_screen(
            self._make, self._candles(), cutoffs=self.lookahead_cutoffs, markets=self.markets
        )
        assert report.ok, report.describe()

    def test_does_not_read_the_wall_clock(self) -> None:
        strategy, candles = self._make(), self._candles()
        with _wall_clock_forbidden() as called:
            run_strategy(strategy, candles, markets=self.markets)
        assert not called, f"the strategy read the wall clock: {called}"


def _default_signals() -> tuple[Signal, ...]:
    return (
        Signal("BTCUSDT", 0, Side.LONG, entry=100_000.0, stop=98_000.0),
        Signal("BTCUSDT", 0, Side.SHORT, entry=100_000.0, stop=101_500.0),
        Signal("BTCUSDT", 0, Side.LONG, entry=100_000.0, stop=99_950.0, take_profit=100_200.0),
        Signal("BTCUSDT", 0, Side.LONG, entry=100_000.0),
    )


class SizerContract:
    """Checks every Garrison sizer should pass. Subclass as ``Test...`` and set ``make_sizer``.

    Override ``market``, ``account`` and ``signals`` to match the sizer (the
    defaults are Bybit BTCUSDT rules, a 10,000 USDT account and a few BTC
    signals, one without a stop). At least one signal must get a quantity.
    """

    market: ClassVar[Market] = Market(
        "BTCUSDT", tick_size=0.1, lot_step=0.001, min_qty=0.001, min_notional=5.0
    )
    account: ClassVar[AccountState] = AccountState(
        ts=0,
        balance=10_000.0,
        equity=10_000.0,
        peak_equity=10_000.0,
        day_start_equity=10_000.0,
        used_margin=0.0,
    )
    signals: ClassVar[Sequence[Signal]] = _default_signals()

    def _make(self) -> Sizer:
        sizer: Sizer = _resolve(self, "make_sizer")()
        return sizer

    def _sizes(self, sizer: Sizer) -> list[float | None]:
        return [
            sizer.size(signal, score, self.account, self.market)
            for signal in self.signals
            for score in (None, Score(0.5))
        ]

    def test_params_are_frozen_attrs_with_defaults(self) -> None:
        _check_params(type(self._make()))

    def test_builds_from_default_params(self) -> None:
        cls: Any = type(self._make())
        assert isinstance(cls(component_params(cls)()), cls)

    def test_quantities_respect_the_market(self) -> None:
        market = self.market
        sizes = self._sizes(self._make())
        assert any(q is not None for q in sizes), "the sizer sized none of the signals"
        for signal, qty in zip([s for s in self.signals for _ in (0, 1)], sizes, strict=True):
            if qty is None:
                continue
            where = f"size({signal!r}) = {qty!r}"
            assert isinstance(qty, float | int), f"{where}: not a number"
            assert not isinstance(qty, bool), f"{where}: not a number"
            assert math.isfinite(qty), f"{where}: not finite"
            assert qty > 0, f"{where}: not positive"
            steps = qty / market.lot_step
            assert abs(steps - round(steps)) < 1e-6, f"{where}: not a multiple of {market.lot_step}"
            assert qty >= market.min_qty - 1e-12, f"{where}: below min_qty {market.min_qty}"
            if market.max_qty is not None:
                assert qty <= market.max_qty, f"{where}: above max_qty {market.max_qty}"
            notional = qty * signal.entry * market.contract_size
            assert notional >= market.min_notional, f"{where}: notional below the minimum"

    def test_deterministic(self) -> None:
        assert self._sizes(self._make()) == self._sizes(self._make())

    def test_does_not_read_the_wall_clock(self) -> None:
        sizer = self._make()
        with _wall_clock_forbidden() as called:
            self._sizes(sizer)
        assert not called, f"the sizer read the wall clock: {called}"
