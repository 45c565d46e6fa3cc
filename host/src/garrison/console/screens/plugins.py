"""Plugins: each component's health and quarantine, the installed plugins and their versions."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill

HEALTH_STYLE = {"ok": "green", "failing": "yellow", "quarantined": "bold red"}


class PluginsView(HostView):
    """Components of the run (the row under the cursor is what ``w`` swaps) and plugins found."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Components of this run (w swaps the selected one)", style="bold"), classes="title"
        )
        components: DataTable[str | Text] = DataTable(id="components-table", cursor_type="row")
        components.add_columns("Name", "Kind", "Health", "Quarantined", "Failures in a row")
        yield components
        yield Static(Text("Plugins installed", style="bold"), classes="title")
        plugins: DataTable[str | Text] = DataTable(id="plugins-table", cursor_type="row")
        plugins.add_columns("Plugin", "Distribution", "Version", "Status", "Error")
        yield plugins

    def show(self, snapshot: Snapshot) -> None:
        components = snapshot.plugins.get("components", [])
        refill(
            self.query_one("#components-table", DataTable),
            (
                [
                    c["name"],
                    c["kind"],
                    Text(c["health"], style=HEALTH_STYLE.get(c["health"], "")),
                    "yes" if c.get("quarantined") else "no",
                    str(c.get("failures_in_a_row", 0)),
                ]
                for c in components
            ),
            [c["name"] for c in components],
        )
        refill(
            self.query_one("#plugins-table", DataTable),
            (
                [
                    str(p.get("name", "")),
                    str(p.get("distribution", "")),
                    str(p.get("version", "")),
                    Text(
                        str(p.get("status", "")),
                        style="green" if p.get("status") == "ok" else "red",
                    ),
                    str(p.get("error") or ""),
                ]
                for p in snapshot.plugins.get("plugins", [])
            ),
        )
