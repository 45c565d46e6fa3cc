"""The journal's tables, created with sqlite-utils, and the schema version check.

Every per-run table carries ``run_id``. A table is keyed either by
``(run_id, id)`` (runs' own ids for signals, intents and trades) or by an
integer ``seq`` (SQLite's rowid), which also keeps rows in the order they
were recorded. Nothing is updated in place except a run's own row
(status, finish, summary, and who runs it after a resume) and the ``kv`` and
``blobs`` stores, which belong to plugins, not to a run. Enums are stored as
their string values, mappings as JSON text, prices and quantities as REAL,
times as INTEGER epoch milliseconds, booleans as INTEGER 0/1, files as BLOB.

Schema history: v1 (garrison 0.1.0); v2 adds who ran a run and what it was
asked to replay (``runs.pid``, ``hostname``, ``selection``, ``resumed_ms``),
``signals.execute`` and ``horizon_ms``, ``orders.reason``,
``positions.signal_id``, the phantoms' ``score`` and prices, and the
``blobs`` and ``checkpoints`` tables; v3 adds each score's provenance
(``scores.model_version``, ``model_hash``) and each outcome's excursions
(``phantoms.mfe_r``, ``mae_r``). The ``phantoms`` table holds the outcome of
every entry signal that has one: phantoms (``phantom`` 1) and, since v3,
traded signals (``phantom`` 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import attrs
from sqlite_utils import Database

from garrison.journal.errors import JournalError

#: The version this code writes. Bump it with every schema change and add a
#: step to ``MIGRATIONS`` that takes a journal from the previous version.
SCHEMA_VERSION = 3

TEXT, INTEGER, REAL, BLOB = "TEXT", "INTEGER", "REAL", "BLOB"


@attrs.frozen
class TableSpec:
    """One table: ordered columns with their SQLite types, primary key and indexes."""

    name: str
    columns: tuple[tuple[str, str], ...]
    pk: tuple[str, ...]
    not_null: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    #: TEXT columns holding JSON whose rows carry the value itself (a dict):
    #: it is encoded where the row is inserted, in the journal's writer
    #: process when the commit runs there (see :mod:`garrison.journal_writer`).
    json_columns: tuple[str, ...] = ()

    @property
    def per_run(self) -> bool:
        """Whether rows belong to a run (and go with it under retention)."""
        return any(name == "run_id" for name, _ in self.columns)

    @property
    def insert_columns(self) -> tuple[str, ...]:
        """Columns an INSERT supplies: all but the ``seq`` rowid, which SQLite assigns."""
        return tuple(name for name, _ in self.columns if name != "seq")

    def insert_sql(self, verb: str = "INSERT") -> str:
        """A parameterised INSERT of ``insert_columns``, in that order."""
        names = self.insert_columns
        marks = ", ".join("?" for _ in names)
        return f"{verb} INTO {self.name} ({', '.join(names)}) VALUES ({marks})"

    @property
    def json_positions(self) -> tuple[int, ...]:
        """Where ``json_columns`` sit in an INSERT's row (positions in ``insert_columns``)."""
        names = self.insert_columns
        return tuple(names.index(name) for name in self.json_columns)


def _seq_table(
    name: str,
    columns: tuple[tuple[str, str], ...],
    index: tuple[str, ...],
    json_columns: tuple[str, ...] = (),
) -> TableSpec:
    # Tables whose rows have no id of their own: a rowid keeps them unique and ordered.
    return TableSpec(
        name=name,
        columns=(("seq", INTEGER), ("run_id", TEXT), *columns),
        pk=("seq",),
        not_null=("run_id",),
        indexes=(("run_id", *index),),
        json_columns=json_columns,
    )


_SIDE_REDUCE_QTY = (("side", TEXT), ("reduce_only", INTEGER), ("qty", REAL))

RUNS = TableSpec(
    name="runs",
    columns=(
        ("id", TEXT),
        ("profile_name", TEXT),
        ("mode", TEXT),
        ("status", TEXT),
        ("started_ms", INTEGER),
        ("finished_ms", INTEGER),
        ("profile_toml", TEXT),
        ("summary", TEXT),
        # v2: the process that runs (or last ran) it, and what it was asked to replay.
        ("pid", INTEGER),
        ("hostname", TEXT),
        ("selection", TEXT),
        ("resumed_ms", INTEGER),
    ),
    pk=("id",),
    not_null=("profile_name", "mode", "status", "started_ms"),
    indexes=(("started_ms",),),
)

SIGNALS = TableSpec(
    name="signals",
    columns=(
        ("run_id", TEXT),
        ("id", TEXT),
        ("strategy", TEXT),
        ("symbol", TEXT),
        ("ts", INTEGER),
        ("side", TEXT),
        ("kind", TEXT),
        ("entry", REAL),
        ("stop", REAL),
        ("take_profit", REAL),
        ("reason", TEXT),
        ("features", TEXT),
        ("bracket_from_fill", INTEGER),
        # v2: phantom-only signals (execute 0) and their phantom horizon.
        ("execute", INTEGER),
        ("horizon_ms", INTEGER),
    ),
    pk=("run_id", "id"),
    not_null=("run_id", "id", "ts"),
    json_columns=("features",),
)

SCORES = _seq_table(
    "scores",
    (
        ("signal_id", TEXT),
        ("scorer", TEXT),
        ("value", REAL),
        ("model", TEXT),
        ("details", TEXT),
        ("mode", TEXT),
        ("passed", INTEGER),
        # v3: which model gave the score (the scorer's version id and the model's hash).
        ("model_version", TEXT),
        ("model_hash", TEXT),
    ),
    index=("signal_id",),
    json_columns=("details",),
)

VETOES = _seq_table(
    "vetoes",
    (
        ("intent_id", TEXT),
        ("stage", TEXT),
        ("reason", TEXT),
        ("halt", INTEGER),
        ("halt_until", INTEGER),
    ),
    index=("intent_id",),
)

INTENTS = TableSpec(
    name="intents",
    columns=(
        ("run_id", TEXT),
        ("id", TEXT),
        ("ts", INTEGER),
        ("symbol", TEXT),
        *_SIDE_REDUCE_QTY,
        ("price", REAL),
        ("stop", REAL),
        ("take_profit", REAL),
        ("order_type", TEXT),
        ("strategy", TEXT),
        ("signal_id", TEXT),
        ("market", TEXT),
        ("approved", INTEGER),
    ),
    pk=("run_id", "id"),
    not_null=("run_id", "id", "ts"),
)

# An order may be recorded again as its status changes: a history, hence a seq key.
ORDERS = _seq_table(
    "orders",
    (
        ("id", TEXT),
        ("intent_id", TEXT),
        ("client_order_id", TEXT),
        ("ts", INTEGER),
        ("symbol", TEXT),
        *_SIDE_REDUCE_QTY,
        ("order_type", TEXT),
        ("status", TEXT),
        ("price", REAL),
        ("reason", TEXT),  # v2
    ),
    index=("id",),
)

FILLS = _seq_table(
    "fills",
    (
        ("order_id", TEXT),
        ("intent_id", TEXT),
        ("ts", INTEGER),
        ("symbol", TEXT),
        *_SIDE_REDUCE_QTY,
        ("price", REAL),
        ("fee", REAL),
        ("reason", TEXT),
    ),
    index=("order_id",),
)

POSITIONS = _seq_table(
    "positions",
    (
        ("ts", INTEGER),
        ("action", TEXT),
        ("symbol", TEXT),
        ("side", TEXT),
        ("qty", REAL),
        ("entry_price", REAL),
        ("entry_ts", INTEGER),
        ("stop", REAL),
        ("take_profit", REAL),
        ("strategy", TEXT),
        ("intent_id", TEXT),
        ("signal_id", TEXT),  # v2
    ),
    index=("symbol",),
)

TRADES = TableSpec(
    name="trades",
    columns=(
        ("run_id", TEXT),
        ("id", TEXT),
        ("symbol", TEXT),
        ("side", TEXT),
        ("qty", REAL),
        ("entry_ts", INTEGER),
        ("entry_price", REAL),
        ("exit_ts", INTEGER),
        ("exit_price", REAL),
        ("exit_reason", TEXT),
        ("pnl", REAL),
        ("fees", REAL),
        ("r_multiple", REAL),
        ("strategy", TEXT),
    ),
    pk=("run_id", "id"),
    not_null=("run_id", "id"),
)

# symbol, side and ts repeat the signal's so phantoms can be queried without a join.
PHANTOMS = _seq_table(
    "phantoms",
    (
        ("signal_id", TEXT),
        ("strategy", TEXT),
        ("symbol", TEXT),
        ("side", TEXT),
        ("signal_ts", INTEGER),
        ("r_multiple", REAL),
        ("exit_reason", TEXT),
        ("closed_ts", INTEGER),
        ("phantom", INTEGER),
        # v2: the gating score the signal got and the prices the outcome was measured between.
        ("score", REAL),
        ("entry_price", REAL),
        ("exit_price", REAL),
        # v3: maximum favourable and adverse excursion in R (both >= 0).
        ("mfe_r", REAL),
        ("mae_r", REAL),
    ),
    index=("signal_id",),
)

EQUITY = _seq_table(
    "equity",
    (("ts", INTEGER), ("balance", REAL), ("equity", REAL), ("open_positions", INTEGER)),
    index=("ts",),
)

EVENTS = _seq_table(
    "events",
    (
        ("ts", INTEGER),
        ("kind", TEXT),
        ("level", TEXT),
        ("source", TEXT),
        ("message", TEXT),
        ("data", TEXT),
    ),
    index=("ts",),
    json_columns=("data",),
)

CANDLES = TableSpec(
    name="candles",
    columns=(
        ("exchange", TEXT),
        ("symbol", TEXT),
        ("timeframe", TEXT),
        ("ts", INTEGER),
        ("open", REAL),
        ("high", REAL),
        ("low", REAL),
        ("close", REAL),
        ("volume", REAL),
    ),
    pk=("exchange", "symbol", "timeframe", "ts"),
    not_null=("exchange", "symbol", "timeframe", "ts"),
)

# The engine's restart state at the end of a step, committed with the rows before it.
CHECKPOINTS = _seq_table(
    "checkpoints",
    (("ts", INTEGER), ("state", TEXT)),
    index=(),
    json_columns=("state",),
)

KV = TableSpec(
    name="kv",
    columns=(("namespace", TEXT), ("key", TEXT), ("value", TEXT)),
    pk=("namespace", "key"),
    not_null=("namespace", "key", "value"),
)

# A component's named files (model weights): not per run, like kv.
BLOBS = TableSpec(
    name="blobs",
    columns=(
        ("namespace", TEXT),
        ("name", TEXT),
        ("sha256", TEXT),
        ("data", BLOB),
        ("size", INTEGER),
        ("updated_ms", INTEGER),
    ),
    pk=("namespace", "name"),
    not_null=("namespace", "name", "sha256", "data", "size", "updated_ms"),
)

SCHEMA_VERSION_TABLE = TableSpec(
    name="schema_version",
    columns=(("version", INTEGER), ("applied_ms", INTEGER)),
    pk=("version",),
)

TABLES: Mapping[str, TableSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            RUNS,
            SIGNALS,
            SCORES,
            VETOES,
            INTENTS,
            ORDERS,
            FILLS,
            POSITIONS,
            TRADES,
            PHANTOMS,
            EQUITY,
            EVENTS,
            CHECKPOINTS,
            CANDLES,
            KV,
            BLOBS,
            SCHEMA_VERSION_TABLE,
        )
    }
)

#: Columns v2 added to v1 tables, in the order ALTER TABLE appends them (the
#: order the specs above list them in, so new and migrated files agree).
_V2_COLUMNS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "runs",
        (("pid", INTEGER), ("hostname", TEXT), ("selection", TEXT), ("resumed_ms", INTEGER)),
    ),
    ("signals", (("execute", INTEGER), ("horizon_ms", INTEGER))),
    ("orders", (("reason", TEXT),)),
    ("positions", (("signal_id", TEXT),)),
    ("phantoms", (("score", REAL), ("entry_price", REAL), ("exit_price", REAL))),
)


def _v1_to_v2(db: Database) -> None:
    """Schema v1 (garrison 0.1.0) to v2: new columns (NULL in old rows) and two new tables."""
    _add_columns(db, _V2_COLUMNS)
    # The tables as v2 defines them; a later version that changes them adds its own step.
    _create_table(db, CHECKPOINTS)
    _create_table(db, BLOBS)


#: Columns v3 added to v2 tables, in the order the specs above list them.
_V3_COLUMNS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("scores", (("model_version", TEXT), ("model_hash", TEXT))),
    ("phantoms", (("mfe_r", REAL), ("mae_r", REAL))),
)


def _add_columns(db: Database, added: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> None:
    for table, columns in added:
        for name, sql_type in columns:
            db.table(table).add_column(name, sql_type)


def _v2_to_v3(db: Database) -> None:
    """Schema v2 to v3: score provenance and outcome excursions (NULL in old rows)."""
    _add_columns(db, _V3_COLUMNS)


#: ``MIGRATIONS[v]`` takes a journal from schema version ``v`` to ``v + 1``, in
#: the transaction that opens the file (a failed step leaves it as it was).
MIGRATIONS: Mapping[int, Callable[[Database], None]] = MappingProxyType(
    {1: _v1_to_v2, 2: _v2_to_v3}
)


def prepare_schema(db: Database, path: Path) -> None:
    """Create the schema in an empty file, migrate an older one, or refuse with a clear error.

    Runs under ``BEGIN IMMEDIATE`` so two processes opening a new file at once
    cannot both try to create it.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        existing = set(db.table_names())
        if not existing:
            _create_all(db)
            _mark_version(db, SCHEMA_VERSION)
        else:
            _migrate(db, path, existing)
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def _create_all(db: Database) -> None:
    for spec in TABLES.values():
        _create_table(db, spec)


def _create_table(db: Database, spec: TableSpec) -> None:
    pk: str | tuple[str, ...] = spec.pk[0] if len(spec.pk) == 1 else spec.pk
    table = db.table(spec.name)
    table.create(dict(spec.columns), pk=pk, not_null=spec.not_null)
    for columns in spec.indexes:
        table.create_index(columns)


def _mark_version(db: Database, version: int) -> None:
    db.conn.execute(
        "INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)",
        (version, int(time.time() * 1000)),
    )


def _migrate(db: Database, path: Path, existing: set[str]) -> None:
    if SCHEMA_VERSION_TABLE.name not in existing:
        raise JournalError(
            f"{path} is not a Garrison journal: it has tables ({', '.join(sorted(existing))}) "
            "but no schema_version table; point [journal] path at a new or journal file"
        )
    row = db.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    version = row[0] if row and row[0] is not None else 0
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer Garrison (journal schema v{version}; this "
            f"version reads up to v{SCHEMA_VERSION}); upgrade garrison to open it"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise JournalError(
                f"{path} has journal schema v{version}, which cannot be migrated to "
                f"v{SCHEMA_VERSION}; start a new journal file"
            )
        step(db)
        version += 1
        _mark_version(db, version)
    missing = sorted(set(TABLES) - set(db.table_names()))
    if missing:
        raise JournalError(
            f"{path} claims journal schema v{version} but lacks tables: {', '.join(missing)}"
        )
