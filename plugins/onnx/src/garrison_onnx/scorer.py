"""The ONNX scorer: a trained classifier's win probability, through onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from garrison_api import ComponentServices, Outcome, Score, Signal, StrategyContext

from garrison_onnx.metadata import ModelError, mismatch
from garrison_onnx.model import OnnxModel, load
from garrison_onnx.params import OnnxParams


class OnnxScorer:
    """Scores signals with a model file; it does not learn (``learn`` does nothing).

    The model file names its features and their order in its metadata; with
    ``features`` set, a model whose list differs is refused when the scorer
    is built, with what differs. ``feature_names`` tells the host what every
    signal must carry. One thread by default; :meth:`score_batch` rates
    several signals in one onnxruntime call.

    Every score names its model: ``model`` is ``onnx:<file name>``,
    ``version`` the model's version id, ``model_hash`` the SHA-256 of the
    file. ``start`` keeps a copy of the file in the scorer's blob store
    (``model-<hash prefix>.onnx``), so the journal holds every model that
    scored.
    """

    Params: ClassVar[type[OnnxParams]] = OnnxParams

    def __init__(self, params: OnnxParams | None = None) -> None:
        if params is None:
            raise ModelError("onnx: params.path is required (the .onnx model file)")
        self.params = params
        path = Path(params.path)
        self.model: OnnxModel = load(path, threads=params.threads)
        expected = params.features
        if expected is not None:
            why = mismatch(self.model.features, expected)
            if why is not None:
                raise ModelError(
                    f"onnx: model {path} does not fit the strategy's features "
                    f"({', '.join(expected)}): it {why}; train it on this strategy's "
                    "signals or fix params.features"
                )
        self.feature_names: tuple[str, ...] = self.model.features
        self._label = f"onnx:{self.model.name}"
        # One row, reused: a single score allocates no input array.
        self._row = np.empty((1, len(self.feature_names)), dtype=np.float32)

    def start(self, services: ComponentServices) -> None:
        """Keep a copy of the model file in the journal, named by its hash."""
        name = f"model-{self.model.sha256[:16]}.onnx"
        if services.blobs.sha256(name) != self.model.sha256:
            services.blobs.put(name, Path(self.params.path).read_bytes())

    def stop(self) -> None:
        """Nothing to release beyond what garbage collection does."""

    def _score(self, p: float) -> Score:
        model = self.model
        return Score(float(p), self._label, {}, model.version, model.sha256)

    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        """The model's probability that ``signal`` wins."""
        row = self._row
        features = signal.features
        for i, name in enumerate(self.feature_names):
            row[0, i] = features[name]
        return self._score(self.model.probabilities(row)[0])

    def score_batch(
        self, signals: Sequence[Signal], ctx: StrategyContext | None = None
    ) -> list[Score]:
        """Scores of several signals from one onnxruntime call, in order (the host calls it
        when a strategy returns several entries at once)."""
        if not signals:
            return []
        names = self.feature_names
        rows = np.array([[s.features[name] for name in names] for s in signals], dtype=np.float32)
        return [self._score(p) for p in self.model.probabilities(rows)]

    def learn(self, outcome: Outcome) -> None:
        """A trained model does not learn online; retrain with `garrison train onnx`."""
