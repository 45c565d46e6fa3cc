"""StrategyContract and SizerContract: good components pass, each kind of bad one fails."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest
from garrison_api import (
    AccountState,
    Candle,
    Highest,
    IndicatorSpec,
    Market,
    Score,
    Side,
    Signal,
    Sma,
    StrategyContext,
)
from garrison_api.testing import SizerContract, StrategyContract


@attrs.frozen
class ChannelParams:
    period: int = 10


def random_walk(symbol: str, bars: int, seed: int) -> list[Candle]:
    rng = random.Random(seed)
    price, candles = 100.0, []
    for i in range(bars):
        close = price * (1 + rng.gauss(0, 0.004))
        high, low = max(price, close) * 1.001, min(price, close) * 0.999
        candles.append(Candle(symbol, "5m", i * 300_000, price, high, low, close, 1.0))
        price = close
    return candles


CANDLES = random_walk("AUSDT", 600, 3) + random_walk("BUSDT", 600, 4)


class Channel:
    """A well-behaved strategy: close above the previous ``period`` highs goes long."""

    Params: ClassVar[type] = ChannelParams
    timeframes: tuple[str, ...] = ()

    def __init__(self, params: ChannelParams | None = None) -> None:
        self.params = params or ChannelParams()
        self.indicators: Mapping[str, IndicatorSpec] = {
            "hi": Highest("high", self.params.period, offset=1)
        }
        self.warmup = self.params.period

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if (
            ctx.position(candle.symbol) is None
            and candle.close > ctx.indicators(candle.symbol)["hi"]
        ):
            stop = candle.close * 0.99
            return (Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close, stop=stop),)
        return ()


class TestChannelContract(StrategyContract):
    make_strategy = Channel
    candles = CANDLES


class TestChannelContractWithFactories(StrategyContract):
    lookahead_cutoffs = 3

    @staticmethod
    def make_strategy() -> Channel:
        return Channel(ChannelParams(period=15))

    def candles(self) -> list[Candle]:
        return CANDLES[:400]


# -- misbehaving strategies: each must fail exactly the check about it --------


class ReadsTheClock(Channel):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        with contextlib.suppress(AssertionError):  # swallowing the refusal hides nothing
            time.time()
        return super().on_candle(candle, ctx)


class SignalsEarly(Channel):
    """Never asked before warm-up (the runner gates), it stamps its first signal at bar 0."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if candle.ts == self.warmup * 300_000:
            return (Signal(candle.symbol, 0, Side.LONG, entry=candle.close),)
        return super().on_candle(candle, ctx)


class ShortWarmup(Channel):
    def __init__(self, params: ChannelParams | None = None) -> None:
        super().__init__(params)
        self.warmup = 3


class Moody(Channel):
    """Differs from one instance to the next."""

    instances: ClassVar[int] = 0

    def __init__(self, params: ChannelParams | None = None) -> None:
        Moody.instances += 1
        super().__init__(ChannelParams(period=10 + Moody.instances % 2))


@attrs.define
class MutableParams:
    period: int = 10


class UnfrozenParams(Channel):
    Params: ClassVar[type] = MutableParams


@attrs.frozen
class NeedsAValue:
    period: int


class NoDefaults(Channel):
    Params: ClassVar[type] = NeedsAValue


class Silent(Channel):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        return ()


class PeeksBack(Channel):
    def __init__(self, params: ChannelParams | None = None) -> None:
        super().__init__(params)
        self.last: dict[str, Candle] = {}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        before, self.last[candle.symbol] = self.last.get(candle.symbol), candle
        if (
            before is None
            or ctx.indicators(candle.symbol)["hi"] != ctx.indicators(candle.symbol)["hi"]
        ):
            return ()
        return (Signal(candle.symbol, before.ts, Side.LONG, entry=before.close),)


def contract_for(factory: Callable[[], Any]) -> StrategyContract:
    contract = StrategyContract()
    contract.make_strategy = factory  # type: ignore[attr-defined]
    contract.candles = CANDLES  # type: ignore[attr-defined]
    return contract


@pytest.mark.parametrize(
    ("factory", "check", "message"),
    [
        (ReadsTheClock, "test_does_not_read_the_wall_clock", r"wall clock: \['time.time'"),
        (SignalsEarly, "test_no_signals_before_warmup", "signal before warm-up"),
        (ShortWarmup, "test_declares_warmup_timeframes_and_indicators", "is shorter than"),
        (Moody, "test_deterministic", "two runs gave different signals"),
        (UnfrozenParams, "test_params_are_frozen_attrs_with_defaults", "must be frozen"),
        (NoDefaults, "test_params_are_frozen_attrs_with_defaults", "with defaults only"),
        (Silent, "test_signals_on_the_given_candles", "never signals"),
        (PeeksBack, "test_no_lookahead", "look-ahead: "),
    ],
)
def test_a_misbehaving_strategy_fails_its_check(
    factory: Callable[[], Any], check: str, message: str
) -> None:
    contract = contract_for(factory)
    with pytest.raises(AssertionError, match=message):
        getattr(contract, check)()


def test_a_misbehaving_strategy_still_passes_the_unrelated_checks() -> None:
    contract = contract_for(SignalsEarly)
    contract.test_params_are_frozen_attrs_with_defaults()
    contract.test_deterministic()


def test_contract_attributes_can_be_lambdas_and_properties() -> None:
    class Lambdas(StrategyContract):
        make_strategy = lambda: Channel()  # noqa: E731

        @property
        def candles(self) -> list[Candle]:
            return CANDLES[:300]

    Lambdas().test_signals_on_the_given_candles()


def test_a_contract_without_make_strategy_says_what_is_missing() -> None:
    class Incomplete(StrategyContract):
        candles = CANDLES

    with pytest.raises(AttributeError, match="Incomplete must set 'make_strategy'"):
        Incomplete().test_deterministic()


# -- API 1.1: context timeframes and optional methods -------------------------


# 50 hourly bars per symbol: the same 50 hours as the 5m CANDLES.
HOURLY = [
    attrs.evolve(c, timeframe="1h", ts=c.ts * 12)
    for symbol, seed in (("AUSDT", 5), ("BUSDT", 6))
    for c in random_walk(symbol, 50, seed)
]


class HourlyFiltered(Channel):
    """Decides on 5m; takes breakouts only while the last closed hourly close is above its SMA."""

    timeframes: tuple[str, ...] = ("5m",)

    def __init__(self, params: ChannelParams | None = None) -> None:
        super().__init__(params)
        self.context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] = {
            "1h": {"sma": Sma("close", 3)}
        }

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        last = ctx.candles(candle.symbol, "1h", 1)
        if last and last[-1].close > ctx.indicators(candle.symbol, "1h")["sma"]:
            return super().on_candle(candle, ctx)
        return ()

    def on_outcome(self, outcome: object) -> None:
        pass


class TestHourlyFilteredContract(StrategyContract):
    make_strategy = HourlyFiltered
    candles = CANDLES + HOURLY
    lookahead_cutoffs = 4


def with_context(context: object, **attributes: Any) -> Callable[[], Any]:
    def make() -> Any:
        strategy = HourlyFiltered()
        strategy.context_indicators = context  # type: ignore[assignment]
        for name, value in attributes.items():
            setattr(strategy, name, value)
        return strategy

    return make


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (with_context(["1h"]), "context_indicators must be a Mapping"),
        (with_context({"1 hour": {}}), "timeframe '1 hour' is not a bar size"),
        (with_context({"1h": {"sma": 3}}), r"context_indicators\['1h'\]\['sma'\] = 3 is not an"),
        (with_context({"1h": {"sma": Sma("close", 30)}}), "warmup = 10 is shorter than indicator"),
        (with_context({"5m": {}}), "also a decision timeframe"),
        (with_context({"1h": {}}, on_outcome=3), "on_outcome must be a method, got 3"),
        (with_context({"1h": {}}, start="go"), "start must be a method"),
    ],
)
def test_badly_declared_1_1_attributes_fail(factory: Callable[[], Any], message: str) -> None:
    contract = contract_for(factory)
    with pytest.raises(AssertionError, match=message):
        contract.test_declares_optional_api_1_1_attributes_well()


def test_a_context_strategy_needs_candles_of_its_context_timeframes() -> None:
    contract = contract_for(HourlyFiltered)  # given 5m candles only
    with pytest.raises(AssertionError, match=r"has no candles of \['1h'\], which HourlyFiltered"):
        contract.test_runs_with_its_context_timeframes()


def test_a_strategy_without_1_1_attributes_passes_those_checks() -> None:
    contract = contract_for(Channel)
    contract.test_declares_optional_api_1_1_attributes_well()
    contract.test_runs_with_its_context_timeframes()


# -- sizers -------------------------------------------------------------------


@attrs.frozen
class FixedQtyParams:
    qty: float = 0.01


class FixedQty:
    Params: ClassVar[type] = FixedQtyParams

    def __init__(self, params: FixedQtyParams | None = None) -> None:
        self.params = params or FixedQtyParams()

    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None:
        return self.params.qty


class TestFixedQtyContract(SizerContract):
    make_sizer = FixedQty


class TestFixedQtyOnAdaContract(SizerContract):
    market = Market("ADAUSDT", 0.0001, 1.0, 1.0, min_notional=5.0)
    signals = (Signal("ADAUSDT", 0, Side.LONG, entry=0.8, stop=0.78),)

    @staticmethod
    def make_sizer() -> FixedQty:
        return FixedQty(FixedQtyParams(qty=100.0))


class ClockSizer(FixedQty):
    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None:
        time.time_ns()
        return 0.01


def sizer_contract_for(factory: Callable[[], Any]) -> SizerContract:
    contract = SizerContract()
    contract.make_sizer = factory  # type: ignore[attr-defined]
    return contract


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        (0.0123456, "not a multiple"),
        (0.0, "not positive"),
        (0.00001, "not a multiple"),
        (float("nan"), "not finite"),
    ],
)
def test_a_sizer_off_the_market_rules_fails(qty: float, message: str) -> None:
    contract = sizer_contract_for(lambda: FixedQty(FixedQtyParams(qty)))
    with pytest.raises(AssertionError, match=message):
        contract.test_quantities_respect_the_market()


def test_a_sizer_reading_the_clock_fails() -> None:
    with pytest.raises(AssertionError, match="wall clock"):
        sizer_contract_for(ClockSizer).test_does_not_read_the_wall_clock()


def test_a_sizer_below_the_exchange_minimums_fails() -> None:
    contract = sizer_contract_for(lambda: FixedQty(FixedQtyParams(0.001)))
    contract.market = Market("BTCUSDT", 0.1, 0.001, 0.002, min_notional=5.0)  # type: ignore[misc]
    with pytest.raises(AssertionError, match="below min_qty"):
        contract.test_quantities_respect_the_market()
    contract.market = Market("BTCUSDT", 0.1, 0.001, 0.001, min_notional=500.0)  # type: ignore[misc]
    with pytest.raises(AssertionError, match="notional below the minimum"):
        contract.test_quantities_respect_the_market()
