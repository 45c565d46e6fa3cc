"""Overview: trading state, equity, P&L today, drawdown, health and the open positions."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console import fmt
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill, state_text
from garrison.console.screens.positions import POSITION_COLUMNS, position_rows


def health_text(snapshot: Snapshot) -> Text:
    """``ok``, or what is wrong: quarantined or failing components."""
    plugins = snapshot.plugins.get("components", [])
    quarantined = [c["name"] for c in plugins if c.get("quarantined")]
    failing = [c["name"] for c in plugins if c.get("health") == "failing"]
    problems = []
    if quarantined:
        problems.append(f"quarantined: {', '.join(quarantined)}")
    if failing:
        problems.append(f"failing: {', '.join(failing)}")
    if not problems:
        return Text("ok", style="green")
    return Text("; ".join(problems), style="bold red")


def summary(snapshot: Snapshot) -> Table:
    """The overview's figures, two columns of label and value."""
    status, risk, equity = snapshot.status, snapshot.risk, snapshot.equity
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column(style="bold")
    grid.add_column()
    state = state_text(str(status.get("state", "")))
    if status.get("halted_until"):
        state.append(f" until {fmt.when(status['halted_until'])}")
    day = risk.get("day_pnl")
    day_text = Text(fmt.signed(day), style="green" if (day or 0) >= 0 else "red")
    grid.add_row(
        "State", state, "Host", f"{status.get('profile', '?')} ({status.get('mode', '?')})"
    )
    grid.add_row("Equity", fmt.money(status.get("equity")), "Run", str(status.get("run_id", "-")))
    grid.add_row(
        "Balance", fmt.money(status.get("balance")), "Step", fmt.when(status.get("step_close"))
    )
    grid.add_row("P&L today", day_text, "Steps", f"{status.get('steps', 0):,}")
    grid.add_row(
        "Drawdown",
        f"{fmt.pct(risk.get('drawdown'))} (max {fmt.pct(risk.get('max_drawdown'))})",
        "Risk/trade",
        "-" if status.get("risk_pct") is None else f"{status['risk_pct']:g}%",
    )
    grid.add_row(
        "Realised",
        f"{fmt.signed(equity.get('realised'))} in {equity.get('trades', 0)} trades",
        "Health",
        health_text(snapshot),
    )
    grid.add_row(
        "Positions",
        f"{status.get('positions', 0)} open, {status.get('open_orders', 0)} order(s)",
        "Pending",
        ", ".join(status.get("pending", [])) or "-",
    )
    return grid


class OverviewView(HostView):
    """State, money, health, and the open positions below."""

    def compose(self) -> ComposeResult:
        yield Static(id="overview-summary")
        yield Static(Text("Open positions", style="bold"), classes="title")
        table: DataTable[str | Text] = DataTable(id="overview-positions", cursor_type="row")
        table.add_columns(*POSITION_COLUMNS)
        yield table

    def show(self, snapshot: Snapshot) -> None:
        self.query_one("#overview-summary", Static).update(summary(snapshot))
        rows, keys = position_rows(snapshot.positions)
        refill(self.query_one("#overview-positions", DataTable), rows, keys)
