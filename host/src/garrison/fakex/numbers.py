"""Numbers as venues print them in JSON payloads: plain decimal strings, no exponent."""

from __future__ import annotations

import numpy as np


def num(x: float) -> str:
    """Shortest decimal string that reads back as ``x`` (``1e-05`` -> ``"0.00001"``).

    Whole numbers print without a fraction (``"27450"``), as venues do.
    """
    if x == 0:
        return "0"
    text = repr(float(x))
    if "e" in text or "E" in text:
        text = np.format_float_positional(float(x), trim="-")
    if text.endswith(".0"):
        text = text[:-2]
    return text
