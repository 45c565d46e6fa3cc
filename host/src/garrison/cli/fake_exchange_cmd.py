"""``garrison fake-exchange``: serve recorded candles as a local Bybit or Binance exchange.

Plugin authors and operators point a profile's ``[exchange]`` table at it to
watch the host trade paper or live, offline, in real or accelerated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from garrison.profile.dates import iso_to_ms

if TYPE_CHECKING:
    from garrison.fakex.server import FakeExchange
    from garrison.fakex.tape import MarketTape

EXCHANGES = ("bybit", "binance")
#: Default port of each dialect (what configs/bybit.toml and configs/binance.toml expect).
DEFAULT_PORTS = {"bybit": 8801, "binance": 8802}

_HELP = """Serve recorded candles as a local Bybit (v5) or Binance USDⓈ-M exchange.

The real ccxt / ccxt.pro clients trade against it: markets, candles (REST
and websockets), balance, positions, orders with stops and take-profits,
fills at the open of the bar in progress as in a replay. Give the candle
files with --data (file names <exchange>_<SYMBOL>_<tf>.csv[.gz], e.g.
'data/demo/bybit_*_5m.csv.gz'). It prints the [exchange] lines a profile
needs and serves until Ctrl-C or SIGTERM.

\b
FACTOR (--speed) is market seconds per wall second: 1 is real time (the
default), 60 closes a 5m bar every 5 s, 600 every 0.5 s. --manual stops
the clock; POST /_fake/advance moves it.

\b
Control endpoints (JSON):
  GET  /_fake/state     orders, positions, fills, balance, clock, faults
  POST /_fake/faults    e.g. {"lost_replies": 3}, {"rate_limit": 2},
                        {"ws_close_now": true}, {"gap_candles": 1}
  POST /_fake/advance   {"bars": N} or {"to_ms": MS} (--manual only)
"""


def _utc(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail(message: str) -> SystemExit:
    click.echo(f"error: {message}", err=True)
    return SystemExit(2)


@click.command("fake-exchange", help=_HELP)
@click.option("--exchange", type=click.Choice(EXCHANGES), required=True, help="Venue to speak.")
@click.option(
    "--data",
    "globs",
    multiple=True,
    required=True,
    metavar="GLOB",
    help="Candle files (glob, file or folder); repeat for more.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port on 127.0.0.1 (0: any free port). Default: 8801 bybit, 8802 binance.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="FACTOR",
    help="Market seconds per wall second (default 1: real time).",
)
@click.option("--manual", is_flag=True, help="No clock: time moves by POST /_fake/advance only.")
@click.option(
    "--start",
    default=None,
    metavar="ISO",
    help="Market time to start at (default: --history bars into the data).",
)
@click.option(
    "--history",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bars of history before the start, when --start is not given.",
)
@click.option(
    "--balance",
    type=click.FloatRange(min=0),
    default=10_000.0,
    show_default=True,
    metavar="USDT",
    help="Starting wallet.",
)
@click.option(
    "--api-key-env",
    default=None,
    metavar="NAME",
    help="Accept only the API key in this environment variable (default: any key).",
)
@click.option(
    "--secret-env",
    default=None,
    metavar="NAME",
    help="Check request signatures and timestamps with the secret in this variable.",
)
def fake_exchange(
    exchange: str,
    globs: tuple[str, ...],
    port: int | None,
    host: str,
    speed: float | None,
    manual: bool,
    start: str | None,
    history: int,
    balance: float,
    api_key_env: str | None,
    secret_env: str | None,
) -> None:
    from garrison.engine.feed import FeedError
    from garrison.fakex.tape import MarketTape, TapeError

    if manual and speed is not None:
        raise _fail("--manual and --speed exclude each other")
    start_ms = None
    if start is not None:
        try:
            start_ms = iso_to_ms(start)
        except ValueError as exc:
            raise _fail(f"--start: {exc}") from None
    api_key = _from_env(api_key_env, "--api-key-env")
    secret = _from_env(secret_env, "--secret-env")
    try:
        tape = MarketTape.from_paths(globs, exchange=None)
    except (FeedError, TapeError, OSError) as exc:
        raise _fail(str(exc)) from None
    options: dict[str, Any] = {
        "speed": None if manual else (speed or 1.0),
        "start_ms": start_ms,
        "history": history,
        "balance": balance,
        "api_key": api_key,
        "secret": secret,
    }
    chosen_port = DEFAULT_PORTS[exchange] if port is None else port
    try:
        asyncio.run(_serve(exchange, tape, host, chosen_port, options))
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None


def _from_env(name: str | None, option: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise _fail(f"{option}: environment variable {name} is not set")
    return value


async def _serve(
    exchange: str, tape: MarketTape, host: str, port: int, options: dict[str, Any]
) -> None:
    from garrison.fakex.server import FakeExchange

    fake = FakeExchange(exchange, tape, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await fake.start(host, port)
    try:
        _announce(fake)
        ended = asyncio.create_task(fake.finished.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if ended.done() and not stop.is_set():
            click.echo(f"tape ended at {_utc(tape.now_ms())}; still serving (Ctrl-C stops)")
            sys.stdout.flush()
            await stopping
        ended.cancel()
    finally:
        await fake.stop()
        click.echo("fake exchange stopped")


def _announce(fake: FakeExchange) -> None:
    tape = fake.tape
    symbols = tape.symbols()
    shown = ", ".join(symbols[:6]) + (f" and {len(symbols) - 6} more" if len(symbols) > 6 else "")
    timeframes = sorted({tf for s in symbols for tf in tape.timeframes(s)})
    if fake.speed is None:
        clock = "manual clock (POST /_fake/advance)"
    else:
        bar_s = tape.finest_ms / 1000 / fake.speed
        clock = f"speed {fake.speed:g} (a {tape.price_timeframe(symbols[0])} bar every {bar_s:g} s)"
    lines = [
        f"fake {fake.exchange} exchange: {len(symbols)} symbols ({shown}), "
        f"{', '.join(timeframes)}; market time {_utc(fake.start_ms)}, {clock}",
        f"REST:      {fake.rest_url}",
        f"websocket: {fake.ws_url}",
        "Point a profile at it:",
        "  [exchange]",
        f'  rest_url = "{fake.rest_url}"',
        f'  ws_url = "{fake.ws_url}"',
        "Control: GET /_fake/state, POST /_fake/faults, POST /_fake/advance. Ctrl-C stops.",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()
