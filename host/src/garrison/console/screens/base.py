"""What every screen shares: showing a snapshot, and refilling a table in place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable

from garrison.console.model import Snapshot


class HostView(Vertical):
    """A screen's body; the app calls :meth:`show` with every new snapshot of the host."""

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError


def refill(
    table: DataTable[str | Text],
    rows: Iterable[Sequence[str | Text]],
    keys: Sequence[str] | None = None,
) -> None:
    """Replace the table's rows, keeping the cursor on the same row number where it can."""
    row = table.cursor_row
    table.clear()
    for i, cells in enumerate(rows):
        table.add_row(*cells, key=None if keys is None else keys[i])
    if table.row_count:
        table.move_cursor(row=min(row, table.row_count - 1), animate=False)


def state_text(state: str) -> Text:
    """The trading state, coloured: running green, reducing yellow, halted red."""
    style = {"running": "bold green", "reducing": "bold yellow", "halted": "bold red"}.get(
        state, "bold"
    )
    return Text(state or "unknown", style=style)
