"""The market rules copied into conftest match the real instrument files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from garrison_api import Market

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "markets"
BINANCE_CSV = DATA / "binance_usdm_instruments_2025-11-27_derived.csv"
BYBIT_JSON = DATA / "bybit_linear_markets_excerpt.json"


@pytest.mark.skipif(not BINANCE_CSV.exists(), reason="shared market data not present")
@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT", "DOGEUSDT"])
def test_binance_copies_match_the_instrument_file(symbol: str, markets: dict[str, Market]) -> None:
    with BINANCE_CSV.open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["symbol"] == symbol)
    market = markets[f"binance:{symbol}"]
    assert market.tick_size == float(row["tick_size"])
    assert market.lot_step == float(row["step_size"])
    assert market.min_qty == float(row["min_qty"])
    assert market.min_notional == float(row["min_notional"])
    assert market.max_leverage == float(row["max_leverage"])


@pytest.mark.skipif(not BYBIT_JSON.exists(), reason="shared market data not present")
@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_bybit_copies_match_the_markets_excerpt(symbol: str, markets: dict[str, Market]) -> None:
    excerpt = json.loads(BYBIT_JSON.read_text())
    info = excerpt[f"{symbol[:-4]}/USDT:USDT"]["info"]
    lot = info["lotSizeFilter"]
    market = markets[f"bybit:{symbol}"]
    assert market.tick_size == float(info["priceFilter"]["tickSize"])
    assert market.lot_step == float(lot["qtyStep"])
    assert market.min_qty == float(lot["minOrderQty"])
    assert market.max_qty == float(lot["maxOrderQty"])
    assert market.min_notional == float(lot["minNotionalValue"])
