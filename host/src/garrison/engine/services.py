"""What each component gets from the host: its own storage, its blobs, the clock, the bus.

Components may declare ``start(services)`` and ``stop()`` (garrison-api 1.1,
:class:`garrison_api.Lifecycle`). Storage namespaces are per mode and per
component use, so a backtest never reads or overwrites what a paper or live
run of the same profile keeps.
"""

from __future__ import annotations

from collections.abc import Callable

from garrison_api import BlobStore, Clock, Event, KeyValueStore


def namespace(mode: str, kind: str, name: str) -> str:
    """The storage namespace of one component use in one mode (``replay/strategy/turtle``)."""
    return f"{mode}/{kind}/{name}"


class HostServices:
    """:class:`garrison_api.ComponentServices` for one component use."""

    __slots__ = ("_blobs", "_clock", "_emit", "_mode", "_name", "_storage")

    def __init__(
        self,
        *,
        name: str,
        mode: str,
        clock: Clock,
        storage: KeyValueStore,
        blobs: BlobStore,
        emit: Callable[[Event], None],
    ) -> None:
        self._name = name
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

    def emit(self, event: Event) -> None:
        self._emit(event)

    def __repr__(self) -> str:
        return f"HostServices(name={self._name!r}, mode={self._mode!r})"
