"""What the console knows of a host: the targets it attaches to and their last snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from garrison.console.connection import HostConnection, HostRefusedError, HostUnavailableError

#: Rows of the signals feed and the log tail each poll asks for.
SIGNAL_ROWS = 60
LOG_ROWS = 200


@attrs.frozen
class HostTarget:
    """One host the console attaches to: a label (its profile) and its control socket."""

    label: str
    socket: Path


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
    #: Per query the host refused (an older host without it...): its error.
    refused: dict[str, str] = attrs.field(factory=dict)

    @property
    def connected(self) -> bool:
        return not self.problem and bool(self.status)


#: Each snapshot field and the query (with arguments) that fills it.
QUERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("status", "status", {}),
    ("positions", "positions", {}),
    ("orders", "orders", {}),
    ("signals", "signals", {"limit": SIGNAL_ROWS}),
    ("plugins", "plugins", {}),
    ("risk", "risk", {}),
    ("equity", "equity", {}),
    ("logs", "logs", {"limit": LOG_ROWS}),
)


async def poll(connection: HostConnection, last: Snapshot) -> Snapshot:
    """A fresh snapshot of the host; on a lost host, ``last`` with the problem set."""
    found: dict[str, Any] = {}
    refused: dict[str, str] = {}
    try:
        for field, cmd, args in QUERIES:
            try:
                found[field] = await connection.call(cmd, args)
            except HostRefusedError as exc:
                refused[cmd] = str(exc)
    except HostUnavailableError as exc:
        return attrs.evolve(last, problem=str(exc))
    return attrs.evolve(last, **found, problem="", refused=refused)
