"""The host's side of the control channel: what each command reads or does.

Queries (``status``, ``positions``, ...) are answered at once from the
engine's state; the server runs on the engine's event loop, so a query is
read between two awaits of the engine, never in the middle of booking or
deciding. Rows of the journal (signals, events) are read through a
read-only connection, so only committed rows are shown.

Actions (``pause``, ``halt``, ``flatten``, ``risk_set``...) are checked at
once (a bad argument is an error reply) and then queued on the step
processor (:attr:`StepProcessor.controls`): the engine applies them at its
next step, after settling and before any strategy decides, through its own
paths: the ledger's trading state that the ``trading_state`` risk rule
reads, :meth:`Pipeline.halt` (as a kill switch halts), and exit intents
judged by the risk chain (:meth:`Pipeline.operator_exit`).

Every command is journaled as a ``control.command`` event naming the
caller's uid and pid, and every applied action as a ``control.applied``
event.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from garrison_api import Event, Level, Sizer, TradingState, Veto

from garrison.control import console_queries
from garrison.control.peer import PeerCredentials
from garrison.engine.context import CandleHistory
from garrison.engine.step import StepProcessor

if TYPE_CHECKING:
    from garrison.control.runtime import RuntimeControl
    from garrison.profile.model import Profile

#: How long a flatten's confirmation token stays good, in seconds.
CONFIRM_TTL_S = 60.0

#: The most rows a list command returns.
MAX_ROWS = 500

#: Queries a subscription may stream (without arguments).
STREAMABLE = ("status", "positions", "orders", "equity", "risk", "plugins", "signals", "logs")

#: The shortest and longest period of a subscription, in seconds.
SUBSCRIBE_PERIOD_S = (0.2, 3600.0)

#: Commands that change trading; the rest only read.
ACTIONS = frozenset(
    {
        "pause",
        "reducing",
        "resume",
        "halt",
        "flatten",
        "risk_set",
        # garrison.control.runtime's:
        "strategy_enable",
        "strategy_disable",
        "swap",
        "reload",
    }
)


class CommandError(ValueError):
    """A command the host refuses; the message says why (sent back as the error)."""


@attrs.frozen
class RiskBounds:
    """What ``risk_set`` may set the sizer's ``risk_pct`` to (percent of equity)."""

    low: float
    high: float


@attrs.frozen
class SizerRebuild:
    """How to build the profile's sizer again with other params (for ``risk_set``)."""

    factory: Callable[[Any], Sizer]
    params: Any
    bounds: RiskBounds | None
    #: Why risk cannot be changed (no ``risk_pct`` in the sizer's params...), or "".
    unavailable: str = ""


def sizer_rebuild(
    factory: Callable[[Any], Sizer],
    params: Any,
    risk_pct_min: float | None,
    risk_pct_max: float | None,
) -> SizerRebuild:
    """The rebuild of a sizer built from ``params``, with the profile's ``[control]`` bounds."""
    if not attrs.has(type(params)) or "risk_pct" not in attrs.fields_dict(type(params)):
        return SizerRebuild(factory, params, None, "the sizer has no risk_pct parameter")
    current = params.risk_pct
    if current is None:
        return SizerRebuild(
            factory, params, None, "the sizer risks a fixed amount (risk_usd), not a percent"
        )
    if callable(getattr(factory, "start", None)):
        return SizerRebuild(
            factory, params, None, "the sizer has a start hook; it cannot be rebuilt while running"
        )
    high = float(current) if risk_pct_max is None else risk_pct_max
    low = min(high, 0.01) if risk_pct_min is None else risk_pct_min
    return SizerRebuild(factory, params, RiskBounds(low, high))


def subscription(args: Mapping[str, Any]) -> tuple[tuple[str, ...], float]:
    """The topics and period (seconds) of a ``subscribe`` request; CommandError when wrong."""
    topics = args.get("topics", ["status"])
    if (
        not isinstance(topics, list)
        or not topics
        or not all(isinstance(t, str) and t in STREAMABLE for t in topics)
    ):
        raise CommandError(
            f"topics must be a non-empty list of {', '.join(STREAMABLE)}; got {topics!r}"
        )
    every = args.get("every_s", 1.0)
    low, high = SUBSCRIBE_PERIOD_S
    if isinstance(every, bool) or not isinstance(every, int | float) or not low <= every <= high:
        raise CommandError(f"every_s must be a number of seconds in [{low:g}, {high:g}]")
    return tuple(dict.fromkeys(topics)), float(every)


def _flag(args: Mapping[str, Any], key: str) -> bool:
    value = args.get(key, False)
    if not isinstance(value, bool):
        raise CommandError(f"{key} must be true or false, got {value!r}")
    return value


def _count(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CommandError(f"{key} must be a whole number >= 1, got {value!r}")
    return min(value, MAX_ROWS)


def _text(args: Mapping[str, Any], key: str, default: str = "") -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise CommandError(f"{key} must be a string, got {value!r}")
    return value


class HostControl:
    """Answers and queues control commands for one run. Used from the engine's loop only."""

    def __init__(
        self,
        *,
        processor: StepProcessor,
        profile_name: str,
        mode: str,
        run_id: str,
        journal_path: Path,
        components: Mapping[str, str],
        plugins: list[dict[str, Any]],
        sizer: SizerRebuild | None,
        monotonic: Callable[[], float] = time.monotonic,
        runtime: RuntimeControl | None = None,
        candle_histories: Callable[[], Mapping[tuple[str, str], CandleHistory]] | None = None,
    ) -> None:
        self._proc = processor
        self._profile = profile_name
        self._mode = mode
        self._run_id = run_id
        self._journal_path = journal_path
        #: name -> kind of every component of the run (strategy, sizer, ...).
        self._components = dict(components)
        self._plugins = plugins
        self._sizer = sizer
        self._monotonic = monotonic
        self._tokens: dict[str, tuple[str, float]] = {}
        #: What was asked and not applied yet (shown by ``status``).
        self._pending: list[str] = []
        self._handlers: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "status": self._status,
            "positions": self._positions,
            "orders": self._orders,
            "signals": self._signals,
            "plugins": self._plugin_list,
            "risk": self._risk,
            "equity": self._equity,
            "logs": self._logs,
            "pause": lambda a: self._set_state(a, "pause"),
            "reducing": lambda a: self._set_state(a, "reducing"),
            "resume": lambda a: self._set_state(a, "resume"),
            "halt": lambda a: self._set_state(a, "halt"),
            "flatten": self._flatten,
            "risk_set": self._risk_set,
            "help": lambda _a: {"commands": sorted([*self._handlers, "subscribe"])},
        }
        self._runtime = runtime
        if runtime is not None:
            self._attach_runtime(runtime)
        #: The engine's candle histories by (symbol, timeframe), for ``candles``.
        self._candle_histories = candle_histories
        self._handlers.update(self._console_handlers())

    def _attach_runtime(self, runtime: RuntimeControl) -> None:
        """Add the runtime commands (enable, disable, swap, reload: garrison.control.runtime)."""

        def on_sizer(sizer: Sizer, profile: Profile) -> None:
            # risk_set rebuilds from the reloaded params, within the reloaded bounds.
            rebuild = self._sizer
            if rebuild is not None:
                self._sizer = sizer_rebuild(
                    rebuild.factory,
                    getattr(sizer, "params", rebuild.params),
                    profile.control.risk_pct_min,
                    profile.control.risk_pct_max,
                )

        self._handlers.update(
            runtime.attach(
                queue=self._queue,
                applied=self._applied,
                components=self._components,
                on_sizer=on_sizer,
            )
        )

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    # -- journaling ----------------------------------------------------------------

    def emit(self, kind: str, message: str, level: Level, data: Mapping[str, Any]) -> None:
        """Journal an event of the control channel (on the engine's thread only)."""
        self._proc.bus.emit(
            Event(
                ts=self._proc.clock.now_ms(),
                kind=kind,
                level=level,
                source="control",
                message=message,
                data=dict(data),
            )
        )

    def record(
        self, cmd: str, args: Mapping[str, Any], peer: PeerCredentials | None, outcome: str
    ) -> None:
        """Journal one command, who sent it and what came of it (``ok`` or the error)."""
        level = Level.INFO if cmd not in ACTIONS else Level.WARNING
        if outcome != "ok":
            level = Level.WARNING
        who = "unknown peer" if peer is None else f"uid {peer.uid} pid {peer.pid}"
        self.emit(
            "control.command",
            f"control command {cmd!r} from {who}: {outcome}",
            level,
            {
                "command": cmd,
                "args": _args_text(args),
                "uid": None if peer is None else peer.uid,
                "pid": None if peer is None else peer.pid,
                "outcome": outcome,
            },
        )

    # -- dispatch ------------------------------------------------------------------

    def handle(self, cmd: str, args: Mapping[str, Any]) -> Any:
        """The result of ``cmd``; raises CommandError for a command the host refuses."""
        handler = self._handlers.get(cmd)
        if handler is None:
            known = ", ".join(sorted([*self.commands, "subscribe"]))
            raise CommandError(f"unknown command {cmd!r}; the host knows: {known}")
        return handler(args)

    # -- queries -------------------------------------------------------------------

    def _status(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        proc = self._proc
        ledger = proc.ledger
        equity = ledger.equity()
        return {
            "profile": self._profile,
            "mode": self._mode,
            "run_id": self._run_id,
            "state": ledger.state.value,
            "halted_until": ledger.halted_until,
            "step_close": proc.step_close,
            "steps": proc.steps,
            "balance": ledger.balance,
            "equity": equity,
            "positions": len(ledger.positions),
            "open_orders": len(proc.venue.open_orders()),
            "quarantined": sorted(proc.bus.guard.quarantined),
            "risk_pct": self._risk_pct(),
            "pending": list(self._pending),
            "strategies": [] if self._runtime is None else self._runtime.strategies(),
        }

    def _positions(self, _args: Mapping[str, Any]) -> list[dict[str, Any]]:
        ledger = self._proc.ledger
        rows = []
        for symbol, pos in sorted(ledger.positions.items()):
            mark = ledger.mark_price(symbol)
            pnl = None
            if mark is not None:
                move = (mark - pos.entry_price) * pos.qty
                pnl = move if pos.side.value == "long" else -move
            rows.append(
                {
                    "symbol": symbol,
                    "side": pos.side.value,
                    "qty": pos.qty,
                    "entry_price": pos.entry_price,
                    "entry_ts": pos.entry_ts,
                    "mark": mark,
                    "unrealised": pnl,
                    "stop": pos.stop,
                    "take_profit": pos.take_profit,
                    "strategy": pos.strategy,
                }
            )
        return rows

    def _orders(self, _args: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for committed in self._proc.venue.open_orders():
            order, intent = committed.order, committed.intent
            rows.append(
                {
                    "id": order.id,
                    "client_order_id": order.client_order_id,
                    "ts": order.ts,
                    "symbol": order.symbol,
                    "side": order.side.value,
                    "reduce_only": order.reduce_only,
                    "qty": order.qty,
                    "type": order.order_type.value,
                    "status": order.status.value,
                    "stop": intent.stop,
                    "take_profit": intent.take_profit,
                    "strategy": intent.strategy,
                }
            )
        return rows

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        """Rows of the journal's committed state, through a read-only connection."""
        uri = f"{self._journal_path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=1.0)
        except sqlite3.OperationalError as exc:
            raise CommandError(f"cannot read the journal {self._journal_path}: {exc}") from None
        with contextlib.closing(conn):
            conn.row_factory = sqlite3.Row
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise CommandError(f"cannot read the journal: {exc}") from None

    def _signals(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        limit = _count(args, "limit", 20)
        signals = self._read(
            "SELECT id, strategy, symbol, ts, side, kind, entry, stop, take_profit, reason, "
            "execute FROM signals WHERE run_id = ? ORDER BY ts DESC, CAST(id AS INTEGER) DESC "
            "LIMIT ?",
            (self._run_id, limit),
        )
        ids = tuple(row["id"] for row in signals)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        scores: dict[str, list[dict[str, Any]]] = {}
        for row in self._read(
            f"SELECT signal_id, scorer, value, mode, passed FROM scores "
            f"WHERE run_id = ? AND signal_id IN ({marks}) ORDER BY seq",
            (self._run_id, *ids),
        ):
            scores.setdefault(row["signal_id"], []).append(
                {
                    "scorer": row["scorer"],
                    "value": row["value"],
                    "mode": row["mode"],
                    "passed": None if row["passed"] is None else bool(row["passed"]),
                }
            )
        intents: dict[str, dict[str, Any]] = {}
        for row in self._read(
            f"SELECT id, signal_id, approved, qty FROM intents "
            f"WHERE run_id = ? AND signal_id IN ({marks})",
            (self._run_id, *ids),
        ):
            intents[row["signal_id"]] = {
                "id": row["id"],
                "approved": bool(row["approved"]),
                "qty": row["qty"],
                "vetoes": [],
            }
        by_intent = {i["id"]: i for i in intents.values()}
        if by_intent:
            marks_i = ",".join("?" * len(by_intent))
            for row in self._read(
                f"SELECT intent_id, stage, reason, halt FROM vetoes "
                f"WHERE run_id = ? AND intent_id IN ({marks_i}) ORDER BY seq",
                (self._run_id, *by_intent),
            ):
                by_intent[row["intent_id"]]["vetoes"].append(
                    {"stage": row["stage"], "reason": row["reason"], "halt": bool(row["halt"])}
                )
        return [
            {
                "id": row["id"],
                "strategy": row["strategy"],
                "symbol": row["symbol"],
                "ts": row["ts"],
                "side": row["side"],
                "kind": row["kind"],
                "entry": row["entry"],
                "stop": row["stop"],
                "take_profit": row["take_profit"],
                "reason": row["reason"],
                "execute": row["execute"] is None or bool(row["execute"]),
                "scores": scores.get(row["id"], []),
                "intent": intents.get(row["id"]),
            }
            for row in signals
        ]

    def _plugin_list(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        guard = self._proc.bus.guard
        components = [
            {
                "name": name,
                "kind": kind,
                "quarantined": name in guard.quarantined,
                "failures_in_a_row": guard.failures.get(name, 0),
                "health": "quarantined"
                if name in guard.quarantined
                else ("failing" if guard.failures.get(name, 0) else "ok"),
            }
            for name, kind in sorted(self._components.items())
        ]
        result: dict[str, Any] = {"components": components, "plugins": self._plugins}
        if self._runtime is not None:
            result["strategies"] = self._runtime.strategies()
            result["scorers"] = self._runtime.scorers()
        return result

    def _risk_pct(self) -> float | None:
        rebuild = self._sizer
        if rebuild is None or rebuild.bounds is None:
            return None
        params = getattr(self._proc.pipeline.sizer[1], "params", None)
        value = getattr(params, "risk_pct", None)
        return None if value is None else float(value)

    def _risk(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        proc = self._proc
        ledger = proc.ledger
        chain = proc.pipeline.risk_chain
        rules = []
        for stage, rule in chain.stages:
            params = getattr(rule, "params", None)
            rules.append(
                {
                    "stage": stage,
                    "params": attrs.asdict(params)
                    if params is not None and attrs.has(type(params))
                    else {},
                    "kill_switch": any(stage == s for s, _ in chain.kill_switches),
                }
            )
        rebuild = self._sizer
        equity = ledger.equity()
        peak = ledger.peak_equity
        return {
            "state": ledger.state.value,
            "halted_until": ledger.halted_until,
            "halts": [{"ts": ts, "why": why} for ts, why in proc.pipeline.halts],
            "rules": rules,
            "sizer": proc.pipeline.sizer[0],
            "risk_pct": self._risk_pct(),
            "risk_pct_bounds": None
            if rebuild is None or rebuild.bounds is None
            else [rebuild.bounds.low, rebuild.bounds.high],
            "risk_pct_settable": ""
            if rebuild is not None and rebuild.bounds is not None
            else (rebuild.unavailable if rebuild is not None else "no sizer"),
            "drawdown": 0.0 if peak <= 0 else max(0.0, (peak - equity) / peak),
            "day_pnl": equity - ledger.day_start_equity,
            "max_drawdown": ledger.max_drawdown,
        }

    def _equity(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        proc = self._proc
        ledger = proc.ledger
        trades = proc.pipeline.trades
        unrealised = ledger.unrealised()
        return {
            "balance": ledger.balance,
            "equity": ledger.balance + unrealised,
            "unrealised": unrealised,
            "realised": sum(t.pnl for t in trades),
            "trades": len(trades),
            "peak_equity": ledger.peak_equity,
            "day_start_equity": ledger.day_start_equity,
            "max_drawdown": ledger.max_drawdown,
            "max_drawdown_usdt": ledger.max_drawdown_usdt,
        }

    def _logs(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        limit = _count(args, "limit", 50)
        rows = self._read(
            "SELECT ts, kind, level, source, message FROM events WHERE run_id = ? "
            "ORDER BY seq DESC LIMIT ?",
            (self._run_id, limit),
        )
        return [dict(row) for row in reversed(rows)]

    # -- the console's read-only queries (garrison.control.console_queries) ------------

    def _console_handlers(self) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
        def guarded(
            query: Callable[[Mapping[str, Any]], Any],
        ) -> Callable[[Mapping[str, Any]], Any]:
            def answer(args: Mapping[str, Any]) -> Any:
                try:
                    return query(args)
                except console_queries.QueryError as exc:
                    raise CommandError(str(exc)) from None

            return answer

        return {
            "candles": guarded(self._candles),
            "trades": guarded(lambda a: console_queries.trades(self._read, self._run_id, a)),
            "equity_history": guarded(
                lambda a: console_queries.equity_history(self._read, self._run_id, a)
            ),
        }

    def _candles(self, args: Mapping[str, Any]) -> dict[str, Any]:
        histories = {} if self._candle_histories is None else self._candle_histories()
        return console_queries.candles(histories, args)

    # -- actions -------------------------------------------------------------------

    def _queue(self, what: str, action: Callable[[int], None]) -> dict[str, Any]:
        self._pending.append(what)

        def apply(ts: int) -> None:
            with contextlib.suppress(ValueError):
                self._pending.remove(what)
            action(ts)

        self._proc.controls.append(apply)
        return {"queued": what, "applies": "at the host's next step"}

    def _applied(self, what: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.emit("control.applied", message, Level.WARNING, {"action": what, **dict(data or {})})

    def _set_state(self, args: Mapping[str, Any], what: str) -> dict[str, Any]:
        reason = _text(args, "reason", "operator")
        ledger = self._proc.ledger
        pipeline = self._proc.pipeline
        if what in ("pause", "reducing") and ledger.state is TradingState.HALTED:
            # Pausing must never loosen a halt: lifting one is resume's job alone.
            raise CommandError(f"trading is halted; {what} would loosen the halt (resume first)")

        def act(ts: int) -> None:
            before = ledger.state.value
            freed: list[str] = []
            if what in ("pause", "reducing") and ledger.state is TradingState.HALTED:
                # A halt came (a kill switch, or an operator) after the request.
                self._applied(
                    what,
                    f"operator {what} not applied: trading is halted and stays so",
                    {"before": before, "after": before, "reason": reason},
                )
                return
            if what == "halt":
                # The kill switch's own path: the same halt a risk rule asks for.
                pipeline.halt(Veto("operator", reason, True, None), ts)
            elif what == "resume":
                ledger.resume()
                # Symbols halted because a position could not be protected trade again.
                halted = getattr(self._proc.venue, "halted", None)
                if halted:
                    freed = sorted(halted)
                    halted.clear()
            else:
                # Pause and reducing-only are one state here: every entry is
                # refused by the trading_state rule, exits pass.
                ledger.state = TradingState.REDUCING
                ledger.halted_until = None
            message = f"operator {what}: trading state {before} -> {ledger.state.value}"
            if freed:
                message += f"; symbols no longer halted: {', '.join(freed)}"
            self._applied(
                what,
                message,
                {"before": before, "after": ledger.state.value, "reason": reason, "freed": freed},
            )

        return self._queue(what, act)

    def _flatten(self, args: Mapping[str, Any]) -> dict[str, Any]:
        everything = _flag(args, "all")
        symbol = _text(args, "symbol")
        if everything == bool(symbol):
            raise CommandError("flatten needs either a symbol or all = true (not both)")
        target = "*" if everything else symbol.upper()
        positions = self._proc.ledger.positions
        if target != "*" and target not in positions:
            open_now = ", ".join(sorted(positions)) or "none"
            raise CommandError(f"no open position in {target} (open: {open_now})")
        if not positions:
            raise CommandError("no open positions to flatten")
        token = args.get("confirm")
        now = self._monotonic()
        self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        if token is None:
            token = secrets.token_hex(4)
            self._tokens[token] = (target, now + CONFIRM_TTL_S)
            closing = sorted(positions) if target == "*" else [target]
            return {
                "confirm": token,
                "expires_in_s": CONFIRM_TTL_S,
                "would_close": closing,
                "hint": "send flatten again with confirm = this token to act",
            }
        held: tuple[str, float] | None = None
        if isinstance(token, str):
            held = self._tokens.pop(token, None)
        if held is None:
            raise CommandError("confirmation token unknown, used or expired: ask again")
        if held[0] != target:
            raise CommandError(
                f"the confirmation token was for {held[0]!r}, not {target!r}: ask again"
            )
        pipeline = self._proc.pipeline
        ledger = self._proc.ledger

        def act(ts: int) -> None:
            symbols = sorted(ledger.positions) if target == "*" else [target]
            results: dict[str, str] = {}
            for sym in symbols:
                price = ledger.mark_price(sym)
                if price is None or not math.isfinite(price):
                    results[sym] = "no price to close at"
                    continue
                outcome = pipeline.operator_exit(sym, ts, price, "operator flatten")
                results[sym] = {None: "nothing to close", True: "exit approved", False: "vetoed"}[
                    outcome
                ]
            self._applied(
                "flatten",
                f"operator flatten {target}: "
                + (", ".join(f"{k} {v}" for k, v in results.items()) or "no positions"),
                {"target": target, "results": "; ".join(f"{k}: {v}" for k, v in results.items())},
            )

        return self._queue(f"flatten {target}", act)

    def _risk_set(self, args: Mapping[str, Any]) -> dict[str, Any]:
        rebuild = self._sizer
        if rebuild is None or rebuild.bounds is None:
            reason = "no sizer" if rebuild is None else rebuild.unavailable
            raise CommandError(f"risk per trade cannot be changed: {reason}")
        value = args.get("risk_pct")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CommandError(f"risk_pct must be a number (percent of equity), got {value!r}")
        low, high = rebuild.bounds.low, rebuild.bounds.high
        if not low <= value <= high:
            raise CommandError(
                f"risk_pct {value:g} is outside the profile's bounds [{low:g}, {high:g}] "
                "([control] risk_pct_min / risk_pct_max)"
            )
        try:
            sizer = rebuild.factory(attrs.evolve(rebuild.params, risk_pct=float(value)))
        except (TypeError, ValueError) as exc:
            raise CommandError(f"the sizer refuses risk_pct {value:g}: {exc}") from None
        pipeline = self._proc.pipeline

        def act(_ts: int) -> None:
            before = self._risk_pct()
            pipeline.replace_sizer(sizer)
            self._applied(
                "risk_set",
                f"operator set risk per trade {before:g}% -> {float(value):g}%"
                if before is not None
                else f"operator set risk per trade to {float(value):g}%",
                {"before": before, "after": float(value)},
            )

        return self._queue(f"risk_pct {float(value):g}", act)


def _args_text(args: Mapping[str, Any]) -> str:
    """Arguments as one short text (event data holds scalars only)."""
    return ", ".join(f"{k}={v!r}" for k, v in sorted(args.items()))[:500]
