"""trading_state, one_position_per_symbol and max_open_positions."""

from __future__ import annotations

import pytest
from garrison.risk.rules import (
    MaxOpenPositions,
    MaxOpenPositionsParams,
    OnePositionPerSymbol,
    TradingStateRule,
)
from garrison_api import Side, TradingState


class TestTradingState:
    def test_running_passes_entries_and_exits(self, make_intent, make_account) -> None:
        rule = TradingStateRule()
        account = make_account(state=TradingState.RUNNING)
        assert rule.check(make_intent(), account) is None
        assert rule.check(make_intent(reduce_only=True), account) is None

    def test_reducing_refuses_entries_only(self, make_intent, make_account) -> None:
        rule = TradingStateRule()
        account = make_account(state=TradingState.REDUCING)
        veto = rule.check(make_intent(), account)
        assert veto is not None
        assert veto.reason == "trading state is reducing: exits only"
        assert not veto.halt
        assert rule.check(make_intent(reduce_only=True), account) is None

    def test_halted_refuses_entries_and_lets_exits_through(self, make_intent, make_account) -> None:
        # A halt is a kill switch on new risk; an exit only lowers it.
        halted = make_account(state=TradingState.HALTED)
        veto = TradingStateRule().check(make_intent(), halted)
        assert veto is not None
        assert veto.reason == "trading state is halted: no entries"
        assert TradingStateRule().check(make_intent(reduce_only=True), halted) is None

    @pytest.mark.parametrize("reduce_only", [False, True])
    def test_halted_blocks_exits_when_the_profile_says_so(
        self, make_intent, make_account, reduce_only
    ) -> None:
        rule = TradingStateRule(TradingStateRule.Params(halted_blocks_exits=True))
        veto = rule.check(
            make_intent(reduce_only=reduce_only), make_account(state=TradingState.HALTED)
        )
        assert veto is not None
        assert "halted" in veto.reason


class TestOnePositionPerSymbol:
    def test_flat_symbol_passes(self, make_intent, make_account, make_position) -> None:
        account = make_account(positions=(make_position("ETHUSDT"),))
        assert OnePositionPerSymbol().check(make_intent(), account) is None

    @pytest.mark.parametrize("held_side", [Side.LONG, Side.SHORT])
    def test_held_symbol_refuses_an_entry_either_way(
        self, make_intent, make_account, make_position, held_side
    ) -> None:
        held = make_position("BTCUSDT", side=held_side, qty=0.02, entry_price=61_000.0)
        veto = OnePositionPerSymbol().check(make_intent(), make_account(positions=(held,)))
        assert veto is not None
        assert veto.reason == (
            f"already holding a {held_side.value} position in BTCUSDT: qty 0.02 at 61000"
        )

    def test_exit_of_the_held_symbol_passes(self, make_intent, make_account, make_position) -> None:
        held = make_position("BTCUSDT", qty=0.01, entry_price=61_000.0)
        intent = make_intent(reduce_only=True)
        assert OnePositionPerSymbol().check(intent, make_account(positions=(held,))) is None


class TestMaxOpenPositions:
    SYMBOLS = ("ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "ADAUSDT", "LTCUSDT")

    def held(self, make_position, count: int) -> tuple:
        return tuple(make_position(symbol) for symbol in self.SYMBOLS[:count])

    def test_default_limit_is_five(self, make_intent, make_account, make_position) -> None:
        rule = MaxOpenPositions()
        assert rule.params.limit == 5
        assert (
            rule.check(make_intent(), make_account(positions=self.held(make_position, 4))) is None
        )
        veto = rule.check(make_intent(), make_account(positions=self.held(make_position, 5)))
        assert veto is not None
        assert veto.reason == "5 open positions: limit of 5 reached"

    def test_over_the_limit_still_refuses(self, make_intent, make_account, make_position) -> None:
        rule = MaxOpenPositions(MaxOpenPositionsParams(limit=2))
        veto = rule.check(make_intent(), make_account(positions=self.held(make_position, 3)))
        assert veto is not None
        assert veto.reason == "3 open positions: limit of 2 reached"

    def test_adding_to_a_held_symbol_opens_nothing_new(
        self, make_intent, make_account, make_position
    ) -> None:
        positions = (*self.held(make_position, 4), make_position("BTCUSDT"))
        assert MaxOpenPositions().check(make_intent(), make_account(positions=positions)) is None

    def test_exits_pass_at_the_limit(self, make_intent, make_account, make_position) -> None:
        positions = self.held(make_position, 5)
        intent = make_intent(reduce_only=True)
        assert MaxOpenPositions().check(intent, make_account(positions=positions)) is None
