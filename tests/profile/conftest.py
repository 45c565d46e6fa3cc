"""Test components and fixtures for the profile tests.

The components are tiny stand-ins with attrs ``Params`` like a real plugin's,
so these tests do not depend on any real plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import attrs
import pytest
from garrison.profile.load import parse_profile
from garrison.profile.model import Profile
from garrison_api import Registry

#: The file name every parsed test profile claims to come from.
SOURCE = Path("configs/test.toml")

#: The risk chain used when a test profile has no [[risk]] array.
TEST_DEFAULT_CHAIN = ("trading_state", "one_position_per_symbol")

#: The smallest valid profile for the test registry.
MINIMAL = """\
[profile]
name = "t"

[data]
paths = ["data/*.csv.gz"]

[[strategies]]
use = "breakout"

[sizer]
use = "fixed_risk"
"""

#: A profile that sets every section and uses every test component.
FULL = """\
[profile]
name = "bybit-main"
mode = "paper"
exchange = "binance"
network = "demo"

[account]
starting_balance = 2500
leverage = 3

[data]
source = "csv"
paths = ["data/binance_*_5m.csv.gz", "more/*.csv"]
symbols = ["BTCUSDT", "ETHUSDT"]
timeframe = "5m"
start = "2024-01-01"
end = 2024-02-01T12:00:00Z

[markets]
snapshot = "binance_usdm"

[markets.overrides.BTCUSDT]
tick_size = 0.1
min_qty = 0.001

[exchange]
symbols = ["BTCUSDT", "ETHUSDT"]
timeframes = ["5m"]
rest_url = "http://127.0.0.1:8802"
ws_url = "ws://127.0.0.1:8802"
reconcile_s = 15
unknown_positions = "flatten"

[broker]
slippage_bps = 2.5
taker_fee = 0.0005
maker_fee = 0.0
both_touched = "take_profit_first"

[journal]
path = "runs/main.sqlite"
synchronous = "full"
retention_days = 7

[engine]
max_plugin_failures = 5
notifier_timeout_s = 2.5
equity_interval_minutes = 15
phantom_max_bars = 100
plugin_call_budget_ms = 250
notifier_queue_size = 50

[credentials]
api_key_env = "BINANCE_API_KEY"
api_secret_env = "BINANCE_API_SECRET"

[[strategies]]
use = "breakout"
name = "fast"
symbols = ["BTCUSDT"]
[strategies.params]
entry_period = 10
exit_period = 5
system = 2
direction = "long"
use_filter = false
weights = [0.25, 1]

[[strategies]]
use = "breakout"
name = "slow"

[[strategies]]
use = "needs_params"
[strategies.params]
lookback = 50
band = { low = -1, high = 2.5 }

[scorer]
use = "constant"
mode = "shadow"
threshold = 0.6
params = { value = 0.7 }

[sizer]
use = "fixed_risk"
name = "risk-1pct"
params = { risk_pct = 0.5, max_usd = 200 }

[[risk]]
use = "max_open_positions"
params = { limit = 2 }

[[risk]]
use = "one_position_per_symbol"

[[notifiers]]
use = "log"
params = { level = "debug" }

[[notifiers]]
use = "telegram"
name = "ops"
[notifiers.params]
bot_token_env = "OPS_BOT_TOKEN"
chat_ids = [1, 2]
"""


def _at_least(bound: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value < bound:
            raise ValueError(f"{attribute.name} must be >= {bound}, got {value!r}")

    return check


class Breakout:
    """A strategy with a few kinds of params, a validator and a cross-field check."""

    @attrs.frozen
    class Params:
        entry_period: int = attrs.field(default=20, validator=_at_least(2))
        exit_period: int = 10
        system: Literal[1, 2] = 1
        direction: Literal["long", "short", "both"] = "both"
        use_filter: bool = True
        weights: tuple[float, ...] = (1.0, 0.5)

        def __attrs_post_init__(self) -> None:
            if self.exit_period >= self.entry_period:
                raise ValueError(
                    f"exit_period ({self.exit_period}) must be smaller than "
                    f"entry_period ({self.entry_period})"
                )

    def __init__(self, params: Params) -> None:
        self.params = params


@attrs.frozen
class Band:
    """A nested params table."""

    low: float = 0.0
    high: float = 1.0


class NeedsParams:
    """A strategy whose Params has a required field and a nested table."""

    @attrs.frozen
    class Params:
        lookback: int
        band: Band = attrs.Factory(Band)


class Constant:
    """A scorer."""

    @attrs.frozen
    class Params:
        value: float = 0.5


class FixedRisk:
    """A sizer."""

    @attrs.frozen
    class Params:
        risk_pct: float = 1.0
        max_usd: float | None = None


class TradingState:
    """The risk rule every chain holds."""

    @attrs.frozen
    class Params:
        pass


class OnePositionPerSymbol:
    @attrs.frozen
    class Params:
        pass


class MaxOpenPositions:
    @attrs.frozen
    class Params:
        limit: int = attrs.field(default=5, validator=_at_least(1))


class LogNotifier:
    @attrs.frozen
    class Params:
        level: Literal["debug", "info", "warning"] = "info"


class Telegram:
    @attrs.frozen
    class Params:
        bot_token_env: str = "TELEGRAM_BOT_TOKEN"
        chat_ids: tuple[int, ...] = ()


def make_registry() -> Registry:
    """A registry holding every test component."""
    registry = Registry().for_plugin("tests")
    registry.add_strategy("breakout", Breakout)
    registry.add_strategy("needs_params", NeedsParams)
    registry.add_scorer("constant", Constant)
    registry.add_sizer("fixed_risk", FixedRisk)
    registry.add_risk_rule("trading_state", TradingState)
    registry.add_risk_rule("one_position_per_symbol", OnePositionPerSymbol)
    registry.add_risk_rule("max_open_positions", MaxOpenPositions)
    registry.add_notifier("log", LogNotifier)
    registry.add_notifier("telegram", Telegram)
    return registry


@pytest.fixture
def minimal() -> str:
    """The text of the smallest valid profile."""
    return MINIMAL


@pytest.fixture
def full() -> str:
    """The text of a profile that sets everything."""
    return FULL


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def parse(registry: Registry) -> Callable[[str], Profile]:
    """Parse profile text with the test registry and the test default risk chain."""

    def run(text: str) -> Profile:
        return parse_profile(text, SOURCE, registry, default_risk_chain=TEST_DEFAULT_CHAIN)

    return run
