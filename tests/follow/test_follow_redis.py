"""The beacon, the directory and a console's Redis connection against a real redis-server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from garrison.console.connection import HostRefusedError, HostUnavailableError
from garrison.console.redis_connection import RedisHostConnection
from garrison.follow.address import masked, url_problem
from garrison.follow.beacon import RedisBeacon
from garrison.follow.directory import RedisDirectory, RedisUnreachableError
from garrison.follow.keys import EnvelopeError, decode, ttl_ms
from garrison_api import Level

TOPICS = ("status", "positions")


class Recorder:
    """The control server's side of the beacon: canned snapshots, journaled notes."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.notes: list[tuple[str, str, Level]] = []

    async def snapshot(self, topics: Sequence[str]) -> dict[str, Any]:
        self.snapshots += 1
        return {
            "status": {"state": "trading", "n": self.snapshots, "nan": float("nan")},
            "positions": [{"symbol": "BTCUSDT"}],
        }

    async def note(self, kind: str, message: str, level: Level, data: dict[str, Any]) -> None:
        self.notes.append((kind, message, level))

    def kinds(self) -> list[str]:
        return [kind for kind, _m, _l in self.notes]


def beacon(url: str, profile: str = "alpha", machine: str | None = None) -> RedisBeacon:
    return RedisBeacon(
        url,
        None,
        prefix="t",
        every_s=0.2,
        profile=profile,
        control_socket="/nowhere/ctl.sock",
        topics=TOPICS,
        machine=machine,
    )


async def until(what: str, check: Any, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_masked_addresses_keep_everything_but_the_password() -> None:
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert masked("redis://ops:pw@10.0.0.5:6380/1") == "redis://ops:***@10.0.0.5:6380/1"
    assert masked("rediss://:pw@h/0") == "rediss://:***@h/0"
    assert "pw" not in masked("unix:///r.sock?db=1&password=pw")
    assert "pw" not in masked("redis://ops:pw@h:notaport/0")
    assert url_problem("redis://ops:pw@h/0", password_allowed=True) is None


def test_a_beacon_publishes_and_withdraws(redis: Any) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        sender = beacon(redis.url, machine="box-1")
        task = asyncio.create_task(sender.run(recorder.snapshot, recorder.note))
        directory = RedisDirectory(redis.url, prefix="t")
        try:
            assert await until("the host listed", directory.hosts) == ["alpha@box-1"]
            envelope = await directory.read("alpha@box-1")
            assert envelope is not None
            assert envelope.profile == "alpha"
            assert envelope.machine == "box-1"
            assert envelope.socket == "/nowhere/ctl.sock"
            assert envelope.topics["status"]["state"] == "trading"
            assert envelope.topics["status"]["nan"] is None  # JSON holds no NaN
            # Written with an expiry, so a host that dies without a word goes.
            left = int(redis.cli("PTTL", "t:host:alpha@box-1"))
            assert 0 < left <= ttl_ms(0.2)
            assert recorder.kinds() == ["redis.publishing"]
            await until("a few snapshots", lambda: asyncio.sleep(0, sender.published >= 3))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sender.withdraw()
        assert await directory.hosts() == []
        assert redis.cli("EXISTS", "t:host:alpha@box-1") == "0"
        await directory.close()

    asyncio.run(scenario())


def test_an_expired_host_leaves_the_list(redis: Any) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        sender = beacon(redis.url, profile="dead", machine="box-2")
        task = asyncio.create_task(sender.run(recorder.snapshot, recorder.note))
        directory = RedisDirectory(redis.url, prefix="t")
        await until("the host listed", directory.hosts)
        task.cancel()  # killed: no withdrawal
        await asyncio.gather(task, return_exceptions=True)
        redis.cli("PEXPIRE", "t:host:dead@box-2", "1")
        await until("the host gone", lambda: _gone(directory))
        await directory.close()

    asyncio.run(scenario())


async def _gone(directory: RedisDirectory) -> bool:
    return not await directory.hosts()


def test_redis_away_is_journaled_once_and_its_return_too(
    redis_launcher: Any, tmp_path: Path
) -> None:
    port = redis_launcher.free_port()
    url = f"redis://127.0.0.1:{port}/0"

    async def scenario() -> None:
        recorder = Recorder()
        sender = beacon(url, machine="box-3")
        task = asyncio.create_task(sender.run(recorder.snapshot, recorder.note))
        try:
            await until("redis.lost", lambda: asyncio.sleep(0, recorder.snapshots >= 5))
            assert recorder.kinds() == ["redis.lost"]
            _kind, message, level = recorder.notes[0]
            assert level == Level.WARNING
            assert url in message
            assert "trading goes on" in message
            server = await asyncio.to_thread(redis_launcher.start, tmp_path, port)
            try:
                await until(
                    "redis.back", lambda: asyncio.sleep(0, "redis.back" in recorder.kinds())
                )
                assert recorder.kinds() == ["redis.lost", "redis.back"]
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await sender.withdraw()
                server.process.kill()
                server.process.wait(timeout=30)
        finally:
            task.cancel()

    asyncio.run(scenario())


def test_unreachable_redis_is_a_clear_error_without_the_password(redis: Any) -> None:
    port = redis.port + 1 if redis.port < 65535 else redis.port - 1

    async def scenario() -> None:
        directory = RedisDirectory(f"redis://ops:topsecret@127.0.0.1:{port}/0")
        with pytest.raises(RedisUnreachableError) as caught:
            await directory.hosts()
        assert "***" in str(caught.value)
        assert "topsecret" not in str(caught.value)
        assert "topsecret" not in repr(directory)
        await directory.close()

    asyncio.run(scenario())


def test_a_console_connection_streams_and_steers_only_local_hosts(redis: Any) -> None:
    here = socket.gethostname()

    async def scenario() -> None:
        recorder = Recorder()
        far = beacon(redis.url, profile="far", machine="elsewhere")
        task = asyncio.create_task(far.run(recorder.snapshot, recorder.note))
        directory = RedisDirectory(redis.url, prefix="t")
        try:
            await until("the host listed", directory.hosts)
            connection = RedisHostConnection(directory, "far@elsewhere", machine=here)
            stream = connection.stream(("status",), 0.1)
            first = await anext(stream)
            assert set(first) == {"status"}
            second = await anext(stream)
            assert second["status"]["n"] >= first["status"]["n"]
            await stream.aclose()
            with pytest.raises(HostRefusedError, match=r"elsewhere.*read-only.*over SSH"):
                await connection.call("pause", {"reason": "test"})
            # A host that stops publishing is lost.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await far.withdraw()
            with pytest.raises(HostUnavailableError, match="publishes nothing"):
                await anext(connection.stream(("status",), 0.1))
            await connection.close()
        finally:
            task.cancel()
            await directory.close()

    asyncio.run(scenario())


def test_a_snapshot_of_another_shape_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="shape 99"):
        decode(json.dumps({"shape": 99}))
    with pytest.raises(EnvelopeError, match="not JSON"):
        decode(b"\xff")
    with pytest.raises(EnvelopeError, match="fields"):
        decode(json.dumps({"shape": 1, "host_id": "x"}))
