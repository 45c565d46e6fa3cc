"""Risk: the trading state, the risk per trade and each limit with how close it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console import fmt
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill, state_text

BAR_WIDTH = 20


@attrs.frozen
class LimitUse:
    """One risk rule: its limit, where the account stands, and the share of the limit used."""

    rule: str
    limit: str
    now: str
    #: Share of the limit used (1.0 = at the limit), None when the rule judges each order alone.
    used: float | None
    kill_switch: bool


def _notionals(positions: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    found = []
    for p in positions:
        price = p.get("mark") if isinstance(p.get("mark"), int | float) else p.get("entry_price")
        if isinstance(price, int | float) and isinstance(p.get("qty"), int | float):
            found.append((str(p.get("side")), abs(p["qty"] * price)))
    return found


def limit_uses(snapshot: Snapshot) -> list[LimitUse]:
    """How close each rule of the host's chain is to its limit, from the snapshot alone."""
    risk, equity = snapshot.risk, snapshot.equity
    worth = equity.get("equity") or snapshot.status.get("equity") or 0.0
    notionals = _notionals(snapshot.positions)
    uses = []
    for rule in risk.get("rules", []):
        stage, params = rule["stage"], rule.get("params", {})
        limit, now, used = (
            ", ".join(f"{k}={v}" for k, v in params.items()) or "-",
            "per order",
            None,
        )
        if stage == "max_drawdown" and "max_pct" in params:
            drawdown = float(risk.get("drawdown", 0.0)) * 100
            limit, now, used = (
                f"{params['max_pct']:g}% drawdown",
                f"{drawdown:.2f}%",
                drawdown / params["max_pct"],
            )
        elif stage == "daily_loss_limit" and "max_pct" in params:
            start = equity.get("day_start_equity") or 0.0
            loss = max(0.0, -float(risk.get("day_pnl", 0.0))) / start * 100 if start else 0.0
            limit, now, used = (
                f"{params['max_pct']:g}% loss today",
                f"{loss:.2f}%",
                loss / params["max_pct"],
            )
        elif stage == "max_open_positions" and "limit" in params:
            count = len(snapshot.positions)
            limit, now, used = f"{params['limit']} positions", str(count), count / params["limit"]
        elif stage == "max_notional" and "max_usd" in params:
            largest = max((n for _s, n in notionals), default=0.0)
            limit, now, used = (
                f"{params['max_usd']:,.0f} USDT a position",
                f"{largest:,.0f}",
                largest / params["max_usd"],
            )
        elif stage == "same_direction_exposure" and "max_pct_of_equity" in params and worth:
            side = max(
                (sum(n for s, n in notionals if s == d) for d in ("long", "short")), default=0.0
            )
            share = side / worth * 100
            limit = f"{params['max_pct_of_equity']:g}% of equity one way"
            now, used = f"{share:.1f}%", share / params["max_pct_of_equity"]
        elif stage == "trading_state":
            limit, now = "entries only while running", str(risk.get("state", "-"))
            used = {"running": 0.0, "reducing": 1.0, "halted": 1.0}.get(str(risk.get("state")))
        uses.append(LimitUse(stage, limit, now, used, bool(rule.get("kill_switch"))))
    return uses


def bar(used: float | None) -> Text:
    """``████████░░░░  40%``, yellow from 70 %, red from 90 %."""
    if used is None:
        return Text("checked per order", style="dim")
    share = max(0.0, used)
    filled = min(BAR_WIDTH, round(share * BAR_WIDTH))
    style = "red" if share >= 0.9 else "yellow" if share >= 0.7 else "green"
    text = Text("█" * filled, style=style)
    text.append("░" * (BAR_WIDTH - filled), style="dim")
    text.append(f" {share * 100:4.0f}%")
    return text


def risk_summary(snapshot: Snapshot) -> Table:
    risk = snapshot.risk
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    state = state_text(str(risk.get("state", "")))
    if risk.get("halted_until"):
        state.append(f" until {fmt.when(risk['halted_until'])}")
    grid.add_row("Trading", state)
    bounds = risk.get("risk_pct_bounds")
    per_trade = "-" if risk.get("risk_pct") is None else f"{risk['risk_pct']:g}%"
    settable = (
        f"settable with s within [{bounds[0]:g}, {bounds[1]:g}]%"
        if bounds
        else f"not settable: {risk.get('risk_pct_settable') or 'unknown'}"
    )
    grid.add_row("Risk per trade", f"{per_trade} (sizer {risk.get('sizer', '-')}; {settable})")
    grid.add_row(
        "Drawdown",
        f"{fmt.pct(risk.get('drawdown'))} now, {fmt.pct(risk.get('max_drawdown'))} deepest",
    )
    grid.add_row("P&L today", fmt.signed(risk.get("day_pnl")))
    for halt in risk.get("halts", []):
        grid.add_row(Text("Halted", style="red"), f"{fmt.when(halt.get('ts'))}: {halt.get('why')}")
    return grid


class RiskView(HostView):
    """The risk state, then one row per rule of the chain with its use of the limit."""

    def compose(self) -> ComposeResult:
        yield Static(id="risk-summary")
        yield Static(Text("Risk chain, in order", style="bold"), classes="title")
        table: DataTable[str | Text] = DataTable(id="risk-table", cursor_type="row")
        table.add_columns("Rule", "Limit", "Now", "Used", "Kill switch")
        yield table

    def show(self, snapshot: Snapshot) -> None:
        self.query_one("#risk-summary", Static).update(risk_summary(snapshot))
        refill(
            self.query_one("#risk-table", DataTable),
            (
                [u.rule, u.limit, u.now, bar(u.used), "yes" if u.kill_switch else ""]
                for u in limit_uses(snapshot)
            ),
        )
