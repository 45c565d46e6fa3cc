"""Adaptive combos: binned signal features whose recent win rate earns them execution.

A signal's combo is its binned RSI, MACD direction, VWAP distance and
Fibonacci zone (``rsi_40-60 macd_bull vwap_<1.0 fib_38-50``), kept per side.
Every outcome of the strategy's signals, traded or phantom, is a sample of its
combo. A combo is enabled when the Wilson lower bound of its win rate over the
samples of the last ``window_ms`` reaches ``enable_lb`` (with at least
``min_samples``), and disabled again only when the bound falls below
``disable_lb`` or the samples run short: the gap between the two bounds is
the hysteresis that keeps a combo from flipping on every trade.

State (samples and flags) lives in the strategy's key-value store, one key
per combo plus an index, written when it changes, so it survives restarts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
from garrison_api import KeyValueStore, Side

INDEX_KEY = "combos/index"
_KEY_PREFIX = "combos/"


def wilson_lower_bound(wins: int, n: int, z: float) -> float:
    """Lower end of the Wilson score interval of ``wins`` successes in ``n`` trials (0 if n = 0)."""
    if n <= 0:
        return 0.0
    if not 0 <= wins <= n:
        raise ValueError(f"wins must be from 0 to n={n}, got {wins}")
    phat = wins / n
    z2 = z * z
    centre = phat + z2 / (2 * n)
    margin = z * math.sqrt(phat * (1 - phat) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def _rsi_bin(rsi: float) -> str:
    if rsi != rsi:
        return "na"
    if rsi < 30:
        return "<30"
    if rsi < 40:
        return "30-40"
    if rsi <= 60:
        return "40-60"
    if rsi <= 70:
        return "60-70"
    return ">70"


def _macd_bin(hist: float) -> str:
    if hist > 0:
        return "bull"
    if hist < 0:
        return "bear"
    return "flat"


def _vwap_bin(dist_atr: float) -> str:
    if dist_atr != dist_atr:
        return "na"
    for edge in (0.5, 1.0, 1.5):
        if dist_atr < edge:
            return f"<{edge:.1f}"
    return ">=1.5"


_FIB_EDGES = ((0.236, "0-23"), (0.382, "23-38"), (0.5, "38-50"), (0.618, "50-61"), (0.786, "61-78"))


def _fib_bin(retrace: float) -> str:
    if retrace != retrace:
        return "na"
    for edge, name in _FIB_EDGES:
        if retrace < edge:
            return name
    return "78-100"


def combo_id(features: Mapping[str, float]) -> str:
    """The combo of a signal's features (``rsi``, ``macd_hist``, ``vwap_dist_atr``, ``fib``)."""
    return (
        f"rsi_{_rsi_bin(features['rsi'])} macd_{_macd_bin(features['macd_hist'])} "
        f"vwap_{_vwap_bin(features['vwap_dist_atr'])} fib_{_fib_bin(features['fib'])}"
    )


def combo_key(side: Side, combo: str) -> str:
    """The store key of one side's combo."""
    return f"{_KEY_PREFIX}{side.value}/{combo}"


@attrs.frozen
class Sample:
    """One resolved signal of a combo: when it closed, whether it won, its R, and who it was."""

    closed_ts: int
    won: bool
    r: float
    ident: str


@attrs.frozen
class ComboStats:
    """A combo as of one instant: flag, window sample count, wins, Wilson bound, mean R."""

    key: str
    enabled: bool
    samples: int
    wins: int
    wr_lb: float
    ev_r: float


@attrs.frozen
class ComboRules:
    """Thresholds of the combo state machine (from ``ScalpParams``)."""

    window_ms: int
    enable_lb: float
    disable_lb: float
    min_samples: int
    z: float


class _Combo:
    def __init__(self, samples: list[Sample], enabled: bool) -> None:
        self.samples = samples
        self.enabled = enabled


class ComboBook:
    """Every combo's samples and flag; persisted to a key-value store when given one."""

    def __init__(self, rules: ComboRules, store: KeyValueStore | None = None) -> None:
        self.rules = rules
        self._store = store
        self._combos: dict[str, _Combo] = {}
        if store is not None:
            self._load(store)

    # -- persistence -------------------------------------------------------

    def _load(self, store: KeyValueStore) -> None:
        index = store.get(INDEX_KEY, [])
        if not isinstance(index, list):
            raise ValueError(f"scalp: stored {INDEX_KEY!r} is not a list: {index!r}")
        for key in index:
            raw = store.get(key)
            if raw is None:
                continue
            self._combos[key] = _decode(key, raw)

    def _save(self, key: str, combo: _Combo, new: bool) -> None:
        if self._store is None:
            return
        self._store.set(key, _encode(combo))
        if new:
            self._store.set(INDEX_KEY, sorted(self._combos))

    # -- queries -----------------------------------------------------------

    def keys(self) -> list[str]:
        return sorted(self._combos)

    def stats(self, key: str, now: int) -> ComboStats:
        """The combo's figures over the window ending at ``now`` (its flag as it stands)."""
        combo = self._combos.get(key)
        if combo is None:
            return ComboStats(key, False, 0, 0, 0.0, 0.0)
        return self._stats(key, combo, now)

    def _stats(self, key: str, combo: _Combo, now: int) -> ComboStats:
        start = now - self.rules.window_ms
        live = [s for s in combo.samples if start < s.closed_ts <= now]
        n = len(live)
        wins = sum(1 for s in live if s.won)
        ev = sum(s.r for s in live) / n if n else 0.0
        lb = wilson_lower_bound(wins, n, self.rules.z)
        return ComboStats(key, combo.enabled, n, wins, lb, ev)

    def is_enabled(self, key: str, now: int) -> bool:
        """Whether the combo may execute at ``now``: its state re-judged on the current window."""
        combo = self._combos.get(key)
        if combo is None:
            return False
        changed = self._judge(key, combo, now)
        if changed:
            self._save(key, combo, new=False)
        return combo.enabled

    # -- updates -----------------------------------------------------------

    def record(self, key: str, sample: Sample) -> ComboStats | None:
        """Add one resolved signal; the combo's new stats, or None for a sample already held."""
        combo = self._combos.get(key)
        new = combo is None
        if combo is None:
            combo = self._combos[key] = _Combo([], False)
        elif any(s.ident == sample.ident for s in combo.samples):
            return None
        combo.samples.append(sample)
        combo.samples.sort(key=lambda s: s.closed_ts)
        self._judge(key, combo, sample.closed_ts)
        self._save(key, combo, new)
        return self._stats(key, combo, sample.closed_ts)

    def _judge(self, key: str, combo: _Combo, now: int) -> bool:
        """Drop samples that left the window, apply the hysteresis; True when anything changed."""
        start = now - self.rules.window_ms
        # Samples after ``now`` stay (they can only exist after a rewind, see ``forget_after``).
        kept = [s for s in combo.samples if s.closed_ts > start]
        changed = len(kept) != len(combo.samples)
        combo.samples = kept
        stats = self._stats(key, combo, now)
        rules = self.rules
        if combo.enabled:
            if stats.samples < rules.min_samples or stats.wr_lb < rules.disable_lb:
                combo.enabled = False
                changed = True
        elif stats.samples >= rules.min_samples and stats.wr_lb >= rules.enable_lb:
            combo.enabled = True
            changed = True
        return changed

    def forget_after(self, now: int) -> int:
        """Drop samples that closed after ``now`` and rebuild the flags from the rest.

        A replay that starts (or resumes) earlier than outcomes a former run
        stored must not see them: they are its future. The flags are rebuilt
        by replaying the kept samples in order through the state machine.
        Returns how many samples were dropped.
        """
        dropped = 0
        for key, combo in self._combos.items():
            kept = [s for s in combo.samples if s.closed_ts <= now]
            if len(kept) == len(combo.samples):
                continue
            dropped += len(combo.samples) - len(kept)
            rebuilt = _Combo([], False)
            for sample in kept:
                rebuilt.samples.append(sample)
                self._judge(key, rebuilt, sample.closed_ts)
            combo.samples, combo.enabled = rebuilt.samples, rebuilt.enabled
            self._save(key, combo, new=False)
        return dropped


def _encode(combo: _Combo) -> dict[str, Any]:
    return {
        "enabled": combo.enabled,
        "samples": [[s.closed_ts, s.won, s.r, s.ident] for s in combo.samples],
    }


def _decode(key: str, raw: object) -> _Combo:
    if not isinstance(raw, dict):
        raise ValueError(f"scalp: stored combo {key!r} is not a table: {raw!r}")
    try:
        samples = [
            Sample(int(ts), bool(won), float(r), str(ident)) for ts, won, r, ident in raw["samples"]
        ]
        return _Combo(samples, bool(raw["enabled"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"scalp: stored combo {key!r} is not readable ({exc}): {raw!r}") from None
