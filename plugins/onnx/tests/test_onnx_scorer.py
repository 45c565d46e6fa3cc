"""The ONNX scorer: metadata checks and refusals, single and batched scores, provenance."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from garrison_api import ExitReason, Outcome, Side, Signal
from garrison_api.testing import MemoryBlobStore, StubContext, StubServices
from garrison_onnx import FEATURES_KEY, VERSION_KEY, ModelError, OnnxParams, OnnxScorer

from .logistic_model import logistic_onnx

T0 = 1_759_276_800_000
NAMES = ("trend", "vol")
WEIGHTS = (2.0, -1.0)
BIAS = 0.25


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def write_model(tmp_path: Path, metadata: dict[str, str] | None = None, **kw: object) -> Path:
    meta = {FEATURES_KEY: '["trend", "vol"]', VERSION_KEY: "m-7"} if metadata is None else metadata
    path = tmp_path / "model.onnx"
    path.write_bytes(logistic_onnx(WEIGHTS, BIAS, metadata=meta, **kw))  # type: ignore[arg-type]
    return path


def signal(trend: float, vol: float, **extra: float) -> Signal:
    return Signal(
        "BTCUSDT",
        T0,
        Side.LONG,
        entry=100.0,
        stop=98.0,
        features={"trend": trend, "vol": vol, **extra},
    )


def test_scores_with_the_models_probability(tmp_path: Path) -> None:
    scorer = OnnxScorer(OnnxParams(path=str(write_model(tmp_path))))
    score = scorer.score(signal(0.5, 0.2), StubContext())
    assert score.value == pytest.approx(sigmoid(2 * 0.5 - 0.2 + 0.25), abs=1e-6)
    assert scorer.feature_names == NAMES


def test_every_score_names_the_model_file(tmp_path: Path) -> None:
    path = write_model(tmp_path)
    score = OnnxScorer(OnnxParams(path=str(path))).score(signal(0.1, 0.1), StubContext())
    assert score.model == "onnx:model.onnx"
    assert score.version == "m-7"
    assert score.model_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    # Without a version in its metadata the hash prefix names it.
    bare = write_model(tmp_path, {FEATURES_KEY: '["trend", "vol"]'})
    unnamed = OnnxScorer(OnnxParams(path=str(bare))).score(signal(0.1, 0.1), StubContext())
    assert unnamed.version == unnamed.model_hash[:12]


def test_a_batch_scores_as_one_signal_at_a_time(tmp_path: Path) -> None:
    scorer = OnnxScorer(OnnxParams(path=str(write_model(tmp_path))))
    rng = np.random.default_rng(3)
    signals = [signal(float(a), float(b)) for a, b in rng.normal(size=(300, 2))]
    one_by_one = [scorer.score(s, StubContext()) for s in signals]
    assert scorer.score_batch(signals) == one_by_one
    assert scorer.score_batch([]) == []


def test_extra_signal_features_are_ignored_and_order_is_the_models(tmp_path: Path) -> None:
    scorer = OnnxScorer(OnnxParams(path=str(write_model(tmp_path))))
    a = scorer.score(signal(0.3, 0.9, other=5.0), StubContext())
    b = scorer.score(Signal("X", T0, Side.LONG, features={"vol": 0.9, "trend": 0.3}), StubContext())
    assert a.value == b.value


def test_start_keeps_the_model_file_in_the_journal(tmp_path: Path) -> None:
    path = write_model(tmp_path)
    blobs = MemoryBlobStore()
    scorer = OnnxScorer(OnnxParams(path=str(path)))
    scorer.start(StubServices("onnx", blobs=blobs))
    scorer.start(StubServices("onnx", blobs=blobs))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert blobs.names() == [f"model-{digest[:16]}.onnx"]
    assert blobs.get(blobs.names()[0]) == path.read_bytes()


def test_it_does_not_learn(tmp_path: Path) -> None:
    scorer = OnnxScorer(OnnxParams(path=str(write_model(tmp_path))))
    before = scorer.score(signal(1.0, 0.0), StubContext())
    s = signal(1.0, 0.0)
    scorer.learn(Outcome(s, "t", -1.0, ExitReason.STOP, T0, True))
    assert scorer.score(s, StubContext()) == before


# --- refusals ---------------------------------------------------------------------------


def test_a_model_whose_features_differ_from_the_strategys_is_refused(tmp_path: Path) -> None:
    path = str(write_model(tmp_path))
    OnnxScorer(OnnxParams(path=path, features=("trend", "vol")))  # matches: accepted
    with pytest.raises(ModelError, match=r"does not fit .*it lacks atr; reads vol which"):
        OnnxScorer(OnnxParams(path=path, features=("trend", "atr")))
    with pytest.raises(ModelError, match=r"has them in another order \(trend, vol\)"):
        OnnxScorer(OnnxParams(path=path, features=("vol", "trend")))


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "has no 'garrison.features' metadata"),
        ({FEATURES_KEY: "trend,vol"}, "is not JSON"),
        ({FEATURES_KEY: "[]"}, "must be a non-empty list of names"),
        ({FEATURES_KEY: '["trend", "trend"]'}, "lists a name twice"),
        ({FEATURES_KEY: '["trend", "vol", "x"]'}, "has 2 columns but its metadata names 3"),
    ],
)
def test_a_model_without_sound_feature_metadata_is_refused(
    tmp_path: Path, metadata: dict[str, str], message: str
) -> None:
    path = write_model(tmp_path, metadata)
    with pytest.raises(ModelError, match=message):
        OnnxScorer(OnnxParams(path=str(path)))


def test_missing_or_broken_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model .*nowhere\.onnx not found"):
        OnnxScorer(OnnxParams(path=str(tmp_path / "nowhere.onnx")))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx is not a model onnxruntime can load"):
        OnnxScorer(OnnxParams(path=str(junk)))
    with pytest.raises(ModelError, match=r"params\.path is required"):
        OnnxScorer()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"path": ""}, "path must name the .onnx model file"),
        ({"path": "m.onnx", "features": "trend"}, "features must be a list"),
        ({"path": "m.onnx", "threads": 0}, "threads must be a whole number >= 1"),
    ],
)
def test_bad_params_are_refused_by_name(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OnnxParams(**changes)  # type: ignore[arg-type]
