"""Binance USDⓈ-M market streams of the fake exchange: klines over websockets.

Serves the paths a Binance client connects to (``/ws``, ``/stream``, and the
``/market`` and ``/public`` variants ccxt.pro 4.5 uses, e.g.
``/market/ws/0``), with the venue's protocol: ``SUBSCRIBE`` /
``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` requests answered
``{"result": ..., "id": N}``, at most 1024 streams per connection, raw events
on ``/ws`` and ``{"stream", "data"}`` envelopes on ``/stream``. Pings are
websocket protocol frames: the server pings every few minutes and answers the
client's pings with pongs (unless the ``drop_pongs`` fault is on).

At each bar close the tape's listener builds every subscribed stream's
message once (closed candle ``"x": true``, then the next bar's first update
``"x": false``), applies the candle faults once, and queues each
connection's share; one writer task per connection sends it, so a slow
client never holds up the clock or the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMessage, WSMsgType, web

from garrison.fakex.binance_json import Formats, kline_message
from garrison.fakex.server import FakeExchange, WsPeer
from garrison.fakex.tape import SeriesBar
from garrison.profile.timeframes import timeframe_ms

#: Streams one connection may hold (Binance USDⓈ-M: 1024).
MAX_STREAMS = 1024
#: Seconds between the server's ping frames (Binance: every 3 minutes).
PING_INTERVAL_S = 180.0
#: A connection that sent no pong for this long is closed (Binance: 10 minutes).
PONG_TIMEOUT_S = 600.0
#: Requests a client may send per second on one connection; more and it is closed.
MAX_MESSAGES_PER_S = 10
#: URL paths of the market streams (``{tail}``: a stream name, or ccxt's stream index).
PATHS = ("/ws", "/stream", "/market/ws", "/market/stream", "/public/ws", "/public/stream")


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class _Socket(web.WebSocketResponse):
    """A server websocket that answers protocol pings itself, unless pongs are being dropped."""

    def __init__(self, fake: FakeExchange) -> None:
        super().__init__(autoping=False, max_msg_size=1 << 20)
        self._fake = fake
        #: ``time.monotonic()`` of the client's last pong (or of the connection).
        self.last_pong = time.monotonic()

    async def receive(self, timeout: float | None = None) -> WSMessage:
        while True:
            message = await super().receive(timeout)
            if message.type == WSMsgType.PING:
                if self._fake.answers_pings():
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.pong(message.data)
                continue
            if message.type == WSMsgType.PONG:
                self.last_pong = time.monotonic()
                continue
            return message


class KlineStreams:
    """The ``<symbol>@kline_<interval>`` streams of every open Binance websocket."""

    def __init__(
        self,
        fake: FakeExchange,
        ping_interval_s: float = PING_INTERVAL_S,
        pong_timeout_s: float = PONG_TIMEOUT_S,
    ) -> None:
        self._fake = fake
        #: Seconds between server pings, and without a pong before the server hangs up.
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self._peers: set[WsPeer] = set()
        #: Peers that get ``{"stream", "data"}`` envelopes (``/stream`` or SET_PROPERTY).
        self._combined: set[WsPeer] = set()
        #: Wall times of each peer's last requests (the venue's 10 messages/s limit).
        self._recent: dict[WsPeer, deque[float]] = {}
        self._closing: set[asyncio.Future[None]] = set()
        self._formats: dict[str, Formats] = {}
        self._tf_ms: dict[str, int] = {}
        fake.on_bar_close(self._on_bar_close)

    def mount(self, app: web.Application) -> None:
        """Add the websocket routes to ``app``."""
        for path in PATHS:
            app.router.add_get(path, self.handle)
            app.router.add_get(path + "/{tail:.+}", self.handle)

    # -- a connection --------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One websocket from connect to close."""
        ws = _Socket(self._fake)
        await ws.prepare(request)
        peer = WsPeer(self._fake, request, ws)
        peer.topics.update(_url_streams(request))
        if "/stream" in request.path:
            self._combined.add(peer)
        self._peers.add(peer)
        peer.send_all(self._current(peer, peer.topics))
        pinger = asyncio.create_task(self._ping_loop(peer, ws))
        try:
            await peer.serve(self._on_text)
        finally:
            self._peers.discard(peer)
            self._combined.discard(peer)
            self._recent.pop(peer, None)
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return ws

    def _frame(self, peer: WsPeer, stream: str, payload: str) -> str:
        if peer in self._combined:
            return f'{{"stream":"{stream}","data":{payload}}}'
        return payload

    async def _ping_loop(self, peer: WsPeer, ws: _Socket) -> None:
        while not ws.closed:
            await asyncio.sleep(self.ping_interval_s)
            if time.monotonic() - ws.last_pong > self.pong_timeout_s:
                self._fake.faults.note("ws_no_pong_close")
                await peer.close(code=1008)
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.ping()

    def _on_text(self, peer: WsPeer, text: str) -> None:
        if self._too_chatty(peer):
            return
        before = set(peer.topics)
        reply = self._answer(peer, text)
        peer.send_all([reply, *self._current(peer, peer.topics - before)])

    def _too_chatty(self, peer: WsPeer) -> bool:
        """Close a connection sending over 10 requests a second, as the venue does."""
        now = time.monotonic()
        recent = self._recent.setdefault(peer, deque())
        recent.append(now)
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) <= MAX_MESSAGES_PER_S:
            return False
        self._fake.faults.note("ws_too_many_messages")
        task = asyncio.ensure_future(peer.close(code=1008))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return True

    def _answer(self, peer: WsPeer, text: str) -> str:
        """The reply to one client request (SUBSCRIBE and friends)."""
        try:
            request = json.loads(text)
        except ValueError:
            return _dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value"}})
        if not isinstance(request, dict):
            return _dumps({"error": {"code": 3, "msg": "Invalid JSON: expected an object"}})
        rid = request.get("id")
        if not isinstance(rid, int | str) or isinstance(rid, bool):
            return _dumps(
                {"error": {"code": 2, "msg": "Invalid request: request ID must be an integer"}}
            )
        method = request.get("method")
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(rid, 2, "Invalid request: params must be a list")
        if method == "SUBSCRIBE":
            names = [p for p in params if isinstance(p, str)]
            if len(peer.topics | set(names)) > MAX_STREAMS:
                return _error(rid, 2, f"Invalid request: at most {MAX_STREAMS} streams")
            peer.topics.update(names)
            return _dumps({"result": None, "id": rid})
        if method == "UNSUBSCRIBE":
            peer.topics.difference_update(p for p in params if isinstance(p, str))
            return _dumps({"result": None, "id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return _dumps({"result": sorted(peer.topics), "id": rid})
        if method == "SET_PROPERTY":
            if len(params) == 2 and params[0] == "combined" and isinstance(params[1], bool):
                if params[1]:
                    self._combined.add(peer)
                else:
                    self._combined.discard(peer)
                return _dumps({"result": None, "id": rid})
            return _error(rid, 0, "Unknown property")
        if method == "GET_PROPERTY":
            if params == ["combined"]:
                return _dumps({"result": peer in self._combined, "id": rid})
            return _error(rid, 0, "Unknown property")
        return _error(rid, 2, "Invalid request: unknown method")

    def _current(self, peer: WsPeer, streams: Iterable[str]) -> list[str]:
        """The candle in progress of each new stream, as the venue sends it on subscribing."""
        tape = self._fake.tape
        now = tape.now_ms()
        out = []
        for stream in sorted(streams):
            symbol, _, interval = stream.partition("@kline_")
            symbol = symbol.upper()
            if not interval or not tape.has(symbol, interval):
                continue  # the venue accepts any name; an unknown one just stays silent
            bars = tape.klines(symbol, interval, limit=1)
            if not bars:
                continue
            tf_ms = self._tf(interval)
            closed = bars[-1][0] + tf_ms <= now
            text = kline_message(
                symbol, interval, bars[-1], tf_ms, closed, now, self._format(symbol)
            )
            out.append(self._frame(peer, stream, text))
        return out

    # -- bar closes ----------------------------------------------------------------

    def _on_bar_close(
        self, close_ms: int, closed: list[SeriesBar], opened: list[SeriesBar]
    ) -> None:
        fake = self._fake
        if fake.candles_paused(close_ms):
            return
        peers = [p for p in self._peers if p.alive]
        if not peers:
            return
        wanted: set[str] = set().union(*(p.topics for p in peers))
        closed_msgs = self._messages(closed, True, close_ms, wanted)
        opened_msgs = self._messages(opened, False, close_ms, wanted)
        ordered = fake.faults.shape_candles(closed_msgs, opened_msgs)
        for peer in peers:
            topics = peer.topics
            batch = [
                self._frame(peer, stream, text) for stream, text in ordered if stream in topics
            ]
            peer.send_all(batch)

    def _messages(
        self, bars: Iterable[SeriesBar], closed: bool, event_ms: int, wanted: set[str]
    ) -> list[tuple[str, str]]:
        out = []
        for symbol, tf, bar in bars:
            stream = f"{symbol.lower()}@kline_{tf}"
            if stream not in wanted:
                continue
            text = kline_message(
                symbol, tf, bar, self._tf(tf), closed, event_ms, self._format(symbol)
            )
            out.append((stream, text))
        return out

    def _format(self, symbol: str) -> Formats:
        fmt = self._formats.get(symbol)
        if fmt is None:
            fmt = self._formats[symbol] = Formats(self._fake.tape.instrument(symbol))
        return fmt

    def _tf(self, tf: str) -> int:
        ms = self._tf_ms.get(tf)
        if ms is None:
            ms = self._tf_ms[tf] = timeframe_ms(tf)
        return ms


def _error(rid: int | str, code: int, msg: str) -> str:
    return _dumps({"error": {"code": code, "msg": msg}, "id": rid})


def _url_streams(request: web.Request) -> list[str]:
    """Streams named in the URL: ``/ws/<name>`` or ``/stream?streams=a/b``."""
    names = [n for n in request.query.get("streams", "").split("/") if n]
    tail = request.match_info.get("tail", "")
    names += [n for n in tail.split("/") if "@" in n]  # ccxt's ``/ws/0`` is a stream index
    return names
