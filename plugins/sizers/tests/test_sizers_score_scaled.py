"""score_scaled: risk interpolated between two scores, sized fee-aware like fixed_risk."""

from __future__ import annotations

from typing import Any

import pytest
from garrison_api import AccountState, Market, Score, Side, Signal
from garrison_api.testing import SizerContract
from garrison_sizers import FixedRiskParams, FixedRiskSizer, ScoreScaledParams, ScoreScaledSizer

BYBIT_BTC = Market("BTCUSDT", 0.1, 0.001, 0.001, min_notional=5.0, max_qty=1190.0)
ACCOUNT = AccountState(0, 10_000.0, 10_000.0, 10_000.0, 10_000.0, 0.0)
SIGNAL = Signal("BTCUSDT", 0, Side.LONG, entry=100_000.0, stop=98_000.0)


def risk(value: float | None, **params: Any) -> float:
    sizer = ScoreScaledSizer(ScoreScaledParams(**params))
    return sizer.risk_pct(None if value is None else Score(value))


def test_the_reference_mapping_70_to_85_is_min_to_max_risk() -> None:
    assert risk(0.70) == 2.0
    assert risk(0.775) == pytest.approx(3.0)
    assert risk(0.85) == 4.0
    assert risk(0.95) == 4.0  # capped
    assert risk(0.40) == 2.0  # the gate decides whether to trade; the sizer never below min
    assert risk(None) == 2.0
    assert risk(
        0.8, min_risk_pct=0.5, max_risk_pct=2.0, min_score=0.6, max_score=1.0
    ) == pytest.approx(1.25)


@pytest.mark.parametrize("value", [0.5, 0.7, 0.74, 0.8, 0.85, 0.99])
def test_sizes_as_fixed_risk_at_the_interpolated_percent(value: float) -> None:
    scaled = ScoreScaledSizer().size(SIGNAL, Score(value), ACCOUNT, BYBIT_BTC)
    fixed = FixedRiskSizer(FixedRiskParams(risk_pct=risk(value))).size(
        SIGNAL, None, ACCOUNT, BYBIT_BTC
    )
    assert scaled == fixed


def test_a_higher_score_never_sizes_smaller() -> None:
    sizer = ScoreScaledSizer()
    sizes = [sizer.size(SIGNAL, Score(v / 100), ACCOUNT, BYBIT_BTC) or 0.0 for v in range(101)]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]


def test_no_stop_or_equity_means_no_trade() -> None:
    sizer = ScoreScaledSizer()
    bare = Signal("BTCUSDT", 0, Side.LONG, entry=100_000.0)
    assert sizer.size(bare, Score(0.9), ACCOUNT, BYBIT_BTC) is None
    broke = AccountState(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert sizer.size(SIGNAL, Score(0.9), broke, BYBIT_BTC) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_risk_pct": 0}, "min_risk_pct is a percent of equity"),
        ({"max_score": 1.5}, "max_score is a score in"),
        ({"min_score": 0.9}, "min_score .* must be below max_score"),
        ({"min_risk_pct": 5.0}, "min_risk_pct .* must not exceed max_risk_pct"),
        ({"fee_rate": 1.0}, "fee_rate is a fraction per side"),
        ({"max_notional": -5}, "max_notional must be a positive number"),
    ],
)
def test_bad_params_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoreScaledParams(**changes)


class TestScoreScaledContract(SizerContract):
    make_sizer = ScoreScaledSizer
