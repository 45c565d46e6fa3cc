"""The SQLite journal: the source of truth of every run (see :mod:`garrison.journal.journal`)."""

from garrison.journal.blobs import BlobStore
from garrison.journal.errors import JournalError
from garrison.journal.journal import Journal
from garrison.journal.kv import KvStore
from garrison.journal.reader import JournalReader
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
from garrison.journal.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "BlobStore",
    "EquityPoint",
    "IntentRecord",
    "Journal",
    "JournalError",
    "JournalReader",
    "KvStore",
    "PhantomRecord",
    "PositionRecord",
    "RunRow",
    "ScoreRecord",
    "SignalRecord",
    "VetoRecord",
]
