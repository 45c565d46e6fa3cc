"""Per-priority rate limits with a latch for repeated critical messages.

Each priority has sliding windows (``1 per 600 s`` and ``6 per 3600 s`` for
critical...): a message is sent only when every window of its priority has
room. A critical message whose text was sent within the latch period is not
sent again. What is held back is counted per priority, to be summarised in
the next message that goes out. Thread-safe: the notifier's thread and the
plugin's own thread both ask.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping

from garrison_telegram.priority import Priority

#: How many latched critical texts are remembered at most (the oldest go first).
MAX_LATCHED = 1000


class RateLimiter:
    """Decides, per message, whether it may go now. Times are seconds (wall clock)."""

    def __init__(
        self,
        windows: Mapping[Priority, tuple[tuple[int, float], ...]],
        *,
        latch_s: float,
        latched: Mapping[str, float] | None = None,
    ) -> None:
        self._windows = {p: tuple(w) for p, w in windows.items()}
        self._sent: dict[tuple[Priority, int], deque[float]] = {
            (p, i): deque() for p, w in self._windows.items() for i in range(len(w))
        }
        self._latch_s = latch_s
        self._latched: dict[str, float] = dict(latched or {})
        self._lock = threading.Lock()
        #: Held back since the last summary, per priority.
        self._suppressed: dict[Priority, int] = {}
        #: Every message sent and held back since the start, per priority.
        self.sent_total: dict[Priority, int] = {p: 0 for p in Priority}
        self.suppressed_total: dict[Priority, int] = {p: 0 for p in Priority}

    def admit(self, priority: Priority, now: float, key: str | None = None) -> bool:
        """True when a message of ``priority`` may go at ``now`` (and count it as sent).

        ``key`` identifies a critical message for the latch (its kind and text).
        """
        with self._lock:
            if priority is Priority.CRITICAL and key is not None and self._latch_s > 0:
                last = self._latched.get(key)
                if last is not None and now - last < self._latch_s:
                    return self._hold(priority)
            windows = self._windows.get(priority, ())
            for index, (limit, span) in enumerate(windows):
                sent = self._sent[(priority, index)]
                while sent and now - sent[0] >= span:
                    sent.popleft()
                if len(sent) >= limit:
                    return self._hold(priority)
            for index in range(len(windows)):
                self._sent[(priority, index)].append(now)
            if priority is Priority.CRITICAL and key is not None and self._latch_s > 0:
                self._latched[key] = now
                if len(self._latched) > MAX_LATCHED:
                    oldest = min(self._latched, key=self._latched.__getitem__)
                    del self._latched[oldest]
            self.sent_total[priority] += 1
            return True

    def _hold(self, priority: Priority) -> bool:
        self._suppressed[priority] = self._suppressed.get(priority, 0) + 1
        self.suppressed_total[priority] += 1
        return False

    def take_suppressed(self) -> dict[Priority, int]:
        """What was held back since the last call, per priority (and start counting anew)."""
        with self._lock:
            taken, self._suppressed = self._suppressed, {}
        return taken

    def latched(self, now: float) -> dict[str, float]:
        """The critical texts still latched at ``now`` and when each was sent (to persist)."""
        with self._lock:
            return {k: t for k, t in self._latched.items() if now - t < self._latch_s}
