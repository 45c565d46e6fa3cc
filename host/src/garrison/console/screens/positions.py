"""Positions and orders: what the host holds and what it has sent and not seen filled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console import fmt
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill

POSITION_COLUMNS = (
    "Symbol",
    "Side",
    "Qty",
    "Entry",
    "Mark",
    "Unrealised",
    "Stop",
    "Take profit",
    "Since",
    "Strategy",
)
ORDER_COLUMNS = (
    "Id",
    "Time",
    "Symbol",
    "Side",
    "Reduce",
    "Qty",
    "Type",
    "Status",
    "Stop",
    "Strategy",
)


def position_rows(positions: Sequence[dict[str, Any]]) -> tuple[list[list[str | Text]], list[str]]:
    """One row per position, and the row keys (the symbols)."""
    rows: list[list[str | Text]] = []
    for p in positions:
        pnl = p.get("unrealised")
        rows.append(
            [
                p["symbol"],
                Text(p["side"], style="green" if p["side"] == "long" else "red"),
                fmt.num(p.get("qty")),
                fmt.num(p.get("entry_price")),
                fmt.num(p.get("mark")),
                Text(fmt.signed(pnl), style="green" if (pnl or 0) >= 0 else "red"),
                fmt.num(p.get("stop")),
                fmt.num(p.get("take_profit")),
                fmt.when(p.get("entry_ts")),
                str(p.get("strategy", "")),
            ]
        )
    return rows, [p["symbol"] for p in positions]


def order_rows(orders: Sequence[dict[str, Any]]) -> list[list[str | Text]]:
    return [
        [
            str(o.get("id", "")),
            fmt.when(o.get("ts")),
            str(o.get("symbol", "")),
            str(o.get("side", "")),
            "yes" if o.get("reduce_only") else "no",
            fmt.num(o.get("qty")),
            str(o.get("type", "")),
            str(o.get("status", "")),
            fmt.num(o.get("stop")),
            str(o.get("strategy", "")),
        ]
        for o in orders
    ]


class PositionsView(HostView):
    """The open positions (the row under the cursor is what ``f`` flattens) and open orders."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Positions (f flattens the selected one, F all)", style="bold"), classes="title"
        )
        positions: DataTable[str | Text] = DataTable(id="positions-table", cursor_type="row")
        positions.add_columns(*POSITION_COLUMNS)
        yield positions
        yield Static(Text("Open orders", style="bold"), classes="title")
        orders: DataTable[str | Text] = DataTable(id="orders-table", cursor_type="row")
        orders.add_columns(*ORDER_COLUMNS)
        yield orders

    def show(self, snapshot: Snapshot) -> None:
        rows, keys = position_rows(snapshot.positions)
        refill(self.query_one("#positions-table", DataTable), rows, keys)
        refill(self.query_one("#orders-table", DataTable), order_rows(snapshot.orders))
