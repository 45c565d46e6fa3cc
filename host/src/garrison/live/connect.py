"""Build the ccxt / ccxt.pro client for a profile's exchange, network and endpoint.

One function makes every client the host uses (the live feed, the order
path, ``garrison data download``), so they all share the same options: linear
USDT perpetuals only, ccxt's rate limiter on, its clock-skew adjustment on,
verbose off (verbose would print signed requests). ``rest_url``/``ws_url``
point the client somewhere else than the exchange, e.g. at ``garrison
fake-exchange`` on 127.0.0.1: every REST and websocket address of the client
keeps its path and gets that scheme, host and port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiolimiter import AsyncLimiter

#: ccxt class name of each exchange Garrison trades (USDT-margined perpetuals).
CCXT_CLASS = {"bybit": "bybit", "binance": "binanceusdm"}


def client_options(exchange: str) -> dict[str, Any]:
    """ccxt ``options`` for linear USDT perpetuals on ``exchange``."""
    if exchange == "bybit":
        return {
            "defaultType": "swap",
            "defaultSubType": "linear",
            "fetchMarkets": {"types": ["linear"]},
            "adjustForTimeDifference": True,
            # The feed reads kline messages as they come (live/klines.py), not
            # ccxt's candle cache: keep that cache to the last two candles.
            "OHLCVLimit": 2,
        }
    if exchange == "binance":
        return {
            "defaultType": "future",
            "fetchMarkets": {"types": ["linear"]},
            # load_markets would otherwise call the spot wallet's private sapi
            # (capital/config/getall, margin/allPairs): not needed for USDT-M futures,
            # and a futures-only key or a fake exchange does not serve them.
            "fetchCurrencies": False,
            "fetchMargins": False,
            # reconciliation lists every symbol's open orders in one request (weight 40)
            # instead of one per symbol; ccxt refuses a symbol-less call without this.
            "fetchOpenOrders": {"warnWithoutSymbol": False},
            "adjustForTimeDifference": True,
            "OHLCVLimit": 2,
        }
    raise ValueError(f"unknown exchange {exchange!r}: Garrison trades 'bybit' or 'binance'")


#: The trading clients' burst, by exchange: (ccxt cost units that may leave at once after
#: a pause, the window in seconds the venue counts requests in). Bybit counts requests
#: per second per endpoint; Binance counts orders per 10 s (and per minute).
BURST = {"bybit": (15.0, 1.0), "binance": (50.0, 10.0)}


def allow_burst(client: Any, exchange: str) -> None:
    """Let a bar close's requests leave together, within ccxt's own budget per venue window.

    ccxt's leaky bucket refills only while requests wait: after a quiet
    minute its first request leaves at once and each next one waits its
    cost, so the 54th order of a bar close leaves seconds after the first
    although the venue would take them together. The trading clients (one
    for creates, one for the account's reads) keep ccxt's hook and ccxt's
    costs but meter them with aiolimiter's bucket, which refills during idle
    time too: it holds ``burst`` cost units and drains at the rate that makes
    ``burst`` plus one window's refill equal what ccxt's default pace allows
    in that window, so no venue window sees more from a client than ccxt
    itself would send. (Bybit: 15 units, three 20-order batches at once,
    then 35 units/s instead of 50.) The venues limit orders apart from reads
    (Bybit per endpoint, Binance's order count apart from request weight),
    which is why each kind has a client and a bucket of its own.
    """
    burst, window_s = BURST[exchange]
    budget = window_s * 1000.0 / float(client.rateLimit)  # cost units ccxt allows per window
    refill_per_s = max(budget - burst, budget / 4) / window_s
    limiter = AsyncLimiter(burst, burst / refill_per_s)

    async def throttle(cost: float | None = None) -> None:
        # A request dearer than the whole burst waits for a full bucket.
        await limiter.acquire(min(float(cost or 1.0), burst))

    client.throttle = throttle


def _repoint(url: str, rest: str | None, ws: str | None) -> str:
    parts = urlsplit(url)
    target = ws if parts.scheme in ("ws", "wss") else rest
    if target is None or not parts.scheme:
        return url
    base = urlsplit(target)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


def _repoint_all(node: Any, rest: str | None, ws: str | None) -> Any:
    if isinstance(node, str):
        return _repoint(node, rest, ws)
    if isinstance(node, dict):
        return {k: _repoint_all(v, rest, ws) for k, v in node.items()}
    return node


def point_at(client: Any, rest_url: str | None, ws_url: str | None) -> None:
    """Send every request of ``client`` to ``rest_url`` / ``ws_url`` (same paths)."""
    hostname = getattr(client, "hostname", None)
    api = client.urls["api"]
    if hostname:  # Bybit writes 'https://api.{hostname}': fill it in before repointing
        api = _fill_hostname(api, hostname)
    client.urls["api"] = _repoint_all(api, rest_url, ws_url)
    _linear_errors_everywhere(client)


def _linear_errors_everywhere(client: Any) -> None:
    """Keep the venue's error classes when the client talks to another host.

    ccxt's Binance picks its USDⓈ-M error map ("linear": -2019 Margin is
    insufficient -> InsufficientFunds, -2022 ReduceOnly rejected, -4116 duplicate
    client id...) by the request URL's host (fapi.binance.com); at another
    host only the shared map applies, where those codes are a bare
    ExchangeError. The linear map is checked first at the venue, so laying it
    over the shared one changes nothing there.
    """
    exceptions = getattr(client, "exceptions", None)
    if not isinstance(exceptions, dict):
        return
    linear = exceptions.get("linear")
    if not isinstance(linear, dict):
        return
    for kind in ("exact", "broad"):
        merged = dict(exceptions.get(kind) or {})
        merged.update(linear.get(kind) or {})
        exceptions[kind] = merged


def _fill_hostname(node: Any, hostname: str) -> Any:
    if isinstance(node, str):
        return node.replace("{hostname}", hostname)
    if isinstance(node, dict):
        return {k: _fill_hostname(v, hostname) for k, v in node.items()}
    return node


def make_client(
    exchange: str,
    *,
    network: str = "testnet",
    rest_url: str | None = None,
    ws_url: str | None = None,
    api_key: str | None = None,
    secret: str | None = None,
    timeout_ms: int = 10_000,
    pro: bool = True,
    burst: bool = False,
) -> Any:
    """A ccxt.pro (``pro=True``) or ccxt async client, ready for ``load_markets``.

    ``network`` is ``testnet``, ``demo`` or ``mainnet``; it is ignored when
    ``rest_url`` points the client elsewhere (a fake exchange has one network).
    ``burst``: a trading client (orders, or the account's reads), with a
    burst allowance (:func:`allow_burst`) and a limiter of its own, so that
    candle backfills never queue in front of an order.
    """
    if pro:
        import ccxt.pro as module
    else:
        import ccxt.async_support as module
    config: dict[str, Any] = {
        # ccxt's own limiter (its leaky bucket). Its rolling window would let a bar's
        # orders leave together, but it waits forever for a request that costs more
        # than the window holds (Binance's open orders of all symbols: 40 > 20).
        "enableRateLimit": True,
        "timeout": timeout_ms,
        "options": client_options(exchange),
        "verbose": False,
    }
    if api_key:
        config["apiKey"] = api_key
    if secret:
        config["secret"] = secret
    client = getattr(module, CCXT_CLASS[exchange])(config)
    if burst:
        allow_burst(client, exchange)
    if rest_url or ws_url:
        point_at(client, rest_url, ws_url)
    elif network == "testnet":
        client.set_sandbox_mode(True)
    elif network == "demo":
        client.enable_demo_trading(True)
    return client
