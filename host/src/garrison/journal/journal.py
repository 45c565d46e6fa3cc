"""The journal: one SQLite file (WAL) that is the source of truth of every run.

Writing is split in two. ``record_*`` calls come from the engine's hot loop
and only append their arguments to an in-memory buffer: no SQL, no
conversion. Buffered rows reach the file at the next commit, as one
``executemany`` per table in one transaction: ``flush()`` (which the engine
calls every few thousand candles and at the end), ``commit_intent()``
(which writes the intent together with everything recorded before it), and
``finish_run()``/``close()``.

Durability: once ``commit_intent`` or ``flush`` returns, the rows are in the
WAL. With ``synchronous="normal"`` (the default) a committed row survives the
process being killed (SIGKILL, a crash) but the last commits may be lost if
the machine loses power; with ``synchronous="full"`` every commit is synced
to disk first and survives power loss too, at the cost of an fsync per
commit. Rows still buffered when the process dies are lost by design.

Threads: a journal belongs to the ONE thread that opened it (the engine's);
sqlite3 refuses use from another thread. Other processes may read the file
at the same time (WAL), see :meth:`JournalReader.open_readonly`.

Runs and processes: a run's row names the process running it. Opening a
journal for writing marks ``interrupted`` every run left ``running`` by a
process of this host that is gone (see :mod:`garrison.journal.owners`);
:attr:`Journal.abandoned_runs` lists them. :meth:`Journal.resume_run` makes
an interrupted run the open run again, to carry on from its last
checkpoint (:meth:`Journal.record_checkpoint`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

import numpy.typing as npt
from garrison_api import (
    Event,
    Fill,
    Level,
    Order,
    OrderIntent,
    OrderStatus,
    Outcome,
    Position,
    Scalar,
    Score,
    Signal,
    Trade,
    Veto,
)
from sqlite_utils import Database

from garrison.journal import candles, codec
from garrison.journal.blobs import BlobStore
from garrison.journal.errors import JournalError
from garrison.journal.kv import KvStore
from garrison.journal.owners import Owner, abandoned
from garrison.journal.reader import JournalReader
from garrison.journal.run_ids import new_run_id
from garrison.journal.schema import TABLES, TableSpec, prepare_schema
from garrison.journal.writer import BUSY_TIMEOUT_S, BackgroundWriter, TableRows
from garrison.journal_writer import insert_rows, to_json
from garrison.profile.model import Mode

SYNCHRONOUS = ("normal", "full")
MODES = tuple(mode.value for mode in Mode)
FINISHED_STATUSES = ("completed", "failed", "interrupted")
#: Statuses a run cannot be resumed from: it ended on its own.
ENDED_STATUSES = ("completed", "failed")
POSITION_ACTIONS = frozenset({"open", "close", "update"})
SCORER_MODES = frozenset({"gate", "shadow"})

_DAY_MS = 86_400_000
# Retention keeps trades and runs forever: they are the record a report is built from.
_KEPT_BY_RETENTION = frozenset({"runs", "trades"})
#: The runs whose rows retention deletes: finished before the cutoff (the parameter).
OLD_RUNS_SQL = (
    "SELECT id FROM runs WHERE status != 'running' AND finished_ms IS NOT NULL AND finished_ms < ?"
)

T = TypeVar("T")


class _Buffer(Generic[T]):
    """Recorded items of one table waiting for the next commit."""

    __slots__ = ("encode", "items", "json_positions", "spec", "sql")

    def __init__(self, spec: TableSpec, encode: Callable[[str, T], codec.Row]) -> None:
        self.spec = spec
        self.sql = spec.insert_sql()
        self.json_positions = spec.json_positions
        self.encode = encode
        # Never replaced, only cleared: Journal keeps this list's bound append.
        self.items: list[T] = []

    def encoded(self, run_id: str) -> TableRows:
        """The buffered items as rows for the table's INSERT (the buffer is left as it is)."""
        encode = self.encode
        try:
            rows = [encode(run_id, item) for item in self.items]
        except (TypeError, ValueError, AttributeError) as exc:
            raise JournalError(
                f"writing {len(self.items)} buffered row(s) to journal table "
                f"{self.spec.name!r} of run {run_id} failed: {exc}"
            ) from exc
        return (self.spec.name, self.sql, self.json_positions, rows)


def _write_rows(conn: sqlite3.Connection, run_id: str, batch: Sequence[TableRows]) -> None:
    problem = insert_rows(conn, run_id, batch)
    if problem is not None:
        raise JournalError(problem)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _describe(owner: tuple[int | None, str | None]) -> str:
    pid, hostname = owner
    if pid is None:
        return "no recorded process (journal schema v1)"
    return f"process {pid} on {hostname}"


class Journal(JournalReader):
    """The journal of one host process; see the module docstring for commits and durability.

    Make one with :meth:`open`; call :meth:`start_run` before recording.
    """

    def __init__(self, db: Database, path: Path, *, synchronous: str = "normal") -> None:
        super().__init__(db.conn)
        self._db = db
        self.path = path
        self._run_id: str | None = None
        self._run_open = False
        self._closed = False
        self._writer = BackgroundWriter(path, synchronous=synchronous)
        #: The batch the writer process is committing, if any.
        self._inflight: list[TableRows] | None = None
        #: Encoded rows of a commit that failed, written first by the next one.
        self._retry: list[TableRows] = []
        self._curve: list[tuple[int, float]] = []
        self._curve_append = self._curve.append
        self._owner = Owner.current()
        #: Runs this journal found abandoned when it was opened and marked
        #: ``interrupted`` (see the module docstring), for the caller to report.
        self.abandoned_runs: tuple[str, ...] = ()

        self._signals = _Buffer[codec.SignalItem](TABLES["signals"], codec.signal_row)
        self._scores = _Buffer[codec.ScoreItem](TABLES["scores"], codec.score_row)
        self._vetoes = _Buffer[codec.VetoItem](TABLES["vetoes"], codec.veto_row)
        self._intents = _Buffer[codec.IntentItem](TABLES["intents"], codec.intent_row)
        self._orders = _Buffer[codec.OrderItem](TABLES["orders"], codec.order_row)
        self._fills = _Buffer[Fill](TABLES["fills"], codec.fill_row)
        self._positions = _Buffer[codec.PositionItem](TABLES["positions"], codec.position_row)
        self._trades = _Buffer[Trade](TABLES["trades"], codec.trade_row)
        self._phantoms = _Buffer[codec.PhantomItem](TABLES["phantoms"], codec.phantom_row)
        self._equity = _Buffer[codec.EquityItem](TABLES["equity"], codec.equity_row)
        self._events = _Buffer[codec.EventItem](TABLES["events"], codec.event_row)
        self._checkpoints = _Buffer[codec.CheckpointItem](
            TABLES["checkpoints"], codec.checkpoint_row
        )
        self._buffers: tuple[_Buffer[Any], ...] = (
            self._signals,
            self._scores,
            self._vetoes,
            self._intents,
            self._orders,
            self._fills,
            self._positions,
            self._trades,
            self._phantoms,
            self._equity,
            self._events,
            self._checkpoints,
        )
        # Bound appends: the whole cost of a record_* call in the hot loop.
        self._add_signal = self._signals.items.append
        self._add_score = self._scores.items.append
        self._add_veto = self._vetoes.items.append
        self._add_intent = self._intents.items.append
        self._add_order = self._orders.items.append
        #: Where in the orders buffer each order's row waits for the next commit.
        self._order_rows: dict[str, int] = {}
        self._add_fill = self._fills.items.append
        self._add_position = self._positions.items.append
        self._add_trade = self._trades.items.append
        self._add_phantom = self._phantoms.items.append
        self._add_equity = self._equity.items.append
        self._add_event = self._events.items.append
        self._add_checkpoint = self._checkpoints.items.append

    # --- opening and runs ----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "normal") -> Journal:
        """Open (creating or migrating) the journal at ``path``, in WAL mode.

        ``synchronous`` is ``"normal"`` (survives a killed process) or
        ``"full"`` (also survives power loss); see the module docstring.
        Missing parent directories are created. Runs abandoned by a process
        that is gone are marked ``interrupted`` (:attr:`abandoned_runs`).
        """
        if synchronous not in SYNCHRONOUS:
            raise JournalError(
                f"journal synchronous must be one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}"
            )
        path = Path(path)
        if path.exists() and not path.is_file():
            raise JournalError(f"journal path {path} exists and is not a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        db: Database | None = None
        try:
            # No sqlite-utils plugins: the host loads only what it chose to load.
            db = Database(path, execute_plugins=False)
            db.enable_wal()
            db.conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            # The writer process's connection may hold the file for a moment.
            db.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            prepare_schema(db, path)
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        except BaseException:
            if db is not None:
                db.close()
            raise
        journal = cls(db, path, synchronous=synchronous)
        try:
            journal._mark_abandoned()
        except sqlite3.Error as exc:
            journal.close()
            raise JournalError(f"cannot mark abandoned runs in journal {path}: {exc}") from exc
        except BaseException:
            journal.close()
            raise
        return journal

    def _mark_abandoned(self) -> None:
        """Mark ``interrupted`` the runs left ``running`` by a process that is gone."""
        here = self._owner
        select = "SELECT id, pid, hostname FROM runs WHERE status = 'running' ORDER BY started_ms"
        if not any(
            abandoned(pid, host, here) for _, pid, host in self._conn.execute(select).fetchall()
        ):
            return  # the usual case: no write lock taken
        marked = []
        now = _now_ms()
        with self._immediate() as conn:
            # Again under the write lock: another process may have resumed one meanwhile.
            for run_id, pid, host in conn.execute(select).fetchall():
                if not abandoned(pid, host, here):
                    continue
                message = (
                    f"run found abandoned when process {here.pid} on {here.hostname} opened "
                    f"the journal: it was left running by {_describe((pid, host))}, which is gone"
                )
                summary = {"status": "interrupted", "abandoned": True, "message": message}
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_ms = ?, summary = ? "
                    "WHERE id = ? AND status = 'running'",
                    (now, to_json(summary), run_id),
                )
                marked.append(run_id)
        self.abandoned_runs = tuple(marked)

    def start_run(
        self,
        *,
        profile_name: str,
        mode: str,
        profile_toml: str,
        started_ms: int,
        selection: Mapping[str, Any] | None = None,
    ) -> str:
        """Begin a new run: insert its ``runs`` row (status ``running``), commit, return its id.

        ``selection`` is what the user asked to replay, recorded as JSON with
        the run (``{"paths": [...], "from": "2025-10-01", "to": None}``); the
        row also names this process (pid and hostname). Earlier runs in the
        file are kept; a journal holds one open run at a time.
        """
        self._check_open()
        if self._run_open:
            raise JournalError(
                f"run {self._run_id} is still open in {self.path}; finish_run() it first"
            )
        if not isinstance(profile_name, str) or not profile_name:
            raise JournalError(
                f"start_run: profile_name must be a non-empty string, got {profile_name!r}"
            )
        if mode not in MODES:
            raise JournalError(f"start_run: mode must be one of {', '.join(MODES)}, got {mode!r}")
        selection_json = None if selection is None else self._selection_json(selection)
        started_ms = int(started_ms)
        for _ in range(100):
            run_id = new_run_id(started_ms)
            exists = self._conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
            if exists is None:
                break
        else:  # pragma: no cover - 100 clashes of a random suffix
            raise JournalError(f"could not find a free run id in {self.path}")
        owner = self._owner
        with self._db.atomic():
            self._conn.execute(
                "INSERT INTO runs (id, profile_name, mode, status, started_ms, profile_toml, "
                "pid, hostname, selection) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    run_id,
                    profile_name,
                    mode,
                    started_ms,
                    profile_toml,
                    owner.pid,
                    owner.hostname,
                    selection_json,
                ),
            )
        self._run_id = run_id
        self._run_open = True
        self._curve.clear()
        return run_id

    @staticmethod
    def _selection_json(selection: Mapping[str, Any]) -> str:
        if not isinstance(selection, Mapping):
            raise JournalError(
                f"start_run: selection must be a mapping, got {type(selection).__name__}"
            )
        try:
            return to_json(dict(selection))
        except (TypeError, ValueError) as exc:
            raise JournalError(f"start_run: selection is not JSON-serialisable: {exc}") from exc

    def resume_run(self, run_id: str) -> str:
        """Make the interrupted run ``run_id`` this journal's open run again; return its id.

        The run's row becomes ``running`` again, names this process, gets
        ``resumed_ms`` (now) and loses its finish time and summary until it
        finishes again. Refused with a JournalError naming the run when it
        ended on its own (``completed``, ``failed``), or when it is
        ``running`` in a process that is alive (or on another host, where
        that cannot be checked).
        """
        self._check_open()
        if self._run_open:
            raise JournalError(
                f"run {self._run_id} is still open in {self.path}; finish_run() it before "
                f"resuming run {run_id}"
            )
        here = self._owner
        with self._immediate() as conn:
            row = conn.execute(
                "SELECT status, pid, hostname FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise JournalError(f"no run {run_id!r} in {self.path} to resume")
            status, pid, hostname = row
            if status in ENDED_STATUSES:
                raise JournalError(
                    f"run {run_id} in {self.path} is {status}: only an interrupted run can be "
                    "resumed"
                )
            if status == "running" and not abandoned(pid, hostname, here):
                if hostname != here.hostname:
                    where = f"process {pid} on {hostname} (another host: it cannot be checked)"
                elif pid == here.pid:
                    where = "this process"
                else:
                    where = f"process {pid} on {hostname}"
                raise JournalError(
                    f"run {run_id} in {self.path} is still running in {where}; stop that "
                    "process before resuming it"
                )
            conn.execute(
                "UPDATE runs SET status = 'running', finished_ms = NULL, summary = NULL, "
                "resumed_ms = ?, pid = ?, hostname = ? WHERE id = ?",
                (_now_ms(), here.pid, here.hostname, run_id),
            )
        self._run_id = run_id
        self._run_open = True
        self._curve.clear()
        return run_id

    @property
    def synchronous(self) -> str:
        """The connection's ``PRAGMA synchronous`` setting, as ``normal`` or ``full`` (or other)."""
        level = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        return {0: "off", 1: "normal", 2: "full", 3: "extra"}.get(level, str(level))

    @property
    def run_id(self) -> str:
        """The id of the current (or last finished) run."""
        if self._run_id is None:
            raise JournalError(f"no run started in {self.path}; call start_run() first")
        return self._run_id

    # --- buffered records: written at the next commit ------------------------------------

    def record_signal(self, signal_id: str, strategy: str, signal: Signal) -> None:
        """Buffer a signal of ``strategy`` under its unique ``signal_id``."""
        self._add_signal((signal_id, strategy, signal))

    def record_score(
        self, signal_id: str, scorer: str, score: Score, mode: str, passed: bool
    ) -> None:
        """Buffer a scorer's verdict; ``mode`` is ``gate`` or ``shadow``."""
        if mode not in SCORER_MODES:
            raise JournalError(f"record_score: mode must be gate or shadow, got {mode!r}")
        self._add_score((signal_id, scorer, score, mode, passed))

    def record_veto(self, intent_id: str, veto: Veto) -> None:
        """Buffer one risk rule's refusal of an intent."""
        self._add_veto((intent_id, veto))

    def record_intent(self, intent: OrderIntent, approved: bool) -> None:
        """Buffer an intent, for replay: it reaches the file at the next commit.

        Only where no real order depends on it. Before an order reaches a
        real broker, use :meth:`commit_intent` (or ``flush`` before releasing it).
        """
        self._add_intent((intent, approved))

    def record_order(self, order: Order) -> None:
        """Buffer an order; record it again when its status changes (a history)."""
        self._order_rows[order.id] = len(self._orders.items)
        self._add_order(order)

    def record_order_status(
        self, order: Order, status: OrderStatus, price: float | None, reason: str
    ) -> None:
        """Record ``order``'s new status, price and reason (no new Order is built).

        The row is the one ``record_order(attrs.evolve(order, status=..., ...))``
        would write. Committed rows are a history: each change after the
        order's last commit adds a row. A change while the order's row still
        waits for its commit replaces that row instead: the two would land in
        one transaction, so no reader could ever have seen the first (in a
        replay most orders open and fill between two commits; live, an order
        is committed before it is sent, so every change there is a new row).
        """
        item = (order, status, price, reason)
        at = self._order_rows.get(order.id)
        if at is None:
            self._order_rows[order.id] = len(self._orders.items)
            self._add_order(item)
        else:
            self._orders.items[at] = item

    def record_fill(self, fill: Fill) -> None:
        self._add_fill(fill)

    def record_position(self, ts: int, action: str, position: Position) -> None:
        """Buffer a step of a position's history; ``action``: open, close or update."""
        if action not in POSITION_ACTIONS:
            raise JournalError(
                f"record_position: action must be open, close or update, got {action!r}"
            )
        self._add_position((ts, action, position))

    def record_trade(self, trade: Trade) -> None:
        self._add_trade(trade)

    def record_phantom(self, signal_id: str, strategy: str, outcome: Outcome) -> None:
        """Buffer a resolved phantom of the recorded signal ``signal_id``."""
        self._add_phantom((signal_id, strategy, outcome))

    def record_equity(self, ts: int, balance: float, equity: float, open_positions: int) -> None:
        self._add_equity((ts, balance, equity, open_positions))
        self._curve_append((ts, equity))

    def recorded_equity(self) -> list[tuple[int, float]]:
        """The (ts, equity) points recorded in this run so far, as ``equity(run_id)`` reads them.

        Kept in memory so a replay's report does not read the curve back.
        """
        return list(self._curve)

    def record_event(self, event: Event) -> None:
        e = event
        self.record_event_fields(e.ts, e.kind, e.message, e.level, e.source, e.data)

    def record_event_fields(
        self,
        ts: int,
        kind: str,
        message: str,
        level: Level,
        source: str,
        data: Mapping[str, Scalar],
    ) -> None:
        """``record_event(Event(...))`` of these fields, without building the Event.

        ``data`` is journaled as it is at the next commit: pass a dict nobody changes.
        """
        self._add_event((ts, kind, level._value_, source, message, data))

    def record_checkpoint(self, ts: int, state: Mapping[str, Any]) -> None:
        """Buffer the engine's restart state at ``ts``; it commits with the rows before it.

        ``state`` is a JSON-able mapping, journaled as it is at the next
        commit: pass one nobody changes. :meth:`last_checkpoint` reads the
        newest committed one back.
        """
        if not isinstance(state, Mapping):
            raise JournalError(
                f"record_checkpoint: state must be a mapping, got {type(state).__name__}"
            )
        self._add_checkpoint((ts, state))

    @property
    def pending(self) -> int:
        """How many recorded rows wait for the next commit (not counting one under way)."""
        retry = sum(len(rows) for _, _, _, rows in self._retry)
        return retry + sum(len(buffer.items) for buffer in self._buffers)

    # --- commits -------------------------------------------------------------------------

    def commit_intent(self, intent: OrderIntent, approved: bool) -> None:
        """Write every buffered row and ``intent`` in one transaction; return once committed.

        The broker may see the intent only after this returns, so a restart
        finds every order it could have sent. An intent id used twice in a
        run is an error.
        """
        self._settle()
        run_id = self._writable_run()
        row = codec.intent_row(run_id, (intent, approved))
        batch = self._encode_pending(run_id)
        with self._db.atomic():
            _write_rows(self._raw_conn, run_id, batch)
            try:
                self._raw_conn.execute(TABLES["intents"].insert_sql(), row)
            except sqlite3.IntegrityError as exc:
                raise JournalError(
                    f"intent {intent.id!r} is already in run {run_id} of {self.path}: {exc}"
                ) from exc
        self._clear_pending()

    def flush(self, *, background: bool = False) -> None:
        """Commit every buffered row in one transaction (nothing to do when none are buffered).

        If writing fails, the transaction is rolled back, the rows stay
        buffered, and a JournalError names the table.

        With ``background`` the rows are encoded here and committed by the
        journal's writer process while the caller carries on; batches land in
        the order they were flushed. Any later use of the journal (a
        foreground flush, a read, ``commit_intent``, ``close``) first waits for
        that commit, and raises its JournalError if it failed; the failed rows are
        kept and written by the next commit. While the writer is still busy
        with the previous batch, a background flush does not wait: the rows
        stay buffered and go with the next one. Use it where nothing outside
        the process depends on the rows yet (replay); before a real order is
        sent, commit in the foreground.
        """
        if background and self._inflight is not None and not self._writer.ready():
            return
        self._settle()
        if not self._retry and not any(buffer.items for buffer in self._buffers):
            return
        run_id = self._writable_run()
        batch = self._encode_pending(run_id)
        if background and self._writer.submit(batch, run_id):
            self._clear_pending()
            self._inflight = batch
            return
        with self._db.atomic():
            _write_rows(self._raw_conn, run_id, batch)
        self._clear_pending()

    def finish_run(self, *, status: str, finished_ms: int, summary: Mapping[str, Any]) -> None:
        """Flush, then set the run's status (completed, failed or interrupted) and summary.

        If the final flush fails, the run is still closed, as ``failed`` with
        the error in its summary under ``journal_error``, and the error is raised.
        """
        if status not in FINISHED_STATUSES:
            raise JournalError(
                f"finish_run: status must be one of {', '.join(FINISHED_STATUSES)}, got {status!r}"
            )
        run_id = self._writable_run()
        try:
            summary_json = to_json(dict(summary))
        except (TypeError, ValueError) as exc:
            raise JournalError(f"finish_run: summary is not JSON-serialisable: {exc}") from exc
        flush_error: JournalError | None = None
        try:
            self.flush()
        except JournalError as exc:
            flush_error = exc
            status = "failed"
            summary_json = to_json({**dict(summary), "journal_error": str(exc)})
        with self._db.atomic():
            self._conn.execute(
                "UPDATE runs SET status = ?, finished_ms = ?, summary = ? WHERE id = ?",
                (status, int(finished_ms), summary_json, run_id),
            )
        self._run_open = False
        self._clear_pending()
        if flush_error is not None:
            raise flush_error

    def close(self) -> None:
        """Flush buffered rows and close the file. A run not finished stays ``running``.

        Once this process has ended, the next :meth:`open` marks such a run
        ``interrupted`` (see the module docstring).
        """
        if self._closed:
            return
        try:
            if self._inflight is not None or self.pending:
                self.flush()
        finally:
            self._closed = True
            # This connection first: with the writer's still open it is not the
            # file's last, so it does not checkpoint the WAL; the writer process
            # does, after this returns.
            try:
                self._db.close()
            finally:
                self._writer.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- candles, plugin storage, retention ----------------------------------------------

    def write_candles(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        rows: npt.ArrayLike,
        *,
        replace: bool = False,
    ) -> int:
        """Store ``(n, 6)`` candles (ts, o, h, l, c, v), ignoring bars already stored.

        Commits at once and returns how many bars were written: the new ones,
        and with ``replace`` the stored ones whose values differed, which are
        overwritten. Candles are not per run.
        """
        counts = self.store_candles(exchange, symbol, timeframe, rows, replace=replace)
        return counts.new + counts.replaced

    def store_candles(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        rows: npt.ArrayLike,
        *,
        replace: bool = False,
    ) -> candles.CandleCounts:
        """Like :meth:`write_candles`, with the new and replaced bars counted apart."""
        self._check_open()
        self._settle()
        return candles.store_candles(self._db, exchange, symbol, timeframe, rows, replace=replace)

    def kv(self, namespace: str) -> KvStore:
        """The key-value store of one plugin namespace (JSON values, kept across runs)."""
        self._check_open()
        self._settle()
        return KvStore(self._db, namespace)

    def blobs(self, namespace: str) -> BlobStore:
        """The blob store of one plugin namespace (named files, kept across runs)."""
        self._check_open()
        self._settle()
        return BlobStore(self._db, namespace)

    def retention(self, days: int, now_ms: int) -> int:
        """Delete rows of runs finished more than ``days`` days before ``now_ms``.

        Trades and the runs themselves are kept, as are candles and plugin
        storage (kv and blobs, not per run). Checkpoints of those runs go
        too, so a run interrupted that long ago can no longer be resumed. A
        ``running`` run is never touched. One transaction; every delete
        finds its rows through an index that starts with ``run_id``. Meant
        to be called at each run start. Returns how many rows were deleted.
        """
        self._check_open()
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise JournalError(f"retention: days must be a whole number >= 0, got {days!r}")
        self._settle()
        cutoff = int(now_ms) - days * _DAY_MS
        deleted = 0
        # The write lock first: no run can be resumed between two of the deletes.
        with self._immediate() as conn:
            for spec in TABLES.values():
                if spec.per_run and spec.name not in _KEPT_BY_RETENTION:
                    cur = conn.execute(
                        f"DELETE FROM {spec.name} WHERE run_id IN ({OLD_RUNS_SQL})", (cutoff,)
                    )
                    deleted += cur.rowcount
        return deleted

    # --- internals -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the write lock from the start, for read-then-write changes."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")

    def _writable_run(self) -> str:
        self._check_open()
        run_id = self.run_id
        if not self._run_open:
            raise JournalError(
                f"run {run_id} in {self.path} is finished; start_run() before recording more"
            )
        return run_id

    def start_background_writer(self) -> None:
        """Start the writer process of ``flush(background=True)`` ahead of the first flush."""
        self._check_open()
        self._writer.start()

    @property
    def writer_problem(self) -> str | None:
        """Why background commits fell back to the foreground, if they did."""
        return self._writer.broken

    def _settle(self) -> None:
        """Wait for the background commit under way; raise its error if it failed."""
        batch, self._inflight = self._inflight, None
        if batch is None:
            return
        try:
            self._writer.wait()
        except JournalError:
            # Nothing of the failed batch reached the file: keep it for the next commit.
            self._retry = batch + self._retry
            if self._writer.broken:
                return  # the next flush writes it in the foreground
            raise

    def _encode_pending(self, run_id: str) -> list[TableRows]:
        # Retried rows first: they were recorded before anything buffered now.
        return self._retry + [buffer.encoded(run_id) for buffer in self._buffers if buffer.items]

    def _clear_pending(self) -> None:
        self._retry = []
        for buffer in self._buffers:
            buffer.items.clear()
        self._order_rows.clear()
