"""Where a host's control socket lives, and making its directory owner-only."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

#: The longest path a Unix socket may have on Linux (``sun_path`` less its NUL).
MAX_SOCKET_PATH = 107


class ControlPathError(OSError):
    """A socket path the host cannot use safely; the message names it and why."""


def default_socket_path(
    profile_name: str, environ: Mapping[str, str] | None = None, uid: int | None = None
) -> Path:
    """``$XDG_RUNTIME_DIR/garrison/<name>.sock``, else ``/tmp/garrison-<uid>/<name>.sock``."""
    env = os.environ if environ is None else environ
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile_name) or "profile"
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        return Path(runtime) / "garrison" / f"{safe}.sock"
    user = os.getuid() if uid is None else uid
    return Path("/tmp") / f"garrison-{user}" / f"{safe}.sock"


def candidate_socket_paths(
    profile_name: str, environ: Mapping[str, str] | None = None, uid: int | None = None
) -> list[Path]:
    """Where a host of ``profile_name`` may serve by default, the likeliest first.

    A host under a service manager often has no ``XDG_RUNTIME_DIR`` while the
    operator's SSH session has one (or the other way round): a client looks
    in both places.
    """
    env = dict(os.environ if environ is None else environ)
    found = [default_socket_path(profile_name, env, uid)]
    env.pop("XDG_RUNTIME_DIR", None)
    fallback = default_socket_path(profile_name, env, uid)
    if fallback not in found:
        found.append(fallback)
    return found


def check_length(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ControlPathError(
            f"control socket path {path} is {len(os.fsencode(path))} bytes; a Unix socket "
            f"path may have at most {MAX_SOCKET_PATH} (set a shorter [control] socket)"
        )


def prepare_directory(path: Path, *, tighten: bool) -> None:
    """Make the socket's directory (0700), or check that an existing one is this user's.

    ``tighten``: an existing directory open to others is made 0700 (the
    default location, which is Garrison's own); a directory the profile
    names is left as it is (the socket file itself is 0600 either way).
    """
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise ControlPathError(
            f"control socket directory {directory} belongs to uid {info.st_uid}, not to this "
            f"user (uid {os.getuid()}): refusing to serve there"
        )
    if tighten and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)


def socket_for(profile_name: str, configured: str, base_dir: Path) -> tuple[Path, bool]:
    """The socket a profile's host serves, and whether its directory is Garrison's own.

    ``configured`` is ``[control] socket`` ("" for the default); a relative
    path is taken against ``base_dir`` (the profile's directory).
    """
    if configured:
        path = Path(configured).expanduser()
        return (path if path.is_absolute() else (base_dir / path)).absolute(), False
    return default_socket_path(profile_name), True
