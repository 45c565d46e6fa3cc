"""Plugins: each component's health and quarantine, the installed plugins and their versions."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView, refill

HEALTH_STYLE = {"ok": "green", "failing": "yellow", "quarantined": "bold red"}


def _enabled(strategy: dict[str, Any] | None) -> str | Text:
    """A strategy's "yes" / "no" (a disabled one stands out); "" for other kinds."""
    if strategy is None:
        return ""
    if strategy.get("enabled", True):
        return Text("yes", style="green")
    return Text("no", style="bold yellow")


class PluginsView(HostView):
    """Components of the run (the row under the cursor is what w, e and d act on), plugins found.

    A component's plugin and a strategy's enabled flag come from the host's
    ``strategies`` and ``scorers`` lists (a host without runtime commands
    sends neither: the cells stay empty).
    """

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                "Components of this run (w swaps the selected strategy or scorer, "
                "e / d enable / disable the selected strategy)",
                style="bold",
            ),
            classes="title",
        )
        components: DataTable[str | Text] = DataTable(id="components-table", cursor_type="row")
        components.add_columns(
            "Name", "Kind", "Plugin", "Enabled", "Health", "Quarantined", "Failures in a row"
        )
        yield components
        yield Static(Text("Plugins installed", style="bold"), classes="title")
        plugins: DataTable[str | Text] = DataTable(id="plugins-table", cursor_type="row")
        plugins.add_columns("Plugin", "Distribution", "Version", "Status", "Error")
        yield plugins

    def show(self, snapshot: Snapshot) -> None:
        components = snapshot.plugins.get("components", [])
        strategies = {s["name"]: s for s in snapshot.plugins.get("strategies", [])}
        # A swapped scorer is listed under the name its scores are journaled as.
        scorers = {
            s.get("journaled_as") or s["name"]: s for s in snapshot.plugins.get("scorers", [])
        }

        def plugin(name: str) -> str:
            found = strategies.get(name) or scorers.get(name) or {}
            return str(found.get("plugin", ""))

        refill(
            self.query_one("#components-table", DataTable),
            (
                [
                    c["name"],
                    c["kind"],
                    plugin(c["name"]),
                    _enabled(strategies.get(c["name"]) if c["kind"] == "strategy" else None),
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
