"""Instrument snapshots: the trading rules replays use instead of asking the exchange."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import attrs
from garrison_api import Market

from garrison.profile.model import MarketOverride

#: Snapshots shipped inside the package (see snapshots/SOURCES.md).
BUNDLED = ("bybit_linear", "binance_usdm")

_COLUMNS = ("symbol", "tick_size", "lot_step", "min_qty", "min_notional", "max_qty", "max_leverage")


class SnapshotError(ValueError):
    """A snapshot file is missing or malformed; the message names file, line and column."""


def _float(text: str, where: str, column: str, *, optional: bool = False) -> float | None:
    if text == "" and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SnapshotError(f"{where}: column {column!r} is not a number: {text!r}") from None
    if not value >= 0:  # also rejects nan
        raise SnapshotError(f"{where}: column {column!r} must be >= 0, found {text!r}")
    return value


def parse_snapshot(text: str, source: str) -> dict[str, Market]:
    """Parse snapshot CSV text; ``source`` names it in error messages."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise SnapshotError(f"{source}: missing column(s) {', '.join(missing)}")
    markets: dict[str, Market] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{source}:{line}"
        symbol = row["symbol"].strip()
        if not symbol:
            raise SnapshotError(f"{where}: empty symbol")
        markets[symbol] = Market(
            symbol=symbol,
            tick_size=_float(row["tick_size"], where, "tick_size") or 0.0,
            lot_step=_float(row["lot_step"], where, "lot_step") or 0.0,
            min_qty=_float(row["min_qty"], where, "min_qty") or 0.0,
            min_notional=_float(row["min_notional"], where, "min_notional", optional=True) or 0.0,
            max_qty=_float(row["max_qty"], where, "max_qty", optional=True),
            max_leverage=_float(row["max_leverage"], where, "max_leverage", optional=True),
        )
    return markets


def load_snapshot(name_or_path: str, base_dir: Path | None = None) -> dict[str, Market]:
    """Markets by exchange symbol id from a bundled snapshot name or a CSV path."""
    if name_or_path in BUNDLED:
        ref = resources.files("garrison.markets").joinpath("snapshots", f"{name_or_path}.csv")
        return parse_snapshot(ref.read_text(encoding="utf-8"), f"bundled snapshot {name_or_path}")
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SnapshotError(
            f"markets snapshot {str(path)!r} cannot be read ({exc.strerror}); "
            f"use a bundled name ({', '.join(BUNDLED)}) or a CSV with columns {','.join(_COLUMNS)}"
        ) from None
    return parse_snapshot(text, str(path))


def apply_overrides(
    markets: Mapping[str, Market], overrides: Mapping[str, MarketOverride]
) -> dict[str, Market]:
    """Markets with the profile's per-symbol overrides applied (a symbol may be new)."""
    result = dict(markets)
    for symbol, override in overrides.items():
        changes = {k: v for k, v in attrs.asdict(override).items() if v is not None}
        base = result.get(symbol)
        if base is None:
            missing = {"tick_size", "lot_step", "min_qty"} - changes.keys()
            if missing:
                raise SnapshotError(
                    f"markets.overrides.{symbol}: {symbol} is not in the snapshot, so the "
                    f"override must give {', '.join(sorted(missing))}"
                )
            result[symbol] = Market(symbol=symbol, **changes)
        else:
            result[symbol] = attrs.evolve(base, **changes)
    return result
