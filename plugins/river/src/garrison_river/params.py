"""The river scorer's parameters, as the profile's ``[scorer.params]`` table gives them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

#: The models a profile may pick: a scaler plus logistic regression, or a Hoeffding
#: adaptive tree.
MODELS: tuple[str, ...] = ("logreg", "hat")

#: When a start restores the saved model: always, never, or (``auto``) in paper and
#: live only, so that a backtest never starts from a model that saw its future.
RESUME: tuple[str, ...] = ("auto", "always", "never")


def _one_of(choices: tuple[str, ...]) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_inst: object, attr: attrs.Attribute[str], value: object) -> None:
        if value not in choices:
            raise ValueError(
                f"river: {attr.name} must be one of {', '.join(choices)}, got {value!r}"
            )

    return check


def _positive_int(_inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"river: {attr.name} must be a whole number >= 0, got {value!r}")


def _positive(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"river: {attr.name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"river: {attr.name} must be a positive number, got {value!r}")


def _probability(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"river: {attr.name} must lie strictly between 0 and 1, got {value!r}")


def _features(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"river: features must be a list of feature names, got {value!r}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"river: features must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"river: features lists a name twice: {list(names)!r}")
    return names


def _weights(value: object) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"river: prior_weights must be a table of numbers, got {value!r}")
    out: dict[str, float] = {}
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"river: prior_weights.{name} must be a number, got {weight!r}")
        if not math.isfinite(weight):
            raise ValueError(f"river: prior_weights.{name} must be finite, got {weight!r}")
        out[str(name)] = float(weight)
    return MappingProxyType(out)


@attrs.frozen
class RiverParams:
    """How the river scorer models, learns and starts.

    - ``model``: ``logreg`` (a standard scaler and logistic regression, the
      default) or ``hat`` (a Hoeffding adaptive tree).
    - ``min_outcomes``: outcomes to learn before the model answers; until then
      the scorer answers with its prior (see :mod:`garrison_river.prior`).
    - ``features``: the signal features the model reads, in order; the host
      then skips signals that lack one. Unset: every feature a signal
      carries. Three derived features are always added (``side``,
      ``risk_pct``, ``reward_risk``).
    - ``learning_rate``: the logistic regression's SGD step.
    - ``seed``: the tree's random seed (its results are reproducible).
    - ``prior_weights``: logit weights of signal features in the prior.
    - ``prior_without_target``: the prior of a signal without a take-profit.
    - ``resume``: ``auto`` (restore the saved model in paper and live, start
      fresh in replay), ``always`` or ``never``.
    """

    model: str = attrs.field(default="logreg", validator=_one_of(MODELS))
    min_outcomes: int = attrs.field(default=50, validator=_positive_int)
    features: tuple[str, ...] | None = attrs.field(default=None, converter=_features)
    learning_rate: float = attrs.field(default=0.01, validator=_positive)
    seed: int = attrs.field(default=42, validator=_positive_int)
    prior_weights: Mapping[str, float] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_weights
    )
    prior_without_target: float = attrs.field(default=0.5, validator=_probability)
    resume: str = attrs.field(default="auto", validator=_one_of(RESUME))
