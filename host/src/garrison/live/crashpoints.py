"""Crash points: kill the host on purpose at a chosen place in the order path (tests only).

Restart safety is a claim about every instant a process can die at. The
fault benchmark (bench/faults.py) checks it by setting
``GARRISON_CRASH_AT=POINT[:N]`` for a ``garrison run`` it starts: the N-th
time (default 1) the host reaches POINT it sends itself SIGKILL — no
cleanup, no flush, as the kernel's OOM killer or a power cut would. Unset
(always, outside such tests), a crash point costs one string comparison.

Points, in the order an entry goes through them:

- ``before_intent``: a step's orders are approved, not yet journaled;
- ``after_intent``: journaled and committed, not yet sent;
- ``after_reply``: the exchange answered the create, the fill not yet booked;
- ``placing_stop``: an entry filled, its stop not yet on the exchange;
- ``after_stop``: the stop is on the exchange, no checkpoint knows it yet;
- ``exiting``: an exit order is about to be sent.

("After send, before the reply" is the exchange's side: the fake exchange's
``after_booking`` hook kills the host there.)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence

from garrison.engine.commit import Checkpoint, CommitPolicy, StagedOrder
from garrison.engine.execution import CommittedOrder

#: The environment variable naming the crash point.
ENV = "GARRISON_CRASH_AT"

POINTS = (
    "before_intent",
    "after_intent",
    "after_reply",
    "placing_stop",
    "after_stop",
    "exiting",
)


class CrashPoints:
    """Callable: ``crash(point)`` kills the process when ``point`` is armed and due."""

    def __init__(self, point: str | None = None, after: int = 1) -> None:
        if point is not None and point not in POINTS:
            raise ValueError(f"{ENV}: unknown crash point {point!r}; one of {', '.join(POINTS)}")
        self.point = point
        self._left = max(1, after)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CrashPoints:
        """From ``GARRISON_CRASH_AT`` (``POINT`` or ``POINT:N``); disarmed when unset."""
        spec = environ.get(ENV, "").strip()
        if not spec:
            return cls()
        point, _, count = spec.partition(":")
        try:
            after = int(count) if count else 1
        except ValueError:
            raise ValueError(f"{ENV}={spec!r}: N must be a whole number") from None
        return cls(point, after)

    def __call__(self, point: str) -> None:
        if point != self.point:
            return
        self._left -= 1
        if self._left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


class CrashingCommits:
    """A commit policy with the ``before_intent`` and ``after_intent`` crash points around it."""

    def __init__(self, inner: CommitPolicy, crash: Callable[[str], None]) -> None:
        self._inner = inner
        self._crash = crash
        self.name = inner.name

    def start(self) -> None:
        self._inner.start()

    def commit_step(
        self, ts: int, staged: Sequence[StagedOrder], checkpoint: Checkpoint
    ) -> list[CommittedOrder]:
        self._crash("before_intent")
        committed = self._inner.commit_step(ts, staged, checkpoint)
        self._crash("after_intent")
        return committed

    def end_chunk(self, ts: int, checkpoint: Checkpoint) -> None:
        self._inner.end_chunk(ts, checkpoint)
