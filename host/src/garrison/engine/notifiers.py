"""Notifier workers: each notifier on its own daemon thread, event loop and bounded queue.

A notifier is plugin code that talks to the outside world; it may be slow, hang,
or block its thread outright (``time.sleep`` inside ``async def notify``). On its
own thread it can do none of that to the engine or to another notifier.

The engine's thread puts events (:meth:`NotifierWorker.put`, never blocking:
a full queue drops its oldest event) and reads outcomes from a shared
thread-safe queue of :class:`Delivery` records; the worker's thread only
delivers, each event bounded by ``asyncio.wait_for(notify(event), timeout_s)``
on the worker's own loop. Judging the outcomes (failures, quarantine, a
worker stuck in a blocking call) is the engine's job, in
:class:`~garrison.engine.bus.EventBus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from typing import NamedTuple

from garrison_api import Event, Notifier


class Delivery(NamedTuple):
    """What became of one event handed to one notifier (``error`` None: delivered)."""

    name: str
    #: The worker's sequence number of this delivery (1, 2, ...).
    delivery: int
    #: The event's timestamp, for the failure event.
    ts: int
    error: BaseException | None


class InFlight(NamedTuple):
    """The delivery a worker is making now: its number, when it began (monotonic), its ts."""

    delivery: int
    since: float
    ts: int


class NotifierWorker:
    """One notifier, delivered to on its own daemon thread; see the module docstring.

    Engine-thread fields: ``stuck`` (the delivery number the engine found
    blocked, 0 when none; while set, :meth:`put` drops instead of queueing),
    ``done`` (the last delivery whose outcome the engine processed) and the
    drop counters. Worker-thread field: ``in_flight``. The queue is shared
    under a lock.
    """

    def __init__(
        self,
        name: str,
        notifier: Notifier,
        *,
        timeout_s: float,
        queue_size: int,
        results: queue.SimpleQueue[Delivery],
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"notifier queue size must be >= 1, got {queue_size!r}")
        self.name = name
        self.notifier = notifier
        self.timeout_s = timeout_s
        self.queue_size = queue_size
        self._results = results
        self._queue: deque[Event] = deque()
        self._lock = threading.Lock()
        self._closing = False
        self._waiting = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._delivery = 0
        #: The delivery being made now (worker thread), or None.
        self.in_flight: InFlight | None = None
        #: Engine thread: delivery number found blocking its thread (0: none).
        self.stuck = 0
        #: Engine thread: the last delivery whose outcome was processed.
        self.done = 0
        #: Engine thread: events dropped because the queue was full (oldest first).
        self.dropped_full = 0
        #: Engine thread: events not queued because the worker was stuck.
        self.dropped_blocked = 0
        #: Engine thread: drops already reported.
        self.dropped_reported = 0

    # -- engine thread -------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Every event this notifier never got: queue full or worker stuck."""
        return self.dropped_full + self.dropped_blocked

    @property
    def backlog(self) -> int:
        """Events queued, plus the one in flight."""
        return len(self._queue) + (self.in_flight is not None)

    @property
    def thread(self) -> threading.Thread | None:
        """The worker's thread, once started."""
        return self._thread

    def put(self, event: Event) -> None:
        """Queue ``event`` for delivery; never blocks (a full queue loses its oldest event)."""
        if self.stuck:
            self.dropped_blocked += 1
            return
        wake = False
        with self._lock:
            if self._closing:
                return
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self.dropped_full += 1
            self._queue.append(event)
            if self._waiting:
                self._waiting = False
                wake = True
        if wake:
            self._wake_up()
        elif self._thread is None:
            self._start()

    def stop(self) -> int:
        """Deliver nothing more: discard the queue, let the thread end; the events discarded.

        A thread blocked inside ``notify`` is left behind (it is a daemon).
        """
        with self._lock:
            left = len(self._queue)
            self._queue.clear()
            self._closing = True
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake_up()
        return left

    def join(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the thread to end (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"garrison-notifier-{self.name}", daemon=True
        )
        self._thread.start()

    def _wake_up(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # A closed loop (RuntimeError) means the thread has ended: nothing to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # -- worker thread -------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        while True:
            with self._lock:
                if self._closing:
                    return
                if not self._queue:
                    # Set under the lock: put() then knows to wake us (one wake per burst).
                    self._waiting = True
                    event = None
                else:
                    event = self._queue.popleft()
                    self._delivery += 1
                    self.in_flight = InFlight(self._delivery, time.monotonic(), event.ts)
            if event is None:
                await wake.wait()
                wake.clear()
            else:
                error = await self._deliver(event)
                self._results.put(Delivery(self.name, self._delivery, event.ts, error))
                self.in_flight = None

    async def _deliver(self, event: Event) -> BaseException | None:
        try:
            return await asyncio.wait_for(self._notify(event), self.timeout_s)
        except TimeoutError:
            return TimeoutError(f"no answer within {self.timeout_s:g}s")
        except BaseException as exc:  # whatever gets past _notify is still the plugin's
            return exc

    async def _notify(self, event: Event) -> BaseException | None:
        # Returned, not raised: asyncio lets SystemExit and KeyboardInterrupt out of
        # a task and out of the loop, which would end this thread. A plugin's
        # SystemExit is its failure, not an exit.
        try:
            await self.notifier.notify(event)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            return exc
        return None
