"""The console app: attaches to hosts, polls them, shows the screens, sends the actions.

One worker follows the current host's subscription (the host pushes its
state every ``period_s``) and shows each snapshot; on losing the host it
says so and tries again every second. Actions and the charts' queries go
over a second connection. Everything runs on the app's own asyncio loop
over :class:`HostConnection`, which never blocks it. Destructive actions
(halt, flatten, reload) ask first in a modal; flatten also goes through the
host's own two-step confirmation. Enable, disable and swap act on the
strategy or scorer under the cursor on the plugins screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from garrison.console.connection import HostConnection, HostRefusedError, HostUnavailableError
from garrison.console.modals import Ask, Confirm, Notice
from garrison.console.model import TOPICS, HostTarget, Snapshot, received
from garrison.console.redis_connection import RedisHostConnection
from garrison.console.screens.base import HostView, state_text
from garrison.console.screens.charts import ChartData, ChartsView
from garrison.console.screens.logs import LogsView
from garrison.console.screens.overview import OverviewView
from garrison.console.screens.plugins import PluginsView
from garrison.console.screens.positions import PositionsView
from garrison.console.screens.risk import RiskView
from garrison.console.screens.signals import SignalsView
from garrison.follow.directory import RedisDirectory, RedisUnreachableError

#: How the console reaches a host: its control socket, or Redis.
Connection = HostConnection | RedisHostConnection

#: The screens: tab id, title, view class. Keys 1..7 pick them in this order.
SCREENS: tuple[tuple[str, str, type[HostView]], ...] = (
    ("overview", "Overview", OverviewView),
    ("positions", "Positions & orders", PositionsView),
    ("signals", "Signals", SignalsView),
    ("plugins", "Plugins", PluginsView),
    ("risk", "Risk", RiskView),
    ("logs", "Logs", LogsView),
    ("charts", "Charts", ChartsView),
)

#: Candles the chart asks for, and equity points.
CHART_CANDLES = 120
CHART_EQUITY_POINTS = 400

#: Seconds between two fetches of the charts' data while the charts screen is shown.
CHART_PERIOD_S = 5.0

#: Seconds before following a lost host again.
RETRY_S = 1.0

#: Seconds between two looks for hosts newly publishing to Redis.
DISCOVER_S = 5.0

#: The reason journaled with the console's actions.
REASON = "console"


class ConsoleApp(App[None]):
    """``garrison console``: see everything a host does, and steer it."""

    TITLE = "garrison console"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #hostbar { height: 1; background: $boost; padding: 0 1; }
    #tabs { height: 1fr; }
    TabPane { height: 1fr; padding: 0; }
    HostView { height: 1fr; }
    .title { height: 1; margin: 1 0 0 0; }
    #overview-summary, #risk-summary { height: auto; padding: 1 1 0 1; }
    DataTable { height: 1fr; }
    #charts-top { height: 1fr; }
    #charts-bottom { height: 1fr; }
    #candles-title { height: 1; }
    Confirm, Ask, Notice { align: center middle; }
    #dialog { width: 64; height: auto; border: thick $error; background: $surface; padding: 1 2; }
    Notice #dialog { width: 96; max-width: 100%; }
    #buttons { height: auto; margin-top: 1; }
    #buttons Button { margin-right: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *[
            Binding(str(i + 1), f"show_tab('{tab}')", title.split(" ")[0], show=False)
            for i, (tab, title, _view) in enumerate(SCREENS)
        ],
        Binding("p", "pause", "Pause"),
        Binding("r", "reducing", "Reducing"),
        Binding("u", "resume", "Resume"),
        Binding("h", "halt", "Halt"),
        Binding("f", "flatten", "Flatten"),
        Binding("F", "flatten_all", "Flatten all"),
        Binding("s", "risk_set", "Risk %"),
        Binding("w", "swap", "Swap"),
        Binding("e", "strategy('enable')", "Enable"),
        Binding("d", "strategy('disable')", "Disable"),
        Binding("R", "reload", "Reload"),
        Binding("n", "next_host", "Next host"),
        Binding("left_square_bracket", "symbol(-1)", "Prev symbol", show=False),
        Binding("right_square_bracket", "symbol(1)", "Next symbol", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        targets: Sequence[HostTarget],
        *,
        period_s: float = 1.0,
        directory: RedisDirectory | None = None,
    ) -> None:
        if not targets:
            raise ValueError("the console needs at least one host to attach to")
        super().__init__()
        #: Where hosts publish, when following through Redis: hosts that start
        #: publishing later are added as they appear.
        self.directory = directory
        self.targets = list(targets)
        self.period_s = period_s
        self.connections = [self._connect(t) for t in self.targets]
        self.snapshots = [Snapshot() for _ in self.targets]
        self.current = 0
        self.chart_symbol: str | None = None
        self.chart_data = ChartData()
        self._charts_at = -math.inf
        #: Snapshots shown and chart fetches done since start (tests wait on them).
        self.polls = 0
        self.chart_fetches = 0
        #: What the host answered to the last action, as the notification said it.
        self.reply = ""

    # -- layout --------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="hostbar")
        with TabbedContent(id="tabs"):
            for i, (tab, title, view) in enumerate(SCREENS):
                with TabPane(f"{i + 1} {title}", id=tab):
                    yield view(id=f"view-{tab}")
        yield Footer()

    def on_mount(self) -> None:
        self._show_hostbar()
        self._follow_current()
        if self.directory is not None:
            self.run_worker(self._discover(self.directory), name="discover", group="discover")

    async def on_unmount(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.close()
        if self.directory is not None:
            await self.directory.close()

    def _connect(self, target: HostTarget) -> Connection:
        if target.host_id:
            if self.directory is None:
                raise ValueError(f"{target.label} is followed through Redis, but none is given")
            return RedisHostConnection(self.directory, target.host_id)
        if target.socket is None:
            raise ValueError(f"{target.label}: neither a socket nor a Redis host id")
        return HostConnection(target.socket)

    async def _discover(self, directory: RedisDirectory) -> None:
        """Add the hosts that start publishing to Redis while the console runs."""
        with contextlib.suppress(NoMatches):  # the app is closing
            while True:
                await asyncio.sleep(DISCOVER_S)
                try:
                    found = await directory.hosts()
                except RedisUnreachableError:
                    continue  # the current host's stream says so
                known = {t.host_id for t in self.targets}
                for host_id in found:
                    if host_id not in known:
                        self.add_target(HostTarget(host_id, host_id=host_id))

    def add_target(self, target: HostTarget) -> None:
        """Follow one more host (``n`` reaches it)."""
        self.targets.append(target)
        self.connections.append(self._connect(target))
        self.snapshots.append(Snapshot())
        self._show_hostbar()
        self.notify(f"now following {target.label} too (n: next host)")

    # -- following the host --------------------------------------------------------

    @property
    def connection(self) -> Connection:
        return self.connections[self.current]

    @property
    def snapshot(self) -> Snapshot:
        return self.snapshots[self.current]

    def _follow_current(self) -> None:
        self.workers.cancel_group(self, "follow")
        self.run_worker(self._follow(self.current), name="follow", group="follow")

    async def _follow(self, index: int) -> None:
        """Show the host's subscription as it comes; on losing it, say so and try again."""
        connection = self.connections[index]
        with contextlib.suppress(NoMatches):  # the app is closing: its widgets are gone
            while True:
                try:
                    async for message in connection.stream(TOPICS, self.period_s):
                        self._received(index, received(self.snapshots[index], message))
                except HostUnavailableError as exc:
                    self._lost(index, str(exc))
                except HostRefusedError as exc:
                    self._lost(index, f"the host refused to stream: {exc}")
                await asyncio.sleep(RETRY_S)

    def _received(self, index: int, snapshot: Snapshot) -> None:
        self.snapshots[index] = snapshot
        if index != self.current:
            return
        try:
            self._show(snapshot)
        except NoMatches:
            raise
        except Exception as exc:  # a strange answer must not end the console
            self.notify(f"could not show the host's answer: {exc!r}", severity="error")
        self.polls += 1
        due = time.monotonic() - self._charts_at >= CHART_PERIOD_S
        if due and self.query_one(TabbedContent).active == "charts":
            self.refresh_charts()

    def _lost(self, index: int, why: str) -> None:
        self.snapshots[index] = attrs.evolve(self.snapshots[index], problem=why)
        if index == self.current:
            self._show_hostbar()

    def _show(self, snapshot: Snapshot) -> None:
        self._show_hostbar()
        for tab, _title, _view in SCREENS:
            self.query_one(f"#view-{tab}", HostView).show(snapshot)
        self.query_one("#view-charts", ChartsView).show_charts(self.chart_data, snapshot.positions)

    def _show_hostbar(self) -> None:
        target, snapshot = self.targets[self.current], self.snapshot
        bar = Text(f"{target.label}", style="bold")
        connection = self.connections[self.current]
        if isinstance(connection, RedisHostConnection):
            steerable = connection.local_socket() is not None
            bar.append(" via Redis" if steerable else " via Redis, read-only")
        if len(self.targets) > 1:
            bar.append(f" [{self.current + 1}/{len(self.targets)}, n: next host]")
        bar.append("  ")
        if snapshot.problem:
            bar.append(f"disconnected: {snapshot.problem} (retrying)", style="bold white on red")
        elif not snapshot.status:
            bar.append("connecting…", style="yellow")
        else:
            bar.append("connected", style="green")
            bar.append("  trading ")
            bar.append_text(state_text(str(snapshot.status.get("state", ""))))
        self.query_one("#hostbar", Static).update(bar)

    def refresh_charts(self) -> None:
        """Fetch the charts' data again (a newer fetch replaces one under way)."""
        self._charts_at = time.monotonic()
        self.run_worker(self._charts_guarded(), name="charts", group="charts", exclusive=True)

    async def _charts_guarded(self) -> None:
        try:
            await self._fetch_charts()
        except NoMatches:
            return  # the app is closing
        except Exception as exc:  # a strange answer must not end the console
            self.notify(f"could not draw the charts: {exc!r}", severity="error")

    async def _fetch_charts(self) -> None:
        index, connection, problems = self.current, self.connection, {}
        equity: list[list[float]] = []
        candles: dict[str, Any] = {}
        trades: list[dict[str, Any]] = []
        try:
            try:
                answer = await connection.call("equity_history", {"n": CHART_EQUITY_POINTS})
                equity = answer["points"]
            except HostRefusedError as exc:
                problems["equity_history"] = f"no equity history: {exc}"
            args: dict[str, Any] = {"n": CHART_CANDLES}
            if self.chart_symbol:
                args["symbol"] = self.chart_symbol
            try:
                candles = await connection.call("candles", args)
                self.chart_symbol = candles["symbol"]
                since = candles["candles"][0][0] if candles["candles"] else 0
                trades = await connection.call(
                    "trades", {"symbol": candles["symbol"], "since_ts": since}
                )
            except HostRefusedError as exc:
                problems["candles"] = f"no candles: {exc}"
                self.chart_symbol = None  # no longer held: the host's first symbol next time
        except HostUnavailableError:
            return  # the subscription says so
        if index != self.current:
            return
        self.chart_data = ChartData(equity, candles, trades, problems)
        self.chart_fetches += 1
        self.query_one("#view-charts", ChartsView).show_charts(
            self.chart_data, self.snapshot.positions
        )

    # -- navigation ----------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "charts":
            self.refresh_charts()

    def action_next_host(self) -> None:
        if len(self.targets) == 1:
            self.notify("attached to one host only (name several to switch)")
            return
        self.current = (self.current + 1) % len(self.targets)
        self.chart_symbol, self.chart_data = None, ChartData()
        self._show(self.snapshot)
        self._follow_current()
        if self.query_one(TabbedContent).active == "charts":
            self.refresh_charts()

    def action_symbol(self, step: int) -> None:
        symbols = list(self.chart_data.candles.get("symbols", []))
        if not symbols:
            return
        now = self.chart_symbol if self.chart_symbol in symbols else symbols[0]
        self.chart_symbol = symbols[(symbols.index(now) + step) % len(symbols)]
        self.refresh_charts()

    # -- actions -------------------------------------------------------------------

    async def _send(self, cmd: str, args: dict[str, Any]) -> Any:
        """Send an action; say what the host answered. None when it refused or is gone."""
        try:
            result = await self.connection.call(cmd, args)
        except HostRefusedError as exc:
            self.reply = f"{cmd} refused: {exc}"
            self.notify(self.reply, severity="error", timeout=8)
            return None
        except HostUnavailableError as exc:
            self.reply = f"{cmd} not sent: {exc}"
            self.notify(self.reply, severity="error", timeout=8)
            return None
        self.reply = f"{cmd}: ok"
        if isinstance(result, dict) and "queued" in result:
            if result["queued"]:
                self.reply = f"{result['queued']}: accepted, applies {result['applies']}"
            else:  # nothing to do (a reload of an unchanged file)
                self.reply = f"{cmd}: {result['applies']}"
            self.notify(self.reply)
        return result

    @work(group="action")
    async def action_pause(self) -> None:
        await self._send("pause", {"reason": REASON})

    @work(group="action")
    async def action_reducing(self) -> None:
        await self._send("reducing", {"reason": REASON})

    @work(group="action")
    async def action_resume(self) -> None:
        await self._send("resume", {"reason": REASON})

    @work(group="action")
    async def action_halt(self) -> None:
        label = self.targets[self.current].label
        if await self.push_screen_wait(
            Confirm(f"HALT trading on {label}? Every entry is refused until you resume (u).")
        ):
            await self._send("halt", {"reason": REASON})
        else:
            self.notify("halt: not confirmed, nothing done")

    def selected_symbol(self) -> str | None:
        """The position under the cursor on the overview or positions screen, else the first."""
        active = self.query_one(TabbedContent).active
        table_id = {"overview": "#overview-positions", "positions": "#positions-table"}.get(active)
        positions = self.snapshot.positions
        if table_id is not None:
            table = self.query_one(table_id, DataTable)
            if table.row_count:
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                return None if key is None else str(key)
        return str(positions[0]["symbol"]) if positions else None

    @work(group="action")
    async def action_flatten(self) -> None:
        symbol = self.selected_symbol()
        if symbol is None:
            self.notify("no open position to flatten", severity="warning")
            return
        await self._flatten({"symbol": symbol})

    @work(group="action")
    async def action_flatten_all(self) -> None:
        await self._flatten({"all": True})

    async def _flatten(self, args: dict[str, Any]) -> None:
        offer = await self._send("flatten", args)
        if offer is None:
            return
        closing = ", ".join(offer["would_close"])
        if await self.push_screen_wait(
            Confirm(f"FLATTEN {closing} at market on {self.targets[self.current].label}?")
        ):
            await self._send("flatten", {**args, "confirm": offer["confirm"]})
        else:
            self.notify("flatten: not confirmed, nothing done")

    @work(group="action")
    async def action_risk_set(self) -> None:
        risk = self.snapshot.risk
        bounds = risk.get("risk_pct_bounds")
        if not bounds:
            self.notify(
                f"risk per trade cannot be changed: {risk.get('risk_pct_settable') or 'unknown'}",
                severity="warning",
            )
            return
        answer = await self.push_screen_wait(
            Ask(
                f"Risk per trade in % of equity, within [{bounds[0]:g}, {bounds[1]:g}]:",
                value="" if risk.get("risk_pct") is None else f"{risk['risk_pct']:g}",
            )
        )
        if answer is None:
            return
        try:
            value = float(answer)
        except ValueError:
            self.notify(f"not a number: {answer!r}", severity="error")
            return
        await self._send("risk_set", {"risk_pct": value})

    def selected_component(self, action: str, kinds: tuple[str, ...]) -> tuple[str, str] | None:
        """The component under the cursor on the plugins screen, if of one of ``kinds``.

        None (and a notification saying why) when another screen is shown,
        the host lists no components or the one selected is of another kind.
        """
        key = {"swap": "w", "enable": "e", "disable": "d"}.get(action, "")
        if self.query_one(TabbedContent).active != "plugins":
            what = " or ".join(kinds)
            self.notify(f"{action}: pick the {what} on the plugins screen (4), then {key}")
            return None
        table = self.query_one("#components-table", DataTable)
        if not table.row_count:
            self.notify(f"{action}: the host lists no components", severity="warning")
            return None
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        found = {c["name"]: c["kind"] for c in self.snapshot.plugins.get("components", [])}
        kind = found.get(name)
        if kind not in kinds:
            acts_on = " or ".join(kinds)
            self.notify(f"{action}: {name} is a {kind}; {action} acts on a {acts_on} only")
            return None
        return name, str(kind)

    @work(group="action")
    async def action_swap(self) -> None:
        """Swap the strategy or scorer under the cursor on the plugins screen."""
        selected = self.selected_component("swap", ("strategy", "scorer"))
        if selected is None:
            return
        name, kind = selected
        plugin = await self.push_screen_wait(
            Ask(
                f"Swap {kind} {name} for another installed {kind} (from the next step on); "
                "its plugin name:",
                placeholder="pullback",
            )
        )
        if plugin is None:
            return
        if kind == "scorer":
            # A swapped scorer is listed under its journaled name (``<use>/<plugin>``);
            # swap names the profile's use.
            uses = self.snapshot.plugins.get("scorers", [])
            name = next((s["name"] for s in uses if s.get("journaled_as") == name), name)
        await self._send("swap", {"kind": kind, "use": name, "plugin": plugin})

    @work(group="action")
    async def action_strategy(self, verb: str) -> None:
        """Enable or disable the strategy under the cursor on the plugins screen.

        Neither asks first: disabling only stops new signals (open positions
        keep their stops and take-profits) and enabling undoes it.
        """
        selected = self.selected_component(verb, ("strategy",))
        if selected is None:
            return
        await self._send(f"strategy_{verb}", {"name": selected[0]})

    @work(group="action")
    async def action_reload(self) -> None:
        """Have the host read its profile file again, once confirmed; show a refusal in full."""
        label = self.targets[self.current].label
        if not await self.push_screen_wait(
            Confirm(
                f"RELOAD the profile file of {label}? What was edited in it since it was "
                "last read applies at the host's next step."
            )
        ):
            self.notify("reload: not confirmed, nothing done")
            return
        try:
            result = await self.connection.call("reload", {})
        except (HostRefusedError, HostUnavailableError) as exc:
            verb = "refused" if isinstance(exc, HostRefusedError) else "not sent"
            self.reply = f"reload {verb}: {exc}"
            await self.push_screen_wait(Notice(self.reply))
            return
        if result.get("queued"):
            self.reply = f"{result['queued']}: accepted, applies {result['applies']}"
        else:
            self.reply = f"reload: {result.get('applies', 'ok')}"
        self.notify(self.reply)
