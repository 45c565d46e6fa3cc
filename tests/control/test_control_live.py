"""The control channel of a host trading live against the fake exchange.

A live host spends its time waiting for the next bar: queries must be
answered then (on the event loop's turn), and actions must apply at the next
bar's step. The fake's manual clock moves a bar at a time, so the test knows
exactly which step an action lands on. The strategy enters every flat symbol
and never exits: positions stay until the operator closes them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from garrison.control.client import ControlClient, ControlRefusedError
from garrison_api import Candle, Side, Signal, StrategyContext


def holder(bench: ModuleType, log: Any) -> type:
    """Enters long on every flat symbol (stop 10 % below), never exits."""

    class Holder:
        Params: ClassVar[type] = bench.NoParams
        warmup = 1
        timeframes = (bench.TF,)
        indicators: ClassVar[Mapping[str, Any]] = {}

        def __init__(self, params: Any) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            log.take(candle, ctx.candles(candle.symbol, candle.timeframe, 1))
            if ctx.position(candle.symbol) is None:
                return (
                    Signal(
                        candle.symbol,
                        candle.ts,
                        Side.LONG,
                        entry=candle.close,
                        stop=candle.close * 0.9,
                    ),
                )
            return ()

    return Holder


@pytest.mark.slow
def test_live_host_answers_between_bars_and_acts_at_the_next(
    bench: ModuleType, tmp_path: Path
) -> None:
    sock = tmp_path / "run" / "live.sock"

    async def call(cmd: str, args: dict[str, Any] | None = None) -> Any:
        def blocking() -> Any:
            with ControlClient(sock, timeout_s=30.0) as client:
                return client.call(cmd, args)

        return await asyncio.get_running_loop().run_in_executor(None, blocking)

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with bench.live_run(
            "bybit",
            tmp_path,
            strategy=lambda log: holder(bench, log),
            bars=40,
            profile_extra=f'\n[control]\nsocket = "{sock}"\n',
            control=True,
        ) as run:
            await run.bars(2)
            await run.bars(1)  # the entries of the bar before fill at this one's open
            status = await call("status")
            assert status["mode"] == "live"
            held = {p["symbol"] for p in await call("positions")}
            assert held == set(bench.SYMBOLS)
            # Between bars: the pause is queued, not applied, until the next step.
            await call("pause", {"reason": "live test"})
            waiting = await call("status")
            assert (waiting["state"], waiting["pending"]) == ("running", ["pause"])
            await run.bars(1)
            assert (await call("status"))["state"] == "reducing"
            # Flatten one symbol: confirmed, applied at the next step, filled at the one after.
            offer = await call("flatten", {"symbol": "BTCUSDT"})
            await call("flatten", {"symbol": "BTCUSDT", "confirm": offer["confirm"]})
            await run.bars(2)
            seen["after_flatten"] = {p["symbol"] for p in await call("positions")}
            # A symbol halted because its stop could not be placed trades again after
            # the operator's resume (nothing else lifts such a halt).
            venue = run.source.exchange_venue
            venue.halted.add("ETHUSDT")
            await call("resume", {"reason": "stop fixed"})
            await run.bars(1)
            seen["halted_after_resume"] = set(venue.halted)
            # Halt, then flatten everything: nothing reopens.
            await call("halt", {"reason": "live test halt"})
            await run.bars(1)
            with pytest.raises(ControlRefusedError, match="would loosen the halt"):
                await call("pause")
            offer = await call("flatten", {"all": True})
            await call("flatten", {"all": True, "confirm": offer["confirm"]})
            await run.bars(3)
            seen["after_all"] = await call("positions")
            seen["state"] = (await call("status"))["state"]
            seen["exchange"] = [p.symbol for p in run.fake.account.positions() if p.size]
            await run.bars(1)  # the step commits the last rows
            seen["journal"] = run.journal
        return seen

    seen = asyncio.run(scenario())
    assert seen["after_flatten"] == set(bench.SYMBOLS) - {"BTCUSDT"}
    assert seen["halted_after_resume"] == set()
    assert seen["after_all"] == []
    assert seen["state"] == "halted"
    assert seen["exchange"] == []
    with sqlite3.connect(seen["journal"]) as db:
        vetoes = db.execute(
            "SELECT i.symbol, v.reason FROM vetoes v JOIN intents i "
            "ON i.run_id = v.run_id AND i.id = v.intent_id WHERE v.stage = 'trading_state'"
        ).fetchall()
        applied = [
            r[0]
            for r in db.execute(
                "SELECT json_extract(data, '$.action') FROM events "
                "WHERE kind = 'control.applied' ORDER BY seq"
            )
        ]
        freed = db.execute(
            "SELECT message FROM events WHERE kind = 'control.applied' "
            "AND json_extract(data, '$.action') = 'resume'"
        ).fetchall()
        operator_exits = db.execute(
            "SELECT s.symbol, i.approved FROM signals s JOIN intents i "
            "ON i.run_id = s.run_id AND i.signal_id = s.id WHERE s.reason = 'operator flatten'"
        ).fetchall()
    # BTCUSDT, flat after the flatten, is refused its next entry while paused.
    assert ("BTCUSDT", "trading state is reducing: exits only") in vetoes
    assert applied == ["pause", "flatten", "resume", "halt", "flatten"]
    assert freed == [
        ("operator resume: trading state reducing -> running; symbols no longer halted: ETHUSDT",)
    ]
    # BTCUSDT twice: flattened alone, re-entered after the resume, flattened with all.
    assert sorted(operator_exits) == sorted([("BTCUSDT", 1)] + [(s, 1) for s in bench.SYMBOLS])
