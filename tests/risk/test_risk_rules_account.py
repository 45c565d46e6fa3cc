"""max_drawdown, daily_loss_limit, same_direction_exposure and free_margin."""

from __future__ import annotations

import math

import pytest
from garrison.risk.defaults import DAY_MS
from garrison.risk.rules import (
    DailyLossLimit,
    DailyLossLimitParams,
    FreeMargin,
    FreeMarginParams,
    MaxDrawdown,
    MaxDrawdownParams,
    SameDirectionExposure,
    SameDirectionExposureParams,
)
from garrison_api import Side

# 2025-10-10 21:15 UTC and the midnight that ends that day.
TS = 1_760_130_900_000
NEXT_MIDNIGHT = 1_760_140_800_000


class TestMaxDrawdown:
    def test_just_under_the_max_passes(self, make_intent, make_account) -> None:
        account = make_account(equity=8_501.0, peak_equity=10_000.0)
        assert MaxDrawdown().check(make_intent(), account) is None

    def test_reaching_the_max_halts_without_an_end(self, make_intent, make_account) -> None:
        account = make_account(equity=8_500.0, peak_equity=10_000.0)
        veto = MaxDrawdown().check(make_intent(), account)
        assert veto is not None
        assert veto.halt
        assert veto.halt_until is None
        assert veto.reason == (
            "drawdown 15.00% (equity 8500.00 vs peak 10000.00) reached max 15.00%"
        )

    def test_configured_max(self, make_intent, make_account) -> None:
        rule = MaxDrawdown(MaxDrawdownParams(max_pct=5.0))
        assert rule.check(make_intent(), make_account(equity=9_600.0, peak_equity=10_000.0)) is None
        assert rule.check(make_intent(), make_account(equity=9_500.0, peak_equity=10_000.0))

    def test_exits_pass_deep_in_drawdown(self, make_intent, make_account) -> None:
        account = make_account(equity=5_000.0, peak_equity=10_000.0)
        assert MaxDrawdown().check(make_intent(reduce_only=True), account) is None

    def test_unvaluable_equity_fails_closed(self, make_intent, make_account) -> None:
        veto = MaxDrawdown().check(make_intent(), make_account(equity=math.nan))
        assert veto is not None
        assert veto.halt


class TestDailyLossLimit:
    def test_just_under_the_limit_passes(self, make_intent, make_account) -> None:
        account = make_account(equity=9_701.0, day_start_equity=10_000.0, ts=TS)
        assert DailyLossLimit().check(make_intent(), account) is None

    def test_reaching_the_limit_halts_until_next_utc_midnight(
        self, make_intent, make_account
    ) -> None:
        account = make_account(
            equity=9_700.0, peak_equity=10_500.0, day_start_equity=10_000.0, ts=TS
        )
        veto = DailyLossLimit().check(make_intent(), account)
        assert veto is not None
        assert veto.halt
        assert veto.halt_until == NEXT_MIDNIGHT
        assert veto.reason == (
            "daily pnl -300.00 USDT reached the loss limit of 3.00% of day-start equity "
            "10000.00 (-300.00)"
        )

    def test_halt_at_midnight_lasts_the_whole_day(self, make_intent, make_account) -> None:
        midnight = NEXT_MIDNIGHT
        account = make_account(equity=9_000.0, day_start_equity=10_000.0, ts=midnight)
        veto = DailyLossLimit().check(make_intent(), account)
        assert veto is not None
        assert veto.halt_until == midnight + DAY_MS

    def test_gains_pass(self, make_intent, make_account) -> None:
        account = make_account(equity=12_000.0, day_start_equity=10_000.0)
        assert DailyLossLimit().check(make_intent(), account) is None

    def test_configured_limit(self, make_intent, make_account) -> None:
        rule = DailyLossLimit(DailyLossLimitParams(max_pct=1.0))
        assert (
            rule.check(make_intent(), make_account(equity=9_901.0, day_start_equity=10_000.0))
            is None
        )
        assert rule.check(make_intent(), make_account(equity=9_900.0, day_start_equity=10_000.0))

    def test_exits_pass(self, make_intent, make_account) -> None:
        account = make_account(equity=5_000.0, day_start_equity=10_000.0)
        assert DailyLossLimit().check(make_intent(reduce_only=True), account) is None

    def test_unvaluable_pnl_fails_closed(self, make_intent, make_account) -> None:
        veto = DailyLossLimit().check(make_intent(), make_account(equity=math.nan))
        assert veto is not None
        assert veto.halt


class TestSameDirectionExposure:
    def held(self, make_position):
        return (
            make_position("ETHUSDT", side=Side.LONG, qty=0.8, entry_price=2500.0),  # 2000
            make_position("SOLUSDT", side=Side.SHORT, qty=10.0, entry_price=150.0),  # 1500
        )

    def test_up_to_the_cap_passes(self, make_intent, make_account, make_position) -> None:
        # 300 % of 1000 equity = 3000; 2000 held long + 1000 new long.
        account = make_account(equity=1_000.0, positions=self.held(make_position))
        intent = make_intent(qty=0.016, price=62_500.0)
        assert SameDirectionExposure().check(intent, account) is None

    def test_over_the_cap_names_the_numbers(self, make_intent, make_account, make_position) -> None:
        account = make_account(equity=1_000.0, positions=self.held(make_position))
        intent = make_intent(qty=0.017, price=62_500.0)
        veto = SameDirectionExposure().check(intent, account)
        assert veto is not None
        assert veto.reason == (
            "long exposure 2000.00 + 1062.50 = 3062.50 USDT exceeds 300% of equity "
            "1000.00 (3000.00)"
        )

    def test_only_the_same_side_counts(self, make_intent, make_account, make_position) -> None:
        account = make_account(equity=1_000.0, positions=self.held(make_position))
        short = make_intent(side=Side.SHORT, qty=0.024, price=62_500.0)  # 1500 + 1500
        assert SameDirectionExposure().check(short, account) is None

    def test_configured_cap(self, make_intent, make_account) -> None:
        rule = SameDirectionExposure(SameDirectionExposureParams(max_pct_of_equity=50.0))
        account = make_account(equity=1_000.0)
        assert rule.check(make_intent(qty=0.008, price=62_500.0), account) is None
        assert rule.check(make_intent(qty=0.009, price=62_500.0), account) is not None

    def test_exits_pass(self, make_intent, make_account, make_position) -> None:
        account = make_account(equity=100.0, positions=self.held(make_position))
        assert SameDirectionExposure().check(make_intent(reduce_only=True), account) is None


class TestFreeMargin:
    def test_margin_up_to_free_margin_passes(self, make_intent, make_account) -> None:
        # free = 1000 - 600 = 400; 2000 notional at 5x needs 400.
        account = make_account(equity=1_000.0, used_margin=600.0, leverage=5.0)
        intent = make_intent(qty=0.032, price=62_500.0)
        assert FreeMargin().check(intent, account) is None

    def test_margin_beyond_free_margin_is_refused(self, make_intent, make_account) -> None:
        account = make_account(equity=1_000.0, used_margin=600.0, leverage=5.0)
        veto = FreeMargin().check(make_intent(qty=0.033, price=62_500.0), account)
        assert veto is not None
        assert veto.reason == (
            "margin 412.50 USDT (notional 2062.50 at 5x) exceeds free margin 400.00"
        )

    def test_buffer_adds_headroom(self, make_intent, make_account) -> None:
        account = make_account(equity=1_000.0, used_margin=600.0, leverage=5.0)
        rule = FreeMargin(FreeMarginParams(buffer_pct=10.0))
        veto = rule.check(make_intent(qty=0.032, price=62_500.0), account)
        assert veto is not None
        assert veto.reason == (
            "margin 440.00 USDT (notional 2000.00 at 5x incl. 10% buffer) exceeds free margin "
            "400.00"
        )
        assert rule.check(make_intent(qty=0.029, price=62_500.0), account) is None

    @pytest.mark.parametrize("leverage", [0.0, -2.0, math.nan])
    def test_bad_leverage_fails_closed(self, make_intent, make_account, leverage) -> None:
        veto = FreeMargin().check(make_intent(), make_account(leverage=leverage))
        assert veto is not None
        assert "leverage" in veto.reason

    def test_exits_pass_without_margin(self, make_intent, make_account) -> None:
        account = make_account(equity=1_000.0, used_margin=1_200.0)
        assert FreeMargin().check(make_intent(reduce_only=True), account) is None
