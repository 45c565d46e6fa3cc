"""Contract tests for scorers, risk rules and notifiers (test kit, API 1.1).

Like :class:`~garrison_api.testing.StrategyContract`, a plugin's test class
inherits one and sets a factory::

    class TestMyScorerContract(ScorerContract):
        make_scorer = MyScorer

The checks need nothing but ``garrison_api``. A component with
``start(services)`` is started with a :class:`StubServices` first and stopped
after, as the host would.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from garrison_api.components import Notifier, RiskRule, Scorer, component_params
from garrison_api.testing.context import StubContext
from garrison_api.testing.contracts import _check_params, _resolve, _wall_clock_forbidden
from garrison_api.testing.services import StubServices
from garrison_api.types import (
    AccountState,
    Event,
    ExitReason,
    Level,
    Market,
    OrderIntent,
    Outcome,
    Score,
    Side,
    Signal,
    Veto,
)

_MARKET = Market("BTCUSDT", tick_size=0.1, lot_step=0.001, min_qty=0.001, min_notional=5.0)
_ACCOUNT = AccountState(
    ts=0,
    balance=10_000.0,
    equity=10_000.0,
    peak_equity=10_000.0,
    day_start_equity=10_000.0,
    used_margin=0.0,
)


@contextmanager
def _started(component: object, name: str) -> Iterator[StubServices]:
    """Call the optional ``start(services)`` before and ``stop()`` after, as the host does."""
    services = StubServices(name)
    start = getattr(component, "start", None)
    if callable(start):
        start(services)
    try:
        yield services
    finally:
        stop = getattr(component, "stop", None)
        if callable(stop):
            stop()


def _check_builds(component: object) -> None:
    cls: Any = type(component)
    _check_params(cls)
    assert isinstance(cls(component_params(cls)()), cls)


class ScorerContract:
    """Checks every Garrison scorer should pass. Subclass as ``Test...`` and set ``make_scorer``.

    ``signals`` are what it scores (default: a few BTC entries whose
    ``features`` hold every name of the scorer's ``feature_names``, 0.1, 0.2
    … apart); override it when the scorer needs particular features.
    """

    signals: ClassVar[Sequence[Signal] | None] = None

    def _make(self) -> Scorer:
        scorer: Scorer = _resolve(self, "make_scorer")()
        return scorer

    def _signals(self, scorer: Scorer) -> list[Signal]:
        if self.signals is not None:
            return list(self.signals)
        names = tuple(getattr(scorer, "feature_names", ()) or ())
        found = []
        for i, (side, stop) in enumerate(((Side.LONG, 98_000.0), (Side.SHORT, 101_500.0))):
            features = {name: 0.1 * (j + 1) * (i + 1) for j, name in enumerate(names)}
            found.append(
                Signal("BTCUSDT", i * 300_000, side, entry=100_000.0, stop=stop, features=features)
            )
        return found

    def _scores(self, scorer: Scorer) -> list[Score]:
        ctx = StubContext(markets=[_MARKET])
        return [scorer.score(signal, ctx) for signal in self._signals(scorer)]

    def _outcomes(self, scorer: Scorer) -> list[Outcome]:
        return [
            Outcome(
                signal=signal,
                strategy="test",
                r_multiple=r,
                exit_reason=ExitReason.STOP if r < 0 else ExitReason.TAKE_PROFIT,
                closed_ts=signal.ts + 3_600_000,
                phantom=phantom,
                signal_id=f"s{i}",
            )
            for i, (signal, r, phantom) in enumerate(
                zip(self._signals(scorer), (-1.0, 2.5), (True, False), strict=False)
            )
        ]

    def test_params_are_frozen_attrs_with_defaults(self) -> None:
        _check_params(type(self._make()))

    def test_builds_from_default_params(self) -> None:
        _check_builds(self._make())

    def test_feature_names_are_an_ordered_tuple_of_names(self) -> None:
        names = getattr(self._make(), "feature_names", None)
        if names is None:
            return
        assert isinstance(names, tuple), f"feature_names must be a tuple, got {names!r}"
        assert all(isinstance(n, str) and n for n in names), f"feature_names: {names!r}"
        assert len(set(names)) == len(names), f"feature_names repeats a name: {names!r}"

    def test_scores_are_in_zero_to_one(self) -> None:
        scorer = self._make()
        with _started(scorer, "scorer"):
            scores = self._scores(scorer)
        assert scores, "no signals to score"
        for score in scores:
            assert isinstance(score, Score), f"score() returned {score!r}, not a Score"
            assert math.isfinite(score.value), f"{score!r}: value is not finite"
            assert 0.0 <= score.value <= 1.0, f"{score!r}: value outside [0, 1]"

    def test_learns_from_outcomes_and_still_scores(self) -> None:
        scorer = self._make()
        with _started(scorer, "scorer"):
            for outcome in self._outcomes(scorer):
                scorer.learn(outcome)
            for score in self._scores(scorer):
                assert 0.0 <= score.value <= 1.0, f"after learning: {score!r}"

    def test_deterministic(self) -> None:
        runs = []
        for _ in range(2):
            scorer = self._make()
            with _started(scorer, "scorer"):
                first = self._scores(scorer)
                for outcome in self._outcomes(scorer):
                    scorer.learn(outcome)
                runs.append((first, self._scores(scorer)))
        assert runs[0] == runs[1], "two fresh scorers given the same inputs scored differently"

    def test_does_not_read_the_wall_clock(self) -> None:
        scorer = self._make()
        with _started(scorer, "scorer"), _wall_clock_forbidden() as called:
            self._scores(scorer)
            for outcome in self._outcomes(scorer):
                scorer.learn(outcome)
        assert not called, f"the scorer read the wall clock: {called}"


def _intent(reduce_only: bool, side: Side = Side.LONG) -> OrderIntent:
    return OrderIntent(
        id="i-exit" if reduce_only else "i-entry",
        ts=0,
        symbol="BTCUSDT",
        side=side,
        qty=0.01,
        price=100_000.0,
        market=_MARKET,
        reduce_only=reduce_only,
        stop=None if reduce_only else 98_000.0,
        strategy="test",
    )


class RiskRuleContract:
    """Checks every Garrison risk rule should pass. Subclass as ``Test...`` and set ``make_rule``.

    ``cases`` are ``(intent, account)`` pairs the rule is asked about
    (default: a small long entry and an exit, on a flat 10,000 USDT account).
    ``must_veto`` and ``must_pass`` list pairs the rule has to refuse and let
    through: give at least one of each to test what the rule is for.
    """

    cases: ClassVar[Sequence[tuple[OrderIntent, AccountState]]] = (
        (_intent(False), _ACCOUNT),
        (_intent(True, Side.SHORT), _ACCOUNT),
    )
    must_veto: ClassVar[Sequence[tuple[OrderIntent, AccountState]]] = ()
    must_pass: ClassVar[Sequence[tuple[OrderIntent, AccountState]]] = ()

    def _make(self) -> RiskRule:
        rule: RiskRule = _resolve(self, "make_rule")()
        return rule

    def _answers(self, rule: RiskRule) -> list[Veto | None]:
        every = [*self.cases, *self.must_veto, *self.must_pass]
        return [rule.check(intent, account) for intent, account in every]

    def test_params_are_frozen_attrs_with_defaults(self) -> None:
        _check_params(type(self._make()))

    def test_builds_from_default_params(self) -> None:
        _check_builds(self._make())

    def test_answers_none_or_a_veto_with_its_reason(self) -> None:
        rule = self._make()
        with _started(rule, "rule"):
            answers = self._answers(rule)
        for answer in answers:
            if answer is None:
                continue
            assert isinstance(answer, Veto), f"check() returned {answer!r}, not a Veto or None"
            assert answer.stage.strip(), f"{answer!r}: a veto names its stage (the rule)"
            assert answer.reason.strip(), f"{answer!r}: a veto says why"

    def test_judges_exits_is_a_bool_when_declared(self) -> None:
        judges = getattr(self._make(), "judges_exits", True)
        assert isinstance(judges, bool), f"judges_exits must be a bool, got {judges!r}"

    def test_vetoes_and_passes_what_it_must(self) -> None:
        rule = self._make()
        with _started(rule, "rule"):
            for intent, account in self.must_veto:
                assert rule.check(intent, account) is not None, f"not vetoed: {intent!r}"
            for intent, account in self.must_pass:
                veto = rule.check(intent, account)
                assert veto is None, f"vetoed {intent!r}: {veto!r}"

    def test_deterministic(self) -> None:
        assert self._answers(self._make()) == self._answers(self._make())

    def test_does_not_read_the_wall_clock(self) -> None:
        rule = self._make()
        with _wall_clock_forbidden() as called:
            self._answers(rule)
        assert not called, f"the rule read the wall clock: {called}"


def _default_events() -> tuple[Event, ...]:
    return (
        Event(0, "trade.closed", "BTCUSDT long closed at 101,000 (+1.2 R)", data={"r": 1.2}),
        Event(60_000, "risk.halted", "daily loss limit reached", level=Level.CRITICAL),
        Event(120_000, "plugin.failed", "scorer x raised", level=Level.ERROR, source="x"),
    )


class NotifierContract:
    """Checks every Garrison notifier should pass. Subclass as ``Test...``, set ``make_notifier``.

    ``events`` are what it is told (default: a closed trade, a halt, a plugin
    failure); ``timeout_s`` bounds each ``notify`` as the host's
    ``[engine] notifier_timeout_s`` does. Point the notifier at a local fake
    (no network in tests) through its ``make_notifier`` factory.
    """

    events: ClassVar[Sequence[Event]] = _default_events()
    timeout_s: ClassVar[float] = 5.0

    def _make(self) -> Notifier:
        notifier: Notifier = _resolve(self, "make_notifier")()
        return notifier

    def test_params_are_frozen_attrs_with_defaults(self) -> None:
        _check_params(type(self._make()))

    def test_builds_from_default_params(self) -> None:
        _check_builds(self._make())

    def test_notify_is_a_coroutine_function(self) -> None:
        notifier = self._make()
        assert inspect.iscoroutinefunction(notifier.notify), (
            f"{type(notifier).__qualname__}.notify must be `async def`"
        )

    def test_notifies_every_event_in_time(self) -> None:
        notifier = self._make()

        async def tell() -> None:
            for event in self.events:
                await asyncio.wait_for(notifier.notify(event), self.timeout_s)

        with _started(notifier, "notifier"):
            # Its own event loop, as the host gives each notifier its own thread and loop.
            asyncio.run(tell())


__all__ = ["NotifierContract", "RiskRuleContract", "ScorerContract"]
