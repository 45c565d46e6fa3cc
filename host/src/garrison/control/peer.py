"""Who is on the other end of a Unix socket, and whether the host lets them in.

Linux tells a Unix-socket server its peer's pid, uid and gid (``SO_PEERCRED``,
taken when the peer connected, so it cannot be forged by the peer). The host
serves its own user only: the socket's file mode keeps others out already,
and this check refuses anyone who got in anyway (a socket directory made
wider by hand, root excepted only if the host itself runs as root).
"""

from __future__ import annotations

import socket
import struct

import attrs

_UCRED = struct.Struct("3i")


@attrs.frozen
class PeerCredentials:
    """The connecting process: pid, uid and gid as the kernel saw them."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The credentials of the process connected to ``sock`` (a Unix stream socket)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid, uid, gid)


def refusal(peer: PeerCredentials, host_uid: int) -> str | None:
    """Why ``peer`` may not use a host running as ``host_uid``, or None if it may."""
    if peer.uid != host_uid:
        return f"uid {peer.uid} is not the host's user (uid {host_uid}): refused"
    return None
