"""What the pipeline accepts from a strategy: signals it can act on, and a reason for the rest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from garrison.engine.pipeline import InvalidSignalError, check_signal
from garrison_api import Side, Signal, SignalKind


def _entry(**changes: object) -> Signal:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "ts": 0,
        "side": Side.LONG,
        "entry": 100.0,
        "stop": 95.0,
        "take_profit": 110.0,
    }
    values.update(changes)
    return Signal(**values)  # type: ignore[arg-type]


def test_a_good_entry_and_numpy_float64_prices_pass() -> None:
    assert check_signal(_entry(), "BTCUSDT") == _entry()
    assert check_signal(_entry(entry=np.float64(100.0)), "BTCUSDT").entry == 100.0
    assert check_signal(_entry(stop=None, take_profit=None), "BTCUSDT").stop is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entry": math.nan}, "entry price nan is not a positive number"),
        ({"entry": -1.0}, "entry price -1.0 is not a positive number"),
        ({"entry": math.inf}, "entry price inf is not a positive number"),
        ({"stop": 0.0}, "stop 0.0 is not a positive number"),
        ({"take_profit": math.nan}, "take_profit nan is not a positive number"),
        ({"entry": np.float32(100.0)}, "entry price np.float32(100.0) is a float32, not a float"),
        ({"stop": "95"}, "stop '95' is a str, not a float"),
    ],
)
def test_bad_entry_prices_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSignalError) as info:
        check_signal(_entry(**changes), "BTCUSDT")
    assert str(info.value) == message


def test_wrong_symbol_and_non_signals_are_refused() -> None:
    with pytest.raises(InvalidSignalError, match="signal for 'BTCUSDT' from a 'ETHUSDT' candle"):
        check_signal(_entry(), "ETHUSDT")
    with pytest.raises(InvalidSignalError, match="returned dict, not a Signal"):
        check_signal({}, "BTCUSDT")


def test_an_exit_needs_no_price() -> None:
    exit_signal = Signal(symbol="BTCUSDT", ts=0, side=Side.LONG, kind=SignalKind.EXIT)
    assert check_signal(exit_signal, "BTCUSDT") is exit_signal
