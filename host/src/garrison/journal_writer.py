"""The journal's writer process: commits batches of rows sent by the host, one transaction each.

Run by :class:`garrison.journal.writer.BackgroundWriter` as
``python -m garrison.journal_writer PATH SYNCHRONOUS``; not a command for
people. It lives outside :mod:`garrison.journal` so that starting it imports
nothing but the standard library.

Protocol, over the process's standard input and output, one frame each way
per batch: the host sends a length-prefixed pickle of ``(run_id, batch)``,
``batch`` being ``(table, insert_sql, rows)`` triples; the writer answers
with a length-prefixed pickle of ``None`` once the batch is committed, or of
an error message once it is rolled back. End of input: the writer closes the
file and exits.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import struct
import sys
from collections.abc import Sequence
from typing import BinaryIO

_LENGTH = struct.Struct("<Q")
BUSY_TIMEOUT_S = 60.0


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next length-prefixed frame, or None at a clean end of the stream."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) != _LENGTH.size:
        raise EOFError("stream ended inside a frame header")
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) != size:
        raise EOFError(f"stream ended after {len(body)} of {size} bytes of a frame")
    return body


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


#: One table's share of a batch: its name, its INSERT and the encoded rows.
TableRows = tuple[str, str, Sequence[tuple[object, ...]]]


def insert_rows(conn: sqlite3.Connection, run_id: str, batch: Sequence[TableRows]) -> str | None:
    """Insert ``batch`` in the transaction the caller holds; None, or what went wrong (and where).

    The host's own foreground commits use it too, so both say the same.
    """
    for table, sql, rows in batch:
        try:
            conn.executemany(sql, rows)
        except (sqlite3.Error, TypeError, ValueError) as exc:
            return (
                f"writing {len(rows)} buffered row(s) to journal table {table!r} "
                f"of run {run_id} failed: {exc}"
            )
    return None


def commit(conn: sqlite3.Connection, run_id: str, batch: Sequence[TableRows]) -> str | None:
    """Write ``batch`` in one transaction; None when committed, else what went wrong."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return f"cannot start a journal commit: {exc}"
    try:
        problem = insert_rows(conn, run_id, batch)
        if problem is not None:
            conn.execute("ROLLBACK")
            return problem
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return f"journal commit failed: {exc}"
    return None


def serve(path: str, synchronous: str, source: BinaryIO, sink: BinaryIO) -> int:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        while True:
            frame = read_frame(source)
            if frame is None:
                return 0
            run_id, batch = pickle.loads(frame)
            write_frame(sink, pickle.dumps(commit(conn, run_id, batch), protocol=5))
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("normal", "full"):
        sys.stderr.write("usage: python -m garrison.journal_writer PATH normal|full\n")
        return 2
    # Answers go to a private copy of stdout; anything else printed lands on stderr.
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(argv[0], argv[1], sys.stdin.buffer, sink)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
