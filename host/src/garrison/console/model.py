"""What the console knows of a host: the targets it attaches to and their last snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class HostTarget:
    """One host the console attaches to: a label (its profile) and how to reach it.

    Either by its control socket, or (``host_id`` set) through Redis, where
    the host publishes its snapshots under that id.
    """

    label: str
    socket: Path | None = None
    host_id: str = ""


@attrs.frozen
class Snapshot:
    """The answers of one poll of a host's read-only queries.

    ``problem`` is why the host could not be read ("" when it answered);
    the other fields then keep the last answers, so the screens keep showing
    what was last known, marked as disconnected.
    """

    status: dict[str, Any] = attrs.field(factory=dict)
    positions: list[dict[str, Any]] = attrs.field(factory=list)
    orders: list[dict[str, Any]] = attrs.field(factory=list)
    signals: list[dict[str, Any]] = attrs.field(factory=list)
    plugins: dict[str, Any] = attrs.field(factory=dict)
    risk: dict[str, Any] = attrs.field(factory=dict)
    equity: dict[str, Any] = attrs.field(factory=dict)
    logs: list[dict[str, Any]] = attrs.field(factory=list)
    problem: str = ""

    @property
    def connected(self) -> bool:
        return not self.problem and bool(self.status)


#: The topics the console follows; each fills the snapshot's field of that name. The
#: host answers them without arguments: the newest 20 signals and 50 events.
TOPICS: tuple[str, ...] = (
    "status",
    "positions",
    "orders",
    "signals",
    "plugins",
    "risk",
    "equity",
    "logs",
)


def received(last: Snapshot, message: dict[str, Any]) -> Snapshot:
    """The snapshot after one message of the host's subscription."""
    found = {topic: message[topic] for topic in TOPICS if topic in message}
    return attrs.evolve(last, **found, problem="")
