"""The call watchdog: a strategy or scorer call over its budget is stopped, and nothing else is.

Each test drives a tiny loop that marks calls the way the engine does
(``seq += 1``, ``active = name``, the call, ``active = None``) with a real
watchdog thread and a real signal. Endless plugins get a safety net (a timer
that ends them after 30 s) so that a broken watchdog fails the test instead of
hanging the suite; no test asserts a speed.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from garrison.engine.bus import PLUGIN_ERRORS
from garrison.engine.watchdog import CallWatchdog, PluginCallTimeout, can_interrupt

needs_signals = pytest.mark.skipif(
    not hasattr(signal, "pthread_kill") or not hasattr(signal, "SIGUSR2"),
    reason="interrupting a call needs signal.pthread_kill and SIGUSR2",
)

SAFETY_S = 30.0


def call(watchdog: CallWatchdog, name: str, plugin: Callable[[], object]) -> BaseException | None:
    """One plugin call, marked as the engine marks it; the failure to count, if any."""
    watchdog.seq += 1
    watchdog.active = name
    try:
        plugin()
    except PLUGIN_ERRORS as exc:
        watchdog.active = None
        return exc
    watchdog.active = None
    return watchdog.take_overrun()


@contextmanager
def safety_net() -> Iterator[list[bool]]:
    """A flag that turns True after SAFETY_S: what ends an 'endless' plugin if nothing else does."""
    flag = [False]
    timer = threading.Timer(SAFETY_S, flag.__setitem__, (0, True))
    timer.daemon = True
    timer.start()
    try:
        yield flag
    finally:
        timer.cancel()


@needs_signals
def test_an_endless_loop_is_stopped() -> None:
    with safety_net() as gave_up, CallWatchdog(100) as watchdog:
        assert watchdog.interrupts

        def spin() -> None:
            while not gave_up[0]:
                pass

        failure = call(watchdog, "spinner", spin)
    assert isinstance(failure, PluginCallTimeout)
    assert not gave_up[0]  # stopped by the watchdog, not by the safety net
    assert failure.component == "spinner"
    assert failure.elapsed_s >= 0.1
    assert str(failure).endswith("the call budget is 100 ms")
    assert watchdog.take_overrun() is None  # reported once, by the exception


@needs_signals
def test_time_sleep_is_stopped() -> None:
    with CallWatchdog(100) as watchdog:
        started = time.monotonic()
        failure = call(watchdog, "sleeper", lambda: time.sleep(SAFETY_S))
        took = time.monotonic() - started
    assert isinstance(failure, PluginCallTimeout)
    assert took < SAFETY_S / 2


@needs_signals
def test_except_exception_cannot_swallow_the_timeout() -> None:
    with safety_net() as gave_up, CallWatchdog(100) as watchdog:

        def stubborn() -> None:
            while not gave_up[0]:
                try:  # noqa: SIM105 - written the way a careless plugin writes it
                    time.sleep(0.01)
                except Exception:
                    pass

        failure = call(watchdog, "stubborn", stubborn)
    assert isinstance(failure, PluginCallTimeout)
    assert not gave_up[0]


@needs_signals
def test_the_interrupt_repeats_while_the_call_stays_stuck() -> None:
    caught: list[BaseException] = []
    with safety_net() as gave_up, CallWatchdog(100) as watchdog:

        def catches_everything() -> None:
            while not gave_up[0]:
                try:
                    time.sleep(0.01)
                except BaseException as exc:
                    caught.append(exc)
                    if len(caught) == 3:
                        raise

        failure = call(watchdog, "deaf", catches_everything)
    assert failure is caught[-1]
    assert len(caught) == 3
    assert all(isinstance(exc, PluginCallTimeout) for exc in caught)
    assert len({id(exc) for exc in caught}) == 3
    assert caught[0].elapsed_s < caught[1].elapsed_s < caught[2].elapsed_s  # type: ignore[attr-defined]


@needs_signals
def test_calls_within_budget_are_left_alone() -> None:
    with CallWatchdog(200) as watchdog:
        failures = [call(watchdog, "quick", lambda: time.sleep(0.01)) for _ in range(20)]
        # Idle for longer than the budget between calls: nothing is flagged.
        time.sleep(0.5)
        failures.append(call(watchdog, "quick", lambda: None))
    assert failures == [None] * 21
    assert watchdog.take_overrun() is None


@needs_signals
def test_a_call_that_returns_before_the_interrupt_lands_gets_no_exception_afterwards() -> None:
    # The sampler is driven by hand (a budget no thread reaches in this test) and
    # the signal is raised by hand: the call has returned when the handler runs.
    with CallWatchdog(60_000) as watchdog:
        watchdog.seq += 1
        watchdog.active = "late"
        assert watchdog.sample(0.0) is None
        assert watchdog.sample(59.0) is None
        flagged = watchdog.sample(61.0)
        assert isinstance(flagged, PluginCallTimeout)
        watchdog.active = None  # the call returned just after it was flagged
        signal.raise_signal(signal.SIGUSR2)  # the handler runs now: no exception
        # The overrun is still counted against the plugin, once.
        assert watchdog.take_overrun() is flagged
        assert watchdog.take_overrun() is None
        # The next call is not hit by the stale flag either.
        watchdog.seq += 1
        watchdog.active = "next"
        signal.raise_signal(signal.SIGUSR2)
        watchdog.active = None
    assert flagged.component == "late"


@needs_signals
def test_a_flagged_call_still_running_gets_the_exception() -> None:
    with CallWatchdog(60_000) as watchdog:
        watchdog.seq += 1
        watchdog.active = "stuck"
        watchdog.sample(0.0)
        flagged = watchdog.sample(61.0)
        with pytest.raises(PluginCallTimeout) as raised:
            signal.raise_signal(signal.SIGUSR2)
        watchdog.active = None
    assert raised.value is flagged
    assert watchdog.take_overrun() is None  # the exception reported it


def test_sampling_sees_one_call_over_budget_and_repeats_each_budget() -> None:
    watchdog = CallWatchdog(100)  # not started: the sampler is driven by hand
    assert watchdog.sample(0.0) is None  # nothing running
    watchdog.seq += 1
    watchdog.active = "a"
    assert watchdog.sample(1.0) is None  # first seen
    assert watchdog.sample(1.05) is None
    first = watchdog.sample(1.15)
    assert first is not None
    assert (first.component, first.seq) == ("a", 1)
    assert first.elapsed_s == pytest.approx(0.15)
    assert watchdog.sample(1.2) is None  # not again before another budget
    second = watchdog.sample(1.3)
    assert second is not None
    assert second.elapsed_s == pytest.approx(0.3)
    # A new call starts the count again, even under the same name.
    watchdog.active = None
    watchdog.seq += 1
    watchdog.active = "a"
    assert watchdog.sample(1.4) is None
    assert watchdog.sample(1.45) is None


def test_many_short_calls_never_add_up_to_an_overrun() -> None:
    watchdog = CallWatchdog(100)
    now = 0.0
    for _ in range(100):
        watchdog.seq += 1
        watchdog.active = "busy"
        assert watchdog.sample(now) is None
        watchdog.active = None
        now += 0.05
    assert watchdog.take_overrun() is None


def test_without_signals_the_overrun_is_reported_after_the_call() -> None:
    # The engine in another thread: signal handlers cannot be installed there.
    outcome: list[object] = []

    def engine() -> None:
        assert not can_interrupt()
        with CallWatchdog(50) as watchdog:
            outcome.append(watchdog.interrupts)
            outcome.append(call(watchdog, "slow", lambda: time.sleep(0.5)))
            outcome.append(call(watchdog, "fine", lambda: None))

    thread = threading.Thread(target=engine)
    thread.start()
    thread.join(SAFETY_S)
    interrupts, failure, after = outcome
    assert interrupts is False
    assert isinstance(failure, PluginCallTimeout)
    assert failure.component == "slow"
    assert after is None


@needs_signals
def test_the_previous_handler_is_restored() -> None:
    def mine(signum: int, frame: object) -> None:
        """A handler of the host application's own."""

    before = signal.signal(signal.SIGUSR2, mine)
    try:
        with CallWatchdog(100):
            assert signal.getsignal(signal.SIGUSR2) is not mine
        assert signal.getsignal(signal.SIGUSR2) is mine
    finally:
        signal.signal(signal.SIGUSR2, before)


@pytest.mark.parametrize("budget", [0, -5, 1.5, True])
def test_a_bad_budget_is_refused(budget: object) -> None:
    with pytest.raises(ValueError, match="plugin_call_budget_ms must be a whole number > 0"):
        CallWatchdog(budget)  # type: ignore[arg-type]


def test_plugin_errors_cover_system_exit_and_the_timeout_but_not_ctrl_c() -> None:
    assert issubclass(PluginCallTimeout, BaseException)
    assert not issubclass(PluginCallTimeout, Exception)
    for exc in (ValueError("x"), SystemExit(3), PluginCallTimeout("p", 1, 2.0, 1)):
        assert isinstance(exc, PLUGIN_ERRORS)
    assert not isinstance(KeyboardInterrupt(), PLUGIN_ERRORS)
