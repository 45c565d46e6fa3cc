"""A component whose ``start(services)`` fails: the run says so, and a risk limit fails closed.

A strategy that cannot start is left out; a sizer or scorer that cannot start
is quarantined; a risk rule that cannot start must not vanish from the chain
(that would trade without the limit): every entry is refused in its place,
while exits still pass so open positions can be closed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import AccountState, ComponentServices, Event, OrderIntent, Veto

from . import plumbing
from .test_engine_steps import M5, T0, entry, exit_, flat, profile, scripted

Query = Callable[..., list]
Replay = Callable[..., RunResult]


class UnstartableLimit(plumbing.Component):
    """A plugin risk rule that never vetoes, but whose start raises."""

    def start(self, services: ComponentServices) -> None:
        raise ConnectionError("limits service unreachable")

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        return None


def test_a_risk_rule_that_cannot_start_refuses_entries_and_lets_exits_pass(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    write_candles(flat(T0, M5, 12), "AAAUSDT", "5m")
    script = {
        ("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 90.0)],
        ("AAAUSDT", T0 + 3 * M5): [exit_("AAAUSDT", T0 + 3 * M5, 100.0)],
    }
    test = plugins.registry.for_plugin("test")
    test.add_strategy("script", scripted(script))
    test.add_risk_rule("remote_limit", UnstartableLimit)
    text = profile(
        strategies='[[strategies]]\nuse = "script"\n',
        markets=("AAAUSDT",),
        risk='[[risk]]\nuse = "trading_state"\n[[risk]]\nuse = "remote_limit"\n',
    )
    result = run_replay(write_profile(text), plugins)
    journal = tmp_path / "journal.sqlite"
    assert result.open_positions == 0
    assert result.trades == ()
    vetoes = journal_query(journal, "SELECT stage, reason FROM vetoes")
    assert [(v["stage"], v["reason"]) for v in vetoes] == [
        (
            "remote_limit",
            "rule remote_limit failed to start (ConnectionError: limits service "
            "unreachable); entries refused",
        )
    ]
    events = journal_query(
        journal, "SELECT source, message FROM events WHERE kind = 'plugin.failed'"
    )
    assert [(e["source"], e["message"]) for e in events] == [
        (
            "remote_limit",
            "remote_limit failed to start (ConnectionError: limits service unreachable); "
            "the risk chain refuses every entry in its place (exits still pass)",
        )
    ]


class KeepsState(plumbing.Component):
    """A notifier that sets up in start, counts what it is told, and saves in stop."""

    calls: ClassVar[list[str]] = []

    def __init__(self, params: plumbing.NoParams) -> None:
        super().__init__(params)
        self.services: ComponentServices | None = None
        self.told = 0

    def start(self, services: ComponentServices) -> None:
        self.services = services
        self.calls.append(f"start {services.name}")

    async def notify(self, event: Event) -> None:
        self.told += 1

    def stop(self) -> None:
        assert self.services is not None
        self.services.storage.set("told", self.told)
        self.calls.append("stop")


class CannotStart(KeepsState):
    calls: ClassVar[list[str]] = []

    def start(self, services: ComponentServices) -> None:
        raise PermissionError("bot token refused")

    async def notify(self, event: Event) -> None:
        raise AssertionError("a notifier that did not start is never told anything")


def test_notifiers_are_started_and_stopped_and_one_that_cannot_start_is_left_out(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    write_candles(flat(T0, M5, 12), "AAAUSDT", "5m")
    script = {("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 90.0)]}
    test = plugins.registry.for_plugin("test")
    test.add_strategy("script", scripted(script))
    test.add_notifier("keeps_state", KeepsState)
    test.add_notifier("cannot_start", CannotStart)
    text = profile(strategies='[[strategies]]\nuse = "script"\n', markets=("AAAUSDT",))
    text += '[[notifiers]]\nuse = "keeps_state"\n[[notifiers]]\nuse = "cannot_start"\n'
    result = run_replay(write_profile(text), plugins)
    assert result.open_positions == 1
    assert KeepsState.calls == ["start keeps_state", "stop"]
    journal = tmp_path / "journal.sqlite"
    events = journal_query(
        journal, "SELECT source, message FROM events WHERE kind = 'plugin.failed'"
    )
    assert [(e["source"], e["message"]) for e in events] == [
        (
            "cannot_start",
            "cannot_start failed to start (PermissionError: bot token refused); "
            "it is left out of the run",
        )
    ]
    told = journal_query(journal, "SELECT namespace, key, value FROM kv")
    assert [(r["namespace"], r["key"]) for r in told] == [("replay/notifier/keeps_state", "told")]
    assert int(told[0]["value"]) > 0
