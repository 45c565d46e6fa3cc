"""Bybit's public linear websocket (``/v5/public/linear``) for the fake exchange: klines.

Clients send ``{"op": "subscribe", "args": ["kline.5.BTCUSDT", ...]}`` and
get Bybit's ack (``success``, ``ret_msg``, ``conn_id``, ``req_id``, ``op``),
then the bar in progress at once, then at every bar close the closed bar
(``confirm: true``) and the next bar's first update (open-only, ``confirm:
false``). ``{"op": "ping"}`` is answered ``ret_msg: "pong"`` as Bybit's
linear stream does.

Each message text is built once per bar close and handed to every
connection subscribed to its topic, so a close of hundreds of symbols costs
one string per symbol, not one per symbol and connection.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from garrison.fakex.bybit_shapes import INTERVALS, TIMEFRAMES
from garrison.fakex.numbers import num
from garrison.fakex.server import FakeExchange, WsPeer
from garrison.fakex.tape import Bar, SeriesBar
from garrison.profile.timeframes import timeframe_ms


def kline_message(topic: str, interval: str, tf_ms: int, bar: Bar, confirm: bool, ts: int) -> str:
    """The text of one ``kline.<interval>.<symbol>`` push."""
    start, o, h, lo, c, v = bar
    return (
        f'{{"topic":"{topic}","data":[{{"start":{start},"end":{start + tf_ms - 1},'
        f'"interval":"{interval}","open":"{num(o)}","close":"{num(c)}","high":"{num(h)}",'
        f'"low":"{num(lo)}","volume":"{num(v)}","turnover":"{num(v * c)}",'
        f'"confirm":{"true" if confirm else "false"},"timestamp":{ts}}}],'
        f'"ts":{ts},"type":"snapshot"}}'
    )


class BybitPublicStream:
    """Kline subscriptions of every public linear websocket of one fake exchange."""

    def __init__(self, fake: FakeExchange) -> None:
        self.fake = fake
        self.tape = fake.tape
        self._peers: set[WsPeer] = set()
        #: How many connections hold each topic (a close builds only those messages).
        self._subscribers: dict[str, int] = {}
        self._topic_of: dict[tuple[str, str], str] = {}

    def _topic(self, symbol: str, tf: str) -> str:
        topic = self._topic_of.get((symbol, tf))
        if topic is None:
            topic = f"kline.{INTERVALS.get(tf, tf)}.{symbol}"
            self._topic_of[(symbol, tf)] = topic
        return topic

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # No permessage-deflate: Bybit's stream is plain text, and compressing
        # every frame of a several-hundred-symbol close would cost the clock.
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        peer = WsPeer(self.fake, request, ws)
        self._peers.add(peer)
        try:
            await peer.serve(self._on_text)
        finally:
            self._peers.discard(peer)
            for topic in peer.topics:
                self._unsubscribed(topic)
            peer.topics.clear()
        return ws

    def _unsubscribed(self, topic: str) -> None:
        left = self._subscribers.get(topic, 0) - 1
        if left > 0:
            self._subscribers[topic] = left
        else:
            self._subscribers.pop(topic, None)

    def _reply(self, peer: WsPeer, op: str, req_id: Any, success: bool, ret_msg: str) -> None:
        message: dict[str, Any] = {
            "success": success,
            "ret_msg": ret_msg,
            "conn_id": peer.conn_id,
            "op": op,
        }
        if req_id is not None:
            message["req_id"] = req_id
        peer.send(json.dumps(message, separators=(",", ":")))

    def _on_text(self, peer: WsPeer, text: str) -> None:
        try:
            request = json.loads(text)
        except json.JSONDecodeError:
            self._reply(peer, "", None, False, f"error:request not json: {text[:100]}")
            return
        if not isinstance(request, dict):
            self._reply(peer, "", None, False, "error:request must be a JSON object")
            return
        op = request.get("op")
        req_id = request.get("req_id")
        if op == "ping":
            if self.fake.answers_pings():
                self._reply(peer, "ping", req_id, True, "pong")
            return
        args = request.get("args")
        if op in ("subscribe", "unsubscribe") and not isinstance(args, list):
            self._reply(peer, str(op), req_id, False, "error:args must be a list of topics")
            return
        if op == "subscribe":
            self._subscribe(peer, req_id, [str(a) for a in args or []])
        elif op == "unsubscribe":
            for topic in [str(a) for a in args or []]:
                if topic in peer.topics:
                    peer.topics.discard(topic)
                    self._unsubscribed(topic)
            self._reply(peer, "unsubscribe", req_id, True, "")
        else:
            self._reply(peer, str(op), req_id, False, f"error:unknown op {op!r}")

    def _series_of(self, topic: str) -> tuple[str, str] | None:
        parts = topic.split(".")
        if len(parts) != 3 or parts[0] != "kline":
            return None
        tf = TIMEFRAMES.get(parts[1])
        if tf is None or not self.tape.has(parts[2], tf):
            return None
        return parts[2], tf

    def _subscribe(self, peer: WsPeer, req_id: Any, topics: list[str]) -> None:
        bad = [t for t in topics if self._series_of(t) is None]
        if bad:
            self._reply(peer, "subscribe", req_id, False, f"error:handler not found,topic:{bad[0]}")
            return
        fresh = [t for t in topics if t not in peer.topics]
        for topic in fresh:
            peer.topics.add(topic)
            self._subscribers[topic] = self._subscribers.get(topic, 0) + 1
        self._reply(peer, "subscribe", req_id, True, "")
        now = self.fake.now_ms()
        snapshots = []
        for topic in fresh:
            series = self._series_of(topic)
            assert series is not None
            symbol, tf = series
            bars = self.tape.klines(symbol, tf, limit=1)
            if bars:
                confirm = bars[-1][0] + timeframe_ms(tf) <= now
                snapshots.append(
                    kline_message(topic, INTERVALS[tf], timeframe_ms(tf), bars[-1], confirm, now)
                )
        peer.send_all(snapshots)

    def on_bar_close(self, close_ms: int, closed: list[SeriesBar], opened: list[SeriesBar]) -> None:
        """Push the closed bars (confirm true), then the next bars' first updates."""
        subscribers = self._subscribers
        if not subscribers or self.fake.candles_paused(close_ms):
            return
        closed_msgs = self._messages(closed, True, close_ms)
        opened_msgs = self._messages(opened, False, close_ms)
        ordered = self.fake.faults.shape_candles(closed_msgs, opened_msgs)
        if not ordered:
            return
        for peer in list(self._peers):
            if not peer.alive:
                continue
            topics = peer.topics
            peer.send_all([text for topic, text in ordered if topic in topics])

    def _messages(self, bars: list[SeriesBar], confirm: bool, ts: int) -> list[tuple[str, str]]:
        subscribers = self._subscribers
        out = []
        for symbol, tf, bar in bars:
            topic = self._topic(symbol, tf)
            if topic in subscribers:
                tf_ms = timeframe_ms(tf)
                out.append((topic, kline_message(topic, INTERVALS[tf], tf_ms, bar, confirm, ts)))
        return out
