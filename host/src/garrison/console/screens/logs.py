"""Logs: the tail of the host's journaled events, newest last."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from garrison.console import fmt
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill

LEVEL_STYLE = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "error": "bold red",
    "critical": "bold white on red",
}


class LogsView(HostView):
    """Journaled events; the view follows the newest unless the cursor was moved up."""

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="logs-table", cursor_type="row")
        table.add_columns("Time", "Level", "Source", "Kind", "Message")
        yield table

    def show(self, snapshot: Snapshot) -> None:
        table = self.query_one("#logs-table", DataTable)
        following = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        refill(
            table,
            (
                [
                    fmt.when(row.get("ts")),
                    Text(
                        str(row.get("level", "")),
                        style=LEVEL_STYLE.get(str(row.get("level", "")).lower(), ""),
                    ),
                    str(row.get("source", "")),
                    str(row.get("kind", "")),
                    str(row.get("message", "")),
                ]
                for row in snapshot.logs
            ),
        )
        if following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
