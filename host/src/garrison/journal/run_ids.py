"""Run ids: a UTC start stamp plus a short random suffix, so they sort by start time."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(started_ms: int) -> str:
    """A fresh run id such as ``20261121T134512-3f9a`` for a run started at ``started_ms``.

    The stamp (to the second, UTC) makes ids sort by start time; the four hex
    digits tell apart runs started in the same second. The caller checks
    uniqueness against the journal and asks again on a clash.
    """
    stamp = datetime.fromtimestamp(started_ms / 1000, tz=UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"
