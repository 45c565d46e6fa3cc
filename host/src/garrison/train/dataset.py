"""A labelled set from one run of the journal: each entry signal's features and its outcome.

A row is an entry signal of one strategy use, opened in ``[start, end)``,
whose outcome the journal holds (traded or phantom); its label is 1 for a
win (``r_multiple > 0``). Rows come in signal time order (then signal id):
a trainer splits them by time, never shuffling across it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from garrison.journal.reader import JournalReader


class TrainDataError(ValueError):
    """The journal holds no usable labelled set for what was asked; the message says why."""


@attrs.frozen
class Labelled:
    """The rows of one run: features in ``names`` order, label, signal time, and counts."""

    run_id: str
    names: tuple[str, ...]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    #: Entry signals with an outcome in the window that lacked one of ``names``.
    skipped: int


_ROWS = (
    "SELECT s.id, s.ts, s.features, p.r_multiple FROM signals s "
    "JOIN phantoms p ON p.run_id = s.run_id AND p.signal_id = s.id "
    "WHERE s.run_id = ? AND s.strategy = ? AND s.kind = 'entry' AND s.ts >= ? AND s.ts < ? "
    "ORDER BY s.ts, CAST(s.id AS INTEGER)"
)

_LATEST_RUN = (
    "SELECT r.id FROM runs r WHERE EXISTS (SELECT 1 FROM signals s JOIN phantoms p "
    "ON p.run_id = s.run_id AND p.signal_id = s.id WHERE s.run_id = r.id AND s.strategy = ?) "
    "ORDER BY r.started_ms DESC, r.id DESC LIMIT 1"
)


def labelled_set(
    journal: Path,
    strategy: str,
    start_ms: int,
    end_ms: int,
    *,
    run_id: str | None = None,
    features: Sequence[str] | None = None,
) -> Labelled:
    """The labelled set of ``strategy`` in ``run_id`` (default: the latest run that has one).

    ``features`` picks the columns and their order; by default every feature
    name of the window's first signal, sorted.
    """
    JournalReader.open_readonly(journal).close_reader()  # refuses an old or foreign file
    conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if run_id is None:
            row = conn.execute(_LATEST_RUN, (strategy,)).fetchone()
            if row is None:
                raise TrainDataError(
                    f"{journal}: no run has outcomes of strategy {strategy!r} (is it the "
                    "strategy's use name in the profile?)"
                )
            run_id = str(row[0])
        rows = conn.execute(_ROWS, (run_id, strategy, start_ms, end_ms)).fetchall()
    finally:
        conn.close()
    if not rows:
        raise TrainDataError(
            f"{journal}: run {run_id} has no entry signal of {strategy!r} with an outcome "
            f"between {start_ms} and {end_ms}"
        )
    decoded = [(int(ts), json.loads(text or "{}"), float(r)) for _id, ts, text, r in rows]
    names = tuple(features) if features else tuple(sorted(decoded[0][1]))
    if not names:
        raise TrainDataError(f"the signals of {strategy!r} carry no features to train on")
    x: list[list[float]] = []
    y: list[int] = []
    ts: list[int] = []
    skipped = 0
    for when, values, r in decoded:
        if any(name not in values for name in names):
            skipped += 1
            continue
        # JSON has no NaN: the journal writes it as null; XGBoost reads NaN as missing.
        x.append([math.nan if values[n] is None else float(values[n]) for n in names])
        y.append(1 if r > 0 else 0)
        ts.append(when)
    if not y:
        raise TrainDataError(
            f"none of the {len(decoded)} signals of {strategy!r} carries every feature of "
            f"{', '.join(names)}"
        )
    return Labelled(
        run_id=run_id,
        names=names,
        x=np.asarray(x, dtype=np.float32),
        y=np.asarray(y, dtype=np.int64),
        ts=np.asarray(ts, dtype=np.int64),
        skipped=skipped,
    )
