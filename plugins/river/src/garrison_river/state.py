"""The scorer's saved state: one blob carrying its version id and checksum.

Layout: a first line ``garrison-river-state``, a JSON header line, then the
pickled model. The header holds the format, the version id (``v<outcomes
learned>``), the model kind, the feature list and the SHA-256 of the pickled
bytes; :func:`decode` refuses a blob whose bytes do not match it. One blob,
written in one transaction, so a crash can never leave a header that
describes another model.

Pickle runs code when loaded: the blob comes only from the component's own
namespace in the host's journal, which is as trusted as the host itself.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any

import attrs

MAGIC = b"garrison-river-state\n"
FORMAT = 1


class StateError(ValueError):
    """A saved state that cannot be restored, with the reason."""


@attrs.frozen
class SavedState:
    """A restored model and what its header said about it."""

    model: Any
    version: str
    learned: int
    kind: str
    features: tuple[str, ...] | None
    strategies: tuple[str, ...]


def encode(
    model: object,
    *,
    learned: int,
    kind: str,
    features: tuple[str, ...] | None,
    strategies: tuple[str, ...],
) -> bytes:
    """The blob for ``model`` after ``learned`` outcomes."""
    payload = pickle.dumps(model, protocol=5)
    header = {
        "format": FORMAT,
        "version": version_id(learned),
        "learned": learned,
        "model": kind,
        "features": None if features is None else list(features),
        "strategies": list(strategies),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def version_id(learned: int) -> str:
    """The version id of the state after ``learned`` outcomes."""
    return f"v{learned}"


def decode(blob: bytes, where: str) -> SavedState:
    """The state in ``blob``; StateError naming ``where`` when it is not a sound one."""
    if not blob.startswith(MAGIC):
        raise StateError(f"{where} is not a garrison-river state (no {MAGIC.strip()!r} line)")
    head, sep, payload = blob[len(MAGIC) :].partition(b"\n")
    if not sep:
        raise StateError(f"{where}: the state has no header line")
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise StateError(f"{where}: the header is not JSON: {exc}") from exc
    if header.get("format") != FORMAT:
        raise StateError(
            f"{where}: state format {header.get('format')!r}; this garrison-river reads {FORMAT}"
        )
    digest = hashlib.sha256(payload).hexdigest()
    if digest != header.get("sha256"):
        raise StateError(
            f"{where}: checksum mismatch (header {header.get('sha256')!r}, bytes {digest}): "
            "the saved model is damaged; delete it to start afresh"
        )
    model = pickle.loads(payload)  # checked against the header's checksum first
    features = header.get("features")
    return SavedState(
        model=model,
        version=str(header["version"]),
        learned=int(header["learned"]),
        kind=str(header["model"]),
        features=None if features is None else tuple(features),
        strategies=tuple(header.get("strategies", ())),
    )
