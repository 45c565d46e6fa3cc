"""``garrison run`` and ``garrison backtest``: replay a profile and report on it."""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import click
from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from garrison.engine.cache import CandleCache, default_cache_dir
from garrison.engine.feed import FeedError
from garrison.engine.run import RunError, RunResult, replay, run_profile
from garrison.engine.sources import DataSelection
from garrison.journal.errors import JournalError
from garrison.markets.snapshot import SnapshotError
from garrison.plugins.manager import PluginSet, load_plugins
from garrison.plugins.policy import policy_for_profile
from garrison.profile.dates import iso_to_ms
from garrison.profile.errors import ProfileError
from garrison.profile.load import load_profile
from garrison.profile.model import Mode, Profile
from garrison.report.metrics import compute_report
from garrison.report.render import render_report
from garrison.report.scoring import scorer_reports
from garrison.report.scoring_render import render_scorer_reports
from garrison.report.trades_csv import TradesCsvError, check_trades_csv_target, write_trades_csv

#: Errors a user can fix from the message alone: no traceback for them.
_USER_ERRORS = (
    ProfileError,
    FeedError,
    RunError,
    SnapshotError,
    JournalError,
    TradesCsvError,
    OSError,
)


def _configure_logging(level: str) -> None:
    # Notifiers log through loguru; the CLI owns the sink (plugins never configure it).
    logger.remove()
    logger.add(sys.stderr, level=level.upper(), format="{time:HH:mm:ss} {level:<8} {message}")


def _check_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        iso_to_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    return value


def _progress_bar(
    console: Console, enabled: bool
) -> tuple[Progress | None, Callable[[int], Callable[[int], None]] | None]:
    if not enabled:
        return None, None
    bar = Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("candles"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )

    def factory(total: int) -> Callable[[int], None]:
        task = bar.add_task("replay", total=total)

        def update(done: int) -> None:
            bar.update(task, completed=done)

        return update

    return bar, factory


@attrs.frozen
class _Request:
    """What the user asked ``run`` or ``backtest`` to do."""

    profile: Path
    journal: Path | None
    progress: bool | None
    cache: bool
    log_level: str
    data: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    trades_csv: Path | None = None
    any_mode: bool = False
    resume: bool = False
    driver: str = "replay"
    #: Paper or live: end after the step closing at or after this (market time).
    until: str | None = None
    #: Scorer reports judge signals from this time on (None: the run's last 30 %).
    holdout_from: str | None = None
    #: Serve the control channel (``garrison run``; a backtest does not).
    control: bool = False


def _replay(request: _Request, console: Console, show_progress: bool) -> RunResult:
    # A live profile's allow-list decides which plugins are even imported.
    plugins = load_plugins(policy=policy_for_profile(request.profile))
    for info in plugins.plugins:
        if info.status != "ok":
            console.print(f"[yellow]plugin {info.name} not loaded ({info.status}): {info.error}")
    profile = load_profile(request.profile, plugins.registry)
    if profile.profile.mode is not Mode.REPLAY and not request.any_mode:
        return _trade(profile, plugins, request)
    if request.trades_csv is not None:
        # Before the replay: a path that would destroy the journal (or another
        # database, or the profile) is refused before anything is written.
        check_trades_csv_target(
            request.trades_csv,
            journal=request.journal or profile.resolve(profile.journal.path),
            protected=(request.profile,),
        )
    bar, factory = _progress_bar(console, show_progress)
    asked = DataSelection(paths=request.data, start=request.start, end=request.end)
    run = functools.partial(
        replay,
        profile,
        plugins,
        # Resuming without naming data carries on with the data of the run resumed.
        selection=None if request.resume and asked == DataSelection() else asked,
        journal_path=request.journal,
        any_mode=request.any_mode,
        cache=CandleCache(default_cache_dir()) if request.cache else None,
        resume=request.resume,
        driver=request.driver,
        control=request.control,
    )
    if bar is None:
        return asyncio.run(run())
    with bar:
        return asyncio.run(run(progress=factory))


def _trade(profile: Profile, plugins: PluginSet, request: _Request) -> RunResult:
    """A paper or live run: until ``--until``, Ctrl-C or SIGTERM."""
    if request.resume:
        raise RunError(
            "--resume carries on replays; a paper or live run reads the exchange's state "
            "when it starts"
        )
    # Imported here: replays never load ccxt.
    from garrison.live.session import ExchangeSource, carry_on

    until = iso_to_ms(request.until) if request.until else None
    source = ExchangeSource(profile, until_ms=until, say=lambda line: click.echo(line, err=True))
    path = request.journal or profile.resolve(profile.journal.path)
    journal, resuming, checkpoint = carry_on(path, profile)
    if checkpoint is not None:
        click.echo(
            f"carrying on from run {checkpoint['run_id']}'s last checkpoint "
            "(its positions, stops and unanswered orders)",
            err=True,
        )

    async def trade() -> RunResult:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            # SIGTERM (a service manager's stop) ends the run like Ctrl-C does.
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_profile(
            profile,
            plugins,
            source,
            journal_path=path,
            journal=journal,
            resuming=resuming,
            checkpoint=checkpoint,
            control=request.control,
        )

    try:
        return asyncio.run(trade())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def _report(
    result: RunResult, console: Console, title: str, holdout_from: str | None = None
) -> None:
    report = compute_report(
        result.trades,
        result.equity,
        starting_balance=result.starting_balance,
        open_positions=result.open_positions,
        marked_drawdown=(result.max_drawdown, result.max_drawdown_usdt),
    )
    render_report(report, result.equity, console, title=title, halts=result.halts)
    stats = result.stats
    console.print(
        f"run [bold]{result.run_id}[/] · {stats.candles:,} candles of {len(result.symbols)} "
        f"symbols · {stats.signals:,} signals · {stats.vetoed_intents:,} vetoed intents · "
        f"{result.open_positions} position(s) still open (not trades) · "
        f"load {result.load_s:.2f}s, replay {result.replay_s:.2f}s "
        f"({stats.candles / max(result.replay_s, 1e-9):,.0f} candles/s)"
    )
    console.print(f"journal: {result.journal_path}")
    held = iso_to_ms(holdout_from) if holdout_from is not None else None
    scorers = scorer_reports(result.journal_path, result.run_id, holdout_from_ms=held)
    if scorers:
        render_scorer_reports(scorers, console)
    failures = {k: v for k, v in result.events.items() if k.startswith("plugin.")}
    if failures:
        console.print(f"[red]plugin trouble during the run: {failures} (see the events table)")


_common = [
    click.argument("profile", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option(
        "--journal",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the journal here instead of the profile's [journal] path.",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar (default: only on a terminal).",
    ),
    click.option(
        "--cache/--no-cache",
        default=True,
        show_default=True,
        help="Keep parsed candle files in $GARRISON_CACHE_DIR (default ~/.cache/garrison) so "
        "the next run skips CSV parsing.",
    ),
    click.option(
        "--resume",
        is_flag=True,
        help="Carry on the profile's last interrupted replay (Ctrl-C or a killed process) "
        "from its last checkpoint in the journal, on the same data, instead of starting a "
        "new run.",
    ),
    click.option(
        "--log-level",
        default="WARNING",
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        help="Level of the log lines notifiers write to stderr.",
    ),
]


def _with_common(func: Callable[..., None]) -> Callable[..., None]:
    for decorator in reversed(_common):
        func = decorator(func)
    return func


def _execute(request: _Request, title: str) -> None:
    console = Console()
    _configure_logging(request.log_level)
    show_progress = console.is_terminal if request.progress is None else request.progress
    try:
        result = _replay(request, console, show_progress)
        if request.trades_csv is not None:
            write_trades_csv(request.trades_csv, result.trades)
    except _USER_ERRORS as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        click.echo("interrupted: the journal keeps every row committed so far", err=True)
        raise SystemExit(130) from None
    _report(result, console, title, request.holdout_from)
    if request.trades_csv is not None:
        console.print(f"trades written to {request.trades_csv}")


@click.command("run")
@_with_common
@click.option(
    "--until",
    callback=_check_date,
    metavar="DATE",
    help="Paper and live: stop after the candles closing at this time (ISO, UTC; market "
    "time, so it works against an accelerated fake exchange too).",
)
def run(
    profile: Path,
    journal: Path | None,
    progress: bool | None,
    cache: bool,
    resume: bool,
    log_level: str,
    until: str | None,
) -> None:
    """Run PROFILE in the mode it names and print the report.

    A replay profile feeds its recorded candles through the strategies, the
    sizer, the risk veto chain and the simulated broker; every signal,
    intent, veto, fill and trade lands in the SQLite journal.

    A paper profile trades the exchange's live candles (from its [exchange]
    table) with simulated fills; a live profile sends real orders, each with
    its stop on the exchange. Both run until --until, Ctrl-C or SIGTERM;
    open positions then stay open on the exchange with their stops.
    """
    request = _Request(
        profile, journal, progress, cache, log_level, resume=resume, until=until, control=True
    )
    _execute(request, "Run report")


@click.command("backtest")
@_with_common
@click.option(
    "--from",
    "start",
    callback=_check_date,
    metavar="DATE",
    help="First bar to replay (ISO date or datetime, UTC).",
)
@click.option(
    "--to",
    "end",
    callback=_check_date,
    metavar="DATE",
    help="Replay bars opening before this (ISO date or datetime, UTC).",
)
@click.option(
    "--data",
    multiple=True,
    metavar="FOLDER|GLOB",
    help="Replay these candle CSVs (<exchange>_<SYMBOL>_<tf>.csv[.gz]) instead of the "
    "profile's data. Repeatable.",
)
@click.option(
    "--trades-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the closed trades to this CSV file (never the journal or another SQLite "
    "database: those are refused before the replay starts).",
)
@click.option(
    "--driver",
    type=click.Choice(["replay", "steps"]),
    default="replay",
    show_default=True,
    help="replay: the replay driver with its fast paths (vectorised indicators, screens). "
    "steps: the step driver paper and live trading use (incremental indicators, every "
    "strategy on every bar), several times slower; both must give the same trades, so "
    "it cross-checks the fast paths on your data and plugins.",
)
@click.option(
    "--holdout-from",
    callback=_check_date,
    metavar="DATE",
    help="Judge each scorer (calibration, precision of its gate) on signals from this time "
    "on (default: the last 30 % of the run's rated signals).",
)
def backtest(
    profile: Path,
    journal: Path | None,
    progress: bool | None,
    cache: bool,
    resume: bool,
    log_level: str,
    start: str | None,
    end: str | None,
    data: tuple[str, ...],
    trades_csv: Path | None,
    driver: str,
    holdout_from: str | None,
) -> None:
    """Backtest PROFILE over recorded candles and print a report.

    The report gives trades, win rate, profit factor, expectancy in R, max
    drawdown, Sharpe, a per-symbol table and the equity curve, and for each
    scorer its calibration and the precision of its >= threshold signals
    versus all it rated, on held-out time (--holdout-from). Positions still
    open when the data ends are not counted as trades. Any profile can be
    backtested, whatever its mode.
    """
    request = _Request(
        profile,
        journal,
        progress,
        cache,
        log_level,
        data,
        start,
        end,
        trades_csv,
        any_mode=True,
        resume=resume,
        driver=driver,
        holdout_from=holdout_from,
    )
    _execute(request, "Backtest report")
