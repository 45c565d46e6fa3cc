"""A watchdog over strategy and scorer calls: a call that runs over its budget is stopped.

The engine marks each plugin call with two plain attribute stores and no
clock call, so the hot path stays cheap::

    watchdog.seq += 1          # first: a new call (see the sampling rule below)
    watchdog.active = name     # then: who is running
    try:
        result = plugin_call(...)
    except PLUGIN_ERRORS as exc:   # PluginCallTimeout is one of them
        watchdog.active = None
        ...  # count the failure
    else:
        watchdog.active = None
        if watchdog.overrun is not None:   # the fallback, and a call that just made it
            ...  # count watchdog.take_overrun() as a failure of its .component

A daemon thread samples ``(active, seq)`` about four times per budget. When
it sees the same call (same ``seq``, ``active`` set) for longer than the
budget, it records the overrun in ``overrun`` and, when the engine runs in
the main thread of a platform with ``signal.pthread_kill``, sends the main
thread a signal (``SIGUSR2``). The handler raises :class:`PluginCallTimeout`
there, but only if the flagged call is still the active one, so the
exception lands inside the plugin: it breaks pure-Python endless loops and
``time.sleep``. It is a ``BaseException``, so a plugin's ``except
Exception`` cannot swallow it; if the call stays stuck (a plugin catching
everything), the interrupt is repeated every budget. Without signals (the
engine in another thread, or no ``pthread_kill``) the overrun is only
recorded and the engine reports it once the call returns.

Why the stores come in that order: the sampler reads ``active`` before
``seq``, so seeing one ``seq`` with ``active`` set a budget apart always
means one call that has run for the whole budget, never two calls that
happened to be caught at the same moment of their marking.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

#: A call is sampled this many times per budget.
SAMPLES_PER_BUDGET = 4


class PluginCallTimeout(BaseException):
    """A strategy or scorer call ran over its ``[engine] plugin_call_budget_ms``.

    A ``BaseException`` so that a plugin's ``except Exception`` cannot swallow
    it. ``component`` names the plugin use, ``elapsed_s`` is how long the call
    had run when it was flagged, ``seq`` the call's sequence number.
    """

    def __init__(self, component: str, budget_ms: int, elapsed_s: float, seq: int) -> None:
        super().__init__(
            f"still running after {elapsed_s:.2f} s; the call budget is {budget_ms} ms"
        )
        self.component = component
        self.budget_ms = budget_ms
        self.elapsed_s = elapsed_s
        self.seq = seq


def can_interrupt() -> bool:
    """True when a watchdog started from this thread can interrupt calls with a signal."""
    return (
        hasattr(signal, "pthread_kill")
        and hasattr(signal, "SIGUSR2")
        and threading.current_thread() is threading.main_thread()
    )


class CallWatchdog:
    """Watches the engine's plugin calls; see the module docstring for the call pattern.

    ``active`` and ``seq`` are written by the engine's thread only; the
    watchdog thread only reads them. ``start()`` and ``stop()`` (or ``with``)
    bracket a run: they install and restore the signal handler, so both must
    be called from the engine's thread.
    """

    __slots__ = (
        "_budget_ms",
        "_budget_s",
        "_flag_at",
        "_flagged",
        "_interval_s",
        "_main_ident",
        "_previous",
        "_seen",
        "_signum",
        "_since",
        "_stop",
        "_thread",
        "active",
        "interrupts",
        "overrun",
        "seq",
    )

    def __init__(self, budget_ms: int) -> None:
        if isinstance(budget_ms, bool) or not isinstance(budget_ms, int) or budget_ms <= 0:
            raise ValueError(f"plugin_call_budget_ms must be a whole number > 0, got {budget_ms!r}")
        #: The plugin use whose call is running, or None between calls.
        self.active: str | None = None
        #: Incremented by the engine before each call.
        self.seq = 0
        #: The last overrun not yet reported (set by the watchdog thread).
        self.overrun: PluginCallTimeout | None = None
        #: Whether overruns interrupt the call (decided by ``start()``).
        self.interrupts = False
        self._budget_ms = budget_ms
        self._budget_s = budget_ms / 1000
        self._interval_s = self._budget_s / SAMPLES_PER_BUDGET
        self._seen = -1
        self._since = 0.0
        self._flag_at = 0.0
        self._flagged: PluginCallTimeout | None = None
        self._signum = int(getattr(signal, "SIGUSR2", 0))
        self._main_ident = 0
        self._previous: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def budget_ms(self) -> int:
        """The call budget, in milliseconds."""
        return self._budget_ms

    # -- engine thread -------------------------------------------------------------

    def start(self) -> None:
        """Start watching: install the signal handler (main thread only), start the thread."""
        if self._thread is not None:
            raise RuntimeError("this CallWatchdog is already started")
        self.interrupts = can_interrupt()
        if self.interrupts:
            self._main_ident = threading.get_ident()
            self._previous = signal.signal(self._signum, self._on_signal)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name="garrison-call-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and put the previous signal handler back."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        # Joined before the handler goes: no signal may arrive after it.
        thread.join()
        self._thread = None
        if self.interrupts:
            previous = self._previous
            signal.signal(self._signum, signal.SIG_DFL if previous is None else previous)
            self._previous = None
            self.interrupts = False

    def take_overrun(self) -> PluginCallTimeout | None:
        """The overrun not yet reported, if any; it is reported only once."""
        overrun = self.overrun
        self.overrun = None
        return overrun

    def __enter__(self) -> CallWatchdog:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        flagged = self._flagged
        # Only the flagged call, and only while it runs: never in the engine's own code.
        if flagged is None or self.active is None or self.seq != flagged.seq:
            return
        self._flagged = None  # raised once; a call still stuck is flagged again
        if self.overrun is flagged:
            self.overrun = None  # reported by the exception itself
        raise flagged

    # -- watchdog thread -----------------------------------------------------------

    def sample(self, now: float) -> PluginCallTimeout | None:
        """Look at the running call once (at monotonic time ``now``); the overrun, if flagged.

        Called by the watchdog thread; a flag repeats every budget while the
        same call stays active.
        """
        name = self.active
        seq = self.seq
        if name is None:
            self._seen = -1
            return None
        if seq != self._seen:
            self._seen = seq
            self._since = now
            self._flag_at = now + self._budget_s
            return None
        if now < self._flag_at:
            return None
        self._flag_at = now + self._budget_s
        overrun = PluginCallTimeout(name, self._budget_ms, now - self._since, seq)
        self._flagged = overrun
        self.overrun = overrun
        return overrun

    def _watch(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval_s):
            flagged = self.sample(time.monotonic())
            if flagged is not None and self.interrupts and not stop.is_set():
                signal.pthread_kill(self._main_ident, self._signum)
