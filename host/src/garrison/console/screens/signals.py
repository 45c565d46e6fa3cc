"""The signals feed: each signal with its scores, the gate, the risk chain's vetoes and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console import fmt
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill

SIGNAL_COLUMNS = (
    "Time",
    "Strategy",
    "Symbol",
    "Side",
    "Kind",
    "Entry",
    "Stop",
    "Score",
    "Gate",
    "Outcome",
    "Vetoes",
    "Why",
)


def _scores(scores: Sequence[dict[str, Any]]) -> str:
    return (
        ", ".join(
            f"{s['scorer']} {s['value']:.3g}"
            if isinstance(s.get("value"), int | float)
            else f"{s['scorer']} -"
            for s in scores
        )
        or "-"
    )


def _gate(scores: Sequence[dict[str, Any]]) -> Text:
    gated = [s for s in scores if s.get("passed") is not None]
    if not gated:
        return Text("-")
    if all(s["passed"] for s in gated):
        return Text("pass", style="green")
    return Text("blocked", style="bold red")


def _outcome(signal: dict[str, Any]) -> Text:
    intent = signal.get("intent")
    if not signal.get("execute", True):
        return Text("phantom", style="dim")
    if intent is None:
        return Text("not sized", style="yellow")
    if intent.get("approved"):
        return Text(f"approved {fmt.num(intent.get('qty'))}", style="green")
    return Text("vetoed", style="bold red")


def signal_rows(signals: Sequence[dict[str, Any]]) -> list[list[str | Text]]:
    rows: list[list[str | Text]] = []
    for s in signals:
        vetoes = (s.get("intent") or {}).get("vetoes", [])
        rows.append(
            [
                fmt.when(s.get("ts")),
                str(s.get("strategy", "")),
                str(s.get("symbol", "")),
                str(s.get("side", "")),
                str(s.get("kind", "")),
                fmt.num(s.get("entry")),
                fmt.num(s.get("stop")),
                _scores(s.get("scores", [])),
                _gate(s.get("scores", [])),
                _outcome(s),
                "; ".join(f"{v['stage']}: {v['reason']}" for v in vetoes) or "-",
                str(s.get("reason") or "-"),
            ]
        )
    return rows


class SignalsView(HostView):
    """The newest signals first."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Signals (newest first)", style="bold"), classes="title")
        table: DataTable[str | Text] = DataTable(id="signals-table", cursor_type="row")
        table.add_columns(*SIGNAL_COLUMNS)
        yield table

    def show(self, snapshot: Snapshot) -> None:
        refill(self.query_one("#signals-table", DataTable), signal_rows(snapshot.signals))
