"""``garrison status``, ``pause``, ``resume``, ``halt``, ``flatten``, ``risk``: steer a host.

Each command talks to a host started by ``garrison run`` over its control
socket (:mod:`garrison.control`). The host is named by ``--socket PATH``,
or by ``--profile FILE`` (its ``[profile] name`` and ``[control] socket``),
or, with neither, is the only host of this user serving at the default
place. ``--json`` prints the host's answer as JSON for scripts.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from garrison.control.client import ControlClient, ControlRefusedError, ControlUnavailableError
from garrison.control.paths import candidate_socket_paths, socket_for


class _NoHost(click.ClickException):
    exit_code = 3


def _socket_from_profile(profile: Path) -> Path:
    try:
        document = tomllib.loads(profile.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"{profile}: cannot read the profile: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{profile}: not a TOML profile: {exc}") from None
    info = document.get("profile")
    name = info.get("name") if isinstance(info, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise click.ClickException(f"{profile}: profile.name: expected a name; found none")
    control = document.get("control", {})
    configured = control.get("socket", "") if isinstance(control, dict) else ""
    if not isinstance(configured, str):
        raise click.ClickException(
            f"{profile}: control.socket: expected a file path; found {configured!r}"
        )
    if configured:
        path, _own = socket_for(name, configured, profile.resolve().parent)
        return path
    candidates = candidate_socket_paths(name)
    return next((p for p in candidates if p.exists()), candidates[0])


def _only_host() -> Path:
    directories = list(dict.fromkeys(p.parent for p in candidate_socket_paths("x")))
    found = sorted(
        {p for d in directories if d.is_dir() for p in d.glob("*.sock")}, key=lambda p: p.name
    )
    places = " or ".join(str(d) for d in directories)
    if len(found) == 1:
        return found[0]
    if not found:
        raise _NoHost(
            f"no running host found in {places}; start one with `garrison run PROFILE`, "
            "or name it with --socket PATH or --profile FILE"
        )
    names = ", ".join(p.stem for p in found)
    raise click.ClickException(
        f"several hosts serve in {places} ({names}): name one with --profile or --socket"
    )


def _resolve(socket: Path | None, profile: Path | None) -> Path:
    if socket is not None and profile is not None:
        raise click.UsageError("give --socket or --profile, not both")
    if socket is not None:
        return socket
    if profile is not None:
        return _socket_from_profile(profile)
    return _only_host()


def _call(socket: Path, cmd: str, args: dict[str, Any] | None = None) -> Any:
    try:
        with ControlClient(socket) as client:
            return client.call(cmd, args)
    except ControlUnavailableError as exc:
        raise _NoHost(str(exc)) from None
    except ControlRefusedError as exc:
        raise click.ClickException(f"the host refused {cmd}: {exc}") from None


def _target(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option("--json", "as_json", is_flag=True, help="Print the host's answer as JSON.")(
        func
    )
    func = click.option(
        "--profile",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The profile the host runs (its name and [control] socket find the host).",
    )(func)
    func = click.option(
        "--socket",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The host's control socket.",
    )(func)
    return func


def _print(result: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(text(result))


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _strategy_text(strategy: dict[str, Any]) -> str:
    notes = [strategy["plugin"]]
    if not strategy["enabled"]:
        notes.append("disabled")
    if strategy.get("quarantined"):
        notes.append("quarantined")
    return f"{strategy['name']} ({', '.join(notes)})"


def _status_text(result: dict[str, Any]) -> str:
    status, positions = result["status"], result["positions"]
    lines = [
        f"{status['profile']} ({status['mode']}) run {status['run_id']}: "
        f"trading {status['state']}"
        + (f" until {status['halted_until']}" if status.get("halted_until") else ""),
        f"step {status['step_close']} · {status['steps']:,} steps · equity "
        f"{_money(status['equity'])} · balance {_money(status['balance'])}",
        f"{status['positions']} position(s), {status['open_orders']} open order(s)"
        + (f" · risk per trade {status['risk_pct']:g}%" if status.get("risk_pct") else ""),
    ]
    if status.get("strategies"):
        lines.append("strategies: " + ", ".join(_strategy_text(s) for s in status["strategies"]))
    if status.get("quarantined"):
        lines.append(f"quarantined: {', '.join(status['quarantined'])}")
    if status.get("pending"):
        lines.append(f"waiting for the next step: {', '.join(status['pending'])}")
    for pos in positions:
        lines.append(
            f"  {pos['symbol']:<12} {pos['side']:<5} {pos['qty']:g} @ {pos['entry_price']:g}"
            f"  mark {pos['mark']}  pnl {_money(pos['unrealised'])}  stop {pos['stop']}"
        )
    return "\n".join(lines)


@click.command("status")
@click.option(
    "--watch",
    type=click.FloatRange(0.2, 3600),
    metavar="SECONDS",
    help="Show it again every SECONDS until Ctrl-C (--json: one JSON object a line).",
)
@_target
def status(socket: Path | None, profile: Path | None, as_json: bool, watch: float | None) -> None:
    """Show a running host's state, equity and open positions."""
    path = _resolve(socket, profile)
    if watch is None:
        result = {"status": _call(path, "status"), "positions": _call(path, "positions")}
        _print(result, as_json, _status_text)
        return
    try:
        with ControlClient(path, timeout_s=max(30.0, 3 * watch)) as client:
            for snapshot in client.subscribe(["status", "positions"], every_s=watch):
                if as_json:
                    click.echo(json.dumps(snapshot, sort_keys=True))
                else:
                    click.echo(_status_text(snapshot) + "\n")
    except ControlUnavailableError as exc:
        raise _NoHost(str(exc)) from None
    except ControlRefusedError as exc:
        raise click.ClickException(f"the host refused to stream: {exc}") from None
    except KeyboardInterrupt:
        pass


def _queued(result: dict[str, Any]) -> str:
    return f"{result['queued']}: accepted, applies {result['applies']}"


def _state_command(name: str, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.option("--reason", default="operator", show_default=True, help="Why (journaled).")
    @_target
    def command(socket: Path | None, profile: Path | None, as_json: bool, reason: str) -> None:
        path = _resolve(socket, profile)
        _print(_call(path, name, {"reason": reason}), as_json, _queued)

    return command


pause = _state_command("pause", "Stop new entries (exits still pass); `garrison resume` lifts it.")
reducing = _state_command(
    "reducing", "Let only orders that shrink positions through (the same state as pause)."
)
resume = _state_command("resume", "Back to running: entries allowed again (lifts a halt too).")
halt = _state_command(
    "halt", "The kill switch: halt trading until resumed, as a risk rule's halt does."
)


@click.command("flatten")
@click.argument("symbol", required=False)
@click.option("--all", "everything", is_flag=True, help="Close every open position.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@_target
def flatten(
    socket: Path | None,
    profile: Path | None,
    as_json: bool,
    symbol: str | None,
    everything: bool,
    yes: bool,
) -> None:
    """Close SYMBOL's position (or --all) at market, through the risk chain."""
    if everything == (symbol is not None):
        raise click.UsageError("name a SYMBOL or give --all (not both)")
    path = _resolve(socket, profile)
    args: dict[str, Any] = {"all": True} if everything else {"symbol": symbol}
    offer = _call(path, "flatten", args)
    if not yes:
        closing = ", ".join(offer["would_close"])
        if not click.confirm(f"close {closing} at market?", default=False, err=True):
            raise click.ClickException("not confirmed: nothing done")
    result = _call(path, "flatten", {**args, "confirm": offer["confirm"]})
    _print(result, as_json, _queued)


@click.command("risk")
@click.option(
    "--set", "risk_pct", type=float, metavar="PCT", help="Risk PCT % of equity per trade."
)
@_target
def risk(socket: Path | None, profile: Path | None, as_json: bool, risk_pct: float | None) -> None:
    """Show risk state and limits; with --set, change the risk per trade within bounds."""
    path = _resolve(socket, profile)
    if risk_pct is not None:
        _print(_call(path, "risk_set", {"risk_pct": risk_pct}), as_json, _queued)
        return
    _print(_call(path, "risk"), as_json, _risk_text)


def _risk_text(result: dict[str, Any]) -> str:
    bounds = result.get("risk_pct_bounds")
    lines = [
        f"trading {result['state']}"
        + (f" until {result['halted_until']}" if result.get("halted_until") else ""),
        f"sizer {result['sizer']}: risk per trade "
        + (
            f"{result['risk_pct']:g}% (may be set within [{bounds[0]:g}, {bounds[1]:g}])"
            if bounds
            else f"not settable ({result['risk_pct_settable']})"
        ),
        f"drawdown {result['drawdown']:.2%} (max {result['max_drawdown']:.2%}) · "
        f"today {_money(result['day_pnl'])}",
    ]
    for rule in result["rules"]:
        params = ", ".join(f"{k}={v}" for k, v in rule["params"].items())
        lines.append(
            f"  {rule['stage']}{' (kill switch)' if rule['kill_switch'] else ''}"
            + (f": {params}" if params else "")
        )
    for halt_row in result["halts"]:
        lines.append(f"  halted at {halt_row['ts']}: {halt_row['why']}")
    return "\n".join(lines)


COMMANDS = (status, pause, reducing, resume, halt, flatten, risk)
