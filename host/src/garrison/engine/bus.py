"""The event bus, and the guard that keeps a misbehaving plugin from taking the run down.

Every event is journaled first, then broadcast to ``garrison_event`` hook
implementations, then queued for notifiers. Notifiers are async: the engine
drains the queue at points of its choosing, each call bounded by a timeout,
so a notifier that hangs or raises costs a bounded amount of time and, after
repeated failures, is quarantined.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from garrison_api import Event, Level, Notifier, Scalar


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
    """Counts failures per component and says when one must be quarantined.

    A component that fails ``max_failures`` times in a run is quarantined:
    the host stops calling it and says so with a critical event. Failures are
    reported as events through ``emit``.
    """

    def __init__(self, *, max_failures: int, emit: Callable[[Event], None]) -> None:
        self._max = max_failures
        self._emit = emit
        self.failures: dict[str, int] = {}
        self.quarantined: set[str] = set()

    def succeeded(self, component: str) -> None:
        """``component`` made a good call: its run of failures, if any, ends."""
        if self.failures:
            self.failures.pop(component, None)

    def failed(self, component: str, what: str, exc: BaseException, ts: int) -> bool:
        """Record a failure of ``component`` doing ``what``; True if it is now quarantined."""
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
                    message=f"{component} quarantined after {count} failures; the run goes on "
                    "without it",
                    level=Level.CRITICAL,
                    source=component,
                    data={"component": component, "failures": count},
                )
            )
            return True
        return False


class EventBus:
    """Journal, hook broadcast and notifier queue for one run."""

    def __init__(
        self,
        sink: EventSink,
        *,
        hook: Any = None,
        notifiers: list[tuple[str, Notifier]] | None = None,
        timeout_s: float = 5.0,
        max_failures: int = 3,
    ) -> None:
        self._sink = sink
        # Skip the broadcast entirely when no plugin listens: it runs per trade.
        listeners = getattr(getattr(hook, "garrison_event", None), "get_hookimpls", None)
        self._hook = hook if hook is not None and (listeners is None or listeners()) else None
        self._notifiers = list(notifiers or [])
        self._timeout = timeout_s
        self._queue: deque[Event] = deque()
        self.guard = PluginGuard(max_failures=max_failures, emit=self._emit_internal)
        self.counts: dict[str, int] = {}

    def emit(self, event: Event) -> None:
        """Journal the event, broadcast it to hooks, queue it for notifiers."""
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
        if self._notifiers:
            self._queue.append(event)

    def emit_fields(
        self, ts: int, kind: str, message: str, level: Level, source: str, data: dict[str, Scalar]
    ) -> None:
        """``emit(Event(ts, kind, message, level, source, data))``.

        When no hook and no notifier would see the event, only the journal
        takes it, and it is journaled from its fields without an Event being
        built (the pipeline emits two per trade). ``data`` must be a dict of
        the caller's own that nobody changes afterwards.
        """
        if self._hook is None and not self._notifiers:
            self._sink.record_event_fields(ts, kind, message, level, source, data)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return
        self.emit(Event(ts, kind, message, level, source, data))

    def _emit_internal(self, event: Event) -> None:
        # Failure reports skip the hook broadcast (which may be what failed).
        self._sink.record_event(event)
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        if self._notifiers:
            self._queue.append(event)

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def drain(self) -> None:
        """Deliver queued events to every notifier that is not quarantined."""
        while self._queue:
            event = self._queue.popleft()
            for name, notifier in self._notifiers:
                if name in self.guard.quarantined:
                    continue
                try:
                    await asyncio.wait_for(notifier.notify(event), self._timeout)
                except TimeoutError as exc:
                    self.guard.failed(
                        name,
                        "notify",
                        TimeoutError(f"no answer within {self._timeout:g}s"),
                        event.ts,
                    )
                    del exc
                except Exception as exc:
                    self.guard.failed(name, "notify", exc, event.ts)
