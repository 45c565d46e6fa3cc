"""Restart state: what the engine must carry over a restart, as a JSON-able checkpoint.

Every journal commit carries a checkpoint taken at the end of a step (see
:mod:`garrison.engine.commit`), so the committed journal always holds a state
the host can carry on from: the ledger's books and trading state, the
positions with the signals that opened them, the venue's resting brackets
and unfilled orders, open phantoms, id sequences and quarantined plugins.
This module turns the API value types inside it into plain data and back
(cattrs), and checks the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs
from garrison_api import Order, OrderIntent, Position, Signal

from garrison.engine.phantoms import Phantom, phantom_fields

#: Version of the checkpoint layout; a restart refuses another.
STATE_VERSION = 1


class StateError(ValueError):
    """A checkpoint that cannot be restored; the message says what is wrong with it."""


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    # Mappings in the value types are read-only proxies; plain dicts in JSON.
    converter.register_unstructure_hook(
        Mapping, lambda value: {str(k): v for k, v in value.items()}
    )
    return converter


class StateCodec:
    """Unstructures and structures the value types a checkpoint holds."""

    def __init__(self) -> None:
        self._c = _converter()

    def signal(self, signal: Signal) -> dict[str, Any]:
        return self._c.unstructure(signal, Signal)  # type: ignore[no-any-return]

    def to_signal(self, data: Any) -> Signal:
        return self._c.structure(data, Signal)

    def position(self, position: Position) -> dict[str, Any]:
        return self._c.unstructure(position, Position)  # type: ignore[no-any-return]

    def to_position(self, data: Any) -> Position:
        return self._c.structure(data, Position)

    def intent(self, intent: OrderIntent) -> dict[str, Any]:
        return self._c.unstructure(intent, OrderIntent)  # type: ignore[no-any-return]

    def to_intent(self, data: Any) -> OrderIntent:
        return self._c.structure(data, OrderIntent)

    def order(self, order: Order) -> dict[str, Any]:
        return self._c.unstructure(order, Order)  # type: ignore[no-any-return]

    def to_order(self, data: Any) -> Order:
        return self._c.structure(data, Order)

    def phantom(self, phantom: Phantom) -> dict[str, Any]:
        return {**phantom_fields(phantom), "signal": self.signal(phantom.signal)}

    def to_phantom(self, data: Mapping[str, Any]) -> Phantom:
        fields = dict(data)
        signal = self.to_signal(fields.pop("signal"))
        return Phantom(signal=signal, **fields)

    def plain(self, value: Any) -> Any:
        """Positions and other value types nested in ``value``, as plain data."""
        return self._c.unstructure(value)


def check_version(state: Mapping[str, Any], where: str) -> None:
    """Refuse a checkpoint written by another layout version."""
    version = state.get("version")
    if version != STATE_VERSION:
        raise StateError(
            f"{where}: checkpoint layout v{version!r} cannot be restored by this garrison "
            f"(it reads v{STATE_VERSION}); start a fresh run"
        )
