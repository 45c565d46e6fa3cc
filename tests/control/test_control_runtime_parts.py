"""The parts of the runtime commands that need no running host: what a reload may change."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from garrison.control.runtime import fixed_changes
from garrison.plugins.manager import load_plugins
from garrison.profile.load import parse_profile
from garrison.profile.model import Profile

TEXT = """\
[profile]
name = "parts"

[data]
paths = ["data/*.csv.gz"]

[[strategies]]
use = "turtle"

[sizer]
use = "fixed_risk"
"""


@pytest.fixture(scope="module")
def profile() -> Profile:
    plugins = load_plugins()
    return parse_profile(TEXT, Path("/nowhere/parts.toml"), plugins.registry)


def test_an_unchanged_profile_refuses_nothing(profile: Profile) -> None:
    assert fixed_changes(profile, profile) == []


def test_each_fixed_key_that_changed_is_named(profile: Profile) -> None:
    changed = attrs.evolve(
        profile,
        profile=attrs.evolve(profile.profile, exchange="binance"),
        account=attrs.evolve(profile.account, starting_balance=5.0, leverage=3.0),
        data=attrs.evolve(profile.data, symbols=("BTCUSDT",)),
        journal=attrs.evolve(profile.journal, path="other.sqlite"),
        control=attrs.evolve(profile.control, socket="x.sock", risk_pct_max=2.0),
    )
    assert fixed_changes(profile, changed) == [
        "profile.exchange",
        "account.starting_balance",
        "account.leverage",
        "data.symbols",
        "journal.path",
        "control.socket",
    ]


def test_live_changeable_keys_are_not_refused_here(profile: Profile) -> None:
    # Strategy params, the sizer and risk bounds are the plan's to judge, not fixed.
    strategy = profile.strategies[0]
    changed = attrs.evolve(
        profile,
        strategies=(attrs.evolve(strategy, enabled=False),),
        control=attrs.evolve(profile.control, risk_pct_min=0.1),
    )
    assert fixed_changes(profile, changed) == []


def test_notifiers_are_named_by_use(profile: Profile) -> None:
    note = attrs.evolve(profile.sizer, use="log", name="log")
    assert fixed_changes(profile, attrs.evolve(profile, notifiers=(note,))) == ["notifiers.log"]
