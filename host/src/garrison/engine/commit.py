"""Journal commit policies: when the journal commits, and the only way to make a CommittedOrder.

At the end of every step the step processor hands the orders the risk chain
approved during the step to the profile's policy. The policy writes their
order rows and returns them as :class:`~garrison.engine.execution.CommittedOrder`
values, which are all an execution client accepts. Every commit carries a
restart checkpoint taken at the end of a step, so the journal's committed
state is always one the host can restart from.

- :class:`StepCommits` (``[journal] commit = "step"``, the rule for real
  money): a foreground commit every step that has orders, before they are
  sent; the orders are ``durable``.
- :class:`ChunkCommits` (``commit = "chunk"``, the replay default): orders go
  into the journal's ordered write stream; the stream is committed every few
  thousand candles by the journal's writer process while the replay goes on.
  A fill can never reach the file without the order before it; a crash loses
  at most the last chunk, never a committed row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from garrison_api import Order, OrderIntent, Signal

from garrison.engine.execution import CommittedOrder, seal_order
from garrison.journal import Journal

#: Builds the restart checkpoint; its argument is the orders being committed
#: now, which count as pending at the venue in the checkpoint.
Checkpoint = Callable[[Sequence["StagedOrder"]], dict[str, Any]]


class StagedOrder(NamedTuple):
    """An approved order waiting for the step's commit."""

    intent: OrderIntent
    order: Order
    signal: Signal | None


class CommitPolicy(Protocol):
    """When the journal commits; see the module docstring."""

    #: The profile's name for the policy (``step`` or ``chunk``).
    name: str

    def start(self) -> None:
        """Called once before the first step."""
        ...

    def commit_step(
        self, ts: int, staged: Sequence[StagedOrder], checkpoint: Checkpoint
    ) -> list[CommittedOrder]:
        """Journal the step's approved orders; return them ready for the execution client."""
        ...

    def end_chunk(self, ts: int, checkpoint: Checkpoint) -> None:
        """A few thousand candles have gone by at the end of a step: commit what is buffered."""
        ...


def _record_orders(journal: Journal, staged: Sequence[StagedOrder]) -> None:
    record = journal.record_order
    for item in staged:
        record(item.order)


class StepCommits:
    """Commit every step's orders before the execution client sees them (durable orders)."""

    name = "step"

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        #: Commits made, for the replay's statistics.
        self.commits = 0

    def start(self) -> None:
        return None

    def commit_step(
        self, ts: int, staged: Sequence[StagedOrder], checkpoint: Checkpoint
    ) -> list[CommittedOrder]:
        journal = self._journal
        _record_orders(journal, staged)
        journal.record_checkpoint(ts, checkpoint(staged))
        journal.flush()
        self.commits += 1
        return [seal_order(intent, order, signal, durable=True) for intent, order, signal in staged]

    def end_chunk(self, ts: int, checkpoint: Checkpoint) -> None:
        journal = self._journal
        if journal.pending:
            journal.record_checkpoint(ts, checkpoint(()))
            journal.flush()
            self.commits += 1


class ChunkCommits:
    """Orders join the journal's write stream; chunks commit in the writer process."""

    name = "chunk"

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.commits = 0

    def start(self) -> None:
        # Started early: it comes up while the replay prepares its series.
        self._journal.start_background_writer()

    def commit_step(
        self, ts: int, staged: Sequence[StagedOrder], checkpoint: Checkpoint
    ) -> list[CommittedOrder]:
        record = self._journal.record_order
        committed = []
        for intent, order, signal in staged:
            record(order)
            committed.append(seal_order(intent, order, signal, durable=False))
        return committed

    def end_chunk(self, ts: int, checkpoint: Checkpoint) -> None:
        journal = self._journal
        journal.record_checkpoint(ts, checkpoint(()))
        # Committed by the journal's writer process while the next chunk runs.
        journal.flush(background=True)
        self.commits += 1


def revive_orders(
    items: Sequence[tuple[OrderIntent, Order, Signal | None, bool]],
) -> list[CommittedOrder]:
    """Orders found pending in a committed checkpoint, committed again for the venue.

    They were journaled before the checkpoint that lists them, so they are
    committed orders; ``durable`` is what the checkpoint recorded.
    """
    return [
        seal_order(intent, order, signal, durable=durable)
        for intent, order, signal, durable in items
    ]


def policy_for(name: str, journal: Journal) -> CommitPolicy:
    """The policy a profile's ``[journal] commit`` names."""
    if name == "step":
        return StepCommits(journal)
    if name == "chunk":
        return ChunkCommits(journal)
    raise ValueError(f"unknown journal commit policy {name!r}; expected 'step' or 'chunk'")


__all__ = [
    "Checkpoint",
    "ChunkCommits",
    "CommitPolicy",
    "StagedOrder",
    "StepCommits",
    "policy_for",
    "revive_orders",
]
