"""Value types to table rows and back, one pair of functions per table.

Encoders run at commit time, never in the engine's hot loop: ``record_*``
only appends its arguments, and these turn them into tuples whose order is
the table's ``insert_columns`` (see :mod:`garrison.journal.schema`). Values of
a table's ``json_columns`` stay dicts in the row; they are encoded where the
row is inserted (:func:`garrison.journal_writer.insert_rows`). Integers
that may arrive as numpy scalars (``ts`` from a candle array) go through
``int()`` because sqlite3 cannot bind them. SQLite stores a float NaN as
NULL, so decoders turn NULL back into NaN for required float fields. Columns
added by schema v2 are NULL in rows a v1 journal held; decoders read them as
the field's default.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
from garrison_api import (
    Event,
    ExitReason,
    Fill,
    Level,
    Market,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Outcome,
    Position,
    Score,
    Side,
    Signal,
    SignalKind,
    Trade,
    Veto,
)

from garrison.journal.records import (
    EquityPoint,
    IntentRecord,
    PhantomRecord,
    PositionRecord,
    RunRow,
    ScoreRecord,
    SignalRecord,
    VetoRecord,
)
from garrison.journal_writer import to_json

Row = tuple[object, ...]
SignalItem = tuple[str, str, Signal]
ScoreItem = tuple[str, str, Score, str, bool]
VetoItem = tuple[str, Veto]
IntentItem = tuple[OrderIntent, bool]
#: An order as sent, or a later status of it: (order, status, price, reason).
OrderItem = Order | tuple[Order, OrderStatus, float | None, str]
PositionItem = tuple[int, str, Position]
PhantomItem = tuple[str, str, Outcome]
EquityItem = tuple[int, float, float, int]
#: A restart checkpoint: the step's ts and the engine's JSON-able state.
CheckpointItem = tuple[int, Mapping[str, Any]]
#: An event as its fields: ts, kind, level value, source, message, data.
EventItem = tuple[int, str, str, str, str, Mapping[str, Any]]


def from_json(text: str | None) -> Any:
    """The value of a JSON column (None for NULL)."""
    return None if text is None else json.loads(text)


def _plain(mapping: Mapping[str, object]) -> dict[str, object]:
    # A dict for a JSON column: the row is pickled to the journal's writer
    # process (which cannot pickle a mappingproxy) and encoded there.
    if type(mapping) is MappingProxyType:
        return mapping.copy()
    return dict(mapping)


@functools.lru_cache(maxsize=4096)
def market_json(market: Market) -> str:
    """JSON of a market's rules; cached, since every intent of a symbol carries the same one."""
    return to_json(attrs.asdict(market))


def _opt_int(value: int | None) -> int | None:
    return None if value is None else int(value)


def _real(value: float | None) -> float:
    return math.nan if value is None else float(value)


# --- encoders: (run_id, recorded item) -> row --------------------------------------------
#
# Enum members are written as ``member._value_``: the plain attribute behind
# ``.value`` (a descriptor call in Python 3.11), and a plain str, which the
# journal's writer process can unpickle without importing garrison_api.


def signal_row(run_id: str, item: SignalItem) -> Row:
    signal_id, strategy, s = item
    return (
        run_id,
        signal_id,
        strategy,
        s.symbol,
        int(s.ts),
        s.side._value_,
        s.kind._value_,
        s.entry,
        s.stop,
        s.take_profit,
        s.reason,
        _plain(s.features),
        int(s.bracket_from_fill),
        int(s.execute),
        _opt_int(s.horizon_ms),
    )


def score_row(run_id: str, item: ScoreItem) -> Row:
    signal_id, scorer, score, mode, passed = item
    return (
        run_id,
        signal_id,
        scorer,
        score.value,
        score.model,
        _plain(score.details),
        mode,
        int(passed),
        score.version,
        score.model_hash,
    )


def veto_row(run_id: str, item: VetoItem) -> Row:
    intent_id, veto = item
    return (run_id, intent_id, veto.stage, veto.reason, int(veto.halt), _opt_int(veto.halt_until))


def intent_row(run_id: str, item: IntentItem) -> Row:
    intent, approved = item
    return (
        run_id,
        intent.id,
        int(intent.ts),
        intent.symbol,
        intent.side._value_,
        int(intent.reduce_only),
        intent.qty,
        intent.price,
        intent.stop,
        intent.take_profit,
        intent.order_type._value_,
        intent.strategy,
        intent.signal_id,
        market_json(intent.market),
        int(approved),
    )


def order_row(run_id: str, item: OrderItem) -> Row:
    if isinstance(item, tuple):  # a status change: (order, status, price, reason)
        order, status, price, reason = item
    else:
        order, status, price, reason = item, item.status, item.price, item.reason
    return (
        run_id,
        order.id,
        order.intent_id,
        order.client_order_id,
        int(order.ts),
        order.symbol,
        order.side._value_,
        int(order.reduce_only),
        order.qty,
        order.order_type._value_,
        status._value_,
        price,
        reason,
    )


def fill_row(run_id: str, fill: Fill) -> Row:
    return (
        run_id,
        fill.order_id,
        fill.intent_id,
        int(fill.ts),
        fill.symbol,
        fill.side._value_,
        int(fill.reduce_only),
        fill.qty,
        fill.price,
        fill.fee,
        fill.reason,
    )


def position_row(run_id: str, item: PositionItem) -> Row:
    ts, action, p = item
    return (
        run_id,
        int(ts),
        action,
        p.symbol,
        p.side._value_,
        p.qty,
        p.entry_price,
        int(p.entry_ts),
        p.stop,
        p.take_profit,
        p.strategy,
        p.intent_id,
        p.signal_id,
    )


def trade_row(run_id: str, t: Trade) -> Row:
    return (
        run_id,
        t.id,
        t.symbol,
        t.side._value_,
        t.qty,
        int(t.entry_ts),
        t.entry_price,
        int(t.exit_ts),
        t.exit_price,
        t.exit_reason._value_,
        t.pnl,
        t.fees,
        t.r_multiple,
        t.strategy,
    )


def phantom_row(run_id: str, item: PhantomItem) -> Row:
    signal_id, strategy, o = item
    if o.signal_id and o.signal_id != signal_id:
        raise ValueError(
            f"phantom recorded for signal {signal_id!r} carries an outcome of signal "
            f"{o.signal_id!r}"
        )
    return (
        run_id,
        signal_id,
        strategy,
        o.signal.symbol,
        o.signal.side._value_,
        int(o.signal.ts),
        o.r_multiple,
        o.exit_reason._value_,
        int(o.closed_ts),
        int(o.phantom),
        o.score,
        o.entry_price,
        o.exit_price,
        o.mfe_r,
        o.mae_r,
    )


def equity_row(run_id: str, item: EquityItem) -> Row:
    ts, balance, equity, open_positions = item
    return (run_id, int(ts), balance, equity, int(open_positions))


def event_row(run_id: str, item: EventItem) -> Row:
    ts, kind, level, source, message, data = item
    return (run_id, int(ts), kind, level, source, message, _plain(data))


def checkpoint_row(run_id: str, item: CheckpointItem) -> Row:
    ts, state = item
    return (run_id, int(ts), _plain(state))


# --- decoders: sqlite3.Row -> value ------------------------------------------------------


def signal_from(r: sqlite3.Row) -> SignalRecord:
    signal = Signal(
        symbol=r["symbol"],
        ts=r["ts"],
        side=Side(r["side"]),
        kind=SignalKind(r["kind"]),
        entry=_real(r["entry"]),
        stop=r["stop"],
        take_profit=r["take_profit"],
        reason=r["reason"],
        features=from_json(r["features"]),
        bracket_from_fill=bool(r["bracket_from_fill"]),
        execute=r["execute"] != 0,  # NULL (a v1 row): signals were all executed then
        horizon_ms=r["horizon_ms"],
    )
    return SignalRecord(signal_id=r["id"], strategy=r["strategy"], signal=signal)


def score_from(r: sqlite3.Row) -> ScoreRecord:
    score = Score(
        value=_real(r["value"]),
        model=r["model"],
        details=from_json(r["details"]),
        version=r["model_version"] or "",
        model_hash=r["model_hash"] or "",
    )
    return ScoreRecord(
        signal_id=r["signal_id"],
        scorer=r["scorer"],
        score=score,
        mode=r["mode"],
        passed=bool(r["passed"]),
    )


def veto_from(r: sqlite3.Row) -> VetoRecord:
    veto = Veto(
        stage=r["stage"], reason=r["reason"], halt=bool(r["halt"]), halt_until=r["halt_until"]
    )
    return VetoRecord(intent_id=r["intent_id"], veto=veto)


def intent_from(r: sqlite3.Row) -> IntentRecord:
    intent = OrderIntent(
        id=r["id"],
        ts=r["ts"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        qty=_real(r["qty"]),
        price=_real(r["price"]),
        market=Market(**from_json(r["market"])),
        reduce_only=bool(r["reduce_only"]),
        stop=r["stop"],
        take_profit=r["take_profit"],
        order_type=OrderType(r["order_type"]),
        strategy=r["strategy"],
        signal_id=r["signal_id"],
    )
    return IntentRecord(intent=intent, approved=bool(r["approved"]))


def order_from(r: sqlite3.Row) -> Order:
    return Order(
        id=r["id"],
        intent_id=r["intent_id"],
        client_order_id=r["client_order_id"],
        ts=r["ts"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        reduce_only=bool(r["reduce_only"]),
        qty=_real(r["qty"]),
        order_type=OrderType(r["order_type"]),
        status=OrderStatus(r["status"]),
        price=r["price"],
        reason=r["reason"] or "",
    )


def fill_from(r: sqlite3.Row) -> Fill:
    return Fill(
        order_id=r["order_id"],
        intent_id=r["intent_id"],
        ts=r["ts"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        reduce_only=bool(r["reduce_only"]),
        qty=_real(r["qty"]),
        price=_real(r["price"]),
        fee=_real(r["fee"]),
        reason=r["reason"],
    )


def position_from(r: sqlite3.Row) -> PositionRecord:
    position = Position(
        symbol=r["symbol"],
        side=Side(r["side"]),
        qty=_real(r["qty"]),
        entry_price=_real(r["entry_price"]),
        entry_ts=r["entry_ts"],
        stop=r["stop"],
        take_profit=r["take_profit"],
        strategy=r["strategy"],
        intent_id=r["intent_id"],
        signal_id=r["signal_id"],
    )
    return PositionRecord(ts=r["ts"], action=r["action"], position=position)


def trade_from(r: sqlite3.Row) -> Trade:
    return Trade(
        id=r["id"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        qty=_real(r["qty"]),
        entry_ts=r["entry_ts"],
        entry_price=_real(r["entry_price"]),
        exit_ts=r["exit_ts"],
        exit_price=_real(r["exit_price"]),
        exit_reason=ExitReason(r["exit_reason"]),
        pnl=_real(r["pnl"]),
        fees=_real(r["fees"]),
        r_multiple=r["r_multiple"],
        strategy=r["strategy"],
    )


def phantom_from(r: sqlite3.Row, signal: Signal) -> PhantomRecord:
    # Unknown prices (NULL: NaN or a v1 row) are left to the Outcome's own default.
    prices = {
        name: r[name]
        for name in ("entry_price", "exit_price", "mfe_r", "mae_r")
        if r[name] is not None
    }
    outcome = Outcome(
        signal=signal,
        strategy=r["strategy"],
        r_multiple=_real(r["r_multiple"]),
        exit_reason=ExitReason(r["exit_reason"]),
        closed_ts=r["closed_ts"],
        phantom=bool(r["phantom"]),
        signal_id=r["signal_id"],
        score=r["score"],
        **prices,
    )
    return PhantomRecord(signal_id=r["signal_id"], strategy=r["strategy"], outcome=outcome)


def equity_from(r: sqlite3.Row) -> EquityPoint:
    return EquityPoint(
        ts=r["ts"],
        balance=_real(r["balance"]),
        equity=_real(r["equity"]),
        open_positions=r["open_positions"],
    )


def event_from(r: sqlite3.Row) -> Event:
    return Event(
        ts=r["ts"],
        kind=r["kind"],
        message=r["message"],
        level=Level(r["level"]),
        source=r["source"],
        data=from_json(r["data"]),
    )


def checkpoint_from(r: sqlite3.Row) -> tuple[int, dict[str, Any]]:
    return (r["ts"], from_json(r["state"]))


def run_from(r: sqlite3.Row) -> RunRow:
    return RunRow(
        id=r["id"],
        profile_name=r["profile_name"],
        mode=r["mode"],
        status=r["status"],
        started_ms=r["started_ms"],
        finished_ms=r["finished_ms"],
        pid=r["pid"],
        hostname=r["hostname"],
        selection=from_json(r["selection"]),
        resumed_ms=r["resumed_ms"],
        summary=from_json(r["summary"]),
    )
