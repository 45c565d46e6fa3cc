"""ScorerContract, RiskRuleContract, NotifierContract: good components pass, bad ones fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import attrs
import pytest
from garrison_api import AccountState, Event, OrderIntent, Outcome, Score, Signal, Veto
from garrison_api.testing import NotifierContract, RiskRuleContract, ScorerContract
from garrison_api.testing.kind_contracts import _ACCOUNT, _intent


@attrs.frozen
class NoParams:
    pass


@attrs.frozen
class WinRateParams:
    prior: float = 0.5


class WinRate:
    """A well-behaved online scorer: the running win rate, starting from a prior."""

    Params: ClassVar[type] = WinRateParams
    feature_names = ("atr_pct",)

    def __init__(self, params: WinRateParams | None = None) -> None:
        self.params = params or WinRateParams()
        self.wins, self.seen = 0, 0

    def score(self, signal: Signal, ctx: Any) -> Score:
        return Score((self.wins + self.params.prior) / (self.seen + 1), model="winrate")

    def learn(self, outcome: Outcome) -> None:
        self.seen += 1
        self.wins += outcome.r_multiple > 0


class TestWinRateContract(ScorerContract):
    make_scorer = WinRate


class Overconfident(WinRate):
    def score(self, signal: Signal, ctx: Any) -> Score:
        return Score(1.5)


class Clocked(WinRate):
    def score(self, signal: Signal, ctx: Any) -> Score:
        return Score(time.time() % 1)


class Flaky(WinRate):
    calls = 0

    def score(self, signal: Signal, ctx: Any) -> Score:
        Flaky.calls += 1
        return Score((Flaky.calls % 7) / 7)


@pytest.mark.parametrize(
    ("scorer", "test"),
    [
        (Overconfident, "test_scores_are_in_zero_to_one"),
        (Clocked, "test_does_not_read_the_wall_clock"),
        (Flaky, "test_deterministic"),
    ],
)
def test_scorer_contract_catches(scorer: type, test: str) -> None:
    class Case(ScorerContract):
        make_scorer = scorer

    with pytest.raises(AssertionError):
        getattr(Case(), test)()


def test_scorer_contract_gives_the_declared_features() -> None:
    signals = ScorerContract()._signals(WinRate())  # type: ignore[arg-type]
    assert all(set(signal.features) == {"atr_pct"} for signal in signals)


@attrs.frozen
class MaxQtyParams:
    max_qty: float = 1.0


class MaxQty:
    Params: ClassVar[type] = MaxQtyParams
    judges_exits = False

    def __init__(self, params: MaxQtyParams | None = None) -> None:
        self.params = params or MaxQtyParams()

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        if intent.qty > self.params.max_qty:
            return Veto("max_qty", f"{intent.qty} > {self.params.max_qty}")
        return None


class TestMaxQtyContract(RiskRuleContract):
    make_rule = MaxQty
    must_veto = ((attrs.evolve(_intent(False), qty=2.0), _ACCOUNT),)
    must_pass = ((_intent(False), _ACCOUNT),)


class SilentVeto(MaxQty):
    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        return Veto("", "")


def test_risk_rule_contract_catches_a_veto_without_reason() -> None:
    class Case(RiskRuleContract):
        make_rule = SilentVeto

    with pytest.raises(AssertionError, match="stage"):
        Case().test_answers_none_or_a_veto_with_its_reason()


def test_risk_rule_contract_catches_a_rule_that_lets_through_what_it_must_veto() -> None:
    class Case(RiskRuleContract):
        make_rule = MaxQty
        must_veto = ((_intent(False), _ACCOUNT),)

    with pytest.raises(AssertionError, match="not vetoed"):
        Case().test_vetoes_and_passes_what_it_must()


class Collect:
    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams | None = None) -> None:
        self.seen: list[Event] = []
        self.started = False

    def start(self, services: Any) -> None:
        self.started = True

    async def notify(self, event: Event) -> None:
        assert self.started, "notify before start"
        self.seen.append(event)


class TestCollectContract(NotifierContract):
    make_notifier = Collect


class Blocking(Collect):
    async def notify(self, event: Event) -> None:
        await asyncio.sleep(10)


class NotAsync(Collect):
    def notify(self, event: Event) -> None:  # type: ignore[override]
        self.seen.append(event)


def test_notifier_contract_catches_a_slow_notifier() -> None:
    class Case(NotifierContract):
        make_notifier = Blocking
        timeout_s = 0.05

    with pytest.raises(TimeoutError):
        Case().test_notifies_every_event_in_time()


def test_notifier_contract_catches_a_plain_function() -> None:
    class Case(NotifierContract):
        make_notifier = NotAsync

    with pytest.raises(AssertionError, match="async def"):
        Case().test_notify_is_a_coroutine_function()
