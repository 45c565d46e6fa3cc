"""Redis addresses: which forms are accepted, and how one is shown without its secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: The schemes redis-py opens (TCP, TLS, a Unix socket).
SCHEMES = ("redis", "rediss", "unix")


def masked(url: str) -> str:
    """``url`` as it may be shown or logged: any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<an unreadable address>"
    if "password=" in parts.query:
        return url.split("?", 1)[0] + "?<query hidden>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    where = host if port is None else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{where}"))


def url_problem(url: str, *, password_allowed: bool = False) -> str | None:
    """Why ``url`` cannot be used as a Redis address, or None when it can.

    A profile's address may not hold a password (``password_allowed`` false):
    profiles name secrets by environment variable only.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        return f"not an address ({exc})"
    if parts.scheme not in SCHEMES:
        return "an address starting " + " or ".join(f"{s}://" for s in SCHEMES)
    if parts.scheme != "unix" and not parts.hostname:
        return "an address with a host (redis://127.0.0.1:6379/0)"
    if parts.scheme == "unix" and not parts.path:
        return "a socket path (unix:///run/redis/redis.sock)"
    if password_allowed:
        return None
    if parts.password is not None or "password=" in parts.query:
        return "no password in the address: name the variable holding it in redis.password_env"
    return None


class MissingPasswordError(LookupError):
    """The variable said to hold Redis's password is not set (or empty)."""


def password_from(env_name: str, environ: Mapping[str, str]) -> str | None:
    """Redis's password from the variable ``env_name``; None when no variable is named.

    MissingPasswordError when one is named but not set: a Redis with a password
    would refuse every request, so this is said before anything starts.
    """
    if not env_name:
        return None
    password = environ.get(env_name)
    if not password:
        raise MissingPasswordError(env_name)
    return password


def open_client(url: str, password: str | None, *, timeout_s: float = 2.0) -> Any:
    """A ``redis.asyncio.Redis`` for ``url``: short timeouts and no retries of its own.

    The callers retry on their own period; redis-py's built-in retries would
    hold a publisher or a console for several timeouts when Redis is away.
    redis is imported here, so a host without ``[redis]`` never loads it.
    """
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return redis.asyncio.Redis.from_url(
        url,
        password=password or None,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )
