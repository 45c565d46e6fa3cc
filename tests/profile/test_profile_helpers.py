"""Helpers of the profile package: timeframes, ISO dates, problem formatting, secret names."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from garrison.profile.dates import iso_to_ms
from garrison.profile.errors import Problem, ProfileError, format_path, is_under
from garrison.profile.load import parse_profile
from garrison.profile.secret_refs import is_env_name, is_secret_key
from garrison.profile.timeframes import TIMEFRAMES, timeframe_ms
from garrison_api import Registry


@pytest.mark.parametrize(
    ("tf", "ms"),
    [("1m", 60_000), ("5m", 300_000), ("1h", 3_600_000), ("12h", 43_200_000), ("1d", 86_400_000)],
)
def test_timeframe_ms(tf: str, ms: int) -> None:
    assert timeframe_ms(tf) == ms


def test_every_timeframe_has_a_length() -> None:
    lengths = [timeframe_ms(tf) for tf in TIMEFRAMES]
    assert lengths == sorted(lengths)
    assert len(set(lengths)) == len(lengths)


@pytest.mark.parametrize("tf", ["7m", "1M", "60", "", "5 m", "1H"])
def test_bad_timeframe_is_a_clear_value_error(tf: str) -> None:
    with pytest.raises(ValueError, match=r"unknown timeframe .*supported timeframes are 1m, 3m"):
        timeframe_ms(tf)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01", 0),
        ("2024-03-01", 1_709_251_200_000),
        ("2024-03-01T00:00:00", 1_709_251_200_000),
        ("2024-03-01T00:00:00Z", 1_709_251_200_000),
        ("2024-03-01T08:00:00+08:00", 1_709_251_200_000),
        ("2024-03-01 00:00:00.250", 1_709_251_200_250),
    ],
)
def test_iso_to_ms(text: str, ms: int) -> None:
    assert iso_to_ms(text) == ms


@pytest.mark.parametrize("text", ["2024-02-30", "March 1st", "", "2024-03-01T25:00"])
def test_bad_iso_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO date"):
        iso_to_ms(text)


def test_format_path() -> None:
    assert format_path(["strategies", 0, "params", "entry_period"]) == (
        "strategies[0].params.entry_period"
    )
    assert format_path(["markets", "overrides", "1000PEPE.USDT"]) == (
        'markets.overrides."1000PEPE.USDT"'
    )
    assert format_path([]) == ""


def test_is_under() -> None:
    assert is_under("a.b", "a.b")
    assert is_under("a.b.c", "a.b")
    assert is_under("a.b[0]", "a.b")
    assert not is_under("a.bc", "a.b")


def test_profile_error_lists_one_problem_per_line() -> None:
    error = ProfileError(
        [
            Problem("configs/demo.toml", "broker.taker_fee", "a number >= 0", "-1.0 (a number)"),
            Problem(
                "configs/demo.toml",
                "profile.nmae",
                "one of the keys 'name'",
                "unknown key 'nmae'",
                "did you mean 'name'?",
            ),
        ]
    )
    assert str(error).splitlines() == [
        "configs/demo.toml: broker.taker_fee: expected a number >= 0; found -1.0 (a number)",
        "configs/demo.toml: profile.nmae: expected one of the keys 'name'; found unknown key "
        "'nmae'; did you mean 'name'?",
    ]
    with pytest.raises(ValueError, match="at least one problem"):
        ProfileError([])


@pytest.mark.parametrize("name", ["BYBIT_API_KEY", "_X", "A1"])
def test_env_names(name: str) -> None:
    assert is_env_name(name)


@pytest.mark.parametrize(
    "value", ["bybit_api_key", "1ABC", "MY KEY", "", "ABCDEFGHIJ1234567890", 5]
)
def test_not_env_names(value: object) -> None:
    assert not is_env_name(value)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("API_SECRET", True),
        ("bot_token", True),
        ("password", True),
        ("api_key_env", False),
        ("bot_token_env", False),
        ("tokens_per_minute", False),
        ("entry_period", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_unbuildable_params_type_is_reported_not_raised(minimal: str) -> None:
    class Weird:
        @attrs.frozen
        class Params:
            handle: object = None

    class Plain:
        @attrs.frozen
        class Params:
            pass

    registry = Registry()
    registry.add_strategy("breakout", Weird)
    registry.add_sizer("fixed_risk", Plain)
    registry.add_risk_rule("trading_state", Plain)
    with pytest.raises(ProfileError) as caught:
        parse_profile(minimal, Path("w.toml"), registry, default_risk_chain=())
    (problem,) = caught.value.problems
    assert problem.path == "strategies[0].params"
    assert "Unsupported type" in problem.found
    assert problem.hint == "report it to its author"
