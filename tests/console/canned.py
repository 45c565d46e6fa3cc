"""A fake host for the console's layout tests: a real Unix socket answering canned JSON.

The answers are fixed (no clock, no randomness), so the screens render the
same every time and their SVG snapshots can pin the layout. Actions are
recorded and answered as a host would (flatten in two steps).
"""

from __future__ import annotations

import contextlib
import json
import math
import select
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

T0 = 1_761_609_600_000  # 2025-10-28 00:00 UTC
BAR = 300_000  # 5 minutes


def _candles(n: int = 120) -> list[list[float]]:
    rows = []
    price = 67_000.0
    for i in range(n):
        drift = 180 * math.sin(i / 9) + 40 * math.cos(i / 3)
        open_ = price
        close = 67_000.0 + drift + i * 6
        high = max(open_, close) + 35 + 10 * (i % 4)
        low = min(open_, close) - 30 - 8 * (i % 3)
        rows.append([T0 + i * BAR, open_, high, low, close, 12.5 + i % 7])
        price = close
    return rows


CANDLES = _candles()

#: The strategy uses (as ``status`` and ``plugins`` carry them): pullback disabled.
STRATEGIES = [
    {"name": "pullback", "plugin": "pullback", "enabled": False, "quarantined": False},
    {"name": "turtle", "plugin": "turtle", "enabled": True, "quarantined": False},
]

SCORERS = [
    {
        "name": "bad_scorer",
        "plugin": "river",
        "journaled_as": "bad_scorer",
        "mode": "gate",
        "threshold": 0.55,
    }
]

#: What the fake host answers a reload with: refused, naming the keys at fault.
RELOAD_REFUSED = (
    "configs/demo.toml was not reloaded (the running profile is unchanged); these cannot "
    "change while the host runs: account.leverage; data.symbols"
)

STATUS = {
    "profile": "demo",
    "mode": "paper",
    "run_id": "r-20251028-0001",
    "state": "running",
    "halted_until": None,
    "step_close": T0 + 120 * BAR,
    "steps": 12_480,
    "balance": 10_412.35,
    "equity": 10_498.12,
    "positions": 2,
    "open_orders": 1,
    "quarantined": ["bad_scorer"],
    "risk_pct": 0.5,
    "pending": [],
    "strategies": STRATEGIES,
}

POSITIONS = [
    {
        "symbol": "BTCUSDT",
        "side": "long",
        "qty": 0.015,
        "entry_price": 67_120.5,
        "entry_ts": T0 + 70 * BAR,
        "mark": CANDLES[-1][4],
        "unrealised": 12.84,
        "stop": 66_850.0,
        "take_profit": None,
        "strategy": "turtle",
    },
    {
        "symbol": "ETHUSDT",
        "side": "short",
        "qty": 0.42,
        "entry_price": 2_512.4,
        "entry_ts": T0 + 95 * BAR,
        "mark": 2_498.1,
        "unrealised": 6.01,
        "stop": 2_560.0,
        "take_profit": 2_400.0,
        "strategy": "turtle",
    },
]

ORDERS = [
    {
        "id": "o-118",
        "client_order_id": "g-118",
        "ts": T0 + 119 * BAR,
        "symbol": "SOLUSDT",
        "side": "buy",
        "reduce_only": False,
        "qty": 3.0,
        "type": "market",
        "status": "open",
        "stop": 141.2,
        "take_profit": None,
        "strategy": "pullback",
    }
]

SIGNALS = [
    {
        "id": "41",
        "strategy": "pullback",
        "symbol": "SOLUSDT",
        "ts": T0 + 119 * BAR,
        "side": "long",
        "kind": "entry",
        "entry": 146.3,
        "stop": 141.2,
        "take_profit": None,
        "reason": "pullback to EMA20 in uptrend",
        "execute": True,
        "scores": [{"scorer": "river_lr", "value": 0.64, "mode": "gate", "passed": True}],
        "intent": {"id": "33", "approved": True, "qty": 3.0, "vetoes": []},
    },
    {
        "id": "40",
        "strategy": "turtle",
        "symbol": "ADAUSDT",
        "ts": T0 + 110 * BAR,
        "side": "short",
        "kind": "entry",
        "entry": 0.612,
        "stop": 0.631,
        "take_profit": None,
        "reason": "20-bar low broken",
        "execute": True,
        "scores": [{"scorer": "river_lr", "value": 0.31, "mode": "gate", "passed": False}],
        "intent": None,
    },
    {
        "id": "39",
        "strategy": "turtle",
        "symbol": "AVAXUSDT",
        "ts": T0 + 101 * BAR,
        "side": "long",
        "kind": "entry",
        "entry": 27.41,
        "stop": 26.2,
        "take_profit": None,
        "reason": "20-bar high broken",
        "execute": True,
        "scores": [],
        "intent": {
            "id": "32",
            "approved": False,
            "qty": 12.0,
            "vetoes": [
                {"stage": "max_open_positions", "reason": "2 open + 1 pending >= 3", "halt": False}
            ],
        },
    },
]

PLUGINS = {
    "strategies": STRATEGIES,
    "scorers": SCORERS,
    "components": [
        {
            "name": "bad_scorer",
            "kind": "scorer",
            "quarantined": True,
            "failures_in_a_row": 3,
            "health": "quarantined",
        },
        {
            "name": "fixed_risk",
            "kind": "sizer",
            "quarantined": False,
            "failures_in_a_row": 0,
            "health": "ok",
        },
        {
            "name": "max_drawdown",
            "kind": "risk_rule",
            "quarantined": False,
            "failures_in_a_row": 0,
            "health": "ok",
        },
        {
            "name": "pullback",
            "kind": "strategy",
            "quarantined": False,
            "failures_in_a_row": 1,
            "health": "failing",
        },
        {
            "name": "turtle",
            "kind": "strategy",
            "quarantined": False,
            "failures_in_a_row": 0,
            "health": "ok",
        },
    ],
    "plugins": [
        {
            "name": "turtle",
            "distribution": "garrison-turtle",
            "version": "1.1.0",
            "status": "ok",
            "error": None,
        },
        {
            "name": "pullback",
            "distribution": "garrison-pullback",
            "version": "0.2.0",
            "status": "ok",
            "error": None,
        },
        {
            "name": "sizers",
            "distribution": "garrison-sizers",
            "version": "1.0.0",
            "status": "ok",
            "error": None,
        },
    ],
}

RISK = {
    "state": "running",
    "halted_until": None,
    "halts": [],
    "rules": [
        {"stage": "trading_state", "params": {}, "kill_switch": False},
        {"stage": "max_open_positions", "params": {"limit": 3}, "kill_switch": False},
        {"stage": "max_notional", "params": {"max_usd": 5000.0}, "kill_switch": False},
        {
            "stage": "stop_distance",
            "params": {"max_pct": 10.0, "min_pct": 0.0},
            "kill_switch": False,
        },
        {"stage": "max_drawdown", "params": {"max_pct": 15.0}, "kill_switch": True},
        {"stage": "daily_loss_limit", "params": {"max_pct": 3.0}, "kill_switch": True},
    ],
    "sizer": "fixed_risk",
    "risk_pct": 0.5,
    "risk_pct_bounds": [0.01, 1.0],
    "risk_pct_settable": "",
    "drawdown": 0.0412,
    "day_pnl": -84.2,
    "max_drawdown": 0.0731,
}

EQUITY = {
    "balance": 10_412.35,
    "equity": 10_498.12,
    "unrealised": 18.85,
    "realised": 412.35,
    "trades": 37,
    "peak_equity": 10_949.0,
    "day_start_equity": 10_582.32,
    "max_drawdown": 0.0731,
    "max_drawdown_usdt": 790.1,
}

LOGS = [
    {"ts": T0 + (100 + i) * BAR, "kind": kind, "level": level, "source": source, "message": message}
    for i, (kind, level, source, message) in enumerate(
        [
            ("order.filled", "info", "engine", "BTCUSDT buy 0.015 @ 67120.5"),
            ("plugin.failed", "error", "bad_scorer", "bad_scorer raised ZeroDivisionError"),
            ("plugin.quarantined", "critical", "engine", "bad_scorer quarantined after 3 failures"),
            ("risk.veto", "warning", "risk", "AVAXUSDT entry vetoed by max_open_positions"),
            (
                "control.command",
                "info",
                "control",
                "control command 'status' from uid 1000 pid 4242: ok",
            ),
        ]
    )
]

EQUITY_HISTORY = {
    "points": [
        [T0 - (200 - i) * 3_600_000, 10_000 + 900 * math.sin(i / 30) + 3 * i, 10_000 + 3 * i]
        for i in range(200)
    ],
    "total": 200,
}

TRADES = [
    {
        "id": "7",
        "symbol": "BTCUSDT",
        "side": "short",
        "qty": 0.015,
        "entry_ts": T0 + 12 * BAR,
        "entry_price": CANDLES[12][4],
        "exit_ts": T0 + 40 * BAR,
        "exit_price": CANDLES[40][4],
        "exit_reason": "exit_signal",
        "pnl": 2.1,
        "fees": 0.4,
        "r_multiple": 0.3,
        "strategy": "turtle",
        "stop": CANDLES[12][4] + 260,
    }
]


def answers() -> dict[str, Any]:
    """The canned answer of each read-only command."""
    return {
        "status": STATUS,
        "positions": POSITIONS,
        "orders": ORDERS,
        "signals": SIGNALS,
        "plugins": PLUGINS,
        "risk": RISK,
        "equity": EQUITY,
        "logs": LOGS,
        "equity_history": EQUITY_HISTORY,
        "candles": {
            "symbol": "BTCUSDT",
            "timeframe": "5m",
            "timeframes": ["5m"],
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "candles": CANDLES,
        },
        "trades": TRADES,
    }


class FakeHost:
    """Serves the canned answers on ``path`` from a thread; ``received`` lists every request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self.clients: list[socket.socket] = []
        self._answers = answers()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                fake.clients.append(self.request)
                for line in self.rfile:
                    request = json.loads(line)
                    fake.received.append(request)
                    if request["cmd"] == "subscribe":
                        self.stream(request.get("args", {}))
                        return
                    self.send(fake.answer(request))

            def send(self, message: dict[str, Any]) -> None:
                self.wfile.write((json.dumps(message) + "\n").encode())

            def stream(self, args: dict[str, Any]) -> None:
                """As the host does: an ack, then the topics every every_s until a line or EOF."""
                topics, every = args["topics"], args["every_s"]
                self.send({"v": 1, "ok": True, "result": {"subscribed": topics, "every_s": every}})
                while True:
                    answers = {t: fake.answer({"cmd": t})["result"] for t in topics}
                    self.send({"v": 1, "ok": True, "result": answers, "stream": "subscribe"})
                    if select.select([self.request], [], [], every)[0]:
                        return

        self._server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd, args = request["cmd"], request.get("args") or {}
        if cmd in self._answers:
            return {"v": 1, "ok": True, "result": self._answers[cmd]}
        if cmd == "reload":
            return {"v": 1, "ok": False, "error": RELOAD_REFUSED}
        if cmd in ("pause", "reducing", "resume", "halt", "risk_set", "swap") or cmd.startswith(
            "strategy_"
        ):
            return {
                "v": 1,
                "ok": True,
                "result": {"queued": cmd, "applies": "at the host's next step"},
            }
        if cmd == "flatten":
            if "confirm" not in args:
                closing = ["BTCUSDT", "ETHUSDT"] if args.get("all") else [args["symbol"]]
                result = {"confirm": "feedbeef", "expires_in_s": 60.0, "would_close": closing}
                return {"v": 1, "ok": True, "result": result}
            return {
                "v": 1,
                "ok": True,
                "result": {"queued": "flatten", "applies": "at the host's next step"},
            }
        return {"v": 1, "ok": False, "error": f"unknown command {cmd!r}"}

    def commands(self) -> list[str]:
        return [r["cmd"] for r in self.received]

    def __enter__(self) -> FakeHost:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        # As a host that exits does: its clients' connections end too.
        for client in self.clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        self.path.unlink(missing_ok=True)
