"""garrison-api: the one package a Garrison plugin imports.

It holds the contract between the host and its plugins: frozen value types
(:mod:`garrison_api.types`), component protocols
(:mod:`garrison_api.components`), indicator specs
(:mod:`garrison_api.indicators`), the registry and pluggy hooks
(:mod:`garrison_api.registry`, :mod:`garrison_api.hookspecs`) and a test kit
(:mod:`garrison_api.testing`). ``__version__`` is the contract's version:
additive changes only within a major version.
"""

from garrison_api.components import (
    COMPONENT_KINDS,
    BarMask,
    BlobStore,
    Clock,
    Columns,
    ComponentServices,
    FeatureScorer,
    KeyValueStore,
    Lifecycle,
    Notifier,
    OutcomeAware,
    RiskRule,
    Scorer,
    ScreenedStrategy,
    Sizer,
    Strategy,
    StrategyContext,
    component_params,
)
from garrison_api.hookspecs import PROJECT_NAME, hookimpl, hookspec
from garrison_api.indicators import Atr, Ema, Highest, IndicatorSpec, Lowest, Sma
from garrison_api.registry import ComponentEntry, DuplicateComponentError, Registry
from garrison_api.types import (
    AccountState,
    Candle,
    Event,
    ExitReason,
    Fill,
    Level,
    Market,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Outcome,
    Position,
    Scalar,
    Score,
    Side,
    Signal,
    SignalKind,
    Trade,
    TradingState,
    Veto,
)

__version__ = "1.1.0"

__all__ = [
    "COMPONENT_KINDS",
    "PROJECT_NAME",
    "AccountState",
    "Atr",
    "BarMask",
    "BlobStore",
    "Candle",
    "Clock",
    "Columns",
    "ComponentEntry",
    "ComponentServices",
    "DuplicateComponentError",
    "Ema",
    "Event",
    "ExitReason",
    "FeatureScorer",
    "Fill",
    "Highest",
    "IndicatorSpec",
    "KeyValueStore",
    "Level",
    "Lifecycle",
    "Lowest",
    "Market",
    "Notifier",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Outcome",
    "OutcomeAware",
    "Position",
    "Registry",
    "RiskRule",
    "Scalar",
    "Score",
    "Scorer",
    "ScreenedStrategy",
    "Side",
    "Signal",
    "SignalKind",
    "Sizer",
    "Sma",
    "Strategy",
    "StrategyContext",
    "Trade",
    "TradingState",
    "Veto",
    "__version__",
    "component_params",
    "hookimpl",
    "hookspec",
]
