"""Reading a journal back: runs, every recorded table as value types, counts.

Readers see committed rows and, on the writer's own connection, rows it has
written; rows still buffered by ``Journal.record_*`` appear after the next
commit (``flush`` or ``commit_intent``). Another process (a report, the
console) can read a live journal with :meth:`JournalReader.open_readonly`:
WAL lets it read while the host writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from garrison_api import Event, Fill, Order, Trade

from garrison.journal import codec
from garrison.journal.candles import CandleArray, candle_span, read_candles
from garrison.journal.errors import JournalError
from garrison.journal.records import (
    EquityPoint,
    IntentRecord,
    PhantomRecord,
    PositionRecord,
    RunRow,
    ScoreRecord,
    SignalRecord,
    VetoRecord,
)
from garrison.journal.schema import SCHEMA_VERSION, TABLES

T = TypeVar("T")


class JournalReader:
    """Read access to a journal over an open sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._raw_conn = conn

    @property
    def _conn(self) -> sqlite3.Connection:
        # Every use of the connection goes through here, so a writer (Journal)
        # can first let a commit still under way land.
        self._settle()
        return self._raw_conn

    def _settle(self) -> None:
        """Wait for writes under way; a plain reader has none."""

    @classmethod
    def open_readonly(cls, path: Path) -> JournalReader:
        """Open the journal at ``path`` for reading only (it must exist and be current)."""
        path = Path(path)
        if not path.is_file():
            raise JournalError(f"no journal at {path}")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalError(f"{path} is not a Garrison journal: {exc}") from exc
        if version != SCHEMA_VERSION:
            conn.close()
            raise JournalError(
                f"{path} has journal schema v{version}; this version reads v{SCHEMA_VERSION} "
                "(open it for writing once to migrate it)"
            )
        return cls(conn)

    def close_reader(self) -> None:
        """Close a reader made by :meth:`open_readonly`."""
        self._raw_conn.close()

    # --- candles ---------------------------------------------------------------------------

    def read_candles(
        self,
        *,
        symbols: Sequence[str] = (),
        timeframe: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        exchange: str | None = None,
    ) -> dict[tuple[str, str], CandleArray]:
        """Stored candles keyed by (symbol, timeframe), each ``(n, 6)`` sorted by ts.

        ``symbols`` empty and ``timeframe``/``exchange`` None mean all;
        ``start_ms`` is inclusive, ``end_ms`` exclusive.
        """
        return read_candles(
            self._conn,
            exchange=exchange,
            symbols=symbols,
            timeframe=timeframe,
            start_ms=start_ms,
            end_ms=end_ms,
        )

    def candle_span(self, exchange: str, symbol: str, timeframe: str) -> tuple[int, int] | None:
        """Open times (ms) of the oldest and newest stored bar of a series; None if none."""
        return candle_span(self._conn, exchange, symbol, timeframe)

    # --- runs and counts -----------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, with ``summary`` and ``selection`` decoded from JSON."""
        cur = self._cursor()
        cur.execute("SELECT * FROM runs ORDER BY started_ms, id")
        return [_run_dict(r) for r in cur.fetchall()]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run's row; an error names the id when there is no such run."""
        cur = self._cursor()
        row = cur.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise JournalError(f"no run {run_id!r} in the journal")
        return _run_dict(row)

    def latest_run(self, profile_name: str, mode: str) -> RunRow | None:
        """The last run started of ``profile_name`` in ``mode`` (any status), or None."""
        cur = self._cursor()
        row = cur.execute(
            "SELECT * FROM runs WHERE profile_name = ? AND mode = ? "
            "ORDER BY started_ms DESC, id DESC LIMIT 1",
            (profile_name, mode),
        ).fetchone()
        return None if row is None else codec.run_from(row)

    def run_row(self, run_id: str) -> RunRow:
        """One run as a :class:`RunRow`; an error names the id when there is no such run."""
        cur = self._cursor()
        row = cur.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise JournalError(f"no run {run_id!r} in the journal")
        return codec.run_from(row)

    def last_checkpoint(self, run_id: str) -> tuple[int, dict[str, Any]] | None:
        """The newest committed checkpoint of ``run_id`` as (ts, state), or None."""
        cur = self._cursor()
        row = cur.execute(
            "SELECT ts, state FROM checkpoints WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return None if row is None else codec.checkpoint_from(row)

    def last_profile_checkpoint(
        self, profile_name: str, mode: str
    ) -> tuple[str, int, dict[str, Any]] | None:
        """The newest committed checkpoint of any run of ``profile_name`` in ``mode``.

        (run id, ts, state), or None. A run killed before its first commit
        wrote none; the account it carried on is in an earlier run's.
        """
        cur = self._cursor()
        row = cur.execute(
            "SELECT c.run_id, c.ts, c.state FROM checkpoints c JOIN runs r ON r.id = c.run_id "
            "WHERE r.profile_name = ? AND r.mode = ? ORDER BY c.seq DESC LIMIT 1",
            (profile_name, mode),
        ).fetchone()
        if row is None:
            return None
        ts, state = codec.checkpoint_from(row)
        return str(row["run_id"]), ts, state

    def checkpoints(self, run_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Every committed checkpoint of ``run_id`` as (ts, state), oldest first."""
        return self._select("checkpoints", run_id, codec.checkpoint_from)

    def count(self, table: str, run_id: str | None = None) -> int:
        """Rows in ``table``, or only those of ``run_id`` for a per-run table."""
        spec = TABLES.get(table)
        if spec is None:
            raise JournalError(f"no journal table {table!r}; tables: {', '.join(sorted(TABLES))}")
        if run_id is None:
            row = self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        elif table == "runs":
            row = self._conn.execute("SELECT COUNT(*) FROM runs WHERE id = ?", (run_id,)).fetchone()
        elif spec.per_run:
            row = self._conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,)
            ).fetchone()
        else:
            raise JournalError(f"journal table {table!r} is not per run; count it without run_id")
        return int(row[0])

    # --- recorded values, in the order they were recorded --------------------------------

    def signals(self, run_id: str) -> list[SignalRecord]:
        return self._select("signals", run_id, codec.signal_from, order="rowid")

    def scores(self, run_id: str) -> list[ScoreRecord]:
        return self._select("scores", run_id, codec.score_from)

    def vetoes(self, run_id: str) -> list[VetoRecord]:
        return self._select("vetoes", run_id, codec.veto_from)

    def intents(self, run_id: str) -> list[IntentRecord]:
        return self._select("intents", run_id, codec.intent_from, order="rowid")

    def orders(self, run_id: str) -> list[Order]:
        return self._select("orders", run_id, codec.order_from)

    def fills(self, run_id: str) -> list[Fill]:
        return self._select("fills", run_id, codec.fill_from)

    def positions(self, run_id: str) -> list[PositionRecord]:
        return self._select("positions", run_id, codec.position_from)

    def trades(self, run_id: str) -> list[Trade]:
        return self._select("trades", run_id, codec.trade_from, order="rowid")

    def phantoms(self, run_id: str) -> list[PhantomRecord]:
        """Resolved phantoms; each outcome carries its signal as recorded in ``signals``."""
        signals = {rec.signal_id: rec.signal for rec in self.signals(run_id)}
        cur = self._cursor()
        cur.execute("SELECT * FROM phantoms WHERE run_id = ? ORDER BY seq", (run_id,))
        result = []
        for r in cur.fetchall():
            signal = signals.get(r["signal_id"])
            if signal is None:
                raise JournalError(
                    f"run {run_id}: phantom of signal {r['signal_id']!r} has no recorded signal"
                )
            result.append(codec.phantom_from(r, signal))
        return result

    def equity(self, run_id: str) -> list[tuple[int, float]]:
        """The equity curve of a run: (ts, equity) pairs in recording order."""
        return [(p.ts, p.equity) for p in self.equity_points(run_id)]

    def equity_points(self, run_id: str) -> list[EquityPoint]:
        return self._select("equity", run_id, codec.equity_from)

    def events(self, run_id: str) -> list[Event]:
        return self._select("events", run_id, codec.event_from)

    # --- helpers -------------------------------------------------------------------------

    def _cursor(self) -> sqlite3.Cursor:
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur

    def _select(
        self,
        table: str,
        run_id: str,
        decode: Callable[[sqlite3.Row], T],
        order: str = "seq",
    ) -> list[T]:
        # table and order come from this module, never from a caller.
        cur = self._cursor()
        cur.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}", (run_id,))
        return [decode(r) for r in cur.fetchall()]


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    run["summary"] = codec.from_json(run["summary"])
    run["selection"] = codec.from_json(run["selection"])
    return run
