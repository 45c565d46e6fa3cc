"""The command router alone: host-shaped answers in, escaped HTML out (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from garrison_api.control import ControlError
from garrison_telegram import CommandRouter

SIGNALS = [
    {
        "id": "1",
        "strategy": "pullback",
        "symbol": "BTCUSDT",
        "kind": "entry",
        "execute": True,
        "scores": [
            {"scorer": "river", "value": 0.8, "mode": "gate", "passed": True},
            {"scorer": "onnx", "value": 0.4, "mode": "shadow", "passed": None},
        ],
        "intent": {"id": "i1", "approved": True, "qty": 0.1, "vetoes": []},
    },
    {
        "id": "2",
        "strategy": "pullback",
        "symbol": "ETHUSDT",
        "kind": "entry",
        "execute": True,
        "scores": [{"scorer": "river", "value": 0.6, "mode": "gate", "passed": False}],
        "intent": {
            "id": "i2",
            "approved": False,
            "qty": 1.0,
            "vetoes": [{"stage": "max_positions", "reason": "5 open", "halt": False}],
        },
    },
    {
        "id": "3",
        "strategy": "scalp",
        "symbol": "SOL<USDT>",
        "kind": "entry",
        "execute": False,
        "scores": [],
        "intent": None,
    },
    {"id": "4", "strategy": "scalp", "symbol": "SOLUSDT", "kind": "exit", "scores": []},
]

ANSWERS: dict[str, Any] = {
    "signals": SIGNALS,
    "positions": [
        {
            "symbol": "BTCUSDT",
            "side": "long",
            "qty": 0.1,
            "entry_price": 60000.0,
            "mark": 61000.0,
            "unrealised": 100.0,
            "stop": 59000.0,
        }
    ],
    "equity": {
        "balance": 10_000.0,
        "equity": 10_100.0,
        "unrealised": 100.0,
        "realised": 250.5,
        "trades": 12,
        "peak_equity": 10_300.0,
        "max_drawdown": 0.031,
    },
    "risk": {
        "state": "running",
        "risk_pct": 0.5,
        "risk_pct_bounds": [0.01, 1.0],
        "risk_pct_settable": "",
        "drawdown": 0.02,
        "day_pnl": -12.0,
        "rules": [{"stage": "trading_state"}, {"stage": "max_drawdown"}],
    },
    "plugins": {
        "components": [
            {"name": "pullback", "kind": "strategy", "health": "ok"},
            {"name": "river", "kind": "scorer", "health": "quarantined"},
        ],
        "plugins": [{"name": "pullback", "version": "0.1.0", "status": "loaded"}],
    },
}


def reply(text: str, answers: Mapping[str, Any] = ANSWERS) -> str:
    asked: list[str] = []

    async def request(cmd: str, args: Mapping[str, Any]) -> Any:
        asked.append(cmd)
        if cmd not in answers:
            raise ControlError(f"unknown command {cmd!r}", refused=True)
        return answers[cmd]

    router = CommandRouter(request, confirm_ttl_s=60, now=lambda: 0.0)
    answer = asyncio.run(router.handle(OPERATOR, text))
    assert answer is not None
    return answer.text


OPERATOR = 1001


def test_phantom_counts_signals_vetoes_and_scorers() -> None:
    text = reply("/phantom")
    assert "<b>Last 4 signals</b>" in text
    assert "entries: <code>3</code> · ordered: <code>1</code> · phantom only: <code>1</code>" in (
        text
    )
    assert "vetoes: max_positions 1" in text
    assert "scorer <code>onnx</code> (shadow): 1 rated, mean <code>0.4</code>" in text
    assert "scorer <code>river</code> (gate): 2 rated, mean <code>0.7</code>, passed" in text


def test_positions_balance_stats_risk_plugins() -> None:
    positions = reply("/positions")
    assert "<code>BTCUSDT</code> long 0.1 @ 60,000 · mark 61,000 · stop 59,000" in positions
    assert "<code>10,100</code>" in reply("/balance")
    stats = reply("/stats")
    assert "trades: <code>12</code>" in stats
    assert "max drawdown %: <code>3.1</code>" in stats
    risk = reply("/risk")
    assert "settable within %: <code>0.01 … 1</code>" in risk
    assert "rules: <code>trading_state, max_drawdown</code>" in risk
    plugins = reply("/plugins")
    assert "✅ pullback (strategy): ok" in plugins
    assert "⛔ river (scorer): quarantined" in plugins
    assert "No positions" not in reply("/positions", {"positions": []})
    assert "none open" in reply("/positions", {"positions": []})


def test_bad_arguments_are_answered_without_asking_the_host() -> None:
    assert "takes a percent of equity" in reply("/risk lots", {})
    assert "Use /flatten SYMBOL or /flatten all" in reply("/flatten", {})
    assert "Send the token too" in reply("/confirm", {})
    refused = reply("/status", {})
    assert "The host refused /status: unknown command 'status'" in refused


def test_plain_text_gets_no_answer() -> None:
    router = CommandRouter(_never, confirm_ttl_s=60, now=lambda: 0.0)
    assert asyncio.run(router.handle(OPERATOR, "hello")) is None
    assert CommandRouter.parse("/Flatten@garrison_bot btcusdt") == ("flatten", ["btcusdt"])


def test_a_confirmation_expires() -> None:
    clock = [0.0]
    asked: list[str] = []

    async def request(cmd: str, args: Mapping[str, Any]) -> Any:
        asked.append(cmd)
        return {"queued": cmd, "applies": "at the host's next step"}

    router = CommandRouter(request, confirm_ttl_s=60, now=lambda: clock[0])
    text = asyncio.run(router.handle(OPERATOR, "/halt"))
    assert text is not None
    token = text.text.split("/confirm ")[1].split("<")[0]
    clock[0] = 60.0
    late = asyncio.run(router.handle(OPERATOR, f"/confirm {token}"))
    assert late is not None
    assert "unknown, used or expired" in late.text
    assert asked == []


async def _never(cmd: str, args: Mapping[str, Any]) -> Any:
    raise AssertionError("the host must not be asked")
