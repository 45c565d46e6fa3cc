"""What the journal gives back: each ``record_*`` call's arguments, as one frozen value.

Value types that stand alone (``Order``, ``Fill``, ``Trade``, ``Event``) come back
as themselves; these wrap the ones the journal records with context.
"""

from __future__ import annotations

from typing import Any

import attrs
from garrison_api import OrderIntent, Outcome, Position, Score, Signal, Veto


@attrs.frozen
class SignalRecord:
    """A signal as ``record_signal`` received it."""

    signal_id: str
    strategy: str
    signal: Signal


@attrs.frozen
class ScoreRecord:
    """A scorer's verdict on a signal; ``mode`` is ``gate`` or ``shadow``."""

    signal_id: str
    scorer: str
    score: Score
    mode: str
    passed: bool


@attrs.frozen
class VetoRecord:
    """One risk rule's refusal of an intent."""

    intent_id: str
    veto: Veto


@attrs.frozen
class IntentRecord:
    """An order intent as committed, and whether the risk chain let it through."""

    intent: OrderIntent
    approved: bool


@attrs.frozen
class PositionRecord:
    """One step of a position's history; ``action`` is ``open``, ``close`` or ``update``."""

    ts: int
    action: str
    position: Position


@attrs.frozen
class PhantomRecord:
    """A resolved phantom trade of a recorded signal."""

    signal_id: str
    strategy: str
    outcome: Outcome


@attrs.frozen
class EquityPoint:
    """The account at one moment of a run."""

    ts: int
    balance: float
    equity: float
    open_positions: int


@attrs.frozen
class RunRow:
    """One run as the ``runs`` table holds it, JSON columns decoded.

    ``pid`` and ``hostname`` name the process that runs it (or last ran it);
    both are None for runs written by schema v1. ``selection`` is what the
    run was asked to replay (``{"paths": [...], "from": ..., "to": ...}``) or
    None. ``resumed_ms`` is when it was last resumed, None if never.
    """

    id: str
    profile_name: str
    mode: str
    status: str
    started_ms: int
    finished_ms: int | None
    pid: int | None
    hostname: str | None
    selection: dict[str, Any] | None
    resumed_ms: int | None
    summary: dict[str, Any] | None = None
