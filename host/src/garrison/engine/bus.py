"""The event bus, and the guard that keeps a misbehaving plugin from taking the run down.

Every event is journaled first, then broadcast to ``garrison_event`` hook
implementations, then put on the queue of every notifier that is not
quarantined. Each notifier runs on its own thread with its own event loop
(:mod:`garrison.engine.notifiers`), so a slow, hanging or thread-blocking
notifier delays neither the engine nor another notifier. The engine takes in
what the notifiers report at points of its choosing (:meth:`EventBus.drain`,
:meth:`EventBus.poll`): failures go through the :class:`PluginGuard` exactly
as a strategy's do, and ``max_plugin_failures`` failures in a row quarantine
the notifier.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from garrison_api import Event, Level, Notifier, Scalar

from garrison.engine.notifiers import Delivery, NotifierWorker
from garrison.engine.watchdog import PluginCallTimeout

#: What a plugin call may raise that counts against the plugin, not the host:
#: ``SystemExit`` from a plugin is its failure, not the host's exit, and
#: :class:`~garrison.engine.watchdog.PluginCallTimeout` is a call stopped by
#: the watchdog. ``KeyboardInterrupt`` is not in it: Ctrl-C stops the run.
PLUGIN_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit, PluginCallTimeout)

#: A delivery in flight this much longer than the notifier timeout means the
#: notifier blocks its thread (its own ``wait_for`` would have fired by now).
STUCK_GRACE_S = 0.1

#: How often ``close()`` looks at the notifiers while it waits for them.
CLOSE_POLL_S = 0.01


class EventSink(Protocol):
    def record_event(self, event: Event) -> None: ...

    def record_event_fields(
        self,
        ts: int,
        kind: str,
        message: str,
        level: Level,
        source: str,
        data: Mapping[str, Scalar],
    ) -> None: ...


class PluginGuard:
    """Counts failures in a row per component and says when one must be quarantined.

    A component that fails ``max_failures`` times in a row is quarantined:
    the host stops calling it and says so with a critical event. A good call
    (:meth:`succeeded`) ends a run of failures. Failures are reported as
    events through ``emit``. Used from the engine's thread only.
    """

    def __init__(self, *, max_failures: int, emit: Callable[[Event], None]) -> None:
        self._max = max_failures
        self._emit = emit
        #: Failures in a row so far, by component (absent: none).
        self.failures: dict[str, int] = {}
        #: Components no longer called.
        self.quarantined: set[str] = set()

    def succeeded(self, component: str) -> None:
        """``component`` made a good call: its run of failures, if any, ends.

        Cheap enough for every call: the dict is only touched when some
        component has failures (callers on a hot path may test
        ``guard.failures`` first and skip the call).
        """
        if self.failures:
            self.failures.pop(component, None)

    def failed(self, component: str, what: str, exc: BaseException, ts: int) -> bool:
        """Record a failure of ``component`` doing ``what``; True if it is now quarantined.

        Emits ``plugin.failed`` (error) with the count in a row, and
        ``plugin.quarantined`` (critical) when the count reaches the limit.
        """
        count = self.failures.get(component, 0) + 1
        self.failures[component] = count
        detail = f"{type(exc).__name__}: {exc}"
        self._emit(
            Event(
                ts=ts,
                kind="plugin.failed",
                message=f"{component} failed in {what} ({count}/{self._max}): {detail}",
                level=Level.ERROR,
                source=component,
                data={"component": component, "call": what, "error": detail, "count": count},
            )
        )
        if count >= self._max and component not in self.quarantined:
            self.quarantined.add(component)
            self._emit(
                Event(
                    ts=ts,
                    kind="plugin.quarantined",
                    message=f"{component} quarantined after {count} failures in a row; the run "
                    "goes on without it",
                    level=Level.CRITICAL,
                    source=component,
                    data={"component": component, "failures": count},
                )
            )
            return True
        return False


class EventBus:
    """Journal, hook broadcast and notifier workers for one run.

    Engine-thread only. :meth:`emit` never blocks. :meth:`poll` (or
    ``await`` :meth:`drain`) takes in the notifiers' outcomes and never waits
    for a notifier; ``await`` :meth:`close` at the end of a run gives them a
    deadline to finish; :meth:`close_now` (Ctrl-C) gives them none.
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        hook: Any = None,
        notifiers: list[tuple[str, Notifier]] | None = None,
        timeout_s: float = 5.0,
        max_failures: int = 3,
        queue_size: int = 1000,
    ) -> None:
        self._sink = sink
        # Skip the broadcast entirely when no plugin listens: it runs per trade.
        listeners = getattr(getattr(hook, "garrison_event", None), "get_hookimpls", None)
        self._hook = hook if hook is not None and (listeners is None or listeners()) else None
        self._timeout = timeout_s
        self._results: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._workers = [
            NotifierWorker(
                name, notifier, timeout_s=timeout_s, queue_size=queue_size, results=self._results
            )
            for name, notifier in notifiers or []
        ]
        self._by_name = {worker.name: worker for worker in self._workers}
        # The workers still fed: not quarantined, bus not closed. Empty: no notifier work.
        self._live = list(self._workers)
        self._known_quarantined = 0
        self._last_ts = 0
        self._closed = False
        self.guard = PluginGuard(max_failures=max_failures, emit=self._emit_internal)
        self.counts: dict[str, int] = {}

    # -- emitting ------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Journal the event, broadcast it to hooks, queue it for notifiers; never blocks."""
        self._sink.record_event(event)
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        if self._hook is not None:
            try:
                self._hook.garrison_event(event=event)
            except Exception as exc:  # a hook must not stop the pipeline
                self._emit_internal(
                    Event(
                        ts=event.ts,
                        kind="plugin.failed",
                        message=f"a garrison_event hook raised {type(exc).__name__}: {exc}",
                        level=Level.ERROR,
                        data={"call": "garrison_event", "error": str(exc)},
                    )
                )
        if self._live:
            self._feed(event)

    def emit_fields(
        self, ts: int, kind: str, message: str, level: Level, source: str, data: dict[str, Scalar]
    ) -> None:
        """``emit(Event(ts, kind, message, level, source, data))``.

        When no hook and no notifier would see the event, only the journal
        takes it, and it is journaled from its fields without an Event being
        built (the pipeline emits two per trade). ``data`` must be a dict of
        the caller's own that nobody changes afterwards.
        """
        if self._hook is None and not self._live:
            self._sink.record_event_fields(ts, kind, message, level, source, data)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return
        self.emit(Event(ts, kind, message, level, source, data))

    def _emit_internal(self, event: Event) -> None:
        # Failure reports skip the hook broadcast (which may be what failed).
        self._record(event)
        if self._live:
            self._feed(event)

    def _record(self, event: Event) -> None:
        """Journal only: for the bus's own reports about notifiers."""
        self._sink.record_event(event)
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1

    def _feed(self, event: Event) -> None:
        if len(self.guard.quarantined) != self._known_quarantined:
            self._sync_quarantine()
        self._last_ts = event.ts
        for worker in self._live:
            worker.put(event)

    def _sync_quarantine(self) -> None:
        # The engine may quarantine a component directly (a failed start, a restored state).
        quarantined = self.guard.quarantined
        self._known_quarantined = len(quarantined)
        for worker in [w for w in self._live if w.name in quarantined]:
            self._live.remove(worker)
            worker.stop()

    # -- taking in the notifiers' outcomes --------------------------------------------

    @property
    def pending(self) -> int:
        """Notifier work not settled yet: outcomes to take in, events queued or in flight."""
        if not self._workers:
            return 0
        count = self._results.qsize()
        for worker in self._live:
            count += worker.backlog
        return count

    def poll(self) -> None:
        """Take in the notifiers' outcomes; never waits.

        Each failure (an exception, a timeout, a thread found blocked longer
        than the timeout) is reported through the guard and may quarantine
        the notifier; each delivery ends its run of failures. Drops since the
        last poll are journaled as one ``notifier.dropped`` event per notifier.
        """
        if not self._workers:
            return
        guard = self.guard
        results = self._results
        while True:
            try:
                outcome = results.get_nowait()
            except queue.Empty:
                break
            worker = self._by_name[outcome.name]
            worker.done = outcome.delivery
            if worker.stuck == outcome.delivery:
                worker.stuck = 0  # counted when it was found blocked; fed again from now
                continue
            if outcome.name in guard.quarantined:
                continue
            if outcome.error is None:
                guard.succeeded(outcome.name)
            elif guard.failed(outcome.name, "notify", outcome.error, outcome.ts):
                self._sync_quarantine()
        self._check_stuck()
        self._report_drops()

    async def drain(self) -> None:
        """:meth:`poll`, then let the event loop run; never waits for a notifier."""
        self.poll()
        await asyncio.sleep(0)

    def _check_stuck(self) -> None:
        limit = self._timeout + STUCK_GRACE_S
        now = time.monotonic()
        for worker in list(self._live):
            flight = worker.in_flight
            if flight is None or worker.stuck or flight.delivery <= worker.done:
                continue
            if now - flight.since <= limit:
                continue
            # Its own wait_for should have fired: notify blocks the worker's thread.
            worker.stuck = flight.delivery
            error = TimeoutError(
                f"no answer within {self._timeout:g}s; notify blocks its thread "
                "(a blocking call inside async notify?)"
            )
            if self.guard.failed(worker.name, "notify", error, flight.ts):
                self._sync_quarantine()

    def _report_drops(self) -> None:
        for worker in self._workers:
            dropped = worker.dropped
            new = dropped - worker.dropped_reported
            if not new:
                continue
            worker.dropped_reported = dropped
            self._record(
                Event(
                    ts=self._last_ts,
                    kind="notifier.dropped",
                    message=f"notifier {worker.name} missed {new} event(s): "
                    f"{worker.dropped_full} so far because its queue of "
                    f"{worker.queue_size} was full (oldest dropped first), "
                    f"{worker.dropped_blocked} while it was blocked",
                    level=Level.WARNING,
                    source=worker.name,
                    data={
                        "component": worker.name,
                        "dropped": new,
                        "queue_full": worker.dropped_full,
                        "blocked": worker.dropped_blocked,
                        "total": dropped,
                    },
                )
            )

    # -- the end of a run ------------------------------------------------------------

    async def close(self, deadline_s: float) -> None:
        """End of the run: wait up to ``deadline_s`` for the queues, then :meth:`close_now`.

        Notifiers found blocked are not waited for. Returns within about
        ``deadline_s`` whatever the notifiers do.
        """
        if self._closed:
            return
        end = time.monotonic() + max(0.0, deadline_s)
        try:
            self.poll()
            while self._unsettled():
                left = end - time.monotonic()
                if left <= 0:
                    break
                await asyncio.sleep(min(CLOSE_POLL_S, left))
                self.poll()
        finally:  # cancelled (Ctrl-C) while waiting: stop them all the same
            self.close_now()
        # Let idle threads end (a stuck one is left behind: it is a daemon).
        for worker in self._workers:
            if worker.in_flight is None:
                worker.join(max(0.0, min(end - time.monotonic(), 0.5)))

    def close_now(self) -> None:
        """Stop every notifier now (Ctrl-C, or after :meth:`close`'s deadline); never waits.

        Takes in the outcomes already there, then journals one
        ``notifier.undelivered`` event per notifier left stuck or with events
        never delivered. Events emitted afterwards are journaled only.
        """
        if self._closed:
            return
        self.poll()
        self._closed = True
        live, self._live = self._live, []
        for worker in live:
            left = worker.stop()
            flight = worker.in_flight
            undelivered = left + (flight is not None and flight.delivery > worker.done)
            if not undelivered and not worker.stuck:
                continue
            stuck = worker.stuck != 0
            why = " and is stuck in notify (its thread is left behind)" if stuck else ""
            self._record(
                Event(
                    ts=self._last_ts,
                    kind="notifier.undelivered",
                    message=f"notifier {worker.name} was shut down with {undelivered} event(s) "
                    f"undelivered{why}",
                    level=Level.WARNING,
                    source=worker.name,
                    data={"component": worker.name, "undelivered": undelivered, "stuck": stuck},
                )
            )
        self._report_drops()

    def _unsettled(self) -> bool:
        if not self._results.empty():
            return True
        return any(worker.backlog and not worker.stuck for worker in self._live)
