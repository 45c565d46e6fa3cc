"""Training an XGBoost classifier on journaled outcomes and exporting it to ONNX.

Needs the ``[train]`` extra (xgboost-cpu, onnxmltools); nothing else in the
plugin does. The caller (``garrison train onnx``) builds the labelled set
from the journal; this module splits it by time (no shuffling: the held-out
set is the latest ``holdout`` share of the signals), trains, exports with the
feature list in the model's metadata, checks onnxruntime's probabilities
against xgboost's on the held-out rows and writes the model and its card.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from garrison_onnx.metadata import FEATURES_KEY, STRATEGY_KEY, VERSION_KEY, encode_features
from garrison_onnx.model import load_bytes

#: What ``pip install 'garrison-onnx[train]'`` brings, by import name.
TRAIN_MODULES: tuple[str, ...] = ("xgboost", "onnxmltools")
INSTALL_HINT = "pip install 'garrison-onnx[train]'  (or: uv pip install 'garrison-onnx[train]')"


class TrainingError(ValueError):
    """Training cannot go on; the message says why and what to do."""


def missing_packages() -> list[str]:
    """The training extra's modules that cannot be imported here."""
    return [name for name in TRAIN_MODULES if importlib.util.find_spec(name) is None]


def require_training_extra() -> None:
    """TrainingError saying exactly what to install when the extra is missing."""
    missing = missing_packages()
    if missing:
        raise TrainingError(
            f"training needs the garrison-onnx[train] extra ({', '.join(missing)} not "
            f"installed); install it with: {INSTALL_HINT}"
        )


@attrs.frozen
class LabelledSet:
    """Rows of features (in ``names`` order) with their label (1: a win) and signal time."""

    names: tuple[str, ...]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]


@attrs.frozen
class TrainSettings:
    """XGBoost's settings and the held-out share; the defaults are small and deterministic."""

    holdout: float = 0.2
    n_estimators: int = 200
    max_depth: int = 3
    learning_rate: float = 0.05
    seed: int = 0
    tolerance: float = 1e-6


@attrs.frozen
class Trained:
    """What training produced: the ONNX bytes, the card, and the agreement check."""

    onnx: bytes
    card: dict[str, Any]
    max_diff: float
    holdout_xgb: npt.NDArray[np.float64]
    holdout_onnx: npt.NDArray[np.float64]


def split(data: LabelledSet, holdout: float) -> int:
    """Index of the first held-out row: the latest ``holdout`` share, by signal time."""
    if not 0 < holdout < 1:
        raise TrainingError(f"holdout must lie strictly between 0 and 1, got {holdout!r}")
    n = len(data.y)
    if np.any(np.diff(data.ts) < 0):
        raise TrainingError("the labelled set is not in time order")
    cut = n - max(1, math.ceil(n * holdout))
    if cut < 10:
        raise TrainingError(f"{n} labelled signals are too few to train and hold some out")
    train_labels = data.y[:cut]
    if train_labels.min() == train_labels.max():
        raise TrainingError(
            f"every one of the {cut} training signals has the same label "
            f"({'win' if train_labels[0] else 'loss'}): nothing to learn"
        )
    return cut


def metrics(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> dict[str, float]:
    """Held-out metrics: count, base rate, accuracy at 0.5, Brier, log loss and ROC AUC."""
    eps = 1e-12
    clipped = np.clip(p, eps, 1 - eps)
    out = {
        "count": float(len(y)),
        "base_rate": float(y.mean()),
        "accuracy": float(((p >= 0.5) == (y == 1)).mean()),
        "brier": float(((p - y) ** 2).mean()),
        "log_loss": float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()),
    }
    out["roc_auc"] = _auc(y, p)
    return out


def _auc(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> float:
    # Mann-Whitney: the share of (win, loss) pairs the scores order right, ties half.
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order), dtype=np.float64)
    values = np.concatenate([pos, neg])[order]
    ranks[order] = _average_ranks(values)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(sorted_values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    ranks = np.arange(1, len(sorted_values) + 1, dtype=np.float64)
    start = 0
    for end in range(1, len(sorted_values) + 1):
        if end == len(sorted_values) or sorted_values[end] != sorted_values[start]:
            ranks[start:end] = (start + 1 + end) / 2
            start = end
    return ranks


def train(
    data: LabelledSet,
    settings: TrainSettings,
    *,
    strategy: str,
    data_range: tuple[int, int],
    source: str,
) -> Trained:
    """Train, export and check; raise TrainingError when the two runtimes disagree."""
    require_training_extra()
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    cut = split(data, settings.holdout)
    model = xgboost.XGBClassifier(
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        random_state=settings.seed,
        n_jobs=1,
        tree_method="hist",
    )
    model.fit(data.x[:cut], data.y[:cut])
    onnx_model = onnxmltools.convert_xgboost(
        model,
        initial_types=[("features", FloatTensorType([None, len(data.names)]))],
        target_opset=15,
    )
    # onnxmltools names the graph with a random UUID: a fixed name keeps the same
    # data and settings giving the same bytes, hence the same version id.
    onnx_model.graph.name = "garrison_xgboost_classifier"
    held_x, held_y = data.x[cut:], data.y[cut:]
    p_xgb = np.asarray(model.predict_proba(held_x)[:, 1], dtype=np.float64)
    # The version id is the hash of the model without its metadata: the same data and
    # settings give the same id.
    version = hashlib.sha256(onnx_model.SerializeToString()).hexdigest()[:12]
    for key, value in (
        (FEATURES_KEY, encode_features(data.names)),
        (VERSION_KEY, version),
        (STRATEGY_KEY, strategy),
    ):
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    blob = onnx_model.SerializeToString()
    loaded = load_bytes(blob, "the exported model")
    p_onnx = loaded.probabilities(np.ascontiguousarray(held_x, dtype=np.float32))
    max_diff = float(np.abs(p_onnx - p_xgb).max())
    card = {
        "model": "xgboost classifier exported to ONNX",
        "version": version,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "strategy": strategy,
        "source": source,
        "label": "win: r_multiple > 0 (take-profit before stop, or a positive exit)",
        "data": {
            "from_ms": int(data_range[0]),
            "to_ms": int(data_range[1]),
            "first_signal_ms": int(data.ts[0]),
            "last_signal_ms": int(data.ts[-1]),
            "train_rows": int(cut),
            "holdout_rows": len(held_y),
            "holdout_from_ms": int(data.ts[cut]),
            "split": "time ordered; the held-out set is the latest signals, never shuffled",
        },
        "features": list(data.names),
        "settings": attrs.asdict(settings),
        "metrics": {
            "train": metrics(
                data.y[:cut], np.asarray(model.predict_proba(data.x[:cut])[:, 1], np.float64)
            ),
            "holdout": metrics(held_y, p_onnx),
        },
        "onnx_vs_xgboost_max_abs_diff": max_diff,
        "versions": {
            name: importlib.metadata.version(dist)
            for name, dist in (
                ("xgboost", _xgboost_distribution()),
                ("onnxmltools", "onnxmltools"),
                ("onnxruntime", "onnxruntime"),
            )
        },
    }
    if not max_diff <= settings.tolerance:
        raise TrainingError(
            f"onnxruntime and xgboost disagree on the held-out set by {max_diff:.3g} "
            f"(tolerance {settings.tolerance:g}); the model was not written"
        )
    return Trained(onnx=blob, card=card, max_diff=max_diff, holdout_xgb=p_xgb, holdout_onnx=p_onnx)


def _xgboost_distribution() -> str:
    for name in ("xgboost-cpu", "xgboost"):
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return name
    return "xgboost"


def card_path(model_path: Path) -> Path:
    """Where the card of ``model_path`` goes: ``model.onnx`` -> ``model.card.json``."""
    return model_path.with_name(model_path.stem + ".card.json")


def write(trained: Trained, path: Path) -> Path:
    """Write the model to ``path`` and its card beside it; return the card's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trained.onnx)
    card = card_path(path)
    card.write_text(json.dumps(trained.card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return card
