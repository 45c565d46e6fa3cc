"""Reading candles from the CSV files Garrison's data tools write and read."""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
import re
from pathlib import Path
from typing import TextIO

from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import Candle

#: The header every candle CSV starts with.
CANDLE_COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")

# ``<exchange>_<SYMBOL>_<timeframe>.csv`` or ``.csv.gz``, e.g. bybit_BTCUSDT_5m.csv.gz
_FILE_NAME = re.compile(r"^[^_]+_(?P<symbol>[^_]+)_(?P<timeframe>[^_.]+)\.csv(?:\.gz)?$")


def _names_from_file(path: Path) -> tuple[str, str]:
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise ValueError(
            f"{path}: cannot tell the symbol and timeframe from the file name; name it like "
            "'bybit_BTCUSDT_5m.csv[.gz]' or pass symbol= and timeframe="
        )
    return match.group("symbol"), match.group("timeframe")


def _open_text(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _parse_row(where: str, row: list[str], symbol: str, timeframe: str) -> Candle:
    if len(row) != len(CANDLE_COLUMNS):
        raise ValueError(f"{where}: expected {len(CANDLE_COLUMNS)} fields, got {len(row)}: {row}")
    try:
        ts = int(row[0])
    except ValueError:
        raise ValueError(f"{where}: timestamp_ms {row[0]!r} is not an integer") from None
    values: list[float] = []
    for name, text in zip(CANDLE_COLUMNS[1:], row[1:], strict=True):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where}: {name} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} is {text!r}; candles must be finite numbers")
        values.append(value)
    open_, high, low, close, volume = values
    if high < max(open_, close, low) or low > min(open_, close):
        raise ValueError(
            f"{where}: inconsistent bar (open={open_}, high={high}, low={low}, close={close}); "
            "need high >= max(open, close, low) and low <= min(open, close)"
        )
    if volume < 0:
        raise ValueError(f"{where}: volume {volume} is negative")
    return Candle(symbol, timeframe, ts, open_, high, low, close, volume)


def candles_from_csv(
    path: str | Path, symbol: str | None = None, timeframe: str | None = None
) -> list[Candle]:
    """Read closed candles from a ``timestamp_ms,open,high,low,close,volume`` CSV.

    ``path`` may be plain or gzip-compressed (``.gz``). ``symbol`` and
    ``timeframe`` default to what a file name like ``bybit_BTCUSDT_5m.csv``
    says. Bad rows, non-finite numbers, inconsistent bars and timestamps that
    do not strictly increase raise ``ValueError`` naming ``file:line``.
    """
    file = Path(path)
    if symbol is None or timeframe is None:
        named_symbol, named_timeframe = _names_from_file(file)
        symbol = named_symbol if symbol is None else symbol
        timeframe = named_timeframe if timeframe is None else timeframe
    try:
        timeframe_ms(timeframe)
    except ValueError as exc:
        raise ValueError(f"{file}: {exc}") from None
    candles: list[Candle] = []
    with _open_text(file) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{file}: empty file; expected the header {','.join(CANDLE_COLUMNS)}")
        if tuple(field.strip() for field in header) != CANDLE_COLUMNS:
            raise ValueError(
                f"{file}:1: header is {','.join(header)!r}, expected {','.join(CANDLE_COLUMNS)!r}"
            )
        previous_ts: int | None = None
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line, typically at the end
            where = f"{file}:{reader.line_num}"
            candle = _parse_row(where, row, symbol, timeframe)
            if previous_ts is not None and candle.ts <= previous_ts:
                raise ValueError(
                    f"{where}: timestamp_ms {candle.ts} does not increase "
                    f"(previous row has {previous_ts})"
                )
            previous_ts = candle.ts
            candles.append(candle)
    return candles


def random_walk(
    symbol: str, bars: int, seed: int, *, start: float = 100.0, timeframe: str = "5m"
) -> list[Candle]:
    """``bars`` synthetic candles of a seeded random walk: the same seed, the same candles.

    Closes move by about 0.4 % a bar, wicks about 0.2 % beyond the body; bar
    ``i`` opens at ``i`` timeframes after the epoch. For tests that need many
    bars of plausible prices without data files; prefer real candles where
    the behaviour depends on the market.
    """
    rng = random.Random(seed)
    step = timeframe_ms(timeframe)
    price, candles = start, []
    for i in range(bars):
        close = price * (1 + rng.gauss(0, 0.004))
        high = max(price, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(price, close) * (1 - abs(rng.gauss(0, 0.002)))
        candles.append(Candle(symbol, timeframe, i * step, price, high, low, close, 1.0))
        price = close
    return candles
