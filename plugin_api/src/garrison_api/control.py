"""A small async client of a running host's control channel (API 1.3).

A host started by ``garrison run`` serves a local control API on a Unix
socket: one JSON object per line each way. A request is
``{"v": 1, "cmd": "<name>", "args": {...}}``; the answer is
``{"v": 1, "ok": true, "result": ...}`` or ``{"v": 1, "ok": false,
"error": "..."}``. A component finds the socket in its services
(``services.control_socket``, None when the host serves none) and steers
its host with :func:`control_request`, without importing the host:

>>> path = getattr(services, "control_socket", None)  # doctest: +SKIP
>>> status = await control_request(path, "status")  # doctest: +SKIP
>>> status["state"]  # doctest: +SKIP
'running'

The host's commands (``help`` lists them): queries ``status``,
``positions``, ``orders``, ``signals`` (``limit``), ``plugins``, ``risk``,
``equity``, ``logs`` (``limit``); actions ``pause``, ``reducing``,
``resume``, ``halt`` (``reason``), ``flatten`` (``symbol`` or
``all = true``; a first call answers a ``confirm`` token, a second call
with ``confirm`` set to it acts) and ``risk_set`` (``risk_pct``). Actions
apply at the host's next step. Every command is journaled with its
caller, so a component that steers its host should say whom it acts for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

#: The control protocol's version this client speaks.
CONTROL_PROTOCOL_VERSION = 1

#: The longest answer line read (bytes); the host's answers are far shorter.
MAX_ANSWER = 16 * 1024 * 1024


class ControlError(Exception):
    """A control request that did not succeed; the message says why.

    ``refused`` is True when the host answered with an error (an unknown
    command, a bad argument, an unknown confirmation token), False when no
    answer came (no host at the socket, a timeout, a broken answer).
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


async def control_request(
    path: str | os.PathLike[str] | None,
    cmd: str,
    args: Mapping[str, Any] | None = None,
    *,
    timeout_s: float = 10.0,
) -> Any:
    """Send ``cmd`` with ``args`` to the host serving at ``path``; return its ``result``.

    One connection per request, closed before returning. Raises
    :class:`ControlError` when ``path`` is None, nothing answers there, the
    host does not answer within ``timeout_s`` seconds, or it refuses the
    command (``refused`` True, the message is the host's).
    """
    if path is None:
        raise ControlError("the host serves no control channel (control_socket is None)")
    if not isinstance(cmd, str) or not cmd:
        raise ControlError(f"cmd must be a command name, got {cmd!r}", refused=True)
    line = (
        json.dumps(
            {"v": CONTROL_PROTOCOL_VERSION, "cmd": cmd, "args": dict(args or {})},
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )
    where = os.fspath(path)
    try:
        answer = await asyncio.wait_for(_exchange(where, line), timeout_s)
    except TimeoutError:
        raise ControlError(
            f"the host at {where} did not answer {cmd!r} within {timeout_s:g} s"
        ) from None
    except FileNotFoundError:
        raise ControlError(f"no host serves a control channel at {where}") from None
    except ConnectionRefusedError:
        raise ControlError(f"nothing listens at {where}: the host that made it is gone") from None
    except PermissionError:
        raise ControlError(f"permission denied on {where}: the host runs as another user") from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise ControlError(f"lost the host at {where}: {exc}") from None
    try:
        data = json.loads(answer)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(
            f"the host at {where} answered something that is not JSON: {exc}"
        ) from None
    if not isinstance(data, dict) or "ok" not in data:
        raise ControlError(f"the host at {where} answered something that is not a response")
    if data.get("v") != CONTROL_PROTOCOL_VERSION:
        raise ControlError(
            f"the host at {where} speaks control protocol v={data.get('v')!r}; this client "
            f"speaks v={CONTROL_PROTOCOL_VERSION}"
        )
    if not data["ok"]:
        raise ControlError(str(data.get("error", "refused without a reason")), refused=True)
    return data.get("result")


async def _exchange(path: str, line: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(path, limit=MAX_ANSWER)
    try:
        writer.write(line)
        await writer.drain()
        answer = await reader.readuntil(b"\n")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return answer


__all__ = ["CONTROL_PROTOCOL_VERSION", "ControlError", "control_request"]
