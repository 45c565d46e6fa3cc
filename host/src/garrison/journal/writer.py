"""Commits in a process of their own, so a replay keeps computing while SQLite writes.

A thread would not do: sqlite3 needs the GIL for every row it binds, and a
thread waiting for the GIL behind a busy engine inserts a few hundred rows
a second. The writer process (:mod:`garrison.journal_writer`) has its own
interpreter and its own connection to the journal file (WAL lets two
connections take turns writing); it imports only the standard library, so
it starts in a few tens of milliseconds.

One batch is under way at a time and batches are committed in the order
they were handed over, one transaction each: a fill never reaches the file
before the intent that led to it. If the writer dies or fails, the batch
comes back to the journal, which writes it in the foreground instead.
"""

from __future__ import annotations

import contextlib
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, cast

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from garrison.journal.errors import JournalError
from garrison.journal_writer import BUSY_TIMEOUT_S, TableRows, read_frame, write_frame

#: The module the writer process runs (``python -m``).
WRITER_MODULE = "garrison.journal_writer"

__all__ = ["BUSY_TIMEOUT_S", "BackgroundWriter", "TableRows"]


#: Pipe buffer asked for (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB
#: by default): a batch of a few hundred kB then goes over in one write
#: instead of 64 kB at a time, each waiting for the writer to read.
PIPE_BYTES = 1 << 20


def _widen_pipe(stream: BinaryIO) -> None:
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):  # a smaller pipe only costs time
        fcntl.fcntl(stream.fileno(), set_size, PIPE_BYTES)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=BUSY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


class BackgroundWriter:
    """The writer process of one journal file; see the module docstring."""

    def __init__(self, path: Path, *, synchronous: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._proc: subprocess.Popen[bytes] | None = None
        self._busy = False
        #: Set once the process failed to start or died: commit in the foreground.
        self.broken: str | None = None

    def start(self) -> None:
        """Start the process now (it is also started by the first ``submit``)."""
        if self._proc is not None or self.broken:
            return
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    WRITER_MODULE,
                    str(self._path),
                    self._synchronous,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            self.broken = f"cannot start the journal writer process: {exc}"
            return
        _widen_pipe(self._stdin())

    def submit(self, batch: Sequence[TableRows], run_id: str) -> bool:
        """Send ``batch`` for one transaction; False (nothing sent) when the writer is broken."""
        if self._busy:
            raise RuntimeError("submit() while a batch is under way; wait() first")
        self.start()
        if self._proc is None:
            return False
        try:
            payload = pickle.dumps((run_id, list(batch)), protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError):
            # A value the writer cannot be sent (a plugin's object in features or
            # event data): committed in the foreground, which names the table.
            return False
        try:
            write_frame(self._stdin(), payload)
        except OSError as exc:
            self._break(f"the journal writer process stopped taking batches: {exc}")
            return False
        self._busy = True
        return True

    def ready(self) -> bool:
        """True when :meth:`wait` would not block: no batch under way, or its answer is in."""
        if not self._busy or self._proc is None or self._proc.stdout is None:
            return True
        try:
            readable, _, _ = select.select([self._proc.stdout], [], [], 0)
        except (OSError, ValueError):
            return True  # no way to look (pipes on Windows): waiting is always right
        return bool(readable)

    def wait(self) -> None:
        """Wait for the batch under way; a JournalError says why it was not committed."""
        if not self._busy:
            return
        self._busy = False
        assert self._proc is not None
        assert self._proc.stdout is not None
        try:
            frame = read_frame(cast(BinaryIO, self._proc.stdout))
        except (OSError, EOFError) as exc:
            frame = None
            detail = str(exc)
        else:
            detail = "it closed its output"
        if frame is None:
            code = self._proc.poll()
            self._break(f"the journal writer process died ({detail}; exit code {code})")
            raise JournalError(f"{self.broken}; its last batch was not committed")
        error = pickle.loads(frame)
        if error is not None:
            raise JournalError(f"{error} (journal {self._path})")

    def close(self) -> None:
        """Tell the process its input has ended, and return.

        Every batch it acknowledged is committed by then. It closes its
        connection and exits on its own: as the file's last connection it
        checkpoints the WAL, which no caller needs to wait for. A daemon
        thread reaps it (killing it if it has not exited within
        ``BUSY_TIMEOUT_S``).
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass  # it died already: the reaper collects its exit status
        threading.Thread(
            target=_reap, args=(proc,), name="garrison-journal-writer-reaper", daemon=True
        ).start()

    def _stdin(self) -> BinaryIO:
        assert self._proc is not None
        assert self._proc.stdin is not None
        return cast(BinaryIO, self._proc.stdin)

    def _break(self, why: str) -> None:
        self.broken = why
        self.close()
