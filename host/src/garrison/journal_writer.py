"""The journal's writer process: commits batches of rows sent by the host, one transaction each.

Run by :class:`garrison.journal.writer.BackgroundWriter` as
``python -m garrison.journal_writer PATH SYNCHRONOUS``; not a command for
people. It lives outside :mod:`garrison.journal` so that starting it imports
nothing but the standard library.

Protocol, over the process's standard input and output, one frame each way
per batch: the host sends a length-prefixed pickle of ``(run_id, batch)``,
``batch`` being :data:`TableRows` tuples; the writer answers
with a length-prefixed pickle of ``None`` once the batch is committed, or of
an error message once it is rolled back. End of input: the writer closes the
file and exits.

When the host is gone (killed: its end of the pipes closes), the writer
finds its answer refused (a broken pipe) or its input ended inside a frame.
Every batch it committed stays committed; it rolls back whatever it has
not, closes the file and exits with one line on stderr, no traceback. It
ignores Ctrl-C, which a terminal sends to the host and the writer alike:
the host decides, and the writer exits when the host closes its input.
"""

from __future__ import annotations

import enum
import gc
import json
import os
import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Mapping, Sequence
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


def _json_default(value: object) -> object:
    # Called by json only for types it does not know.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serialisable")


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)

# The C encoder behind it, called directly: JSONEncoder.encode makes a new one
# per call, and features and event data are encoded for every signal and event.
# Without circular-reference markers, which flat values do not need; a cycle
# ends in RecursionError, reported as ValueError below.
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None,
        _json_default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
)


def to_json(value: object) -> str:
    """Compact JSON of ``value``; mappings, enums and numpy scalars are accepted.

    NaN and infinities are written as ``NaN``/``Infinity`` (Python's JSON
    extension) so features round-trip exactly.
    """
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    if isinstance(value, str):
        return json.encoder.encode_basestring_ascii(value)
    try:
        return "".join(_C_ENCODE(value, 0))
    except RecursionError as exc:
        raise ValueError(f"value is too deeply nested or circular: {exc}") from None


#: One table's share of a batch: its name, its INSERT, the positions in each
#: row of values still to be written as JSON, and the rows.
TableRows = tuple[str, str, tuple[int, ...], Sequence[tuple[object, ...]]]


def _with_json(
    rows: Sequence[tuple[object, ...]], positions: tuple[int, ...]
) -> list[list[object]]:
    encoded = []
    for row in rows:
        values = list(row)
        for at in positions:
            value = values[at]
            values[at] = "{}" if not value else to_json(value)
        encoded.append(values)
    return encoded


def insert_rows(conn: sqlite3.Connection, run_id: str, batch: Sequence[TableRows]) -> str | None:
    """Insert ``batch`` in the transaction the caller holds; None, or what went wrong (and where).

    JSON columns are encoded here, so that in a replay the writer process
    spends the time, not the engine. The host's own foreground commits use
    this too, so both say the same.
    """
    for table, sql, json_positions, rows in batch:
        try:
            conn.executemany(sql, _with_json(rows, json_positions) if json_positions else rows)
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


#: Exit status when the host went away without ending the input cleanly.
HOST_GONE = 3


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nobody to tell


def serve(path: str, synchronous: str, source: BinaryIO, sink: BinaryIO) -> int:
    """Commit each batch read from ``source``, answering on ``sink``; the exit status.

    0 at a clean end of input; :data:`HOST_GONE` (after one line on stderr)
    when the host went away: input ended inside a frame, or the answer could
    not be written.
    """
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        while True:
            try:
                frame = read_frame(source)
            except EOFError as exc:
                _say(f"garrison journal writer: the host went away ({exc}); batch not written")
                return HOST_GONE
            if frame is None:
                return 0
            run_id, batch = pickle.loads(frame)
            answer = pickle.dumps(commit(conn, run_id, batch), protocol=5)
            try:
                write_frame(sink, answer)
            except (BrokenPipeError, ConnectionResetError):
                _say("garrison journal writer: the host went away; its last batch is committed")
                return HOST_GONE
    finally:
        if conn.in_transaction:  # nothing half-written is left behind
            conn.rollback()
        conn.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("normal", "full"):
        sys.stderr.write("usage: python -m garrison.journal_writer PATH normal|full\n")
        return 2
    # Batches are tuples and dicts of plain values, freed by reference counting;
    # the cyclic collector would only walk every batch as it is unpickled.
    gc.disable()
    # Ctrl-C reaches the host and its writer alike: the host decides what
    # happens, and ends the writer by closing its input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Answers go to a private copy of stdout; anything else printed lands on stderr.
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(argv[0], argv[1], sys.stdin.buffer, sink)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # Everything is committed and the connection closed: leave without the
    # interpreter's teardown, which the host would otherwise wait ~10 ms for
    # (and which would try again to flush an answer nobody can read).
    try:
        sys.stderr.flush()
    finally:
        os._exit(code)
