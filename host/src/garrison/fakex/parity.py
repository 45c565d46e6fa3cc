"""Live equals replay: one profile as a backtest and live against the fake exchange.

:func:`live_parity` takes a replay profile (Turtle System 1 in the bench),
candle files and a window, then:

1. replays the window through the replay driver;
2. starts :class:`~garrison.fakex.server.FakeExchange` on the same files,
   its clock at the window's first bar and running ``speed`` times faster
   than real time, and runs the same profile in ``mode = "live"`` against
   it: real ccxt / ccxt.pro clients, websockets, REST orders with their
   stops on the exchange;
3. compares the closed trades: symbol, side, quantity, entry and exit bar
   and reason equal; prices equal to the tick (live prices sit on the tick
   grid, the replay's stops do not).

Both runs see exactly the same bars before the window (the warm-up rule),
so incremental and vectorised indicators start from the same history. The
fake's fees, balance and "both touched" rule are the profile's broker's.
Plugin authors can run it on their own strategies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from garrison_api import Trade

from garrison.engine.feed import discover, load_csv
from garrison.engine.run import replay, run_profile, warmup_bars
from garrison.engine.sources import DataSelection
from garrison.fakex.account import Fees
from garrison.fakex.server import FakeExchange, running_fake
from garrison.fakex.tape import MarketTape
from garrison.plugins.manager import PluginSet
from garrison.profile.model import Credentials, Exchange, ExchangeConfig, Mode, Profile
from garrison.profile.timeframes import timeframe_ms

#: The bundled instrument snapshot of each venue (the fake serves the same rules).
SNAPSHOTS = {"bybit": "bybit_linear", "binance": "binance_usdm"}


@attrs.frozen
class ParityResult:
    """What :func:`live_parity` found."""

    replay_trades: int
    live_trades: int
    #: Trades equal in both runs (position by position, in order).
    identical: int
    wall_s: float
    replay_s: float
    live_s: float
    symbols: tuple[str, ...]
    bars: int
    speed: float
    window: tuple[int, int]
    #: The first differences, one line each (empty when the runs agree).
    mismatches: tuple[str, ...] = ()
    live_events: dict[str, int] = attrs.Factory(dict)
    feed: dict[str, int] = attrs.Factory(dict)

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _key(t: Trade) -> tuple[Any, ...]:
    return (t.symbol, t.side.value, t.entry_ts, t.exit_ts, t.exit_reason.value)


def compare_trades(
    replayed: Sequence[Trade], live: Sequence[Trade], ticks: dict[str, float]
) -> tuple[int, list[str]]:
    """How many trades agree, and a line for each that does not (see the module docstring)."""
    order = sorted(replayed, key=_key)
    other = sorted(live, key=_key)
    same = 0
    problems: list[str] = []
    for a, b in zip(order, other, strict=False):
        tick = ticks.get(a.symbol, 0.0)
        if (
            _key(a) == _key(b)
            and abs(a.qty - b.qty) <= 1e-9 * max(1.0, abs(a.qty))
            and abs(a.entry_price - b.entry_price) <= tick * 1.000001
            and abs(a.exit_price - b.exit_price) <= tick * 1.000001
        ):
            same += 1
        else:
            problems.append(
                f"replay {_key(a)} qty {a.qty:g} {a.entry_price:g}->{a.exit_price:g} | "
                f"live {_key(b)} qty {b.qty:g} {b.entry_price:g}->{b.exit_price:g}"
            )
    if len(order) != len(other):
        problems.append(f"replay made {len(order)} trades, live {len(other)}")
    return same, problems


async def live_parity(
    profile: Profile,
    plugins: PluginSet,
    data: Sequence[str],
    *,
    exchange: Exchange,
    work_dir: Path,
    symbols: Sequence[str] = (),
    bars: int = 576,
    skip: int = 0,
    speed: float = 600.0,
    step_wait_s: float = 2.0,
    reconcile_s: float = 30.0,
    watch: Callable[[FakeExchange], None] | None = None,
) -> ParityResult:
    """Run ``profile`` as a replay and live against the fake; compare (module docstring).

    ``data`` are candle files of one timeframe; the window is ``bars`` bars
    starting ``skip`` bars after the warm-up history. ``symbols`` (default:
    all found) narrows the files. ``watch(fake)`` is called once the fake
    exchange is up (a test can listen to its bar closes there).
    ``speed`` must leave the host time to answer within a bar: ccxt's rate
    limiter spaces requests as the venue asks (a sync, an order, its
    lookup and its stop take some 300 ms on Bybit), so 600 (a 5-minute bar
    every half second) is about as fast as a replay's fill timing holds.
    """
    # Both runs trade by the venue's rules: its instrument snapshot for the replay.
    profile = attrs.evolve(
        profile, markets=attrs.evolve(profile.markets, snapshot=SNAPSHOTS[exchange])
    )
    files = discover(data)
    if symbols:
        files = [f for f in files if f.symbol in symbols]
    if not files:
        raise ValueError(f"no candle files for {list(symbols) or 'any symbol'} in {list(data)}")
    series = [load_csv(f) for f in files]
    names = tuple(sorted({s.symbol for s in series}))
    timeframe = series[0].timeframe
    tf = timeframe_ms(timeframe)
    wanted = warmup_bars([(s, frozenset()) for s in _strategies(profile, plugins)])
    history = max(wanted(name, timeframe) for name in names)
    first = max(int(s.ts[0]) for s in series) + (history + skip) * tf
    end = first + bars * tf
    work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    replayed = await replay(
        profile,
        plugins,
        selection=DataSelection(
            paths=tuple(str(f.path) for f in files), start=_iso(first), end=_iso(end)
        ),
        journal_path=work_dir / "replay.sqlite",
        any_mode=True,
    )
    replay_s = time.perf_counter() - t0
    # The same candles, whatever exchange the files were recorded on.
    tape = MarketTape(series, exchange=exchange)
    broker = profile.broker
    t1 = time.perf_counter()
    async with running_fake(
        exchange,
        tape,
        start_ms=first,
        balance=profile.account.starting_balance,
        fees=Fees(taker=broker.taker_fee, maker=broker.maker_fee),
        both_touched=broker.both_touched,
        api_key="parity-key",
        secret="parity-secret",
    ) as fake:
        if watch is not None:
            watch(fake)
        live_profile = attrs.evolve(
            profile,
            profile=attrs.evolve(profile.profile, mode=Mode.LIVE, exchange=exchange),
            exchange=ExchangeConfig(
                symbols=names,
                timeframes=(timeframe,),
                rest_url=fake.rest_url,
                ws_url=fake.ws_url,
                history_bars=history,
                step_wait_s=step_wait_s,
                reconcile_s=reconcile_s,
            ),
            credentials=Credentials(api_key_env="PARITY_KEY", api_secret_env="PARITY_SECRET"),
            journal=attrs.evolve(profile.journal, commit="step"),
        )
        # Imported here: a replay-only install never loads the exchange layer.
        from garrison.live.session import ExchangeSource

        source = ExchangeSource(
            live_profile,
            until_ms=end,
            environ={"PARITY_KEY": "parity-key", "PARITY_SECRET": "parity-secret"},
        )
        run = asyncio.ensure_future(
            run_profile(live_profile, plugins, source, journal_path=work_dir / "live.sqlite")
        )
        # The market stands still until the host has warmed up and every
        # series streams: its first decision is then on the replay's first bar.
        while not run.done() and not (source.feed is not None and source.feed.ready.is_set()):
            await asyncio.sleep(0.01)
        if not run.done():
            fake.run(speed)
        live = await run
        feed = attrs.asdict(source.feed.stats) if source.feed is not None else {}
    live_s = time.perf_counter() - t1
    ticks = {name: tape.instrument(name).tick_size for name in names}
    same, problems = compare_trades(replayed.trades, live.trades, ticks)
    return ParityResult(
        replay_trades=len(replayed.trades),
        live_trades=len(live.trades),
        identical=same,
        wall_s=time.perf_counter() - t0,
        replay_s=replay_s,
        live_s=live_s,
        symbols=names,
        bars=bars,
        speed=speed,
        window=(first, end),
        mismatches=tuple(problems[:20]),
        live_events=dict(live.events),
        feed=feed,
    )


def _strategies(profile: Profile, plugins: PluginSet) -> list[Any]:
    built = []
    for use in profile.strategies:
        entry = plugins.registry.get("strategy", use.use)
        if entry is None:
            raise ValueError(f"strategy {use.use!r} is not registered by any loaded plugin")
        built.append(entry.factory(use.params))
    return built
