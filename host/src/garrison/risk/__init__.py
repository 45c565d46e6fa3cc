"""The risk veto chain and the host's own risk rules.

``RiskChain`` runs every rule on every order intent and returns all vetoes;
``garrison.risk.plugin`` is the host's built-in plugin that registers the
rules in ``HOST_RULES``; ``DEFAULT_RISK_CHAIN`` is the order used when a
profile lists no ``[[risk]]`` rules.
"""

from garrison.risk.chain import ErrorCallback, RiskChain, default_chain
from garrison.risk.defaults import DAY_MS, DEFAULT_RISK_CHAIN, next_utc_midnight_ms
from garrison.risk.rules import (
    HOST_RULES,
    DailyLossLimit,
    ExchangeMinimums,
    FreeMargin,
    KillSwitch,
    MaxDrawdown,
    MaxNotional,
    MaxOpenPositions,
    OnePositionPerSymbol,
    SameDirectionExposure,
    StopDistance,
    TradingStateRule,
)

__all__ = [
    "DAY_MS",
    "DEFAULT_RISK_CHAIN",
    "HOST_RULES",
    "DailyLossLimit",
    "ErrorCallback",
    "ExchangeMinimums",
    "FreeMargin",
    "KillSwitch",
    "MaxDrawdown",
    "MaxNotional",
    "MaxOpenPositions",
    "OnePositionPerSymbol",
    "RiskChain",
    "SameDirectionExposure",
    "StopDistance",
    "TradingStateRule",
    "default_chain",
    "next_utc_midnight_ms",
]
