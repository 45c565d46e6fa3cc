"""``garrison data``: fill the SQLite candle table from CSV files or an exchange's REST API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from garrison.engine.candle_import import EXCHANGES
from garrison.engine.feed import FeedError
from garrison.journal import Journal
from garrison.journal.errors import JournalError
from garrison.profile.dates import iso_to_ms
from garrison.profile.timeframes import TIMEFRAMES

if TYPE_CHECKING:
    from garrison.engine.candle_import import ImportedFile
    from garrison.live.history import SymbolPlan, SymbolResult

_DB_HELP = (
    "The journal (SQLite file) whose candle table gets the bars; created if missing. "
    'Point a profile\'s [data] sqlite at it with [data] source = "sqlite" to replay them.'
)


@click.group("data")
def data() -> None:
    """Fill the candle table that `[data] source = "sqlite"` profiles replay from.

    Bars are kept once per exchange, symbol, timeframe and open time, in the
    `candles` table of a journal file (--db). `import` loads candle CSV
    files, `download` fetches closed bars from Bybit or Binance.
    """


def _fail(message: str) -> SystemExit:
    click.echo(f"error: {message}", err=True)
    return SystemExit(2)


@data.command("import")
@click.argument("paths", nargs=-1, required=True, metavar="PATH_OR_GLOB...")
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@click.option(
    "--exchange",
    type=click.Choice(EXCHANGES),
    help="Store the bars under this exchange. Default: the one the file name starts with, "
    "which must then be bybit or binance; a file named for the other exchange is refused.",
)
def import_(paths: tuple[str, ...], db: Path, exchange: str | None) -> None:
    """Load candle CSV files (or folders of them) into the candle table.

    Files are named <exchange>_<SYMBOL>_<timeframe>.csv[.gz] with the header
    timestamp_ms,open,high,low,close,volume (bar open time, UTC ms), as in
    data/demo and ../shared/data, and are validated as a replay validates
    them. Bars are upserted: new ones added, stored ones with other values
    replaced, identical ones left alone, so importing again changes nothing.
    Each file is committed on its own; prints rows read, new and replaced.
    """
    from garrison.engine.candle_import import import_files

    def report(done: ImportedFile) -> None:
        click.echo(
            f"{done.path}: {done.exchange} {done.symbol} {done.timeframe}: {done.rows:,} rows "
            f"read, {done.new:,} new, {done.replaced:,} replaced"
        )

    try:
        journal = Journal.open(db)
    except (JournalError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        results = import_files(journal, paths, exchange=exchange, on_file=report)
    except (FeedError, JournalError, OSError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: the files reported above are stored", err=True)
        raise SystemExit(130) from None
    finally:
        journal.close()
    rows = sum(r.rows for r in results)
    new = sum(r.new for r in results)
    replaced = sum(r.replaced for r in results)
    click.echo(
        f"{len(results)} file(s), {rows:,} rows read, {new:,} new, {replaced:,} replaced; "
        f"candle table of {db}"
    )


def _to_ms(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return iso_to_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def _symbol_list(values: tuple[str, ...]) -> tuple[str, ...]:
    symbols: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            if part.strip():
                symbols[part.strip().upper()] = None
    return tuple(symbols)


def _span_text(span: tuple[int, int] | None) -> str:
    from garrison.live.history import iso

    return "nothing stored" if span is None else f"stored {iso(span[0])} to {iso(span[1])}"


class _Lines:
    """A line per symbol once it is done (no terminal, or CI)."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.pages = 0

    def planned(self, plan: SymbolPlan) -> None:
        pass

    def page(self, plan: SymbolPlan, slots: int, stored: int) -> None:
        self.pages += 1

    def finished(self, result: SymbolResult) -> None:
        click.echo(_result_line(self.exchange, result))


class _Bar(_Lines):
    """A rich progress bar per symbol, in bar slots; the same lines printed above it."""

    def __init__(self, exchange: str, progress: Progress) -> None:
        super().__init__(exchange)
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def planned(self, plan: SymbolPlan) -> None:
        self.tasks[plan.symbol] = self.progress.add_task(
            f"{plan.symbol} {plan.timeframe}", total=plan.bars
        )

    def page(self, plan: SymbolPlan, slots: int, stored: int) -> None:
        super().page(plan, slots, stored)
        self.progress.advance(self.tasks[plan.symbol], slots)

    def finished(self, result: SymbolResult) -> None:
        self.progress.console.print(_result_line(self.exchange, result), highlight=False)


def _result_line(exchange: str, result: SymbolResult) -> str:
    if result.pages == 0:
        return (
            f"{exchange} {result.symbol} {result.timeframe}: up to date; {_span_text(result.span)}"
        )
    return (
        f"{exchange} {result.symbol} {result.timeframe}: {result.pages:,} page(s), "
        f"{result.fetched:,} closed bars fetched, {result.new:,} new, {result.replaced:,} "
        f"replaced; {_span_text(result.span)}"
    )


def _show_progress(console: Console, asked: bool | None) -> bool:
    if asked is not None:
        return asked
    in_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return console.is_terminal and not in_ci


@data.command("download")
@click.option("--exchange", required=True, type=click.Choice(EXCHANGES), help="The venue.")
@click.option(
    "--symbols",
    "symbol_args",
    required=True,
    multiple=True,
    metavar="SYMBOL[,SYMBOL...]",
    help="Exchange ids of linear USDT perpetuals (BTCUSDT); comma-separated or repeated. An "
    "id the exchange does not list stops the command before anything is fetched.",
)
@click.option("--timeframe", required=True, type=click.Choice(TIMEFRAMES), help="Bar size.")
@click.option(
    "--since",
    "since_ms",
    required=True,
    callback=_to_ms,
    metavar="DATE",
    help="First bar wanted (ISO date or datetime, UTC).",
)
@click.option(
    "--until",
    "until_ms",
    callback=_to_ms,
    metavar="DATE",
    help="Bars opening before this (ISO date or datetime, UTC). Default: up to the last "
    "closed bar.",
)
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@click.option(
    "--network",
    type=click.Choice(["mainnet", "testnet", "demo"]),
    default="mainnet",
    show_default=True,
    help="Which of the exchange's networks to read (public market data: no API key).",
)
@click.option(
    "--rest-url",
    metavar="URL",
    help="Send every request to this host instead, same paths (e.g. a `garrison "
    "fake-exchange` at http://127.0.0.1:PORT); --network is then ignored.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=1000,
    show_default=True,
    help="Bars asked for per request; each page is committed on its own.",
)
@click.option(
    "--tries",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Tries per request on network errors and rate limits (pauses double from 0.5 s, "
    "at most 30 s) before the command stops with the error.",
)
@click.option(
    "--refetch",
    is_flag=True,
    help="Download the whole --since/--until window again, replacing stored bars whose "
    "values changed, instead of resuming.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: on a terminal, not when CI is set); without it, "
    "one line per symbol.",
)
def download(
    exchange: str,
    symbol_args: tuple[str, ...],
    timeframe: str,
    since_ms: int,
    until_ms: int | None,
    db: Path,
    network: str,
    rest_url: str | None,
    page_size: int,
    tries: int,
    refetch: bool,
    progress: bool | None,
) -> None:
    """Download closed candles from the exchange's REST API into the candle table.

    Pages through the exchange's klines (--page-size bars a request) and
    commits every page, so Ctrl-C loses at most the page in flight. The bar
    still in progress (its open time plus the timeframe is after the
    exchange's clock) is never stored.

    Resuming: run the same command again and it carries on. For each symbol,
    if the table already holds bars of that exchange, symbol and timeframe,
    the download starts after the newest stored bar (or at --since if that is
    later); if --since is before the oldest stored bar, the bars from --since
    up to it are fetched first. Holes inside the stored range are not
    fetched again; --refetch downloads the whole window and replaces bars
    that changed.
    """
    from garrison.live.history import (
        DownloadError,
        DownloadRequest,
        Retry,
        download_from_exchange,
    )

    symbols = _symbol_list(symbol_args)
    if not symbols:
        raise click.BadParameter("no symbol given", param_hint="--symbols")
    if until_ms is not None and until_ms <= since_ms:
        raise click.BadParameter("must be after --since", param_hint="--until")
    request = DownloadRequest(
        exchange,
        symbols,
        timeframe,
        since_ms,
        until_ms,
        page_size=page_size,
        refetch=refetch,
        retry=Retry(tries=tries),
    )
    console = Console()
    lines = _Lines(exchange)
    try:
        journal = Journal.open(db)
    except (JournalError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        if _show_progress(console, progress):
            bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("bars"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            lines = _Bar(exchange, bar)
            with bar:
                asyncio.run(
                    download_from_exchange(
                        journal, request, network=network, rest_url=rest_url, listener=lines
                    )
                )
        else:
            asyncio.run(
                download_from_exchange(
                    journal, request, network=network, rest_url=rest_url, listener=lines
                )
            )
    except (DownloadError, JournalError, OSError) as exc:
        kept = (
            f"\nthe {lines.pages} page(s) committed before it are stored; run the same command "
            "again to resume"
            if lines.pages
            else ""
        )
        raise _fail(f"{exc}{kept}") from None
    except KeyboardInterrupt:
        click.echo(
            "interrupted: every page committed so far is stored; run the same command again "
            "to resume",
            err=True,
        )
        raise SystemExit(130) from None
    finally:
        journal.close()
    click.echo(f"candle table of {db}")
