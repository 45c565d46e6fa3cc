"""A local fake exchange: recorded candles as the market, Bybit/Binance REST and websockets.

``garrison fake-exchange`` serves it from the command line; tests and
benches use :func:`running_fake`. See :mod:`garrison.fakex.server`.
"""

from __future__ import annotations

from garrison.fakex.account import FakeError
from garrison.fakex.faults import Faults
from garrison.fakex.server import FakeExchange, running_fake
from garrison.fakex.tape import MarketTape

__all__ = ["FakeError", "FakeExchange", "Faults", "MarketTape", "running_fake"]
