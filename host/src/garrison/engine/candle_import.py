"""``garrison data import``: candle CSV files into a journal's candle table.

Files are found and validated exactly as a CSV replay reads them
(:func:`~garrison.engine.feed.discover`, :func:`~garrison.engine.feed.load_csv`),
so the table only takes bars a replay would take. Each file is then upserted
in one transaction: new bars are added, stored bars whose values differ are
replaced (a corrected export wins), identical ones are left alone, so
importing a file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from garrison.engine.feed import CandleFile, FeedError, Series, discover, load_csv
from garrison.journal import Journal

#: Exchanges whose candles the table keeps (the venues Garrison trades).
EXCHANGES = ("bybit", "binance")


@attrs.frozen
class ImportedFile:
    """What importing one file did."""

    path: Path
    exchange: str
    symbol: str
    timeframe: str
    rows: int
    new: int
    replaced: int


def exchange_of(file: CandleFile, exchange: str | None) -> str:
    """The exchange a file's bars are stored under; FeedError naming the file when unclear.

    ``exchange`` (``--exchange``) names it for files whose name starts with
    something else (another tool's export); a file named for the other
    exchange is refused rather than stored under the wrong one.
    """
    named = file.exchange
    if exchange is None:
        if named not in EXCHANGES:
            raise FeedError(
                f"{file.path}: the file name says exchange {named!r}; candles are stored for "
                f"{' or '.join(EXCHANGES)}: pass --exchange"
            )
        return named
    if exchange not in EXCHANGES:
        raise FeedError(f"unknown exchange {exchange!r}: expected {' or '.join(EXCHANGES)}")
    if named in EXCHANGES and named != exchange:
        raise FeedError(
            f"{file.path}: the file name says exchange {named!r} but --exchange is {exchange!r}"
        )
    return exchange


def series_rows(series: Series) -> npt.NDArray[np.float64]:
    """A series as the ``(n, 6)`` float64 rows the candle table stores."""
    return np.column_stack(
        [
            series.ts.astype(np.float64),
            series.open,
            series.high,
            series.low,
            series.close,
            series.volume,
        ]
    )


def import_files(
    journal: Journal,
    patterns: Sequence[str],
    *,
    exchange: str | None = None,
    on_file: Callable[[ImportedFile], None] | None = None,
) -> list[ImportedFile]:
    """Upsert every candle file matching ``patterns`` (relative to the working directory).

    Every file name is checked before anything is written; then each file is
    read, validated and committed in turn, so an error (FeedError naming the
    file and line) keeps the files committed before it. ``on_file`` hears of
    each file once it is committed.
    """
    files = discover(patterns)
    exchanges = [exchange_of(file, exchange) for file in files]
    done: list[ImportedFile] = []
    for file, target in zip(files, exchanges, strict=True):
        rows = series_rows(load_csv(file))
        counts = journal.store_candles(target, file.symbol, file.timeframe, rows, replace=True)
        result = ImportedFile(
            file.path, target, file.symbol, file.timeframe, len(rows), counts.new, counts.replaced
        )
        done.append(result)
        if on_file is not None:
            on_file(result)
    return done
