"""Rendering a checked profile as TOML: complete, secret-free, and read back unchanged."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.profile.errors import ProfileError
from garrison.profile.load import parse_profile
from garrison.profile.model import Profile
from garrison.profile.render import profile_as_toml
from garrison.profile.toml_writer import table_lines, toml_value
from garrison_api import Registry


@pytest.mark.parametrize("which", ["minimal", "full"])
def test_render_round_trips(
    which: str, request: pytest.FixtureRequest, parse: Callable[[str], Profile]
) -> None:
    profile = parse(request.getfixturevalue(which))
    text = profile_as_toml(profile, environ={})
    again = parse(text)
    assert again == profile
    # And rendering is stable.
    assert profile_as_toml(again, environ={}) == text


def test_render_fills_in_defaults(parse: Callable[[str], Profile], minimal: str) -> None:
    document = tomllib.loads(profile_as_toml(parse(minimal), environ={}))
    assert document["profile"] == {
        "name": "t",
        "mode": "replay",
        "exchange": "bybit",
        "network": "testnet",
    }
    assert document["broker"]["taker_fee"] == 0.00055
    assert document["engine"]["phantom_max_bars"] == 288
    assert document["strategies"][0]["params"] == {
        "entry_period": 20,
        "exit_period": 10,
        "system": 1,
        "direction": "both",
        "use_filter": True,
        "weights": [1.0, 0.5],
    }
    assert document["sizer"] == {
        "use": "fixed_risk",
        "name": "fixed_risk",
        "params": {"risk_pct": 1.0},
    }
    assert [r["use"] for r in document["risk"]] == ["trading_state", "one_position_per_symbol"]


def test_render_says_which_env_vars_are_set(parse: Callable[[str], Profile], full: str) -> None:
    environ = {"BINANCE_API_KEY": "the-real-key-value"}
    text = profile_as_toml(parse(full), environ=environ)
    assert 'api_key_env = "BINANCE_API_KEY"  # set in the environment' in text
    assert 'api_secret_env = "BINANCE_API_SECRET"  # NOT set in the environment' in text
    assert 'bot_token_env = "OPS_BOT_TOKEN"  # NOT set in the environment' in text
    assert "the-real-key-value" not in text


def test_unset_optional_values_are_shown_as_comments(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    text = profile_as_toml(parse(minimal), environ={})
    assert "# api_key_env = (not set)" in text
    assert "# sqlite = (not set)" in text


def test_odd_keys_and_strings_are_quoted(registry: Registry, minimal: str) -> None:
    text = minimal + '\n[markets.overrides."1000PEPE.USDT"]\ntick_size = 1e-07\n'
    text = text.replace('name = "t"', 'name = "tab\\there \\"quoted\\" é"')
    profile = parse_profile(text, Path("x.toml"), registry, default_risk_chain=())
    rendered = profile_as_toml(profile, environ={})
    assert '[markets.overrides."1000PEPE.USDT"]' in rendered
    assert parse_profile(rendered, profile.source, registry, default_risk_chain=()) == profile


def test_toml_writer_values() -> None:
    assert toml_value(True) == "true"
    assert toml_value(3) == "3"
    assert toml_value(0.1) == "0.1"
    assert toml_value(float("inf")) == "inf"
    assert toml_value("a\x7fb") == '"a\\u007fb"'
    assert toml_value([1, "x"]) == '[1, "x"]'
    assert toml_value({"a": 1, "b": None}) == "{ a = 1 }"
    assert toml_value({}) == "{}"
    with pytest.raises(TypeError, match="cannot write"):
        toml_value(object())


def test_toml_writer_tables_parse_back() -> None:
    table = {"a": 1, "nested": {"b": [1, 2], "deeper": {"c": "x"}}, "empty": {}, "gone": None}
    text = "\n".join(table_lines(["root"], table))
    assert tomllib.loads(text) == {
        "root": {"a": 1, "empty": {}, "nested": {"b": [1, 2], "deeper": {"c": "x"}}}
    }


def test_a_strategy_may_start_disabled(parse: Callable[[str], Profile], minimal: str) -> None:
    text = minimal.replace('use = "breakout"', 'use = "breakout"\nenabled = false', 1)
    assert text != minimal
    profile = parse(text)
    assert profile.strategies[0].enabled is False
    rendered = profile_as_toml(profile, environ={})
    assert tomllib.loads(rendered)["strategies"][0]["enabled"] is False
    assert parse(rendered) == profile
    # Enabled is the default, and is not written.
    assert (
        "enabled" not in tomllib.loads(profile_as_toml(parse(minimal), environ={}))["strategies"][0]
    )


def test_enabled_must_be_a_boolean(parse: Callable[[str], Profile], minimal: str) -> None:
    with pytest.raises(ProfileError, match=r"strategies\[0\]\.enabled"):
        parse(minimal.replace('use = "breakout"', 'use = "breakout"\nenabled = "yes"', 1))
