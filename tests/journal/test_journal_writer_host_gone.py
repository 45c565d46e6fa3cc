"""The journal writer process leaves quietly when the host is gone.

A host killed mid-run (SIGKILL) leaves its writer with nobody reading its
answers (a broken pipe) or with a frame cut short on its input. The writer
keeps what it committed, rolls back nothing-but-its-own uncommitted work,
closes its connection and exits with at most one line on stderr: no
traceback in the operator's terminal.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import BinaryIO, cast

from garrison.journal.writer import WRITER_MODULE
from garrison.journal_writer import read_frame, write_frame

INSERT = "INSERT INTO t (a, b) VALUES (?, ?)"


def _table(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.commit()
    conn.close()


def _rows(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT a, b FROM t ORDER BY a").fetchall()
    finally:
        conn.close()


def _batch(*values: int) -> bytes:
    batch = [("t", INSERT, (), [(v, f"row {v}") for v in values])]
    return pickle.dumps(("run-1", batch), protocol=5)


def _writer(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", WRITER_MODULE, str(path), "normal"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _send(proc: subprocess.Popen[bytes], payload: bytes) -> None:
    assert proc.stdin is not None
    write_frame(cast(BinaryIO, proc.stdin), payload)


def _committed(proc: subprocess.Popen[bytes]) -> bool:
    """True when the writer answered that its batch is committed."""
    assert proc.stdout is not None
    frame = read_frame(cast(BinaryIO, proc.stdout))
    return frame is not None and pickle.loads(frame) is None


def _stderr(proc: subprocess.Popen[bytes]) -> bytes:
    """Its stderr, once it has exited; every pipe of ours closed."""
    assert proc.stderr is not None
    text = proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return text


def _quiet(stderr: bytes) -> None:
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    assert "Exception ignored" not in text, text
    assert len(text.strip().splitlines()) <= 1, text


def test_nobody_reading_its_answers_ends_the_writer_quietly(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _table(path)
    proc = _writer(path)
    _send(proc, _batch(1, 2))
    assert _committed(proc)
    assert proc.stdout is not None
    proc.stdout.close()  # the host's reading end is gone, as when it is killed
    _send(proc, _batch(3))
    assert proc.wait(timeout=60) != 0
    _quiet(_stderr(proc))
    # Batch 3 was committed before its answer could not be sent.
    assert _rows(path) == [(1, "row 1"), (2, "row 2"), (3, "row 3")]


def test_input_ending_inside_a_frame_ends_the_writer_quietly(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _table(path)
    proc = _writer(path)
    _send(proc, _batch(1))
    assert _committed(proc)
    frame = _batch(2)
    assert proc.stdin is not None
    proc.stdin.write(len(frame).to_bytes(8, "little") + frame[: len(frame) // 2])
    proc.stdin.close()  # the host died halfway through sending a batch
    assert proc.wait(timeout=60) != 0
    _quiet(_stderr(proc))
    assert _rows(path) == [(1, "row 1")]


def test_input_ending_inside_a_frame_header_ends_the_writer_quietly(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _table(path)
    proc = _writer(path)
    _, stderr = proc.communicate(b"\x05\x00\x00", timeout=60)
    assert proc.returncode != 0
    _quiet(stderr)
    assert _rows(path) == []


# A host that acknowledges one batch, hands over a second and is killed
# before it reads the answer; the writer inherits its stderr (our pipe).
HOST = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from garrison.journal.writer import BackgroundWriter

    insert = "INSERT INTO t (a, b) VALUES (?, ?)"
    writer = BackgroundWriter(Path(sys.argv[1]), synchronous="normal")
    assert writer.submit([("t", insert, (), [(1, "row 1")])], "run-1")
    writer.wait()
    rows = [(i, "x" * 100) for i in range(2, 20_001)]
    assert writer.submit([("t", insert, (), rows)], "run-1")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_host_killed_with_a_batch_under_way_leaves_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _table(path)
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # The pipe ends once the host and its writer have both exited.
    _, stderr = host.communicate(timeout=120)
    assert host.returncode == -signal.SIGKILL
    _quiet(stderr)
    rows = _rows(path)
    assert rows[0] == (1, "row 1")
    assert len(rows) in (1, 20_000)  # the second batch whole or not at all


def test_ctrl_c_in_the_terminal_is_left_to_the_host(tmp_path: Path) -> None:
    # SIGINT reaches the whole foreground process group; the host decides
    # what to do, and the writer goes on until its input ends.
    path = tmp_path / "journal.sqlite"
    _table(path)
    proc = _writer(path)
    _send(proc, _batch(1))
    assert _committed(proc)
    os.kill(proc.pid, signal.SIGINT)
    _send(proc, _batch(2))
    assert _committed(proc)
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert _stderr(proc) == b""
    assert _rows(path) == [(1, "row 1"), (2, "row 2")]
