"""What each component gets from the host: its own storage, its blobs, the clock, the bus.

Components may declare ``start(services)`` and ``stop()`` (garrison-api 1.1,
:class:`garrison_api.Lifecycle`). Storage namespaces are per mode and per
component use, so a backtest never reads or overwrites what a paper or live
run of the same profile keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from garrison_api import BlobStore, Clock, Event, KeyValueStore


def namespace(mode: str, kind: str, name: str) -> str:
    """The storage namespace of one component use in one mode (``replay/strategy/turtle``)."""
    return f"{mode}/{kind}/{name}"


class HostServices:
    """:class:`garrison_api.ComponentServices` for one component use."""

    __slots__ = ("_blobs", "_clock", "_control_socket", "_emit", "_mode", "_name", "_storage")

    def __init__(
        self,
        *,
        name: str,
        mode: str,
        clock: Clock,
        storage: KeyValueStore,
        blobs: BlobStore,
        emit: Callable[[Event], None],
        control_socket: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._name = name
        self._control_socket = control_socket
        self._mode = mode
        self._clock = clock
        self._storage = storage
        self._blobs = blobs
        self._emit = emit

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def storage(self) -> KeyValueStore:
        return self._storage

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def control_socket(self) -> str | None:
        """The control socket the host serves now, or None (API 1.3)."""
        return self._control_socket()

    def emit(self, event: Event) -> None:
        self._emit(event)

    def __repr__(self) -> str:
        return f"HostServices(name={self._name!r}, mode={self._mode!r})"


class EngineEmit:
    """An ``emit`` that any thread may call (API 1.3); the events reach the bus on the engine's.

    On the engine's thread an event goes to the bus at once. From another
    thread (a notifier's polling thread) it waits in a queue that is put on
    the step processor's inbox (see :meth:`attach`), which the engine
    empties at its next step or loop turn; :meth:`flush` (engine thread)
    hands over what waits, also what came before the processor existed.
    """

    def __init__(self, emit: Callable[[Event], None]) -> None:
        self._emit = emit
        self._thread = threading.get_ident()
        self._waiting: deque[Event] = deque()
        self._lock = threading.Lock()
        self._inbox: deque[tuple[Callable[[], Any], Future[Any]]] | None = None
        self._wake: Callable[[], None] | None = None

    def attach(
        self,
        inbox: deque[tuple[Callable[[], Any], Future[Any]]],
        loop: asyncio.AbstractEventLoop,
        serve: Callable[[], None],
    ) -> None:
        """Hand events from other threads to ``inbox``; ``serve`` empties it on ``loop``."""

        def wake() -> None:
            loop.call_soon_threadsafe(serve)

        with self._lock:
            self._inbox = inbox
            self._wake = wake
        self.flush()

    def detach(self) -> None:
        """The engine is done: hand over what waits; later events wait for nobody."""
        with self._lock:
            self._inbox = self._wake = None
        self.flush()

    def __call__(self, event: Event) -> None:
        if threading.get_ident() == self._thread:
            self._emit(event)
            return
        with self._lock:
            self._waiting.append(event)
            inbox, wake = self._inbox, self._wake
        if inbox is not None and wake is not None:
            inbox.append((self.flush, Future()))
            # A closed loop means the run is over: detach() journals what is left.
            with contextlib.suppress(RuntimeError):
                wake()

    def flush(self) -> None:
        """On the engine's thread: put every waiting event on the bus, in order."""
        while True:
            with self._lock:
                if not self._waiting:
                    return
                event = self._waiting.popleft()
            self._emit(event)
