"""What a component's optional ``start(services)`` gets in tests."""

from __future__ import annotations

import threading

from garrison_api.testing.blobs import MemoryBlobStore
from garrison_api.testing.clock import FakeClock
from garrison_api.testing.store import MemoryStore
from garrison_api.types import Event

#: The modes a host runs components in.
MODES = ("replay", "paper", "live")


class StubServices:
    """A :class:`garrison_api.ComponentServices` held in memory.

    Defaults: mode ``replay``, a :class:`FakeClock` at 0, an empty
    :class:`MemoryStore` and :class:`MemoryBlobStore`, no ``control_socket``
    (API 1.3: pass the path of a control socket a test serves). Pass your own to share
    them (a strategy's ``ctx.storage`` and its services' ``storage`` are one
    namespace in the host). Emitted events collect in :attr:`events`.

    >>> services = StubServices("trend", mode="paper")
    >>> strategy.start(services)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str = "test",
        *,
        mode: str = "replay",
        clock: FakeClock | None = None,
        storage: MemoryStore | None = None,
        blobs: MemoryBlobStore | None = None,
        events: list[Event] | None = None,
        control_socket: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._lock = threading.Lock()
        self._name = name
        self._mode = mode
        self._clock = clock if clock is not None else FakeClock()
        self._storage = storage if storage is not None else MemoryStore()
        self._blobs = blobs if blobs is not None else MemoryBlobStore()
        #: Events the component emitted, in order (the list given as ``events``, if any).
        self.events: list[Event] = events if events is not None else []
        #: The host's control socket this stand-in reports (API 1.3); set it in a test.
        self.control_socket: str | None = control_socket

    @property
    def name(self) -> str:
        """The component's use name."""
        return self._name

    @property
    def mode(self) -> str:
        """``replay``, ``paper`` or ``live``."""
        return self._mode

    @property
    def clock(self) -> FakeClock:
        """The fake clock (shared with a context when given the same one)."""
        return self._clock

    @property
    def storage(self) -> MemoryStore:
        """The component's key-value namespace."""
        return self._storage

    @property
    def blobs(self) -> MemoryBlobStore:
        """The component's blob store."""
        return self._blobs

    def emit(self, event: Event) -> None:
        """Record ``event`` in :attr:`events` (from any thread, as a host allows)."""
        if not isinstance(event, Event):
            raise TypeError(f"emit() takes a garrison_api.Event, got {event!r}")
        with self._lock:
            self.events.append(event)
