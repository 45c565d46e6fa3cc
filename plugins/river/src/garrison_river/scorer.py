"""The river scorer: an online model of "does this signal win?", with a prior until it knows."""

from __future__ import annotations

import hashlib
import math
from typing import Any, ClassVar

from garrison_api import ComponentServices, Event, Level, Outcome, Score, Signal, StrategyContext

from garrison_river.features import label, vector
from garrison_river.params import RiverParams
from garrison_river.prior import prior
from garrison_river.state import StateError, decode, encode, version_id

#: The blob the state is saved under, in the scorer's own namespace.
STATE_BLOB = "model"


def build_model(params: RiverParams) -> Any:
    """A fresh model of the kind ``params.model`` names."""
    # Imported here: loading the plugin (``garrison plugins``) need not load river.
    from river import compose, linear_model, optim, preprocessing, tree

    if params.model == "hat":
        return tree.HoeffdingAdaptiveTreeClassifier(seed=params.seed)
    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(optimizer=optim.SGD(params.learning_rate)),
    )


class RiverScorer:
    """Scores a signal with the probability that it wins, learned online from outcomes.

    Before ``min_outcomes`` outcomes it answers with the rule-based prior
    (:mod:`garrison_river.prior`), and learns all the same. It learns from
    every outcome the host reports, traded and phantom. With ``start`` (the
    host calls it) the state is saved to the scorer's blob store after every
    learn, each save with a version id and checksum, and restored at start
    as ``resume`` says. One model per scorer use: bind one use per strategy
    (the profile's ``strategies``) for a model per strategy.

    Every score names its model: ``model`` is ``river:<kind>`` or
    ``prior``, ``version`` the state's version id, ``model_hash`` the
    SHA-256 of the saved blob (empty without a blob store).
    """

    Params: ClassVar[type[RiverParams]] = RiverParams

    def __init__(self, params: RiverParams | None = None) -> None:
        self.params = params if params is not None else RiverParams()
        self.model: Any = build_model(self.params)
        self.learned = 0
        self.model_hash = ""
        self.strategies: list[str] = []
        self._services: ComponentServices | None = None
        self._kind = f"river:{self.params.model}"
        names = self.params.features
        self._names = names
        #: What the host checks signals against (none: every feature is read).
        self.feature_names: tuple[str, ...] = names if names is not None else ()

    # -- lifecycle -------------------------------------------------------------------

    def start(self, services: ComponentServices) -> None:
        """Restore the saved model (as ``resume`` says), else save the starting state."""
        self._services = services
        resume = self.params.resume
        if resume == "always" or (resume == "auto" and services.mode != "replay"):
            blob = services.blobs.get(STATE_BLOB)
            if blob is not None:
                self._restore(blob, f"scorer {services.name!r} saved model")
                # The stored file is the model: pickling it again need not give
                # the same bytes, so its hash is the stored one.
                self.model_hash = hashlib.sha256(blob).hexdigest()
                return
        self._save()

    def stop(self) -> None:
        """Nothing to do: every learn already saved the state."""

    def _restore(self, blob: bytes, where: str) -> None:
        saved = decode(blob, where)
        if saved.kind != self.params.model:
            raise StateError(
                f"{where} is a {saved.kind!r} model but params.model is "
                f'{self.params.model!r}; set resume = "never" or delete it to start afresh'
            )
        if saved.features != self._names:
            raise StateError(
                f"{where} reads features {saved.features!r} but params.features is "
                f'{self._names!r}; set resume = "never" or delete it to start afresh'
            )
        self.model = saved.model
        self.learned = saved.learned
        self.strategies = list(saved.strategies)

    def _save(self) -> None:
        services = self._services
        if services is None:
            return
        blob = encode(
            self.model,
            learned=self.learned,
            kind=self.params.model,
            features=self._names,
            strategies=tuple(self.strategies),
        )
        self.model_hash = services.blobs.put(STATE_BLOB, blob)

    # -- scoring and learning -----------------------------------------------------------

    @property
    def version(self) -> str:
        """The version id of the current state."""
        return version_id(self.learned)

    def probability(self, signal: Signal) -> float | None:
        """The model's probability of a win, or None when it has none yet."""
        x = vector(signal, self._names)
        if x is None:
            return None
        proba = self.model.predict_proba_one(x)
        p = proba.get(True) if proba else None
        if p is None or not math.isfinite(p):
            return None
        return min(max(float(p), 0.0), 1.0)

    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        """The model's probability once it has learned ``min_outcomes``; the prior before."""
        params = self.params
        p_prior = prior(signal, params.prior_weights, params.prior_without_target)
        details = {"prior": p_prior, "outcomes": float(self.learned)}
        p_model = self.probability(signal) if self.learned else None
        if p_model is not None:
            details["model"] = p_model
        if p_model is None or self.learned < params.min_outcomes:
            return Score(p_prior, "prior", details, self.version, self.model_hash)
        return Score(p_model, self._kind, details, self.version, self.model_hash)

    def learn(self, outcome: Outcome) -> None:
        """Learn from one outcome (traded or phantom), then save the new state.

        An outcome of a signal without the chosen features teaches nothing.
        """
        x = vector(outcome.signal, self._names)
        if x is None:
            return
        self.model.learn_one(x, label(outcome))
        self.learned += 1
        strategy = outcome.strategy
        if strategy not in self.strategies:
            self.strategies.append(strategy)
            if len(self.strategies) == 2 and self._services is not None:
                self._services.emit(
                    Event(
                        ts=outcome.closed_ts,
                        kind="scorer.mixed_strategies",
                        level=Level.WARNING,
                        source=self._services.name,
                        message=f"river scorer {self._services.name} learns from strategies "
                        f"{', '.join(self.strategies)} in one model; bind one scorer use "
                        "per strategy for a model each",
                        data={"strategies": ",".join(self.strategies)},
                    )
                )
        self._save()
