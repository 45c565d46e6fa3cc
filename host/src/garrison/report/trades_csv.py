"""Closed trades as CSV, for spreadsheets and for diffing two backtests line by line.

Format (fixed; tools parse it): header
``symbol,side,entry_ts,entry_price,exit_ts,exit_price,exit_reason``, one row per
trade in the order given, ``\\n`` line endings, ``side`` ``long``/``short``,
``exit_reason`` the :class:`~garrison_api.types.ExitReason` value (``signal``,
``stop``, ``take_profit``), timestamps as integer UTC epoch ms and prices as
``repr(float)`` so they read back bit-exact.

The file replaces whatever is at its path, so a path that holds something
else of value is refused: the run's journal (or its ``-wal``, ``-shm`` and
``-journal`` files), any SQLite database, the profile (see
:func:`check_trades_csv_target`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from garrison_api.types import Trade

HEADER = ("symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price", "exit_reason")

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: The files SQLite keeps next to a database (WAL mode and rollback journal).
_SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


class TradesCsvError(Exception):
    """A trades CSV path that must not be written; the message names it and says why."""


def _is_sqlite_database(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False  # unreadable or gone: nothing there to recognise


def _same_file(a: Path, b: Path) -> bool:
    # Resolved paths catch symlinks; samefile also catches hard links.
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # one of them does not exist


def _journal_files(journal: Path) -> list[Path]:
    # SQLite names its side files after the path it opened; look at the path as
    # given and as resolved (a symlinked journal).
    bases = {journal.absolute(), journal.resolve()}
    return [Path(f"{base}{suffix}") for base in bases for suffix in ("", *_SQLITE_SIBLINGS)]


def _refuse_database(target: Path) -> None:
    if target.is_file() and _is_sqlite_database(target):
        raise TradesCsvError(
            f"refusing to write trades CSV {target}: the file is a SQLite database (a journal?) "
            "and would be replaced; choose another path"
        )


def check_trades_csv_target(
    path: str | os.PathLike[str],
    *,
    journal: Path | None = None,
    protected: Sequence[Path] = (),
) -> None:
    """Refuse, before any work is done, a trades CSV path that must not be replaced.

    Refused: a path that is ``journal`` (resolved, hard links too) or one of
    its ``-wal``/``-shm``/``-journal`` files; an existing SQLite database;
    any of ``protected`` (the profile file); a directory; a path whose
    folder does not exist. Raises :class:`TradesCsvError` naming the path.
    """
    target = Path(path)
    if journal is not None:
        for candidate in _journal_files(journal):
            if _same_file(target, candidate):
                raise TradesCsvError(
                    f"refusing to write trades CSV {target}: it is the run's journal "
                    f"{candidate}, which the CSV would replace; choose another path"
                )
    for kept in protected:
        if _same_file(target, kept):
            raise TradesCsvError(
                f"refusing to write trades CSV {target}: it is {kept}, which the CSV would "
                "replace; choose another path"
            )
    if target.is_dir():
        raise TradesCsvError(f"cannot write trades CSV {target}: it is a directory")
    if not target.parent.is_dir():
        raise TradesCsvError(
            f"cannot write trades CSV {target}: folder {target.parent} does not exist"
        )
    _refuse_database(target)


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
    ``path``. Raises ``FileNotFoundError`` naming the folder when it does not
    exist, and :class:`TradesCsvError` when ``path`` is a SQLite database.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write trades CSV {target}: folder {folder} does not exist")
    _refuse_database(target)
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
