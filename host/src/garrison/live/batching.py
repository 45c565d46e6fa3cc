"""Coalesce the creates of one step into the venue's batch-order requests.

A bar close can approve dozens of orders at the same instant. Sent one
request each, they queue behind the rate limiter and the last leaves seconds
after the first. Both venues take several creates in one request (Bybit v5
``/v5/order/create-batch``: 20 linear orders; Binance USDⓈ-M
``/fapi/v1/batchOrders``: 5), counted by the limiter as one request.

:class:`CreateBatcher` keeps the order path's per-order semantics: each
caller awaits :meth:`CreateBatcher.create` exactly as it would
``client.create_order`` and gets that order's reply or that order's exception
(ccxt's class for the venue's per-order error code). Creates made in the same
event-loop turn — a step submits its orders in one synchronous pass — leave
together; a lone create still goes through ``create_order``. When the whole
batch goes unanswered, every order in it gets the network error, and each is
resolved by its client id, never resent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as ccxt

#: Orders per batch request, by exchange (the venues' documented maxima for linear contracts).
BATCH_LIMIT = {"bybit": 20, "binance": 5}

_Request = dict[str, Any]


class CreateBatcher:
    """``await create(...)`` as ``client.create_order``, batched with the creates beside it."""

    def __init__(self, client: Any, exchange: str, limit: int | None = None) -> None:
        self._client = client
        self._limit = max(1, limit if limit is not None else BATCH_LIMIT.get(exchange, 1))
        self._pending: list[tuple[_Request, asyncio.Future[dict[str, Any]]]] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: Requests sent, and how many of them carried more than one order.
        self.requests = 0
        self.batches = 0

    async def create(
        self, symbol: str, side: str, amount: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a market order; the reply or the exception of that one order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        request: _Request = {
            "symbol": symbol,
            "type": "market",
            "side": side,
            "amount": amount,
            "price": None,
            "params": params,
        }
        self._pending.append((request, future))
        if not self._flush_scheduled:
            # The next loop turn: after every task the step woke has queued its create.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending = [(r, f) for r, f in self._pending if not f.done()]
        self._pending = []
        for start in range(0, len(pending), self._limit):
            chunk = pending[start : start + self._limit]
            task = asyncio.ensure_future(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: list[tuple[_Request, asyncio.Future[dict[str, Any]]]]) -> None:
        self.requests += 1
        try:
            if len(chunk) == 1:
                request, _ = chunk[0]
                replies = [
                    await self._client.create_order(
                        request["symbol"],
                        "market",
                        request["side"],
                        request["amount"],
                        None,
                        request["params"],
                    )
                ]
            else:
                self.batches += 1
                replies = list(await self._client.create_orders([r for r, _ in chunk]))
        except (ccxt.NetworkError, ccxt.RateLimitExceeded) as exc:
            # Unanswered or refused before booking: every order shares the request's fate.
            self._fail(chunk, exc)
            return
        except ccxt.BaseError as exc:
            if len(chunk) == 1:
                self._fail(chunk, exc)
                return
            # The whole request refused, nothing booked (ccxt checks each order before
            # sending; the venue refuses a malformed batch whole): one bad order must
            # not take the others with it, so each goes again on its own.
            await asyncio.gather(*(self._send([item]) for item in chunk))
            return
        except Exception as exc:
            self._fail(chunk, exc)
            return
        if len(chunk) == 1 and replies:
            outcomes: list[dict[str, Any] | BaseException] = [replies[0]]
        else:
            outcomes = match_replies(self._client, [r for r, _ in chunk], replies)
        for (_, future), outcome in zip(chunk, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    @staticmethod
    def _fail(chunk: list[tuple[_Request, asyncio.Future[dict[str, Any]]]], exc: Exception) -> None:
        for _, future in chunk:
            if not future.done():
                future.set_exception(exc)


def match_replies(
    client: Any, requests: list[_Request], replies: list[dict[str, Any]]
) -> list[dict[str, Any] | BaseException]:
    """Each request's reply, or the exception its per-order error code stands for.

    ccxt sorts a batch's parsed replies by timestamp, so position is not
    order: an accepted order is matched by its client id; refused ones carry
    no id (Bybit answers ``orderLinkId: ""``, Binance only ``{code, msg}``) and
    keep their relative order (the sort is stable and puts them first), so
    they pair with the unmatched requests in request order. A request left
    without a reply gets a network error: its outcome is unknown.
    """
    by_cid: dict[str, dict[str, Any]] = {}
    refused: list[BaseException] = []
    for reply in replies:
        error = reply_error(client, reply)
        if error is not None:
            refused.append(error)
            continue
        cid = reply.get("clientOrderId")
        if cid:
            by_cid[str(cid)] = reply
    outcomes: list[dict[str, Any] | BaseException] = []
    unmatched = iter(refused)
    for request in requests:
        cid = str(request["params"].get("clientOrderId") or "")
        found = by_cid.pop(cid, None) if cid else None
        if found is not None:
            outcomes.append(found)
            continue
        outcomes.append(
            next(
                unmatched,
                ccxt.RequestTimeout(f"no answer for order {cid or '?'} in the batch reply"),
            )
        )
    return outcomes


def reply_error(client: Any, reply: dict[str, Any]) -> BaseException | None:
    """The ccxt exception for a refused batch item (its ``code``), or None when accepted."""
    info = reply.get("info") or {}
    code = info.get("code")
    if code in (None, "", 0, "0"):
        return None
    message = str(info.get("msg") or "")
    exceptions = getattr(client, "exceptions", None) or {}
    kind = None
    # Binance keeps its USDⓈ-M codes in a "linear" map, checked first at the venue.
    for table in (exceptions.get("linear") or {}, exceptions):
        kind = (table.get("exact") or {}).get(str(code))
        if kind is None:
            for fragment, broad in (table.get("broad") or {}).items():
                if fragment in message:
                    kind = broad
                    break
        if kind is not None:
            break
    error: BaseException = (kind or ccxt.ExchangeError)(f"{client.id} {code} {message}")
    return error
