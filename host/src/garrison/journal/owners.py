"""Which process runs a run, and whether that process is still there.

A run's row names the process running it (``pid`` and ``hostname``). A run
left ``running`` by a process that is gone (killed, crashed, the machine
rebooted) was abandoned. Only processes on this host can be looked at; a
run of another host is never judged from here.

A pid can be reused once its process has ended: a new process under the
same pid makes an abandoned run look alive. That errs on the safe side
(the run is left alone until that process ends too).
"""

from __future__ import annotations

import os
import socket

import attrs


@attrs.frozen
class Owner:
    """A process: its pid on ``hostname``."""

    pid: int
    hostname: str

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        return cls(pid=os.getpid(), hostname=socket.gethostname())


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0 checks without sending).

    A process we may not signal (another user's) exists, so it counts as alive.
    """
    if pid <= 0:
        return False  # 0 and negatives address process groups, never one process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True  # cannot tell: leave the run alone
    return True


def abandoned(pid: int | None, hostname: str | None, here: Owner) -> bool:
    """Whether a ``running`` run with this owner was left by a process that is gone.

    A run without a pid (written by schema v1, which did not record one) is
    abandoned: no process can be shown to run it. A run of another host is not.
    """
    if pid is None:
        return True
    if hostname != here.hostname:
        return False
    if pid == here.pid:
        return False
    return not process_alive(pid)
