"""Check that an indicator's two paths agree: vectorised ``compute`` and its bar-by-bar updater.

A replay may take an indicator's values from ``compute`` over the whole
series while a live run feeds its updater one candle at a time; a strategy
must see the same numbers either way. :func:`check_indicator_parity` runs both
over real candles and also checks that ``compute`` does not look ahead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from garrison_api.indicators import FloatArray, IndicatorSpec, compute
from garrison_api.testing.columns import candle_columns
from garrison_api.testing.incremental import make_updater
from garrison_api.types import Candle

#: How many prefixes of the series the look-ahead check recomputes.
_CUTS = 4


@attrs.frozen
class IndicatorParityReport:
    """What :func:`check_indicator_parity` found; :attr:`ok` when nothing is wrong.

    - ``mismatches``: bars where the updater's value differs from ``compute``'s
      (beyond the tolerance, or ``nan`` on one side only); ``first_mismatch``
      is the first of them, with ``vectorised_value`` and ``incremental_value``
      the two values there;
    - ``first_value``: the index of ``compute``'s first non-``nan`` value
      (``None`` if it has none); it must equal ``warmup`` when the series is
      longer than ``warmup``;
    - ``lookahead_cut``: a prefix length over which ``compute`` gave a
      different value than over the whole series at bar ``lookahead_index``
      (``prefix_value`` vs ``full_value``), i.e. it read later bars.
    """

    spec: str
    bars: int
    tolerance: float
    warmup: int
    first_value: int | None
    mismatches: int
    first_mismatch: int | None = None
    vectorised_value: float | None = None
    incremental_value: float | None = None
    lookahead_cut: int | None = None
    lookahead_index: int | None = None
    prefix_value: float | None = None
    full_value: float | None = None

    @property
    def warmup_ok(self) -> bool:
        """Whether ``warmup`` is the index of the first value (vacuous on too short a series)."""
        if self.bars <= self.warmup:
            return self.first_value is None
        return self.first_value == self.warmup

    @property
    def ok(self) -> bool:
        """True when the two paths agree, the warm-up is right and nothing looks ahead."""
        return self.mismatches == 0 and self.warmup_ok and self.lookahead_cut is None

    def describe(self) -> str:
        """A readable account of the check, one finding per line."""
        lines = [
            f"{self.spec} over {self.bars} bars (tolerance {self.tolerance:g}): "
            + ("ok" if self.ok else "FAILED")
        ]
        if self.mismatches:
            lines.append(
                f"  incremental differs from compute on {self.mismatches} bars; first at bar "
                f"{self.first_mismatch}: compute {self.vectorised_value!r}, "
                f"updater {self.incremental_value!r}"
            )
        if not self.warmup_ok:
            lines.append(
                f"  warmup is {self.warmup} but the first value is at bar {self.first_value}"
            )
        if self.lookahead_cut is not None:
            lines.append(
                f"  compute looks ahead: over the first {self.lookahead_cut} bars it gives "
                f"{self.prefix_value!r} at bar {self.lookahead_index}, over the whole series "
                f"{self.full_value!r}"
            )
        return "\n".join(lines)


def _differs(expected: FloatArray, got: FloatArray, tolerance: float) -> npt.NDArray[np.bool_]:
    """Per bar: True where the values differ beyond ``tolerance`` or only one is nan."""
    nan_expected, nan_got = np.isnan(expected), np.isnan(got)
    with np.errstate(invalid="ignore"):
        close = np.abs(got - expected) <= tolerance + tolerance * np.abs(expected)
    both_nan = nan_expected & nan_got
    return ~(both_nan | (close & ~nan_expected & ~nan_got))


def _cut_points(bars: int, warmup: int) -> list[int]:
    """Prefix lengths to recompute: just past the warm-up, then spread over the series."""
    if bars < 2:
        return []
    cuts = {min(bars - 1, warmup + 1)}
    cuts.update(round(bars * (i + 1) / (_CUTS + 1)) for i in range(_CUTS - 1))
    return sorted(c for c in cuts if 1 <= c < bars)


def check_indicator_parity(
    spec: IndicatorSpec, candles: Sequence[Candle], *, tolerance: float = 1e-9
) -> IndicatorParityReport:
    """Compare ``compute(spec, ...)`` over the whole series with its updater fed bar by bar.

    ``candles`` are one symbol's consecutive closed candles (real ones, e.g.
    from :func:`~garrison_api.testing.candles_from_csv`). Values agree when
    ``|a − b| <= tolerance·(1 + |a|)`` and ``nan`` falls on the same bars. It
    also checks that the first value is at bar ``spec.warmup`` and that
    ``compute`` over a few prefixes of the series gives the same values as over
    the whole (a look-ahead would not). Works for built-in specs and
    :class:`~garrison_api.indicators.CustomIndicator` alike::

        report = check_indicator_parity(MyIndicator(10), candles)
        assert report.ok, report.describe()
    """
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number of 0 or more, got {tolerance!r}")
    try:
        hash(spec)
    except TypeError:
        raise TypeError(
            f"{spec!r} is not hashable; make it a frozen attrs class (the host keys "
            "indicator states by spec)"
        ) from None
    warmup = spec.warmup
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"{spec!r}: warmup must be a whole number of 0 or more, got {warmup!r}")
    columns = candle_columns(candles)
    full = compute(spec, columns)
    updater = make_updater(spec)
    incremental = np.array([float(updater.update(c)) for c in candles], dtype=np.float64)

    found = np.flatnonzero(_differs(full, incremental, tolerance))
    values = np.flatnonzero(~np.isnan(full))
    fields: dict[str, object] = {}
    if found.size:
        first = int(found[0])
        fields.update(
            first_mismatch=first,
            vectorised_value=float(full[first]),
            incremental_value=float(incremental[first]),
        )
    for cut in _cut_points(len(candles), warmup):
        prefix = compute(spec, {name: column[:cut] for name, column in columns.items()})
        ahead = np.flatnonzero(_differs(full[:cut], prefix, tolerance))
        if ahead.size:
            at = int(ahead[0])
            fields.update(
                lookahead_cut=cut,
                lookahead_index=at,
                prefix_value=float(prefix[at]),
                full_value=float(full[at]),
            )
            break
    return IndicatorParityReport(
        spec=repr(spec),
        bars=len(candles),
        tolerance=tolerance,
        warmup=warmup,
        first_value=int(values[0]) if values.size else None,
        mismatches=int(found.size),
        **fields,  # type: ignore[arg-type]
    )
