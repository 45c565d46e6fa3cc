"""The river scorer: its prior, its learning, its saved states and their provenance."""

from __future__ import annotations

import hashlib
import math

import pytest
from garrison_api import ExitReason, Outcome, Score, Side, Signal
from garrison_api.testing import MemoryBlobStore, StubContext, StubServices
from garrison_river import (
    STATE_BLOB,
    RiverParams,
    RiverScorer,
    StateError,
    base_rate,
    decode,
    prior,
    vector,
)

T0 = 1_759_276_800_000


def signal(
    side: Side = Side.LONG,
    *,
    entry: float = 100.0,
    stop: float = 98.0,
    take_profit: float | None = 105.0,
    **features: float,
) -> Signal:
    return Signal(
        "BTCUSDT",
        T0,
        side,
        entry=entry,
        stop=stop,
        take_profit=take_profit,
        features=features,
    )


def outcome(s: Signal, r: float, strategy: str = "turtle", phantom: bool = True) -> Outcome:
    reason = ExitReason.TAKE_PROFIT if r > 0 else ExitReason.STOP
    return Outcome(s, strategy, r, reason, T0 + 600_000, phantom, "1", None, s.entry, s.entry)


def feed(scorer: RiverScorer, n: int) -> None:
    """``n`` outcomes where a high ``trend`` wins and a low one loses."""
    for i in range(n):
        trend = (i % 10) / 10.0
        s = signal(trend=trend)
        scorer.learn(outcome(s, 2.5 if trend >= 0.5 else -1.0))


# --- prior ----------------------------------------------------------------------------------


def test_prior_is_the_brackets_break_even_rate() -> None:
    # Target 5 away, stop 2 away: 2.5 R; a driftless walk hits the target first 1 / 3.5 of
    # the time.
    assert base_rate(signal(), 0.5) == pytest.approx(1 / 3.5)
    assert base_rate(signal(take_profit=102.0), 0.5) == pytest.approx(0.5)
    assert base_rate(signal(take_profit=None), 0.42) == 0.42
    assert base_rate(signal(Side.SHORT, stop=102.0, take_profit=94.0), 0.5) == pytest.approx(0.25)


def test_prior_weights_shift_the_log_odds() -> None:
    s = signal(take_profit=102.0, trend=2.0)  # base 0.5: log-odds 0
    assert prior(s, {"trend": 0.5}, 0.5) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert prior(s, {"missing": 3.0}, 0.5) == pytest.approx(0.5)
    assert prior(s, {"reward_risk": -100.0}, 0.5) == 0.01  # clipped


def test_vector_adds_the_derived_features_and_zeroes_nan() -> None:
    x = vector(signal(trend=float("nan"), n=3.0), None)
    assert x == {"n": 3.0, "trend": 0.0, "side": 1.0, "risk_pct": 2.0, "reward_risk": 2.5}
    assert vector(signal(n=1.0), ("n",)) == {
        "n": 1.0,
        "side": 1.0,
        "risk_pct": 2.0,
        "reward_risk": 2.5,
    }
    assert vector(signal(), ("n",)) is None


# --- scoring and learning ---------------------------------------------------------------------


def test_answers_with_the_prior_until_enough_outcomes() -> None:
    scorer = RiverScorer(RiverParams(min_outcomes=30))
    ctx = StubContext()
    first = scorer.score(signal(trend=0.9), ctx)
    assert first.model == "prior"
    assert first.value == pytest.approx(1 / 3.5)
    assert first.version == "v0"
    feed(scorer, 29)
    assert scorer.score(signal(trend=0.9), ctx).model == "prior"
    feed(scorer, 1)
    learned = scorer.score(signal(trend=0.9), ctx)
    assert learned.model == "river:logreg"
    assert learned.version == "v30"
    assert learned.details["prior"] == pytest.approx(1 / 3.5)
    assert learned.details["model"] == learned.value


def test_learns_which_signals_win() -> None:
    for model in ("logreg", "hat"):
        scorer = RiverScorer(RiverParams(model=model, min_outcomes=10, features=("trend",)))
        feed(scorer, 400)
        ctx = StubContext()
        high = scorer.score(signal(trend=0.9), ctx)
        low = scorer.score(signal(trend=0.1), ctx)
        assert high.model == f"river:{model}"
        assert high.value > 0.6 > 0.4 > low.value, model


def test_learns_from_phantoms_and_trades_alike() -> None:
    scorer = RiverScorer()
    s = signal(trend=1.0)
    scorer.learn(outcome(s, 1.0, phantom=True))
    scorer.learn(outcome(s, -1.0, phantom=False))
    assert scorer.learned == 2


def test_declares_its_features_for_the_host() -> None:
    assert RiverScorer(RiverParams(features=("a", "b"))).feature_names == ("a", "b")
    assert RiverScorer().feature_names == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "forest"}, "model must be one of logreg, hat"),
        ({"min_outcomes": -1}, "min_outcomes must be a whole number"),
        ({"features": "trend"}, "features must be a list"),
        ({"features": ["a", "a"]}, "lists a name twice"),
        ({"learning_rate": 0}, "learning_rate must be a positive number"),
        ({"prior_without_target": 1.0}, "strictly between 0 and 1"),
        ({"prior_weights": {"trend": "high"}}, "prior_weights.trend must be a number"),
        ({"resume": "sometimes"}, "resume must be one of auto, always, never"),
    ],
)
def test_bad_params_are_refused_by_name(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RiverParams(**changes)  # type: ignore[arg-type]


# --- saved states ---------------------------------------------------------------------------


def test_every_learn_saves_a_versioned_checksummed_state() -> None:
    blobs = MemoryBlobStore()
    scorer = RiverScorer()
    scorer.start(StubServices("river", blobs=blobs))
    assert decode(blobs.get(STATE_BLOB) or b"", "state").version == "v0"
    feed(scorer, 3)
    blob = blobs.get(STATE_BLOB)
    assert blob is not None
    saved = decode(blob, "state")
    assert (saved.version, saved.learned, saved.kind) == ("v3", 3, "logreg")
    assert scorer.model_hash == hashlib.sha256(blob).hexdigest() == blobs.sha256(STATE_BLOB)
    score = scorer.score(signal(), StubContext())
    assert (score.version, score.model_hash) == ("v3", scorer.model_hash)


def test_paper_and_live_restore_the_saved_model_a_replay_starts_fresh() -> None:
    blobs = MemoryBlobStore()
    first = RiverScorer(RiverParams(min_outcomes=5))
    first.start(StubServices("river", mode="paper", blobs=blobs))
    feed(first, 20)
    expected = first.score(signal(trend=0.7), StubContext())

    again = RiverScorer(RiverParams(min_outcomes=5))
    again.start(StubServices("river", mode="live", blobs=blobs))
    assert again.learned == 20
    assert again.score(signal(trend=0.7), StubContext()) == expected

    # A replay would otherwise start from a model that has seen its future.
    fresh = RiverScorer(RiverParams(min_outcomes=5))
    fresh.start(StubServices("river", mode="replay", blobs=MemoryBlobStore()))
    replay_blobs = MemoryBlobStore()
    replay_blobs.put(STATE_BLOB, blobs.get(STATE_BLOB) or b"")
    fresh.start(StubServices("river", mode="replay", blobs=replay_blobs))
    assert fresh.learned == 0
    forced = RiverScorer(RiverParams(min_outcomes=5, resume="always"))
    forced.start(StubServices("river", mode="replay", blobs=blobs))
    assert forced.learned == 20


def test_a_damaged_state_is_refused_with_the_reason() -> None:
    blobs = MemoryBlobStore()
    scorer = RiverScorer()
    scorer.start(StubServices("river", mode="live", blobs=blobs))
    feed(scorer, 2)
    blob = bytearray(blobs.get(STATE_BLOB) or b"")
    blob[-5] ^= 0xFF
    blobs.put(STATE_BLOB, bytes(blob))
    with pytest.raises(StateError, match=r"checksum mismatch.*damaged"):
        RiverScorer().start(StubServices("river", mode="live", blobs=blobs))
    blobs.put(STATE_BLOB, b"not a state")
    with pytest.raises(StateError, match="not a garrison-river state"):
        RiverScorer().start(StubServices("river", mode="live", blobs=blobs))


def test_a_state_of_another_model_or_features_is_refused() -> None:
    blobs = MemoryBlobStore()
    RiverScorer().start(StubServices("river", mode="live", blobs=blobs))
    with pytest.raises(StateError, match=r"is a 'logreg' model but params\.model is 'hat'"):
        RiverScorer(RiverParams(model="hat")).start(StubServices("river", mode="live", blobs=blobs))
    with pytest.raises(StateError, match=r"reads features None but params\.features"):
        RiverScorer(RiverParams(features=("trend",))).start(
            StubServices("river", mode="live", blobs=blobs)
        )


def test_mixing_strategies_in_one_model_is_reported_once() -> None:
    services = StubServices("river")
    scorer = RiverScorer()
    scorer.start(services)
    s = signal()
    for strategy in ("turtle", "pullback", "scalp", "turtle"):
        scorer.learn(outcome(s, 1.0, strategy=strategy))
    kinds = [e.kind for e in services.events]
    assert kinds == ["scorer.mixed_strategies"]


def test_scores_are_value_types() -> None:
    score = RiverScorer().score(signal(), StubContext())
    assert isinstance(score, Score)
    assert 0.0 <= score.value <= 1.0
