"""The fake exchange: one aiohttp server on 127.0.0.1 serving a venue's REST and websockets.

:class:`FakeExchange` ties the market tape, the account and the faults to a
venue dialect (``garrison.fakex.bybit`` or ``garrison.fakex.binance``, each
exposing ``mount(app, fake)``) and runs the market clock: with ``speed`` one
asyncio task walks the tape at that many market seconds per wall second;
without it tests move time with :meth:`FakeExchange.advance`. At every bar
close, strictly in this order: the account judges resting orders on the bar's
high/low, then listeners get the closed bars and the next bars' first
(open-only) updates.

Control endpoints for tests and out-of-process use: ``GET /_fake/state``,
``POST /_fake/faults`` (JSON of :class:`~garrison.fakex.faults.Faults`
fields, plus ``"ws_close_now": true``), ``POST /_fake/advance``
(``{"bars": N}`` or ``{"to_ms": MS}``, manual clock only).

The server clock (what the venue's time endpoint returns and signed requests
are checked against) is the wall clock plus the ``clock_skew_ms`` fault; market
time (candles, order and fill times) is the tape's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from aiohttp import WSMsgType, web

from garrison.fakex.account import FakeAccount, Fees
from garrison.fakex.faults import Faults
from garrison.fakex.tape import MarketTape, SeriesBar

EXCHANGES = ("bybit", "binance")

#: ``callback(close_ms, closed, opened)``: bars that closed at ``close_ms`` and
#: the open-only first updates of the bars that began then.
BarCloseListener = Callable[[int, list[SeriesBar], list[SeriesBar]], None]


def _dialect(exchange: str) -> Callable[[web.Application, FakeExchange], None]:
    # Imported on use: a dialect module may not exist yet, and only one is needed.
    try:
        module = importlib.import_module(f"garrison.fakex.{exchange}")
    except ModuleNotFoundError as exc:
        if exc.name != f"garrison.fakex.{exchange}":
            raise
        raise ValueError(
            f"the fake exchange cannot speak {exchange!r} yet: "
            f"garrison.fakex.{exchange} is not installed in this version"
        ) from None
    mount: Callable[[web.Application, FakeExchange], None] = module.mount
    return mount


class WsPeer:
    """One client websocket with an ordered outbox drained by a single writer task.

    Dialects enqueue from synchronous bar-close listeners; the writer sends
    batches in order, so a slow client never blocks the clock.
    """

    def __init__(self, fake: FakeExchange, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.request = request
        self.ws = ws
        #: Topics (streams) this client subscribed to, in the dialect's naming.
        self.topics: set[str] = set()
        self.alive = True
        self.conn_id = f"fake-{id(self):x}"
        self._outbox: asyncio.Queue[list[str] | None] = asyncio.Queue()

    def send(self, text: str) -> None:
        """Queue one text frame."""
        if self.alive:
            self._outbox.put_nowait([text])

    def send_all(self, texts: list[str]) -> None:
        """Queue frames to go out back to back."""
        if self.alive and texts:
            self._outbox.put_nowait(texts)

    def abort(self) -> None:
        """Drop the connection without a close frame (the client sees 1006)."""
        self.alive = False
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self._outbox.put_nowait(None)

    async def close(self, code: int = 1001) -> None:
        """Close politely (going away); drop the connection if the client does not answer."""
        if self.alive:
            self.alive = False
            self._outbox.put_nowait(None)
            try:
                await asyncio.wait_for(self.ws.close(code=code), 2.0)
            except Exception:
                transport = self.request.transport
                if transport is not None:
                    transport.abort()

    async def _write(self) -> None:
        while True:
            batch = await self._outbox.get()
            if batch is None or not self.alive:
                return
            try:
                for text in batch:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.alive = False
                return

    async def serve(self, on_text: Callable[[WsPeer, str], None]) -> None:
        """Run the connection: ``on_text`` for every text frame until it closes."""
        self.fake._peers.add(self)
        writer = asyncio.create_task(self._write())
        try:
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    on_text(self, message.data)
                elif message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.alive = False
            self.fake._peers.discard(self)
            self._outbox.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


class FakeExchange:
    """A local venue replaying ``tape`` as its market (see the module docstring)."""

    def __init__(
        self,
        exchange: str,
        tape: MarketTape,
        *,
        speed: float | None = None,
        start_ms: int | None = None,
        history: int = 1000,
        balance: float = 10_000.0,
        fees: Fees | None = None,
        faults: Faults | None = None,
        api_key: str | None = None,
        secret: str | None = None,
        both_touched: str = "stop_first",
    ) -> None:
        if exchange not in EXCHANGES:
            raise ValueError(
                f"unknown exchange {exchange!r}: the fake speaks {' or '.join(EXCHANGES)}"
            )
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 market seconds per wall second, not {speed!r}")
        if both_touched not in ("stop_first", "take_profit_first"):
            raise ValueError(
                f"both_touched must be 'stop_first' or 'take_profit_first', not {both_touched!r}"
            )
        self.exchange = exchange
        self.tape = tape
        if tape.exchange is None:
            tape.exchange = exchange
        self.speed = speed
        self.faults = faults if faults is not None else Faults()
        self.api_key = api_key
        self._secret = secret
        self.start_ms = tape.default_start(history) if start_ms is None else int(start_ms)
        tape.reset(self.start_ms)
        self.account = FakeAccount(
            tape,
            balance=balance,
            fees=fees,
            faults=self.faults,
            take_profit_first=both_touched == "take_profit_first",
        )
        #: Called when an order has been booked, before its reply is written (a test
        #: can stop a client there: "the order reached the venue, the answer did not").
        self.after_booking: Callable[[], None] | None = None
        #: Set when the tape has ended (the clock stopped at the data's end).
        self.finished = asyncio.Event()
        self.rest_url = ""
        self.ws_url = ""
        self.port = 0
        self._listeners: list[BarCloseListener] = []
        self._peers: set[WsPeer] = set()
        self._stopping = asyncio.Event()
        self._clock: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._bar_closes = 0
        self._stall_until: int | None = None
        self._rate_limit_streak = 0
        self.app = web.Application()
        self.app.router.add_get("/_fake/state", self._get_state)
        self.app.router.add_post("/_fake/faults", self._post_faults)
        self.app.router.add_post("/_fake/advance", self._post_advance)
        _dialect(exchange)(self.app, self)

    # -- life cycle --------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: a free port) and start the clock when it runs."""
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.rest_url = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}"
        if self.tape.next_event_ms() is None:
            self.finished.set()
        if self.speed is not None:
            self._clock = asyncio.create_task(self._run_clock(self.speed))

    async def stop(self) -> None:
        """Stop the clock, release held replies, close websockets, stop serving."""
        self._stopping.set()
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        await asyncio.gather(*(peer.close() for peer in list(self._peers)))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the clock ----------------------------------------------------------------------

    def now_ms(self) -> int:
        """Market time (ms)."""
        return self.tape.now_ms()

    def server_time_ms(self) -> int:
        """The venue's clock: wall time plus the ``clock_skew_ms`` fault."""
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    def on_bar_close(self, callback: BarCloseListener) -> None:
        """Call ``callback(close_ms, closed, opened)`` at every bar close (synchronously)."""
        self._listeners.append(callback)

    async def _run_clock(self, speed: float, until_ms: int | None = None) -> None:
        self.tape.run_at(speed)
        while True:
            event = self.tape.next_event_ms()
            if event is None:
                break
            if until_ms is not None and event > until_ms:
                self.tape.run_at(None)  # stand still at the last event, as a paused clock
                self.speed = None
                self._clock = None
                return
            delay = self.tape.wall_time_of(event) - time.monotonic()
            await asyncio.sleep(max(delay, 0.0))
            self._process_next()
        self.finished.set()

    async def pause(self) -> None:
        """Stop a running clock where it stands; :meth:`run` starts it again."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        self.tape.run_at(None)
        self.speed = None

    def run(self, speed: float, until_ms: int | None = None) -> None:
        """Start a manual clock at ``speed`` from where it stands (e.g. once clients are ready).

        With ``until_ms`` it stops again after the bar closes at or before it.

        A parity run warms the host up on a standing market, then lets time
        run, so the host's first decision is on the same bar as a replay's.
        """
        if self._clock is not None:
            raise RuntimeError("the fake's clock is already running")
        if not speed > 0:
            raise ValueError(f"speed must be > 0 market seconds per wall second, not {speed!r}")
        self.speed = speed
        self._clock = asyncio.create_task(self._run_clock(speed, until_ms))

    async def advance(self, bars: int = 1) -> None:
        """Manual clock: move market time ``bars`` bars of the finest timeframe on."""
        await self.advance_to(self.tape.now_ms() + bars * self.tape.finest_ms)

    async def advance_to(self, ms: int) -> None:
        """Manual clock: process every bar close up to market time ``ms``."""
        if self.speed is not None:
            raise RuntimeError("the fake's clock runs at a speed; advance only a manual clock")
        while True:
            event = self.tape.next_event_ms()
            if event is None or event > ms:
                break
            self._process_next()
            await asyncio.sleep(0)  # let writers and handlers run between bar closes
        if self.tape.next_event_ms() is None:
            self.finished.set()
        else:
            self.tape.move_to(ms)

    def _process_next(self) -> None:
        close_ms, closed, opened = self.tape.step()
        working = set(self.account.working_symbols())
        if working:
            tape = self.tape
            bars = {
                symbol: bar
                for symbol, tf, bar in closed
                if symbol in working and tf == tape.price_timeframe(symbol)
            }
            if bars:
                self.account.on_bar_close(close_ms, bars)
        if closed:
            self._bar_closes += 1
            self._websocket_faults(close_ms)
        for listener in self._listeners:
            listener(close_ms, closed, opened)
        if self.tape.next_event_ms() is None:
            self.finished.set()

    # -- websockets ---------------------------------------------------------------------

    def _websocket_faults(self, close_ms: int) -> None:
        every = self.faults.ws_close_every
        if every > 0 and self._bar_closes % every == 0 and self._peers:
            self.close_websockets()
        if self.faults.ws_stall_s > 0:
            self._stall_until = close_ms + int(self.faults.ws_stall_s * 1000)
            self.faults.ws_stall_s = 0.0
            self.faults.note("ws_stall")

    def close_websockets(self) -> int:
        """Abort every open websocket now (clients see code 1006); how many were open."""
        peers = [p for p in self._peers if p.alive]
        for peer in peers:
            peer.abort()
        self._peers.clear()
        if peers:
            self.faults.note("ws_close", len(peers))
        return len(peers)

    def candles_paused(self, close_ms: int) -> bool:
        """Is the websocket feed stalled at ``close_ms``? (Dialects then send no candles.)"""
        if self._stall_until is None:
            return False
        if close_ms < self._stall_until:
            self.faults.note("ws_stall_bar_closes")
            return True
        self._stall_until = None
        return False

    def answers_pings(self) -> bool:
        """False while the ``drop_pongs`` fault is on (each ignored ping is counted)."""
        if self.faults.drop_pongs:
            self.faults.note("drop_pongs")
            return False
        return True

    @property
    def peers(self) -> list[WsPeer]:
        """Open websockets."""
        return [p for p in self._peers if p.alive]

    # -- REST faults and auth -----------------------------------------------------------

    def rate_limited(self, is_order: bool) -> int:
        """0 when the request may pass; else how many refusals in a row this one makes."""
        if self.faults.rate_limit_orders_only and not is_order:
            return 0
        if self.faults.take("rate_limit"):
            self._rate_limit_streak += 1
            return self._rate_limit_streak
        self._rate_limit_streak = 0
        return 0

    async def fault_after_booking(
        self, conditional: bool = False, orders: int = 1
    ) -> web.Response | None:
        """For a request that just booked ``orders`` orders: a lost reply (held, then
        dropped) or a 5xx, or None.

        ``conditional``: an order is a stop or take-profit (the faults may spare
        those). A fault strikes the request, so every order of a batch loses its
        reply: ``injected`` counts the requests under the fault's name and the
        orders under ``<name>_orders``.
        """
        if self.after_booking is not None:
            self.after_booking()
        if not self.faults.strikes_booked(conditional):
            return None
        fired = await self._booking_fault()
        if fired is not None:
            self.faults.note(f"{fired[0]}_orders", orders)
            return fired[1]
        return None

    async def _booking_fault(self) -> tuple[str, web.Response] | None:
        if self.faults.take("lost_replies"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.faults.lost_reply_hold_s)
            return "lost_replies", web.Response(status=504, text="gateway timeout")
        if self.faults.take("errors_5xx_after_booking"):
            status = self.faults.error_5xx_status
            return "errors_5xx_after_booking", web.Response(
                status=status,
                text=f"<html><body><h1>{status} Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        return None

    def key_ok(self, key: str | None) -> bool:
        """Is ``key`` the account's API key (any non-empty key when none was set)?"""
        if not key:
            return False
        return self.api_key is None or hmac.compare_digest(key, self.api_key)

    def signature_ok(self, payload: str, signature: str | None) -> bool:
        """HMAC-SHA256 (hex) of ``payload`` with the secret; any signature when none was set."""
        if not signature:
            return False
        if self._secret is None:
            return True
        expected = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())

    @property
    def checks_signatures(self) -> bool:
        """True when a secret was given: signatures and timestamps are verified."""
        return self._secret is not None

    # -- control endpoints ---------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Orders, positions, fills, balance, clock and faults as JSON-ready data."""
        wallet, available, unrealised = self.account.balance()
        return {
            "exchange": self.exchange,
            "clock": {
                "now_ms": self.tape.now_ms(),
                "start_ms": self.start_ms,
                "end_ms": self.tape.end_ms,
                "next_event_ms": self.tape.next_event_ms(),
                "speed": self.speed,
                "finished": self.finished.is_set(),
                "server_time_ms": self.server_time_ms(),
            },
            "balance": {"wallet": wallet, "available": available, "unrealised": unrealised},
            "positions": [attrs.asdict(p) for p in self.account.positions()],
            "orders": [attrs.asdict(o) for o in self.account.orders()],
            "fills": [attrs.asdict(f) for f in self.account.fills()],
            "faults": self.faults.as_dict(),
            "websockets": len(self.peers),
        }

    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _post_faults(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        close_now = body.pop("ws_close_now", False)
        try:
            self.faults.update(body)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        closed = self.close_websockets() if close_now is True else 0
        return web.json_response({"faults": self.faults.as_dict(), "closed_websockets": closed})

    async def _post_advance(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        if self.speed is not None:
            return web.json_response(
                {"error": "the clock runs at a speed; /_fake/advance needs a manual clock"},
                status=409,
            )
        bars, to_ms = body.get("bars"), body.get("to_ms")
        if isinstance(to_ms, int) and not isinstance(to_ms, bool):
            await self.advance_to(to_ms)
        elif bars is None or (isinstance(bars, int) and not isinstance(bars, bool) and bars >= 0):
            await self.advance(1 if bars is None else bars)
        else:
            return web.json_response(
                {"error": 'give {"bars": N} (N >= 0) or {"to_ms": MS}'}, status=400
            )
        return web.json_response(self.state()["clock"])


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    text = await request.text()
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    return body


@contextlib.asynccontextmanager
async def running_fake(
    exchange: str,
    tape: MarketTape,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> AsyncIterator[FakeExchange]:
    """A started :class:`FakeExchange` (``options`` as its keywords), stopped on exit."""
    fake = FakeExchange(exchange, tape, **options)
    await fake.start(host, port)
    try:
        yield fake
    finally:
        await fake.stop()
