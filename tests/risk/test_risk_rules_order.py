"""max_notional, exchange_minimums and stop_distance, on real exchange rules."""

from __future__ import annotations

import math

import pytest
from garrison.risk.rules import (
    ExchangeMinimums,
    MaxNotional,
    MaxNotionalParams,
    StopDistance,
    StopDistanceParams,
)
from garrison_api import Side


class TestMaxNotional:
    def test_exactly_the_max_passes(self, make_intent, make_account, markets) -> None:
        # 0.016 BTC at 62,500 is 1000.00 USDT, the default max.
        intent = make_intent(markets["binance:BTCUSDT"], qty=0.016, price=62_500.0)
        assert intent.notional == pytest.approx(1000.0)
        assert MaxNotional().check(intent, make_account()) is None

    def test_over_the_max_names_the_numbers(self, make_intent, make_account, markets) -> None:
        intent = make_intent(markets["bybit:ETHUSDT"], qty=0.6, price=2539.0)
        veto = MaxNotional().check(intent, make_account())
        assert veto is not None
        assert veto.reason == "notional 1523.40 USDT exceeds max 1000.00"

    def test_one_lot_over_refuses(self, make_intent, make_account, markets) -> None:
        intent = make_intent(markets["binance:BTCUSDT"], qty=0.017, price=62_500.0)
        assert MaxNotional().check(intent, make_account()) is not None

    def test_adding_to_a_same_side_position_counts_it(
        self, make_intent, make_account, make_position, markets
    ) -> None:
        held = make_position("BTCUSDT", qty=0.01, entry_price=60_000.0)  # 600 USDT
        account = make_account(positions=(held,))
        rule = MaxNotional()
        fits = make_intent(markets["bybit:BTCUSDT"], qty=0.005, price=80_000.0)  # +400
        assert rule.check(fits, account) is None
        too_much = make_intent(markets["bybit:BTCUSDT"], qty=0.006, price=80_000.0)  # +480
        veto = rule.check(too_much, account)
        assert veto is not None
        assert veto.reason == (
            "notional 480.00 USDT on top of the held 600.00 makes 1080.00, exceeding max 1000.00"
        )

    def test_configured_max(self, make_intent, make_account) -> None:
        rule = MaxNotional(MaxNotionalParams(max_usd=250.0))
        assert rule.check(make_intent(qty=0.004, price=62_500.0), make_account()) is None
        assert rule.check(make_intent(qty=0.005, price=62_500.0), make_account()) is not None

    def test_exits_pass_whatever_their_size(self, make_intent, make_account) -> None:
        intent = make_intent(qty=5.0, price=60_000.0, reduce_only=True)
        assert MaxNotional().check(intent, make_account()) is None

    def test_nan_notional_is_refused(self, make_intent, make_account) -> None:
        assert MaxNotional().check(make_intent(price=math.nan), make_account()) is not None


class TestExchangeMinimums:
    def test_every_whole_lot_passes(self, make_intent, make_account, markets) -> None:
        # Float multiples of 0.001 (0.007, 0.123, ...) are rarely exact; none may be refused.
        rule = ExchangeMinimums()
        market = markets["bybit:BTCUSDT"]
        account = make_account()
        for lots in range(1, 3001):
            intent = make_intent(market, qty=lots * 0.001, price=60_000.0)
            assert rule.check(intent, account) is None, intent.qty

    def test_part_lot_is_refused(self, make_intent, make_account, markets) -> None:
        veto = ExchangeMinimums().check(
            make_intent(markets["bybit:BTCUSDT"], qty=0.0125), make_account()
        )
        assert veto is not None
        assert veto.reason == "BTCUSDT: qty 0.0125 is not a multiple of lot step 0.001"

    def test_whole_unit_lot_step(self, make_intent, make_account, markets) -> None:
        market = markets["binance:DOGEUSDT"]
        rule = ExchangeMinimums()
        assert rule.check(make_intent(market, qty=30.0, price=0.2), make_account()) is None
        veto = rule.check(make_intent(market, qty=30.5, price=0.2), make_account())
        assert veto is not None
        assert "not a multiple of lot step 1" in veto.reason

    def test_min_qty_boundary(self, make_intent, make_account, markets) -> None:
        market = markets["bybit:ETHUSDT"]
        rule = ExchangeMinimums()
        assert rule.check(make_intent(market, qty=0.01, price=2500.0), make_account()) is None
        veto = rule.check(make_intent(market, qty=0.005, price=2500.0), make_account())
        assert veto is not None
        assert "qty 0.005 is below min qty 0.01" in veto.reason

    def test_min_notional_boundary(self, make_intent, make_account, markets) -> None:
        # Binance BTCUSDT wants 100 USDT per order.
        market = markets["binance:BTCUSDT"]
        rule = ExchangeMinimums()
        assert rule.check(make_intent(market, qty=0.002, price=50_000.0), make_account()) is None
        veto = rule.check(make_intent(market, qty=0.001, price=60_000.0), make_account())
        assert veto is not None
        assert veto.reason == "BTCUSDT: notional 60.00 USDT is below min notional 100.00"

    def test_max_qty_boundary(self, make_intent, make_account, markets) -> None:
        market = markets["bybit:BTCUSDT"]
        rule = ExchangeMinimums()
        assert rule.check(make_intent(market, qty=1190.0), make_account()) is None
        veto = rule.check(make_intent(market, qty=1190.001), make_account())
        assert veto is not None
        assert "qty 1190.001 is above max qty 1190" in veto.reason

    def test_no_max_qty_means_no_cap(self, make_intent, make_account, markets) -> None:
        intent = make_intent(markets["binance:SOLUSDT"], qty=1_000_000.0, price=150.0)
        assert ExchangeMinimums().check(intent, make_account()) is None

    @pytest.mark.parametrize("qty", [0.0, -0.01, math.nan, math.inf])
    def test_qty_must_be_positive(self, make_intent, make_account, qty) -> None:
        veto = ExchangeMinimums().check(make_intent(qty=qty), make_account())
        assert veto is not None
        assert "must be a positive number" in veto.reason

    def test_every_problem_is_named(self, make_intent, make_account, markets) -> None:
        intent = make_intent(markets["binance:SOLUSDT"], qty=0.5, price=4.0)
        veto = ExchangeMinimums().check(intent, make_account())
        assert veto is not None
        assert veto.reason == (
            "SOLUSDT: qty 0.5 is not a multiple of lot step 1; qty 0.5 is below min qty 1; "
            "notional 2.00 USDT is below min notional 5.00"
        )

    def test_bad_price_is_refused(self, make_intent, make_account) -> None:
        veto = ExchangeMinimums().check(make_intent(price=math.nan, stop=None), make_account())
        assert veto is not None
        assert "price nan must be a positive number" in veto.reason

    def test_exits_pass_even_off_the_lot_grid(self, make_intent, make_account) -> None:
        intent = make_intent(qty=0.0004, reduce_only=True)
        assert ExchangeMinimums().check(intent, make_account()) is None

    def test_quick_pass_agrees_with_the_full_check(
        self, make_intent, make_account, markets, monkeypatch
    ) -> None:
        # check() lets an intent through on _meets() alone; with _meets() always
        # saying "look closer", every verdict must be the same.
        rule = ExchangeMinimums()
        account = make_account()
        cases = []
        for market in markets.values():
            step, low = market.lot_step, market.min_qty
            for qty in (low, low - step, low + step / 3, low * 7, 3 * step, step / 2):
                for price in (0.5, 5.0 / max(qty, 1e-12), 100.0, 62_500.0, math.nan, 0.0):
                    cases.append(make_intent(market, qty=qty, price=price))
        quick = [rule.check(intent, account) for intent in cases]
        monkeypatch.setattr(ExchangeMinimums, "_meets", staticmethod(lambda *_: False))
        assert [rule.check(intent, account) for intent in cases] == quick
        assert any(v is None for v in quick)
        assert any(v is not None for v in quick)


class TestStopDistance:
    @pytest.mark.parametrize(("side", "stop"), [(Side.LONG, 58_800.0), (Side.SHORT, 61_200.0)])
    def test_stop_on_the_losing_side_passes(self, make_intent, make_account, side, stop) -> None:
        intent = make_intent(side=side, price=60_000.0, stop=stop)
        assert StopDistance().check(intent, make_account()) is None

    @pytest.mark.parametrize(
        ("side", "stop", "reason"),
        [
            (Side.LONG, 60_000.0, "long stop 60000 is not below price 60000"),
            (Side.LONG, 60_100.0, "long stop 60100 is not below price 60000"),
            (Side.SHORT, 60_000.0, "short stop 60000 is not above price 60000"),
            (Side.SHORT, 59_900.0, "short stop 59900 is not above price 60000"),
        ],
    )
    def test_stop_on_the_wrong_side_is_refused(
        self, make_intent, make_account, side, stop, reason
    ) -> None:
        veto = StopDistance().check(
            make_intent(side=side, price=60_000.0, stop=stop), make_account()
        )
        assert veto is not None
        assert veto.reason == reason

    @pytest.mark.parametrize(("side", "stop"), [(Side.LONG, 54_000.0), (Side.SHORT, 66_000.0)])
    def test_exactly_max_pct_passes(self, make_intent, make_account, side, stop) -> None:
        intent = make_intent(side=side, price=60_000.0, stop=stop)
        assert StopDistance().check(intent, make_account()) is None

    def test_beyond_max_pct_is_refused(self, make_intent, make_account) -> None:
        intent = make_intent(side=Side.SHORT, price=60_000.0, stop=66_000.1)
        veto = StopDistance().check(intent, make_account())
        assert veto is not None
        assert veto.reason.endswith("beyond max 10.00%")
        far = make_intent(side=Side.SHORT, price=60_000.0, stop=66_600.0)
        veto = StopDistance().check(far, make_account())
        assert veto is not None
        assert veto.reason == "stop 66600 is 11.00% from price 60000, beyond max 10.00%"

    def test_inside_min_pct_is_refused(self, make_intent, make_account) -> None:
        rule = StopDistance(StopDistanceParams(min_pct=0.5))
        assert rule.check(make_intent(price=60_000.0, stop=59_700.0), make_account()) is None
        veto = rule.check(make_intent(price=60_000.0, stop=59_760.0), make_account())
        assert veto is not None
        assert veto.reason == "stop 59760 is 0.40% from price 60000, inside min 0.50%"

    def test_missing_stop(self, make_intent, make_account) -> None:
        intent = make_intent(stop=None)
        veto = StopDistance().check(intent, make_account())
        assert veto is not None
        assert veto.reason == "entry has no stop (require_stop is on)"
        lenient = StopDistance(StopDistanceParams(require_stop=False))
        assert lenient.check(intent, make_account()) is None

    def test_nan_stop_is_refused(self, make_intent, make_account) -> None:
        assert StopDistance().check(make_intent(stop=math.nan), make_account()) is not None

    def test_exits_need_no_stop(self, make_intent, make_account) -> None:
        intent = make_intent(stop=None, reduce_only=True)
        assert StopDistance().check(intent, make_account()) is None

    def test_real_tick_prices(self, make_intent, make_account, markets) -> None:
        # DOGE at 0.19873 with a stop three ticks lower: a tiny but valid distance.
        intent = make_intent(markets["binance:DOGEUSDT"], qty=100.0, price=0.19873, stop=0.1987)
        assert StopDistance().check(intent, make_account()) is None
