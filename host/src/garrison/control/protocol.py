"""The control protocol: one JSON object per line, each way.

A request is ``{"v": 1, "cmd": "<name>", "args": {...}}``; ``id`` (any JSON
value) is optional and echoed back. A response is ``{"v": 1, "ok": true,
"result": {...}}`` or ``{"v": 1, "ok": false, "error": "<what is wrong>"}``.
A client may send several requests on one connection, one after the
other; each line is answered before the next is read. Lines are UTF-8 and
at most :data:`MAX_LINE` bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

#: Version of the request/response layout; a request naming another is refused.
PROTOCOL_VERSION = 1

#: The longest request line the host reads (bytes, newline included).
MAX_LINE = 64 * 1024


class ProtocolError(ValueError):
    """A line that is not a valid request or response; the message says why."""


@attrs.frozen
class Request:
    """One command with its arguments."""

    cmd: str
    args: dict[str, Any] = attrs.field(factory=dict)
    id: Any = None


def json_ready(value: Any) -> Any:
    """``value`` with what JSON cannot hold made so: non-finite floats as null, keys as text."""
    # JSON has no NaN or infinity: they go as null rather than as invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line."""
    return json.dumps(json_ready(message), separators=(",", ":"), default=str).encode() + b"\n"


def request_line(cmd: str, args: dict[str, Any] | None = None) -> bytes:
    """The line asking for ``cmd`` with ``args``."""
    return encode({"v": PROTOCOL_VERSION, "cmd": cmd, "args": dict(args or {})})


def decode_request(line: bytes) -> Request:
    """Parse a request line; raise ProtocolError naming what is wrong."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"a request is a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version v={version!r} is not spoken here (this host speaks "
            f"v={PROTOCOL_VERSION})"
        )
    cmd = data.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise ProtocolError(f"cmd must be a command name, got {cmd!r}")
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError(f"args must be a JSON object, got {type(args).__name__}")
    return Request(cmd, args, data.get("id"))


def ok(result: Any, request_id: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"v": PROTOCOL_VERSION, "ok": True, "result": result}
    if request_id is not None:
        message["id"] = request_id
    return message


def error(text: str, request_id: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"v": PROTOCOL_VERSION, "ok": False, "error": text}
    if request_id is not None:
        message["id"] = request_id
    return message


def decode_response(line: bytes) -> dict[str, Any]:
    """Parse a response line; raise ProtocolError when it is not one."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the host answered something that is not JSON: {exc}") from None
    if not isinstance(data, dict) or "ok" not in data:
        raise ProtocolError(f"the host answered something that is not a response: {data!r}")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"the host speaks control protocol v={data.get('v')!r}; this garrison speaks "
            f"v={PROTOCOL_VERSION}"
        )
    return data
