"""Notifiers on their own threads: a slow, failing or blocking notifier hurts no one else.

The EventBus is used directly, journaling into a real SQLite journal, with
throwaway notifiers. The test plays the engine: it emits, then polls the bus
(as the engine does between chunks) until what it waits for has happened,
within a generous limit. Notifiers that block are released by the test, so no
assertion depends on how fast anything runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from garrison.engine.bus import EventBus
from garrison.journal import Journal
from garrison_api import Event, Level

T0 = 1_759_276_800_000
LIMIT_S = 20.0  # what "eventually" means here; nothing comes near it


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.open(tmp_path / "journal.sqlite")
    opened.start_run(profile_name="bus", mode="replay", profile_toml="", started_ms=T0)
    yield opened
    opened.close()


def event(n: int, kind: str = "test.event") -> Event:
    return Event(ts=T0 + n, kind=kind, message=f"event {n}", level=Level.INFO, source="test")


def recorded(journal: Journal, kind: str) -> list[Event]:
    journal.flush()
    return [e for e in journal.events(journal.run_id) if e.kind == kind]


def settle(bus: EventBus, until: Callable[[], bool], what: str) -> None:
    """Poll the bus until ``until()`` holds; fail (never hang) after LIMIT_S."""
    give_up = time.monotonic() + LIMIT_S
    while not until():
        assert time.monotonic() < give_up, f"gave up waiting: {what}"
        bus.poll()
        time.sleep(0.005)


@attrs.frozen
class NoParams:
    """Throwaway notifiers take no parameters."""


class _Notifier:
    Params: ClassVar[type] = NoParams


class Recorder(_Notifier):
    """A well-behaved notifier: keeps what it gets."""

    def __init__(self) -> None:
        self.got: list[Event] = []

    def kinds(self, prefix: str = "") -> list[str]:
        return [e.kind for e in list(self.got) if e.kind.startswith(prefix)]

    async def notify(self, event: Event) -> None:
        self.got.append(event)


class Blocking(_Notifier):
    """Blocks its thread with time.sleep inside async notify, until the test hands out permits."""

    def __init__(self) -> None:
        self.permits = 0
        self.calls = 0

    async def notify(self, event: Event) -> None:
        self.calls += 1
        call = self.calls
        while self.permits < call:
            time.sleep(0.005)  # the mistake under test: a blocking call in async code


class Flaky(_Notifier):
    """Fails on ``test.bad`` events (one raise, one sys.exit), delivers everything else."""

    def __init__(self) -> None:
        self.bad = 0
        self.got: list[str] = []

    async def notify(self, event: Event) -> None:
        if event.kind == "test.bad":
            self.bad += 1
            if self.bad == 2:
                sys.exit("a plugin calling sys.exit")
            raise ConnectionError(f"cannot deliver {event.message}")
        self.got.append(event.kind)


class Gated(_Notifier):
    """Waits (politely, awaiting) until the gate opens; says when it has begun a delivery."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.got: list[Event] = []

    async def notify(self, event: Event) -> None:
        self.entered.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        self.got.append(event)


def test_a_blocking_notifier_delays_no_other_and_is_quarantined_after_n_in_a_row(
    journal: Journal,
) -> None:
    blocking, good = Blocking(), Recorder()
    bus = EventBus(
        journal, notifiers=[("blocking", blocking), ("good", good)], timeout_s=0.2, max_failures=2
    )
    try:
        for n in range(3):
            bus.emit(event(n))
        # The good notifier gets everything while the other one is blocked in its first call.
        settle(bus, lambda: len(good.kinds("test.")) == 3, "the good notifier's deliveries")
        assert (blocking.calls, blocking.permits) == (1, 0)
        settle(bus, lambda: "blocking" in bus.guard.failures, "the blocked call to be noticed")
        bus.emit(event(3))  # not queued for a notifier that is stuck: dropped
        blocking.permits = 1  # the first call returns (late): it counts neither way
        settle(bus, lambda: "blocking" in bus.guard.quarantined, "the second blocked call")
        assert blocking.calls == 2
    finally:
        blocking.permits = 1_000  # let its thread go
        asyncio.run(bus.close(LIMIT_S))
    failed = recorded(journal, "plugin.failed")
    assert [(e.source, e.data["count"], e.data["call"]) for e in failed] == [
        ("blocking", 1, "notify"),
        ("blocking", 2, "notify"),
    ]
    assert str(failed[0].data["error"]).startswith(
        "TimeoutError: no answer within 0.2s; notify blocks its thread"
    )
    assert failed[0].ts == T0  # the event it was stuck on
    (quarantined,) = recorded(journal, "plugin.quarantined")
    assert quarantined.source == "blocking"
    assert quarantined.message == (
        "blocking quarantined after 2 failures in a row; the run goes on without it"
    )
    # The good notifier heard everything, the failures and the quarantine included.
    assert good.kinds() == [
        "test.event",
        "test.event",
        "test.event",
        "plugin.failed",
        "test.event",
        "plugin.failed",
        "plugin.quarantined",
    ]
    # What it missed while stuck: both failure reports and event 3, reported as they
    # happened (at most one report per poll).
    drops = recorded(journal, "notifier.dropped")
    assert {e.source for e in drops} == {"blocking"}
    assert sum(e.data["dropped"] for e in drops) == 3  # type: ignore[misc]
    assert drops[-1].data == {
        "component": "blocking",
        "dropped": drops[-1].data["dropped"],
        "queue_full": 0,
        "blocked": 3,
        "total": 3,
    }
    assert recorded(journal, "notifier.undelivered") == []  # quarantined: nothing owed


def test_failures_count_in_a_row_and_a_delivery_resets_them(journal: Journal) -> None:
    flaky = Flaky()
    bus = EventBus(journal, notifiers=[("flaky", flaky)], timeout_s=5.0, max_failures=2)
    for n, kind in enumerate(["test.bad", "test.good", "test.bad", "test.good", "test.bad"]):
        bus.emit(event(n, kind))
    asyncio.run(bus.close(LIMIT_S))
    failed = recorded(journal, "plugin.failed")
    assert [e.data["count"] for e in failed] == [1, 1, 1]  # never two in a row
    assert [e.data["error"] for e in failed] == [
        "ConnectionError: cannot deliver event 0",
        "SystemExit: a plugin calling sys.exit",  # a failure of the plugin, not the host's exit
        "ConnectionError: cannot deliver event 4",
    ]
    assert recorded(journal, "plugin.quarantined") == []
    assert flaky.got.count("test.good") == 2
    # Each failure report reached the notifier too (and, delivered, ended the run of one).
    assert flaky.got.count("plugin.failed") == 3
    assert bus.guard.failures == {}


def test_failures_in_a_row_quarantine(journal: Journal) -> None:
    flaky = Flaky()
    bus = EventBus(journal, notifiers=[("flaky", flaky)], timeout_s=5.0, max_failures=2)
    bus.emit(event(0, "test.bad"))
    bus.emit(event(1, "test.bad"))
    bus.emit(event(2, "test.good"))
    asyncio.run(bus.close(LIMIT_S))
    assert [e.data["count"] for e in recorded(journal, "plugin.failed")] == [1, 2]
    assert len(recorded(journal, "plugin.quarantined")) == 1


def test_a_full_queue_drops_its_oldest_events_and_says_so(journal: Journal) -> None:
    gated = Gated()
    bus = EventBus(journal, notifiers=[("gated", gated)], timeout_s=60.0, queue_size=3)
    try:
        bus.emit(event(0))
        assert gated.entered.wait(LIMIT_S)  # event 0 is in flight
        for n in range(1, 10):
            bus.emit(event(n))  # never blocks
        assert bus.pending == 4  # three queued, one in flight
        asyncio.run(bus.drain())  # takes in what there is; does not wait for the notifier
        asyncio.run(bus.drain())  # nothing new dropped: nothing new reported
        assert bus.pending == 4
    finally:
        gated.gate.set()
    asyncio.run(bus.close(LIMIT_S))
    (dropped,) = recorded(journal, "notifier.dropped")
    assert dropped.source == "gated"
    assert dropped.level is Level.WARNING
    assert dropped.data == {
        "component": "gated",
        "dropped": 6,
        "queue_full": 6,
        "blocked": 0,
        "total": 6,
    }
    assert dropped.ts == T0 + 9  # as of the last event
    # The oldest were dropped; the report itself went to the journal only.
    assert [e.ts - T0 for e in gated.got] == [0, 7, 8, 9]
    assert recorded(journal, "notifier.undelivered") == []
    assert bus.pending == 0


def test_close_with_a_stuck_notifier_returns_within_its_deadline(journal: Journal) -> None:
    class Stuck(_Notifier):
        async def notify(self, event: Event) -> None:
            time.sleep(30)

    good = Recorder()
    bus = EventBus(
        journal, notifiers=[("stuck", Stuck()), ("good", good)], timeout_s=0.2, max_failures=3
    )
    for n in range(3):
        bus.emit(event(n))
    started = time.monotonic()
    asyncio.run(bus.close(2.0))
    assert time.monotonic() - started < 5.0
    (failed,) = recorded(journal, "plugin.failed")
    assert failed.source == "stuck"
    (undelivered,) = recorded(journal, "notifier.undelivered")
    assert undelivered.source == "stuck"
    assert undelivered.data == {"component": "stuck", "undelivered": 3, "stuck": True}
    assert "stuck in notify" in undelivered.message
    assert good.kinds() == ["test.event"] * 3 + ["plugin.failed"]
    # After close, events go to the journal only.
    bus.emit(event(9, "test.after"))
    assert bus.pending == 0
    assert len(recorded(journal, "test.after")) == 1
    assert good.kinds("test.after") == []


def test_close_reports_what_a_slow_notifier_never_delivered(journal: Journal) -> None:
    gated = Gated()
    bus = EventBus(journal, notifiers=[("slow", gated)], timeout_s=60.0)
    for n in range(5):
        bus.emit(event(n))
    assert gated.entered.wait(LIMIT_S)
    asyncio.run(bus.close(0.05))  # not stuck (its timeout is 60 s), only slow
    gated.gate.set()
    (undelivered,) = recorded(journal, "notifier.undelivered")
    assert undelivered.data == {"component": "slow", "undelivered": 5, "stuck": False}


def test_a_notifier_quarantined_by_the_engine_is_no_longer_fed(journal: Journal) -> None:
    left_out, good = Recorder(), Recorder()
    bus = EventBus(journal, notifiers=[("left_out", left_out), ("good", good)])
    bus.guard.quarantined.add("left_out")  # as a restored run does
    bus.emit(event(0))
    asyncio.run(bus.close(LIMIT_S))
    assert left_out.got == []
    assert good.kinds() == ["test.event"]


def test_without_notifiers_there_is_no_thread_and_nothing_pending(journal: Journal) -> None:
    bus = EventBus(journal)
    threads = threading.active_count()
    bus.emit_fields(T0, "trade.closed", "closed", Level.INFO, "host", {"pnl": 1.0})
    bus.emit(event(1))
    assert bus.pending == 0
    asyncio.run(bus.drain())
    asyncio.run(bus.close(1.0))
    assert threading.active_count() == threads
    assert bus.counts == {"trade.closed": 1, "test.event": 1}


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys, time
    from pathlib import Path
    from garrison.engine.bus import EventBus
    from garrison.journal import Journal
    from garrison_api import Event, Level

    class Stuck:
        async def notify(self, event):
            time.sleep(3600)

    async def main(journal):
        bus = EventBus(journal, notifiers=[("stuck", Stuck())], timeout_s=0.05)
        bus.emit(Event(ts=1, kind="test.event", message="hello", level=Level.INFO))
        try:
            while True:  # the engine between chunks
                await bus.drain()
                await asyncio.sleep(0.01)
                if "stuck" in bus.guard.failures:
                    print("stuck noticed", flush=True)
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        finally:
            bus.close_now()
            print("closed", flush=True)

    journal = Journal.open(Path(sys.argv[1]))
    journal.start_run(profile_name="bus", mode="replay", profile_toml="", started_ms=0)
    try:
        asyncio.run(main(journal))
    finally:
        journal.close()
    """
)


@pytest.mark.skipif(os.name != "posix", reason="sends itself SIGINT")
def test_ctrl_c_does_not_hang_on_a_stuck_notifier(tmp_path: Path) -> None:
    path = tmp_path / "ctrl-c.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines() == ["stuck noticed", "closed"], done.stderr
    assert done.returncode in (-signal.SIGINT, 1, 130), done.stderr
    assert "KeyboardInterrupt" in done.stderr or done.returncode == -signal.SIGINT
    with Journal.open(path) as reopened:
        run_id = reopened.latest_run("bus", "replay").id  # type: ignore[union-attr]
        kinds = [(e.kind, e.source) for e in reopened.events(run_id)]
        undelivered = [e for e in reopened.events(run_id) if e.kind == "notifier.undelivered"]
    assert ("plugin.failed", "stuck") in kinds
    assert json.loads(json.dumps(dict(undelivered[0].data))) == {
        "component": "stuck",
        "undelivered": 1,
        "stuck": True,
    }
