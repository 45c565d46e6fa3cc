"""The execution seam: committed orders go in, execution reports come out.

Every mode places orders the same way. The pipeline approves an intent; the
step's commit policy (:mod:`garrison.engine.commit`) journals it and only
then turns it into a :class:`CommittedOrder`, the one thing an execution
client accepts. The client (the simulated broker of replay and paper mode,
the exchange adapter live) answers with :class:`ExecutionReport` values that
the step processor books into the portfolio and the journal.

"Journaled before sent" therefore holds by construction: a client cannot be
handed an order the journal has not seen, because nothing else can make a
``CommittedOrder``. ``durable`` says how far the journal has it: True once
its transaction is on disk (step commits, the rule for real money), False
when it sits in the journal's ordered write stream ahead of anything it
causes (replay's chunk commits: a fill can never reach the file without it).
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple, Protocol

from garrison_api import ExitReason, Fill, Order, OrderIntent, Signal


class ReportKind(enum.StrEnum):
    """What an execution report says happened to an order or a position."""

    #: The venue accepted the order (live venues give it their own id).
    ACK = "ack"
    #: The venue refused the order; ``reason`` says why. Terminal.
    REJECT = "reject"
    #: (Part of) the order executed; ``remaining`` is what is still open.
    FILL = "fill"
    #: The order was canceled before it filled completely. Terminal.
    CANCEL = "cancel"
    #: A resting stop or take-profit of a position executed.
    BRACKET = "bracket"


# Made only here, by the commit policies: see the module docstring.
_SEAL = object()


class CommittedOrder:
    """An approved order the journal already holds: the only input an execution client takes.

    Built only by :mod:`garrison.engine.commit` (the constructor checks a
    private seal). ``signal`` is the signal that asked for the order, when
    one did.
    """

    __slots__ = ("durable", "intent", "order", "signal")

    def __init__(
        self,
        seal: object,
        intent: OrderIntent,
        order: Order,
        signal: Signal | None,
        durable: bool,
    ) -> None:
        if seal is not _SEAL:
            raise TypeError(
                "a CommittedOrder is made only by a journal commit policy "
                "(garrison.engine.commit); an order the journal has not seen cannot be sent"
            )
        self.intent = intent
        self.order = order
        self.signal = signal
        self.durable = durable

    def __repr__(self) -> str:
        return (
            f"CommittedOrder({self.order.id} {self.intent.symbol} {self.intent.side.value} "
            f"qty={self.intent.qty:g} reduce_only={self.intent.reduce_only} "
            f"durable={self.durable})"
        )


def seal_order(
    intent: OrderIntent, order: Order, signal: Signal | None, *, durable: bool
) -> CommittedOrder:
    """A CommittedOrder; for :mod:`garrison.engine.commit` only, after it journaled the order."""
    return CommittedOrder(_SEAL, intent, order, signal, durable)


def check_committed(order: object, *, durable: bool = False) -> CommittedOrder:
    """``order`` if it is a CommittedOrder (and durable, when asked); TypeError otherwise."""
    if type(order) is not CommittedOrder:
        raise TypeError(
            f"execution clients take CommittedOrder values only, got {type(order).__name__}: "
            "orders must be journaled before they are sent"
        )
    if durable and not order.durable:
        raise ValueError(
            f"order {order.order.id} is not durable in the journal yet; a real venue takes "
            "only orders whose commit is on disk (journal commit = 'step')"
        )
    return order


class ExecutionReport(NamedTuple):
    """What a venue did: one report per acknowledgement, refusal, fill or cancellation.

    A named tuple: one is built per fill on the replay's hot path. ``order``
    is the committed order it concerns (None for a bracket, which belongs to
    a position rather than to an order of the host's). ``fill`` is set for
    FILL and BRACKET. ``exit_reason`` says why a reducing fill closed
    (part of) a position. ``remaining`` is the order's quantity still open
    after a FILL (0.0: completely filled). ``stop``/``take_profit`` are the
    protective levels resting after an entry fill.
    """

    kind: ReportKind
    symbol: str
    ts: int
    order: CommittedOrder | None = None
    fill: Fill | None = None
    exit_reason: ExitReason | None = None
    reason: str = ""
    remaining: float = 0.0
    stop: float | None = None
    take_profit: float | None = None


class ExecutionClient(Protocol):
    """Where committed orders go. The simulated broker is the first implementation.

    ``submit`` takes an order (it must refuse anything but a CommittedOrder);
    what happens to it arrives as reports from ``poll`` (live) or from the
    bar-driven methods of a simulated venue.
    """

    def submit(self, order: CommittedOrder) -> list[ExecutionReport]:
        """Send ``order``; returns the reports available at once (an ACK, a refusal)."""
        ...

    def poll(self) -> list[ExecutionReport]:
        """Reports that arrived since the last call, oldest first."""
        ...

    def cancel_open(self, ts: int, reason: str) -> list[ExecutionReport]:
        """Cancel every order not filled yet; one CANCEL report each."""
        ...

    def open_orders(self) -> list[CommittedOrder]:
        """Orders sent and not yet filled, canceled or rejected."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The client's own restart state (JSON-able); open orders are checkpointed apart."""
        ...

    def restore(self, state: dict[str, Any], pending: list[CommittedOrder]) -> None:
        """Carry on from :meth:`snapshot`'s state with ``pending`` as the open orders."""
        ...


class BarVenue(ExecutionClient, Protocol):
    """A simulated venue: orders execute against the bars of each symbol's execution series."""

    def trigger(self, symbol: str) -> list[float]:
        """``[low, high]``: a bar inside these levels cannot execute anything in ``symbol``."""
        ...

    def on_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> list[ExecutionReport]:
        """Everything that executes in ``symbol`` during the bar opening at ``ts``."""
        ...


__all__ = [
    "BarVenue",
    "CommittedOrder",
    "ExecutionClient",
    "ExecutionReport",
    "ReportKind",
    "check_committed",
    "seal_order",
]
