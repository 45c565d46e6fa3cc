"""garrison-turtle: classic Turtle System 1 and System 2 breakouts, and the 19-rule Turtle set."""

from garrison_turtle.params import SYSTEM_PERIODS, TurtleParams
from garrison_turtle.regime import RegimeIndicator
from garrison_turtle.rules import REFERENCE_RULES, Regime, Rule, RuleKind, VolatilityRegime
from garrison_turtle.rules_params import RuleSetting, TurtleRulesParams
from garrison_turtle.rules_strategy import FEATURE_NAMES, TurtleRulesStrategy
from garrison_turtle.strategy import TurtleStrategy

__version__ = "0.2.0"

__all__ = [
    "FEATURE_NAMES",
    "REFERENCE_RULES",
    "SYSTEM_PERIODS",
    "Regime",
    "RegimeIndicator",
    "Rule",
    "RuleKind",
    "RuleSetting",
    "TurtleParams",
    "TurtleRulesParams",
    "TurtleRulesStrategy",
    "TurtleStrategy",
    "VolatilityRegime",
    "__version__",
]
