"""Operator commands: Telegram text to control requests, and the answers back as HTML.

Every command goes through the host's control API (``request``): nothing
here reads or changes the host directly. ``/halt`` and ``/flatten`` act only
after a confirmation by the same user (``/confirm TOKEN`` or the inline
button): halt's token is the plugin's own, flatten's is the host's (a first
``flatten`` call answers one). Tokens expire after ``confirm_ttl_s``.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from garrison_api.control import ControlError

from garrison_telegram.formatting import esc, fit, table

#: Sends one control command and returns its result (raises ControlError).
Request = Callable[[str, Mapping[str, Any]], Awaitable[Any]]

HELP = (
    ("status", "trading state, equity, open positions"),
    ("positions", "open positions with marks and stops"),
    ("balance", "balance, equity, unrealised P&L"),
    ("stats", "trades, realised P&L, drawdown, today's P&L"),
    ("pause", "refuse new entries (exits still run)"),
    ("resume", "trade normally again (also lifts a halt)"),
    ("halt", "kill switch: stop trading (asks to confirm)"),
    ("flatten SYMBOL|all", "close a position or all (asks to confirm)"),
    ("risk [PCT]", "risk state and limits; with PCT set risk per trade"),
    ("plugins", "components and plugins with their health"),
    ("phantom", "recent signals: phantoms, vetoes, scorer stats"),
    ("confirm TOKEN", "carry out a halt or flatten asked for"),
    ("cancel TOKEN", "drop a halt or flatten asked for"),
    ("help", "this list"),
)


@attrs.frozen
class Reply:
    """An answer: HTML text and optional inline buttons (label, callback data)."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Pending:
    """A destructive command waiting for its user's confirmation."""

    cmd: str
    args: Mapping[str, Any]
    user_id: int
    expires: float
    what: str


def confirm_buttons(token: str) -> tuple[tuple[str, str], ...]:
    return (("✅ Confirm", f"confirm:{token}"), ("✖️ Cancel", f"cancel:{token}"))


class CommandRouter:
    """Answers one allow-listed user's command. ``now`` is a monotonic clock in seconds."""

    def __init__(self, request: Request, *, confirm_ttl_s: float, now: Callable[[], float]) -> None:
        self._request = request
        self._ttl = confirm_ttl_s
        self._now = now
        self._pending: dict[str, Pending] = {}
        self._handlers: dict[str, Callable[[int, list[str]], Awaitable[Reply]]] = {
            "start": self._help,
            "help": self._help,
            "status": self._status,
            "positions": self._positions,
            "balance": self._balance,
            "stats": self._stats,
            "pause": self._pause,
            "resume": self._resume,
            "halt": self._halt,
            "flatten": self._flatten,
            "confirm": self._confirm,
            "cancel": self._cancel,
            "risk": self._risk,
            "plugins": self._plugins,
            "phantom": self._phantom,
        }

    @staticmethod
    def parse(text: str) -> tuple[str, list[str]] | None:
        """``("flatten", ["BTCUSDT"])`` from ``/flatten@bot BTCUSDT``; None for plain text."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return None
        return words[0][1:].split("@", 1)[0].lower(), words[1:]

    def knows(self, command: str) -> bool:
        return command in self._handlers

    async def handle(self, user_id: int, text: str) -> Reply | None:
        """The reply to ``text`` from ``user_id`` (already allow-listed); None for plain text."""
        parsed = self.parse(text)
        if parsed is None:
            return None
        command, args = parsed
        handler = self._handlers.get(command)
        if handler is None:
            return Reply(f"Unknown command /{esc(command)}. Send /help for the list.")
        try:
            return await handler(user_id, args)
        except ControlError as exc:
            prefix = "The host refused" if exc.refused else "The host did not answer"
            return Reply(f"❌ {prefix} /{esc(command)}: {esc(exc)}")

    async def handle_button(self, user_id: int, data: str) -> Reply:
        """The reply to an inline button (``confirm:TOKEN`` / ``cancel:TOKEN``)."""
        action, _, token = data.partition(":")
        if action not in ("confirm", "cancel") or not token:
            return Reply("Unknown button.")
        return await self.handle(user_id, f"/{action} {token}") or Reply("Unknown button.")

    # -- queries -------------------------------------------------------------------

    async def _ask(self, cmd: str, args: Mapping[str, Any] | None = None) -> Any:
        return await self._request(cmd, dict(args or {}))

    async def _help(self, _user: int, _args: list[str]) -> Reply:
        lines = ["<b>Garrison commands</b>"]
        lines.extend(f"/{esc(name)} — {esc(what)}" for name, what in HELP)
        return Reply("\n".join(lines))

    async def _status(self, _user: int, _args: list[str]) -> Reply:
        s = await self._ask("status")
        rows = [
            ("profile", f"{s.get('profile')} ({s.get('mode')})"),
            ("state", s.get("state")),
            ("equity", s.get("equity")),
            ("balance", s.get("balance")),
            ("positions", s.get("positions")),
            ("open orders", s.get("open_orders")),
            ("risk per trade %", s.get("risk_pct")),
        ]
        if s.get("quarantined"):
            rows.append(("quarantined", ", ".join(s["quarantined"])))
        if s.get("pending"):
            rows.append(("pending", ", ".join(s["pending"])))
        return Reply(table("Status", rows))

    async def _positions(self, _user: int, _args: list[str]) -> Reply:
        rows = await self._ask("positions")
        if not rows:
            return Reply("<b>Positions</b>\nnone open")
        lines = [f"<b>Positions</b> ({len(rows)})"]
        for p in rows:
            pnl = p.get("unrealised")
            lines.append(
                f"<code>{esc(p['symbol'])}</code> {esc(p['side'])} {esc(_n(p['qty']))} @ "
                f"{esc(_n(p['entry_price']))} · mark {esc(_n(p.get('mark')))} · "
                f"stop {esc(_n(p.get('stop')))} · uPnL {esc(_n(pnl))}"
            )
        return Reply(fit("\n".join(lines)))

    async def _balance(self, _user: int, _args: list[str]) -> Reply:
        e = await self._ask("equity")
        return Reply(
            table(
                "Balance",
                [
                    ("balance", e.get("balance")),
                    ("equity", e.get("equity")),
                    ("unrealised", e.get("unrealised")),
                ],
            )
        )

    async def _stats(self, _user: int, _args: list[str]) -> Reply:
        e = await self._ask("equity")
        r = await self._ask("risk")
        return Reply(
            table(
                "Stats",
                [
                    ("trades", e.get("trades")),
                    ("realised P&L", e.get("realised")),
                    ("today's P&L", r.get("day_pnl")),
                    ("drawdown now %", _pct(r.get("drawdown"))),
                    ("max drawdown %", _pct(e.get("max_drawdown"))),
                    ("peak equity", e.get("peak_equity")),
                ],
            )
        )

    async def _plugins(self, _user: int, _args: list[str]) -> Reply:
        p = await self._ask("plugins")
        lines = ["<b>Components</b>"]
        for c in p.get("components", []):
            mark = {"ok": "✅", "failing": "⚠️"}.get(c.get("health"), "⛔")
            lines.append(f"{mark} {esc(c['name'])} ({esc(c['kind'])}): {esc(c.get('health'))}")
        lines.append("<b>Plugins</b>")
        for d in p.get("plugins", []):
            lines.append(f"{esc(d.get('name'))} {esc(d.get('version'))} ({esc(d.get('status'))})")
        return Reply(fit("\n".join(lines)))

    async def _risk(self, user: int, args: list[str]) -> Reply:
        if args:
            try:
                value = float(args[0].rstrip("%"))
            except ValueError:
                return Reply(
                    f"/risk takes a percent of equity, e.g. /risk 0.5 (got {esc(args[0])})"
                )
            if not math.isfinite(value):
                return Reply("/risk takes a finite percent of equity")
            answer = await self._ask("risk_set", {"risk_pct": value})
            return Reply(f"Risk per trade → {esc(_n(value))}%: {esc(answer.get('applies'))}")
        r = await self._ask("risk")
        bounds = r.get("risk_pct_bounds")
        rows = [
            ("state", r.get("state")),
            ("risk per trade %", r.get("risk_pct")),
            ("settable within %", "—" if not bounds else f"{bounds[0]:g} … {bounds[1]:g}"),
            ("drawdown now %", _pct(r.get("drawdown"))),
            ("today's P&L", r.get("day_pnl")),
            ("rules", ", ".join(rule["stage"] for rule in r.get("rules", []))),
        ]
        if r.get("risk_pct_settable"):
            rows.append(("not settable", r["risk_pct_settable"]))
        return Reply(table("Risk", rows))

    async def _phantom(self, _user: int, _args: list[str]) -> Reply:
        signals = await self._ask("signals", {"limit": 200})
        entries = [s for s in signals if s.get("kind") == "entry"]
        phantom_only = sum(1 for s in entries if not s.get("execute", True))
        approved = sum(1 for s in entries if (s.get("intent") or {}).get("approved"))
        vetoes: Counter[str] = Counter()
        for s in entries:
            for v in (s.get("intent") or {}).get("vetoes", []):
                vetoes[v["stage"]] += 1
        lines = [
            f"<b>Last {len(signals)} signals</b>",
            f"entries: <code>{len(entries)}</code> · ordered: <code>{approved}</code> · "
            f"phantom only: <code>{phantom_only}</code> · not ordered: "
            f"<code>{len(entries) - approved}</code>",
        ]
        if vetoes:
            top = ", ".join(f"{esc(stage)} {n}" for stage, n in vetoes.most_common(5))
            lines.append(f"vetoes: {top}")
        scorers: dict[str, list[dict[str, Any]]] = {}
        for s in entries:
            for score in s.get("scores", []):
                scorers.setdefault(score["scorer"], []).append(score)
        for name, scores in sorted(scorers.items()):
            values = [v for sc in scores if isinstance(v := sc.get("value"), int | float)]
            mean = sum(values) / len(values) if values else None
            passed = sum(1 for sc in scores if sc.get("passed"))
            modes = "/".join(sorted({str(sc.get("mode")) for sc in scores}))
            lines.append(
                f"scorer <code>{esc(name)}</code> ({esc(modes)}): {len(scores)} rated, mean "
                f"<code>{esc(_n(mean))}</code>, passed <code>{passed}</code>"
            )
        if not scorers:
            lines.append("no scorer rated these signals")
        return Reply(fit("\n".join(lines)))

    # -- actions -------------------------------------------------------------------

    async def _pause(self, user: int, _args: list[str]) -> Reply:
        answer = await self._ask("pause", {"reason": f"telegram user {user}"})
        return Reply(f"⏸ Pause {esc(answer.get('applies', 'queued'))}.")

    async def _resume(self, user: int, _args: list[str]) -> Reply:
        answer = await self._ask("resume", {"reason": f"telegram user {user}"})
        return Reply(f"▶️ Resume {esc(answer.get('applies', 'queued'))}.")

    def _hold(self, token: str, pending: Pending) -> None:
        now = self._now()
        self._pending = {t: p for t, p in self._pending.items() if p.expires > now}
        self._pending[token] = pending

    async def _halt(self, user: int, _args: list[str]) -> Reply:
        token = secrets.token_hex(4)
        reason = f"telegram user {user}"
        self._hold(
            token, Pending("halt", {"reason": reason}, user, self._now() + self._ttl, "halt")
        )
        return Reply(
            f"🛑 Halt trading? Every new entry is refused until /resume.\n"
            f"Confirm within {self._ttl:g} s: <code>/confirm {token}</code>",
            confirm_buttons(token),
        )

    async def _flatten(self, user: int, args: list[str]) -> Reply:
        if len(args) != 1:
            return Reply("Use /flatten SYMBOL or /flatten all")
        target = args[0]
        ask: dict[str, Any] = (
            {"all": True} if target.lower() == "all" else {"symbol": target.upper()}
        )
        answer = await self._ask("flatten", ask)
        token = answer.get("confirm") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            return Reply(f"The host did not ask for a confirmation: {esc(answer)}")
        closing = ", ".join(answer.get("would_close", [])) or target
        ttl = min(self._ttl, float(answer.get("expires_in_s", self._ttl)))
        self._hold(token, Pending("flatten", ask, user, self._now() + ttl, f"flatten {closing}"))
        return Reply(
            f"⚠️ Close {esc(closing)} at market?\n"
            f"Confirm within {ttl:g} s: <code>/confirm {esc(token)}</code>",
            confirm_buttons(token),
        )

    def _take(self, user: int, args: list[str]) -> tuple[str, Pending] | Reply:
        if len(args) != 1:
            return Reply("Send the token too, e.g. /confirm 1a2b3c4d")
        token = args[0]
        pending = self._pending.get(token)
        if pending is None or pending.expires <= self._now():
            self._pending.pop(token, None)
            return Reply("That token is unknown, used or expired: ask again.")
        if pending.user_id != user:
            return Reply("Only the user who asked may confirm or cancel it.")
        del self._pending[token]
        return token, pending

    async def _confirm(self, user: int, args: list[str]) -> Reply:
        taken = self._take(user, args)
        if isinstance(taken, Reply):
            return taken
        token, pending = taken
        args_out = dict(pending.args)
        if pending.cmd == "flatten":
            args_out["confirm"] = token
        answer = await self._ask(pending.cmd, args_out)
        return Reply(f"✅ {esc(pending.what)}: {esc(answer.get('applies', 'queued'))}.")

    async def _cancel(self, user: int, args: list[str]) -> Reply:
        taken = self._take(user, args)
        if isinstance(taken, Reply):
            return taken
        return Reply(f"Dropped: {esc(taken[1].what)}.")


def _n(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    return "—" if value is None else str(value)


def _pct(value: Any) -> Any:
    return value * 100 if isinstance(value, int | float) and not isinstance(value, bool) else value
