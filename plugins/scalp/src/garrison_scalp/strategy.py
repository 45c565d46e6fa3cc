"""The VWAP-pullback / opening-range scalper as a Garrison strategy.

At the close of each decision bar (3 minutes by default): read the bar's
features, detect a setup through the signal-level gates, set the stop from
the setup and the take-profit at ``rr`` R, then run the execution gate:

1. the execution-level hard gates (volume ratio, Bollinger width) must pass;
2. path 1, adaptive combos: the signal's combo (per side) is enabled;
3. path 2, pro rules: when its combo is not enabled, every pro rule passes
   (with the symbol's overrides).

A signal the gate refuses, or one in a symbol the host already holds, is
still emitted with ``execute=False``: the host follows it as a phantom and
its outcome teaches the combos like a real trade's (``on_outcome``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from garrison_api import (
    Atr,
    BarMask,
    Bollinger,
    Candle,
    Columns,
    ComponentServices,
    Ema,
    Event,
    Highest,
    IndicatorSpec,
    KeyValueStore,
    Level,
    Lowest,
    Macd,
    Outcome,
    Rsi,
    Side,
    Signal,
    SignalKind,
    Sma,
    StrategyContext,
    Vwap,
)

from garrison_scalp.combos import ComboBook, ComboRules, Sample, combo_id, combo_key
from garrison_scalp.gates import hard_gate_failures, pro_rule_failures
from garrison_scalp.indicators import BucketEma, OpeningRange
from garrison_scalp.params import ProRules, ScalpParams, timeframe_ms
from garrison_scalp.setups import (
    PATTERN_CODES,
    SETUP_CODES,
    Bar,
    Setup,
    detect,
    read_bar,
    screen_mask,
    stop_for,
)

_NOTHING: tuple[Signal, ...] = ()

#: The ``path`` feature: how the execution gate let the signal through (0: it did not).
PATH_PHANTOM, PATH_COMBO, PATH_PRO_RULES = 0.0, 1.0, 2.0
_PATH_NAMES = {PATH_PHANTOM: "phantom", PATH_COMBO: "combo", PATH_PRO_RULES: "pro_rules"}
_DAY_MS = 86_400_000


def build_indicators(p: ScalpParams) -> dict[str, IndicatorSpec]:
    """Every indicator the scalper reads on its decision series."""
    session_ms = p.vwap_session_hours * 3_600_000
    offset_ms = p.vwap_session_offset_minutes * 60_000
    range_ms = p.orb_minutes * 60_000
    trend_ms = timeframe_ms(p.trend_timeframe)
    finest = min(timeframe_ms(tf) for tf in p.timeframes)
    macd = (p.macd_fast, p.macd_slow, p.macd_signal)
    return {
        "rsi": Rsi(p.rsi_period),
        "macd_hist": Macd(*macd, output="hist"),
        "bb_width": Bollinger(p.bb_period, p.bb_k, "width"),
        "atr": Atr(p.atr_period),
        "vwap": Vwap(session_ms, offset_ms),
        "vol_sma": Sma("volume", p.volume_period),
        "ema_fast": Ema("close", p.ema_fast),
        "ema_slow": Ema("close", p.ema_slow),
        "swing_high": Highest("high", p.fib_lookback),
        "swing_low": Lowest("low", p.fib_lookback),
        "or_high": OpeningRange(session_ms, offset_ms, range_ms, "high"),
        "or_low": OpeningRange(session_ms, offset_ms, range_ms, "low"),
        "prev_close": Highest("close", 1, offset=1),
        "trend_fast": BucketEma(trend_ms, p.trend_ema_fast, finest),
        "trend_slow": BucketEma(trend_ms, p.trend_ema_slow, finest),
    }


class ScalpStrategy:
    """VWAP pullback and opening-range continuation with a two-path execution gate."""

    Params: ClassVar[type[ScalpParams]] = ScalpParams

    def __init__(self, params: ScalpParams | None = None) -> None:
        self.params = p = params if params is not None else ScalpParams()
        self.indicators: Mapping[str, IndicatorSpec] = build_indicators(p)
        self.warmup: int = max(spec.warmup for spec in self.indicators.values())
        self.timeframes: tuple[str, ...] = tuple(p.timeframes)
        self._bar_ms = {tf: timeframe_ms(tf) for tf in p.timeframes}
        self._horizon_ms = {
            tf: (None if p.phantom_horizon_bars is None else p.phantom_horizon_bars * ms)
            for tf, ms in self._bar_ms.items()
        }
        self._rules_cache: dict[str, ProRules] = {}
        self._combo_rules = ComboRules(
            window_ms=round(p.combo_window_days * _DAY_MS),
            enable_lb=p.combo_enable_wr_lb,
            disable_lb=p.combo_disable_wr_lb,
            min_samples=p.combo_min_samples,
            z=p.wilson_z,
        )
        self.combos = ComboBook(self._combo_rules)
        self._services: ComponentServices | None = None
        self._rewound = False
        #: Signals emitted per gate path (``combo``, ``pro_rules``, ``phantom``).
        self.path_counts = {"combo": 0, "pro_rules": 0, "phantom": 0}

    # -- lifecycle ---------------------------------------------------------

    def start(self, services: ComponentServices) -> None:
        """Restore the combos from the strategy's own store."""
        self._services = services
        self._attach(services.storage)

    def _attach(self, store: KeyValueStore) -> None:
        self.combos = ComboBook(self._combo_rules, store)
        self._rewound = False

    def stop(self) -> None:
        """Say how many signals took each path (an event; the combos are already stored)."""
        services = self._services
        if services is None:
            return
        counts = self.path_counts
        services.emit(
            Event(
                ts=services.clock.now_ms(),
                kind="scalp.summary",
                message=(
                    f"scalp {services.name}: {counts['combo']} signals through combos, "
                    f"{counts['pro_rules']} through pro rules, {counts['phantom']} phantom only; "
                    f"{len(self.combos.keys())} combos known"
                ),
                source=services.name,
                data={**counts, "combos": len(self.combos.keys())},
            )
        )

    def _rewind_once(self, now: int) -> None:
        # Outcomes a former run stored after this run's first instant are its future.
        if not self._rewound:
            self._rewound = True
            self.combos.forget_after(now)

    # -- decisions ---------------------------------------------------------

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """A signal when a setup passes the signal-level gates; ``execute`` says if it trades."""
        bar = read_bar(candle, ctx.indicators(candle.symbol))
        if bar is None:
            return _NOTHING
        setup = detect(bar, self.params)
        if setup is None:
            return _NOTHING
        now = candle.ts + self._bar_ms[candle.timeframe]
        self._rewind_once(now)
        return (self._signal(candle, bar, setup, now, ctx),)

    def _signal(
        self, candle: Candle, bar: Bar, setup: Setup, now: int, ctx: StrategyContext
    ) -> Signal:
        p = self.params
        side = setup.side
        entry = candle.close
        stop = stop_for(bar, side, p)
        risk = abs(entry - stop)
        take_profit = entry + side.sign * p.rr * risk
        features = {
            "rsi": bar.rsi,
            "macd_hist": bar.macd_hist,
            "vwap_dist_atr": bar.vwap_dist_atr,
            "fib": bar.fib(side),
            "volume_ratio": bar.volume_ratio,
            "bb_width": bar.bb_width,
            "atr": bar.atr,
            "atr_pct": bar.atr_pct,
            "upper_wick": bar.upper_wick,
            "lower_wick": bar.lower_wick,
            "body": bar.body,
            "ema_fast": bar.ema_fast,
            "ema_slow": bar.ema_slow,
            "trend": float(bar.trend),
            "setup": SETUP_CODES[setup.kind],
            "pattern": PATTERN_CODES[setup.pattern],
        }
        combo = combo_id(features)
        key = combo_key(side, combo)
        path, why = self._gate(candle.symbol, bar, side, key, now, ctx)
        features["path"] = path
        features["combo_wr_lb"] = self.combos.stats(key, now).wr_lb
        self.path_counts[_PATH_NAMES[path]] += 1
        reason = f"scalp {setup.kind}_{setup.pattern} {side.value} [{combo}] {why}"
        return Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.ENTRY,
            entry=entry,
            stop=stop,
            take_profit=take_profit,
            reason=reason,
            features=features,
            bracket_from_fill=True,
            execute=path != PATH_PHANTOM,
            horizon_ms=self._horizon_ms[candle.timeframe],
        )

    def _gate(
        self, symbol: str, bar: Bar, side: Side, key: str, now: int, ctx: StrategyContext
    ) -> tuple[float, str]:
        """The execution path and a few words on why (failed rule names for a phantom)."""
        p = self.params
        if ctx.position(symbol) is not None:
            return PATH_PHANTOM, "phantom: position open"
        hard = hard_gate_failures(bar, p)
        if hard:
            return PATH_PHANTOM, f"phantom: hard gates failed ({', '.join(hard)})"
        if p.combos_enabled and self.combos.is_enabled(key, now):
            return PATH_COMBO, "via combo"
        if not p.pro_rules_enabled:
            return PATH_PHANTOM, "phantom: combo not enabled, pro rules off"
        failed = pro_rule_failures(bar, side, self._rules(symbol))
        if failed:
            return (
                PATH_PHANTOM,
                f"phantom: combo not enabled, pro rules failed ({', '.join(failed)})",
            )
        return PATH_PRO_RULES, "via pro rules"

    def _rules(self, symbol: str) -> ProRules:
        rules = self._rules_cache.get(symbol)
        if rules is None:
            rules = self._rules_cache[symbol] = self.params.rules_for(symbol)
        return rules

    def screen(self, columns: Columns) -> BarMask:
        """Bars where a setup passes the signal-level gates (any position state)."""
        return screen_mask(columns, self.params)

    # -- learning ----------------------------------------------------------

    def on_outcome(self, outcome: Outcome) -> None:
        """Count a resolved signal (traded or phantom) towards its combo."""
        signal = outcome.signal
        features = signal.features
        if not all(name in features for name in ("rsi", "macd_hist", "vwap_dist_atr", "fib")):
            return  # not a signal of this strategy's making
        r = outcome.r_multiple
        if not math.isfinite(r):
            return
        self._rewind_once(outcome.closed_ts)
        key = combo_key(signal.side, combo_id(features))
        # The signal's own identity (not the journal's id): a replay resumed or run
        # again over the same store must not count one signal twice.
        ident = f"{signal.symbol}|{signal.ts}|{signal.side.value}"
        before = self.combos.stats(key, outcome.closed_ts).enabled
        stats = self.combos.record(key, Sample(outcome.closed_ts, outcome.won, r, ident))
        if stats is not None and stats.enabled != before and self._services is not None:
            state = "enabled" if stats.enabled else "disabled"
            self._services.emit(
                Event(
                    ts=outcome.closed_ts,
                    kind=f"scalp.combo_{state}",
                    message=(
                        f"combo {key} {state}: Wilson lower bound {stats.wr_lb:.3f} over "
                        f"{stats.samples} outcomes ({stats.wins} won), mean {stats.ev_r:+.2f} R"
                    ),
                    level=Level.INFO,
                    source=self._services.name,
                    data={
                        "combo": key,
                        "enabled": stats.enabled,
                        "wr_lb": stats.wr_lb,
                        "samples": stats.samples,
                        "wins": stats.wins,
                        "ev_r": stats.ev_r,
                    },
                )
            )
