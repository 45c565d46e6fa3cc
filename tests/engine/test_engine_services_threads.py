"""API 1.3: a component's services report the control socket, and ``emit`` takes any thread.

Events a component emits from a thread of its own reach the bus on the
engine's thread only (the journal's connection is the engine's), through the
step processor's inbox. The end-to-end case, a Telegram poller's refusals
journaled by a running host, is in plugins/telegram/tests/test_telegram_host.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

from garrison.engine.services import EngineEmit, HostServices
from garrison_api import Event
from garrison_api.testing import FakeClock, MemoryBlobStore, MemoryStore


def event(n: int) -> Event:
    return Event(ts=n, kind="test.thread", message=str(n))


def test_services_report_the_control_socket_when_there_is_one() -> None:
    serving: list[str] = []
    services = HostServices(
        name="t",
        mode="replay",
        clock=FakeClock(),
        storage=MemoryStore(),
        blobs=MemoryBlobStore(),
        emit=lambda e: None,
        control_socket=lambda: serving[0] if serving else None,
    )
    assert services.control_socket is None
    serving.append("/run/garrison/x.sock")
    assert services.control_socket == "/run/garrison/x.sock"
    plain = HostServices(
        name="t",
        mode="replay",
        clock=FakeClock(),
        storage=MemoryStore(),
        blobs=MemoryBlobStore(),
        emit=lambda e: None,
    )
    assert plain.control_socket is None


def test_events_from_other_threads_reach_the_bus_on_the_engine_thread() -> None:
    engine = threading.get_ident()
    seen: list[tuple[int, int]] = []
    emit = EngineEmit(lambda e: seen.append((e.ts, threading.get_ident())))
    emit(event(0))  # the engine's own thread: at once
    assert seen == [(0, engine)]

    # Before the processor exists, another thread's events wait.
    worker = threading.Thread(target=lambda: [emit(event(n)) for n in (1, 2)])
    worker.start()
    worker.join()
    assert seen == [(0, engine)]

    inbox: deque[tuple[Any, Future[Any]]] = deque()

    def serve() -> None:
        while inbox:
            action, future = inbox.popleft()
            future.set_result(action())

    async def engine_turns() -> None:
        emit.attach(inbox, asyncio.get_running_loop(), serve)  # hands over 1 and 2
        others = [
            threading.Thread(target=lambda k=k: [emit(event(1000 * k + i)) for i in range(50)])
            for k in range(1, 5)
        ]
        for thread in others:
            thread.start()
        for thread in others:
            await asyncio.to_thread(thread.join)
        for _ in range(10):  # the loop's next turns serve the inbox
            await asyncio.sleep(0.01)

    asyncio.run(engine_turns())
    assert [ts for ts, _ in seen[:3]] == [0, 1, 2]
    assert len(seen) == 3 + 200
    assert {thread for _, thread in seen} == {engine}, "the bus is only ever called on one thread"
    # One thread's events keep their order.
    for k in range(1, 5):
        mine = [ts for ts, _ in seen if 1000 * k <= ts < 1000 * k + 50]
        assert mine == [1000 * k + i for i in range(50)]

    # After the run, what waits is handed over by detach(); later events wait for nobody.
    late = threading.Thread(target=lambda: emit(event(99_999)))
    emit.detach()
    late.start()
    late.join()
    emit.flush()
    assert seen[-1][0] == 99_999
