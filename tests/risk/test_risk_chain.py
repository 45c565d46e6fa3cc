"""RiskChain: every rule runs, stages are stamped, failing rules fail closed."""

from __future__ import annotations

import attrs
import pytest
from garrison.risk.chain import RiskChain, StartFailed, StartFailedParams, default_chain
from garrison.risk.defaults import DEFAULT_RISK_CHAIN
from garrison_api import TradingState, Veto


@attrs.frozen
class NoParams:
    pass


class Counting:
    """Records that it ran, then answers as told."""

    Params = NoParams

    def __init__(self, answer: Veto | None = None) -> None:
        self.answer = answer
        self.calls = 0

    def check(self, intent, account):
        self.calls += 1
        return self.answer


class Raising:
    Params = NoParams

    def check(self, intent, account):
        raise ZeroDivisionError("float division by zero")


class ReturnsJunk:
    Params = NoParams

    def check(self, intent, account):
        return "no"


def test_an_approved_intent_has_no_vetoes(make_intent, make_account) -> None:
    assert default_chain().evaluate(make_intent(), make_account()) == ()


def test_every_rule_runs_and_every_veto_gets_its_stage(make_intent, make_account) -> None:
    first = Counting(Veto("", "first says no"))
    second = Counting(None)
    third = Counting(Veto("whatever-the-rule-wrote", "third says no", halt=True))
    chain = RiskChain([("a", first), ("b", second), ("c", third)])
    vetoes = chain.evaluate(make_intent(), make_account())
    assert (first.calls, second.calls, third.calls) == (1, 1, 1)
    assert vetoes == (
        Veto("a", "first says no"),
        Veto("c", "third says no", halt=True),
    )


def test_default_chain_reports_every_reason(make_intent, make_account, make_position) -> None:
    held = tuple(make_position(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADA"))
    account = make_account(
        equity=8_000.0,
        peak_equity=10_000.0,
        day_start_equity=9_000.0,
        used_margin=7_900.0,
        positions=held,
        state=TradingState.REDUCING,
    )
    # 20 BTC at 60,000 with a stop 20 % away, off the lot grid.
    intent = make_intent(qty=20.0005, price=60_000.0, stop=48_000.0)
    vetoes = default_chain().evaluate(intent, account)
    assert tuple(v.stage for v in vetoes) == (
        "trading_state",
        "one_position_per_symbol",
        "max_notional",
        "exchange_minimums",
        "stop_distance",
        "max_drawdown",
        "daily_loss_limit",
        "same_direction_exposure",
        "free_margin",
    )
    halts = {v.stage: v for v in vetoes if v.halt}
    assert set(halts) == {"max_drawdown", "daily_loss_limit"}
    assert halts["max_drawdown"].halt_until is None
    assert halts["daily_loss_limit"].halt_until is not None


def test_exits_pass_the_default_chain_even_halted(make_intent, make_account, make_position) -> None:
    held = (make_position("BTCUSDT", qty=20.0, entry_price=60_000.0),)
    worst = dict(
        equity=1_000.0,
        peak_equity=10_000.0,
        day_start_equity=5_000.0,
        used_margin=2_000.0,
        positions=held,
        leverage=1.0,
    )
    exit_intent = make_intent(qty=20.0, price=50_000.0, stop=None, reduce_only=True)
    chain = default_chain()
    for state in (TradingState.RUNNING, TradingState.REDUCING, TradingState.HALTED):
        assert chain.evaluate(exit_intent, make_account(state=state, **worst)) == ()


def test_rules_that_skip_exits_would_pass_them_anyway(
    make_intent, make_account, make_position
) -> None:
    # The chain does not ask a rule with judges_exits = False about exits; each
    # such host rule, asked directly about the worst exits, passes them.
    from garrison.risk.rules import HOST_RULES

    held = (make_position("BTCUSDT", qty=20.0, entry_price=60_000.0),)
    accounts = [
        make_account(
            state=state,
            equity=equity,
            peak_equity=10_000.0,
            day_start_equity=5_000.0,
            used_margin=2_000.0,
            positions=held,
            leverage=1.0,
        )
        for state in TradingState
        for equity in (1_000.0, -50.0, float("nan"))
    ]
    exits = [
        make_intent(qty=qty, price=price, stop=None, reduce_only=True)
        for qty in (20.0, 0.0, float("nan"), 1e12)
        for price in (50_000.0, float("nan"), -1.0)
    ]
    skipping = [name for name, rule in HOST_RULES.items() if rule.judges_exits is False]
    assert "trading_state" not in skipping
    assert len(skipping) == len(HOST_RULES) - 1
    for name in skipping:
        rule = HOST_RULES[name]()
        for intent in exits:
            for account in accounts:
                assert rule.check(intent, account) is None, name


def test_a_plugin_rule_judges_exits_unless_it_says_otherwise(make_intent, make_account) -> None:
    class RefuseAll:
        def check(self, intent, account):
            return Veto("", "no")

    class EntriesOnly(RefuseAll):
        judges_exits = False

    chain = RiskChain([("all", RefuseAll()), ("entries", EntriesOnly())])
    exit_intent = make_intent(reduce_only=True, stop=None)
    assert [v.stage for v in chain.evaluate(exit_intent, make_account())] == ["all"]
    assert [v.stage for v in chain.evaluate(make_intent(), make_account())] == ["all", "entries"]


def test_a_raising_rule_vetoes_and_is_reported(make_intent, make_account) -> None:
    errors: list[tuple[str, Exception]] = []
    after = Counting(None)
    chain = RiskChain(
        [("broken", Raising()), ("after", after)],
        on_error=lambda stage, exc: errors.append((stage, exc)),
    )
    vetoes = chain.evaluate(make_intent(), make_account())
    assert vetoes == (Veto("broken", "rule raised ZeroDivisionError: float division by zero"),)
    assert after.calls == 1
    assert len(errors) == 1
    stage, exc = errors[0]
    assert stage == "broken"
    assert isinstance(exc, ZeroDivisionError)


def test_a_raising_rule_vetoes_without_a_callback(make_intent, make_account) -> None:
    vetoes = RiskChain([("broken", Raising())]).evaluate(make_intent(), make_account())
    assert len(vetoes) == 1
    assert vetoes[0].stage == "broken"


def test_a_rule_returning_junk_fails_closed(make_intent, make_account) -> None:
    errors: list[str] = []
    chain = RiskChain([("junk", ReturnsJunk())], on_error=lambda stage, exc: errors.append(stage))
    (veto,) = chain.evaluate(make_intent(), make_account())
    assert veto.stage == "junk"
    assert veto.reason == (
        "rule raised TypeError: ReturnsJunk.check returned str, expected Veto or None"
    )
    assert errors == ["junk"]


def test_names_and_stages(make_intent, make_account) -> None:
    chain = default_chain()
    assert chain.names == DEFAULT_RISK_CHAIN
    assert len(chain) == len(DEFAULT_RISK_CHAIN)
    assert [name for name, _ in chain.stages] == list(DEFAULT_RISK_CHAIN)
    assert len(RiskChain([])) == 0
    assert RiskChain([]).evaluate(make_intent(), make_account()) == ()


def test_the_same_rule_may_serve_two_named_stages(make_intent, make_account) -> None:
    rule = Counting(Veto("", "no"))
    vetoes = RiskChain([("tight", rule), ("loose", rule)]).evaluate(make_intent(), make_account())
    assert [v.stage for v in vetoes] == ["tight", "loose"]


@pytest.mark.parametrize(
    ("stages", "error", "message"),
    [
        ([("a", Counting()), ("a", Counting())], ValueError, "'a' is used twice"),
        ([("", Counting())], ValueError, "stage #0 needs a non-empty name"),
        ([("a", Counting()), ("b", object())], TypeError, "'b': object has no check"),
        ([Counting()], TypeError, "stage #0 must be a (name, rule) pair"),
    ],
)
def test_bad_stages_are_refused(stages, error, message) -> None:
    with pytest.raises(error) as info:
        RiskChain(stages)
    assert message in str(info.value)


def test_a_rule_that_failed_to_start_refuses_entries_but_not_exits(
    make_intent, make_account
) -> None:
    chain = RiskChain(
        [("remote", StartFailed(StartFailedParams("remote_limit", "ConnectionError: down")))]
    )
    (veto,) = chain.evaluate(make_intent(), make_account())
    assert veto.stage == "remote"
    assert veto.reason == (
        "rule remote_limit failed to start (ConnectionError: down); entries refused"
    )
    assert chain.evaluate(make_intent(reduce_only=True, stop=None), make_account()) == ()
