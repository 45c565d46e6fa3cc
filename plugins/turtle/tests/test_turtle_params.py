"""Turtle's parameters: defaults, systems, validation, and structuring as the host does it."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
import pytest
from garrison_api import Atr, Highest, Lowest
from garrison_turtle import TurtleParams, TurtleStrategy


def structure(table: dict[str, Any]) -> TurtleParams:
    """What the host does with a profile's params table (unknown keys rejected)."""
    return cattrs.Converter(forbid_extra_keys=True).structure(table, TurtleParams)


def test_defaults_are_system_1() -> None:
    params = TurtleParams()
    assert (params.system, params.entry, params.exit) == (1, 20, 10)
    assert (params.atr_period, params.stop_n, params.timeframe) == (20, 2.0, None)


def test_system_1_declares_its_indicators_and_warmup() -> None:
    strategy = TurtleStrategy()
    assert strategy.indicators == {
        "entry_high": Highest("high", 20, offset=1),
        "entry_low": Lowest("low", 20, offset=1),
        "exit_high": Highest("high", 10, offset=1),
        "exit_low": Lowest("low", 10, offset=1),
        "n": Atr(20),
    }
    assert strategy.warmup == 20
    assert strategy.timeframes == ()


def test_system_2_uses_55_and_20() -> None:
    strategy = TurtleStrategy(structure({"system": 2}))
    assert strategy.indicators["entry_high"] == Highest("high", 55, offset=1)
    assert strategy.indicators["exit_low"] == Lowest("low", 20, offset=1)
    assert strategy.warmup == 55


def test_periods_override_the_system() -> None:
    params = structure({"system": 2, "entry_period": 40, "exit_period": 15, "atr_period": 30})
    strategy = TurtleStrategy(params)
    assert (params.entry, params.exit) == (40, 15)
    assert strategy.indicators["entry_low"] == Lowest("low", 40, offset=1)
    assert strategy.indicators["n"] == Atr(30)
    assert strategy.warmup == 40


def test_params_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TurtleParams().system = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"system": 3}, "system must be 1 or 2, got 3"),
        ({"entry_period": 0}, "entry_period must be a whole number of bars >= 1, got 0"),
        ({"exit_period": -5}, "exit_period must be a whole number of bars >= 1, got -5"),
        ({"atr_period": 0}, "atr_period must be a whole number of bars >= 1, got 0"),
        ({"stop_n": 0.0}, "stop_n must be a positive number of N, got 0.0"),
        ({"stop_n": float("inf")}, "stop_n must be a positive number of N, got inf"),
        ({"timeframe": "5 minutes"}, "timeframe must be a bar size like '5m'"),
        ({"timeframe": "0m"}, "timeframe must be a bar size like '5m'"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="turtle: ") as caught:
        TurtleParams(**table)
    assert message in str(caught.value)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ValueError, match="system must be 1 or 2"):
        TurtleParams(system=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atr_period"):
        TurtleParams(atr_period=True)


def test_unknown_keys_are_refused_by_the_hosts_structuring() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError):
        structure({"sytem": 2})


def test_structuring_reports_bad_values() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError) as caught:
        structure({"system": 2, "stop_n": -1})
    assert "stop_n must be a positive number of N" in repr(caught.value.exceptions)


def test_ruleset_names_the_system() -> None:
    assert structure({"ruleset": "system2"}).system == 2
    assert structure({"ruleset": "system2"}).entry == 55
    assert structure({"ruleset": "system1"}).system == 1
    assert structure({"ruleset": "system2", "system": 2}).system == 2
    assert TurtleStrategy(structure({"ruleset": "system2"})).warmup == 55


def test_ruleset_refuses_other_names_and_contradictions() -> None:
    with pytest.raises(ValueError, match="ruleset must be 'system1' or 'system2', got 'rules'"):
        TurtleParams(ruleset="rules")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ruleset 'system1' contradicts system = 2"):
        TurtleParams(system=2, ruleset="system1")
