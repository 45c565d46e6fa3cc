"""Closed trades as CSV, for spreadsheets and for diffing two backtests line by line.

Format (fixed; tools parse it): header
``symbol,side,entry_ts,entry_price,exit_ts,exit_price,exit_reason``, one row per
trade in the order given, ``\\n`` line endings, ``side`` ``long``/``short``,
``exit_reason`` the :class:`~garrison_api.types.ExitReason` value (``signal``,
``stop``, ``take_profit``), timestamps as integer UTC epoch ms and prices as
``repr(float)`` so they read back bit-exact.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from garrison_api.types import Trade

HEADER = ("symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price", "exit_reason")


def _row(trade: Trade) -> tuple[str, ...]:
    return (
        trade.symbol,
        trade.side.value,
        str(int(trade.entry_ts)),
        repr(float(trade.entry_price)),
        str(int(trade.exit_ts)),
        repr(float(trade.exit_price)),
        trade.exit_reason.value,
    )


def write_trades_csv(path: str | os.PathLike[str], trades: Iterable[Trade]) -> None:
    """Write ``trades`` to ``path`` atomically: readers see the old file or the whole new one.

    The rows go to a temporary file in the same folder, which then replaces
    ``path``. Raises ``FileNotFoundError`` naming the folder when it does not exist.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write trades CSV {target}: folder {folder} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(_row(trade) for trade in trades)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file owner-only; a trades report is not a secret.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
