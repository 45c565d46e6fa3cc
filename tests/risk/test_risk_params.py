"""Every rule's Params: sane defaults, and bad values refused with clear messages."""

from __future__ import annotations

import math
import re

import attrs
import cattrs
import pytest
from garrison.risk.rules import (
    HOST_RULES,
    DailyLossLimitParams,
    FreeMarginParams,
    MaxDrawdownParams,
    MaxNotional,
    MaxNotionalParams,
    MaxOpenPositionsParams,
    SameDirectionExposureParams,
    StopDistanceParams,
)


def test_defaults_follow_the_reference_system() -> None:
    assert MaxOpenPositionsParams().limit == 5
    assert MaxNotionalParams().max_usd == 1000.0
    assert MaxDrawdownParams().max_pct == 15.0
    assert DailyLossLimitParams().max_pct == 3.0
    assert StopDistanceParams() == StopDistanceParams(max_pct=10.0, min_pct=0.0, require_stop=True)
    assert SameDirectionExposureParams().max_pct_of_equity == 300.0
    assert FreeMarginParams().buffer_pct == 0.0


@pytest.mark.parametrize("rule", list(HOST_RULES.values()), ids=list(HOST_RULES))
def test_every_rule_has_frozen_params_and_builds_with_defaults(rule) -> None:
    params_cls = rule.Params
    assert attrs.has(params_cls)
    params = params_cls()
    assert rule(params).params is params
    assert rule().params == params
    fields = attrs.fields(params_cls)
    if fields:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(params, fields[0].name, getattr(params, fields[0].name))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MaxOpenPositionsParams(limit=-1), "limit must be a whole number >= 1, got -1"),
        (lambda: MaxOpenPositionsParams(limit=0), "limit must be a whole number >= 1, got 0"),
        (lambda: MaxOpenPositionsParams(limit=2.5), "limit must be a whole number >= 1, got 2.5"),
        (lambda: MaxOpenPositionsParams(limit=True), "got True"),
        (lambda: MaxNotionalParams(max_usd=-100.0), "max_usd must be a number > 0, got -100.0"),
        (lambda: MaxNotionalParams(max_usd=0), "max_usd must be a number > 0, got 0"),
        (lambda: MaxNotionalParams(max_usd=math.nan), "max_usd must be a number > 0, got nan"),
        (lambda: MaxNotionalParams(max_usd="1000"), "max_usd must be a number > 0, got '1000'"),
        (lambda: MaxDrawdownParams(max_pct=-15.0), "max_pct must be a number > 0, got -15.0"),
        (lambda: DailyLossLimitParams(max_pct=-3.0), "max_pct must be a number > 0, got -3.0"),
        (lambda: StopDistanceParams(max_pct=-1.0), "max_pct must be a number > 0, got -1.0"),
        (lambda: StopDistanceParams(min_pct=-0.1), "min_pct must be a number >= 0, got -0.1"),
        (
            lambda: StopDistanceParams(max_pct=2.0, min_pct=3.0),
            "min_pct (3.0) must not be greater than max_pct (2.0)",
        ),
        (lambda: StopDistanceParams(require_stop="yes"), "require_stop must be true or false"),
        (
            lambda: SameDirectionExposureParams(max_pct_of_equity=-300.0),
            "max_pct_of_equity must be a number > 0, got -300.0",
        ),
        (lambda: FreeMarginParams(buffer_pct=-5.0), "buffer_pct must be a number >= 0, got -5.0"),
    ],
)
def test_bad_values_are_refused_by_name(build, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_params_structure_from_a_profile_table() -> None:
    # What the profile loader does: cattrs with unknown keys rejected.
    converter = cattrs.Converter(forbid_extra_keys=True)
    params = converter.structure({"max_pct": 5, "min_pct": 0.25}, StopDistanceParams)
    assert params == StopDistanceParams(max_pct=5.0, min_pct=0.25)
    with pytest.raises(cattrs.errors.ClassValidationError) as info:
        converter.structure({"limit": -2}, MaxOpenPositionsParams)
    assert "limit must be a whole number >= 1, got -2" in str(info.value.exceptions[0])
    with pytest.raises(cattrs.errors.ClassValidationError):
        converter.structure({"max_usd": 500.0, "max_usdt": 1.0}, MaxNotionalParams)


def test_a_rule_refuses_another_rules_params() -> None:
    with pytest.raises(TypeError, match=r"MaxNotional takes a MaxNotional\.Params, got dict"):
        MaxNotional({"max_usd": 5.0})  # type: ignore[arg-type]
