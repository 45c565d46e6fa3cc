"""Cost of scoring: onnxruntime latency, river's learn + predict rate, replays with each scorer.

    uv run python bench/score.py [--out FILE.json] [--profile FILE] [--data FOLDER|GLOB]
                                 [--single N] [--repeat N]

Everything runs on real data: a first replay of the profile (default
configs/turtle-system1.toml, Turtle System 1 on the five Bybit 5-minute files
in ../shared/data) with no scorer gives a journal of signals and outcomes; an
XGBoost model is trained on it and exported to ONNX (``garrison_onnx.training``,
the ``[train]`` extra), and the journal's own signals are what gets scored.

- ``onnx_single_us``: median latency of ``OnnxScorer.score`` on one signal
  (one onnxruntime call on one thread), over ``--single`` calls; target <= 20.
- ``onnx_batch256_us``: median latency of ``score_batch`` on 256 signals.
- ``river_per_s``: learn + predict of the default river model (scaler +
  logistic regression), one outcome after another, per second; target >=
  20,000. ``river_scorer_per_s`` is the whole scorer (prior, score, learn and
  the state saved to a SQLite blob store after every learn).
- ``replay_candles_per_s_river`` / ``_onnx``: the replay pipeline with the
  scorer as a gate, candles over wall time (loading included, parse cache warm);
  ``replay_candles_per_s_none`` is the same replay without a scorer. Best of
  ``--repeat`` runs, medians beside them. ``onnx_replay_calls`` counts, for one
  onnx replay, the ``score`` and ``score_batch`` calls and the signals the
  batches held: the entries of every symbol closing in one step go in one batch.

``reference_loop_s`` times a fixed pure-Python loop before and after, so figures
from a busy (shared) machine can be told apart from slower code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from garrison.engine.cache import CandleCache
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.journal import Journal
from garrison.plugins.manager import PluginSet, load_plugins
from garrison.profile.load import load_profile
from garrison.train import labelled_set
from garrison_api import ExitReason, Outcome, Side, Signal
from garrison_onnx import OnnxParams, OnnxScorer, training
from garrison_river import RiverParams, RiverScorer, vector
from garrison_river.scorer import build_model

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "configs" / "turtle-system1.toml"
DEFAULT_DATA = str(
    ROOT.parent / "shared" / "data" / "candles" / "bybit_linear" / "bybit_*USDT_5m.csv"
)
TARGETS = {"onnx_single_us": 20.0, "river_per_s": 20_000.0}


def _reference_loop() -> float:
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def _profile_with(base: Path, tmp: Path, name: str, scorer: str) -> Path:
    """A copy of the base profile with ``scorer`` appended (data comes from the selection)."""
    path = tmp / f"{name}.toml"
    path.write_text(base.read_text(encoding="utf-8") + "\n" + scorer, encoding="utf-8")
    return path


def _replays(
    profile: Path,
    plugins: PluginSet,
    selection: DataSelection,
    cache: CandleCache,
    tmp: Path,
    name: str,
    repeat: int,
) -> tuple[list[float], RunResult]:
    loaded = load_profile(profile, plugins.registry)
    walls: list[float] = []
    result: RunResult | None = None
    for i in range(repeat):
        journal = tmp / f"{name}{i}.sqlite"
        t0 = time.perf_counter()
        result = asyncio.run(
            replay(
                loaded,
                plugins,
                selection=selection,
                journal_path=journal,
                any_mode=True,
                cache=cache,
            )
        )
        walls.append(time.perf_counter() - t0)
    assert result is not None
    return walls, result


class _CallCount:
    """Counts OnnxScorer's score and score_batch calls while installed (bench only)."""

    def __init__(self) -> None:
        self.counts = {"score": 0, "score_batch": 0, "batched_signals": 0}
        self._saved = (OnnxScorer.score, OnnxScorer.score_batch)

    def __enter__(self) -> _CallCount:
        score, batch = self._saved
        counts = self.counts

        def counted_score(scorer: OnnxScorer, signal: Any, ctx: Any) -> Any:
            counts["score"] += 1
            return score(scorer, signal, ctx)

        def counted_batch(scorer: OnnxScorer, signals: Any, ctx: Any) -> Any:
            counts["score_batch"] += 1
            counts["batched_signals"] += len(signals)
            return batch(scorer, signals, ctx)

        OnnxScorer.score = counted_score  # type: ignore[method-assign]
        OnnxScorer.score_batch = counted_batch  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        OnnxScorer.score, OnnxScorer.score_batch = self._saved  # type: ignore[method-assign]


def _signals(journal: Path, names: tuple[str, ...]) -> list[Signal]:
    """The journal's Turtle entry signals with their features, as Signals."""
    data = labelled_set(journal, "turtle", 0, 2**62)
    out = []
    for row, ts in zip(data.x, data.ts, strict=True):
        features = {n: float(v) for n, v in zip(names, row, strict=True)}
        close = features.get("close", 100.0)
        out.append(
            Signal("BTCUSDT", int(ts), Side.LONG, entry=close, stop=close * 0.98, features=features)
        )
    return out


def _median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE)
    parser.add_argument("--data", action="append", help="candle CSV folder or glob (repeatable)")
    parser.add_argument("--single", type=int, default=20_000, help="single-signal calls timed")
    parser.add_argument("--repeat", type=int, default=3, help="replays per scorer (best kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "score.json")
    args = parser.parse_args(argv)
    training.require_training_extra()

    plugins = load_plugins()
    selection = DataSelection(paths=tuple(args.data or [DEFAULT_DATA]))
    reference = [_reference_loop()]
    out: dict[str, Any] = {"benchmark": "score", "profile": str(args.profile)}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = CandleCache(tmp / "cache")
        none_profile = _profile_with(args.profile, tmp, "none", "")
        none_walls, base = _replays(none_profile, plugins, selection, cache, tmp, "none", 1)
        journal = tmp / "none0.sqlite"

        # The model: XGBoost on this replay's outcomes, exported to ONNX.
        data = labelled_set(journal, "turtle", 0, 2**62)
        trained = training.train(
            training.LabelledSet(names=data.names, x=data.x, y=data.y, ts=data.ts),
            training.TrainSettings(),
            strategy="turtle",
            data_range=(0, 2**62),
            source="bench",
        )
        model_path = tmp / "turtle.onnx"
        training.write(trained, model_path)
        signals = _signals(journal, data.names)

        # onnxruntime, one signal at a time and 256 at once.
        scorer = OnnxScorer(OnnxParams(path=str(model_path)))
        ctx: Any = None
        for s in signals[:1000]:
            scorer.score(s, ctx)
        single: list[float] = []
        clock = time.perf_counter
        for i in range(args.single):
            s = signals[i % len(signals)]
            t0 = clock()
            scorer.score(s, ctx)
            single.append(clock() - t0)
        batch = [signals[i % len(signals)] for i in range(256)]
        batches: list[float] = []
        for _ in range(300):
            t0 = clock()
            scorer.score_batch(batch)
            batches.append(clock() - t0)

        # river: the default model's learn + predict, then the whole scorer with its saves.
        params = RiverParams()
        model = build_model(params)
        rows = [(vector(s, None), bool(y)) for s, y in zip(signals, data.y, strict=True)]
        n = 0
        t0 = clock()
        while clock() - t0 < 3.0:
            for x, y in rows:
                model.predict_proba_one(x)
                model.learn_one(x, y)
            n += len(rows)
        river_per_s = n / (clock() - t0)

        with Journal.open(tmp / "river-state.sqlite") as state:
            services: Any = _Services(state)
            whole = RiverScorer(params)
            whole.start(services)
            outcomes = [
                Outcome(s, "turtle", 1.0 if y else -1.0, ExitReason.STOP, s.ts, True)
                for s, y in zip(signals, data.y, strict=True)
            ]
            count = min(len(outcomes), 5_000)
            t0 = clock()
            for s, o in zip(signals[:count], outcomes[:count], strict=True):
                whole.score(s, ctx)
                whole.learn(o)
            river_scorer_per_s = count / (clock() - t0)

        river = (
            '[[scorers]]\nuse = "river"\nmode = "gate"\nthreshold = 0.5\n'
            "[scorers.params]\nmin_outcomes = 50\n"
        )
        onnx = (
            f'[[scorers]]\nuse = "onnx"\nmode = "gate"\nthreshold = 0.2\n'
            f'[scorers.params]\npath = "{model_path}"\n'
        )
        replays = {}
        for name, table in (("none", ""), ("river", river), ("onnx", onnx)):
            profile = _profile_with(args.profile, tmp, name, table)
            walls, result = _replays(profile, plugins, selection, cache, tmp, name, args.repeat)
            candles = result.stats.candles
            replays[name] = {
                "candles_per_s": round(candles / min(walls)),
                "candles_per_s_median": round(candles / statistics.median(walls)),
                "wall_s": [round(w, 3) for w in sorted(walls)],
                "replay_candles_per_s": round(candles / result.replay_s),
                "signals": result.stats.signals,
                "trades": len(result.trades),
            }
        with _CallCount() as onnx_calls:
            _replays(
                _profile_with(args.profile, tmp, "onnx", onnx),
                plugins,
                selection,
                cache,
                tmp,
                "onnx_counted",
                1,
            )
    reference.append(_reference_loop())
    out.update(
        {
            "data": list(selection.paths),
            "candles": base.stats.candles,
            "labelled_signals": len(data.y),
            "onnx_model": {
                "trees": 200,
                "depth": 3,
                "features": list(data.names),
                "max_abs_diff_vs_xgboost": trained.max_diff,
            },
            "onnx_single_us": _median_us(single),
            "onnx_single_us_p90": round(sorted(single)[int(len(single) * 0.9)] * 1e6, 2),
            "onnx_batch256_us": _median_us(batches),
            "onnx_batch256_us_per_signal": round(statistics.median(batches) * 1e6 / 256, 3),
            "river_per_s": round(river_per_s),
            "river_scorer_per_s": round(river_scorer_per_s),
            "replay_candles_per_s_none": replays["none"]["candles_per_s"],
            "replay_candles_per_s_river": replays["river"]["candles_per_s"],
            "replay_candles_per_s_onnx": replays["onnx"]["candles_per_s"],
            "onnx_replay_calls": onnx_calls.counts,
            "replays": replays,
            "targets": TARGETS,
            "meets_targets": {
                "onnx_single_us": _median_us(single) <= TARGETS["onnx_single_us"],
                "river_per_s": river_per_s >= TARGETS["river_per_s"],
            },
            "reference_loop_s": [round(r, 3) for r in reference],
            "first_replay_wall_s": round(none_walls[0], 3),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


class _Services:
    """The river scorer's services over a real journal file (its blob store is SQLite)."""

    def __init__(self, journal: Journal) -> None:
        self.name = "river"
        self.mode = "replay"
        self.clock = None
        self.storage = journal.kv("bench/river")
        self.blobs = journal.blobs("bench/river")

    def emit(self, event: object) -> None:
        """Events are not needed here."""


if __name__ == "__main__":
    raise SystemExit(main())
