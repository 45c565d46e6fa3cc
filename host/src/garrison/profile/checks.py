"""Checks beyond types: ranges, data sources, timeframes, dates.

Each function looks at one structured section and returns its problems;
none raises, so that every problem of a profile is reported in one pass.
"""

from __future__ import annotations

import attrs

from garrison.follow.address import masked, url_problem
from garrison.profile.dates import iso_to_ms
from garrison.profile.describe import describe_value
from garrison.profile.errors import Problem, format_path
from garrison.profile.model import (
    AccountConfig,
    BrokerConfig,
    ControlConfig,
    DataConfig,
    EngineConfig,
    ExchangeConfig,
    JournalConfig,
    MarketsConfig,
    Mode,
    PluginsConfig,
    ProfileInfo,
    RedisConfig,
)
from garrison.profile.timeframes import TIMEFRAMES, timeframe_ms


@attrs.frozen
class _Bound:
    """A numeric lower bound: ``value > low`` (strict) or ``value >= low``."""

    low: float
    strict: bool = False

    def holds(self, value: float) -> bool:
        return value > self.low if self.strict else value >= self.low

    def words(self, whole: bool) -> str:
        kind = "a whole number" if whole else "a number"
        return f"{kind} {'>' if self.strict else '>='} {self.low:g}"


def _bounded(file: str, section: str, obj: object, bounds: dict[str, _Bound]) -> list[Problem]:
    problems = []
    for field, bound in bounds.items():
        value = getattr(obj, field)
        if value is not None and not bound.holds(value):
            problems.append(
                Problem(
                    file,
                    format_path((section, field)),
                    bound.words(isinstance(value, int)),
                    describe_value(value),
                )
            )
    return problems


def check_profile_info(file: str, info: ProfileInfo) -> list[Problem]:
    """``[profile]``: a name to tell runs apart."""
    if info.name.strip():
        return []
    return [Problem(file, "profile.name", "a non-empty name", describe_value(info.name))]


def check_account(file: str, account: AccountConfig) -> list[Problem]:
    """``[account]``: a positive balance, leverage of at least 1."""
    return _bounded(
        file,
        "account",
        account,
        {"starting_balance": _Bound(0, strict=True), "leverage": _Bound(1)},
    )


def check_broker(file: str, broker: BrokerConfig) -> list[Problem]:
    """``[broker]``: fees and slippage are never negative; fees are fractions below 1."""
    problems = _bounded(
        file,
        "broker",
        broker,
        {"slippage_bps": _Bound(0), "taker_fee": _Bound(0), "maker_fee": _Bound(0)},
    )
    for field in ("taker_fee", "maker_fee"):
        value = getattr(broker, field)
        if value >= 1:
            problems.append(
                Problem(
                    file,
                    f"broker.{field}",
                    "a fraction of notional below 1 (0.00055 = 0.055 %)",
                    describe_value(value),
                )
            )
    return problems


def check_journal(file: str, journal: JournalConfig) -> list[Problem]:
    """``[journal]``: a path, and at least one day of retention."""
    problems = _bounded(file, "journal", journal, {"retention_days": _Bound(1)})
    if not journal.path.strip():
        problems.append(Problem(file, "journal.path", "a file path", describe_value(journal.path)))
    return problems


def check_plugins(file: str, plugins: PluginsConfig) -> list[Problem]:
    """``[plugins]``: every name in ``allow`` non-empty and given once."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, name in enumerate(plugins.allow or ()):
        where = f"plugins.allow[{index}]"
        if not name.strip():
            problems.append(
                Problem(file, where, "a plugin or distribution name", describe_value(name))
            )
        elif name in seen:
            problems.append(Problem(file, where, "each name once", f"{name!r} again"))
        seen.add(name)
    return problems


def check_engine(file: str, engine: EngineConfig) -> list[Problem]:
    """``[engine]``: counts, sizes and the call budget of at least 1, a positive timeout."""
    problems = _bounded(
        file,
        "engine",
        engine,
        {
            "max_plugin_failures": _Bound(1),
            "notifier_timeout_s": _Bound(0, strict=True),
            "equity_interval_minutes": _Bound(1),
            "phantom_max_bars": _Bound(1),
            "plugin_call_budget_ms": _Bound(1),
            "notifier_queue_size": _Bound(1),
        },
    )
    return [attrs.evolve(p, hint=_ENGINE_HINTS.get(p.path, p.hint)) for p in problems]


# What the less obvious [engine] keys mean, said beside a bad value.
_ENGINE_HINTS = {
    "engine.plugin_call_budget_ms": "the longest a strategy or scorer call may run, in "
    "milliseconds (e.g. plugin_call_budget_ms = 1000)",
    "engine.notifier_queue_size": "how many events may wait for each notifier before the "
    "oldest is dropped (e.g. notifier_queue_size = 1000)",
}


def check_control(file: str, control: ControlConfig) -> list[Problem]:
    """``[control]``: risk bounds are percents in (0, 100], the minimum not above the maximum."""
    problems: list[Problem] = []
    for key in ("risk_pct_min", "risk_pct_max"):
        value = getattr(control, key)
        if value is not None and not 0 < value <= 100:
            problems.append(
                Problem(
                    file,
                    f"control.{key}",
                    "a percent of equity in (0, 100]",
                    describe_value(value),
                )
            )
    low, high = control.risk_pct_min, control.risk_pct_max
    if not problems and low is not None and high is not None and low > high:
        problems.append(
            Problem(
                file,
                "control.risk_pct_min",
                f"at most control.risk_pct_max ({high:g})",
                describe_value(low),
            )
        )
    if control.socket and "\0" in control.socket:
        problems.append(
            Problem(file, "control.socket", "a file path", describe_value(control.socket))
        )
    return problems


def check_redis(file: str, redis: RedisConfig) -> list[Problem]:
    """``[redis]``: a usable address without a password, a key prefix, a sane period.

    The address is shown with any password masked: a password typed into
    the URL is refused without being echoed.
    """
    problems = _bounded(file, "redis", redis, {"every_s": _Bound(0.2)})
    if redis.url:
        why = url_problem(redis.url)
        if why is not None:
            problems.append(Problem(file, "redis.url", why, describe_value(masked(redis.url))))
    if not redis.prefix or any(c.isspace() or c == ":" for c in redis.prefix):
        problems.append(
            Problem(
                file,
                "redis.prefix",
                "a non-empty key prefix without spaces or ':'",
                describe_value(redis.prefix),
            )
        )
    if redis.password_env and not redis.url:
        problems.append(
            Problem(
                file,
                "redis.password_env",
                "set only together with redis.url",
                describe_value(redis.password_env),
            )
        )
    return problems


def check_redis_needs_control(
    file: str, redis: RedisConfig, control: ControlConfig
) -> list[Problem]:
    """A host publishes to Redis what its control channel serves: both must be on."""
    if not redis.url or control.enabled:
        return []
    return [
        Problem(
            file,
            "control.enabled",
            "true when redis.url is set (the host publishes what its control channel serves)",
            describe_value(control.enabled),
        )
    ]


def check_exchange(file: str, exchange: ExchangeConfig) -> list[Problem]:
    """``[exchange]``: known timeframes, http(s)/ws(s) addresses, positive waits and sizes."""
    problems = _bounded(
        file,
        "exchange",
        exchange,
        {
            "history_bars": _Bound(0),
            "step_wait_s": _Bound(0, strict=True),
            "stale_after": _Bound(1),
            "quiet_s": _Bound(0, strict=True),
            "reconcile_s": _Bound(1),
            "request_timeout_ms": _Bound(100),
            "symbols_per_connection": _Bound(0),
            "adopt_stop_pct": _Bound(0, strict=True),
        },
    )
    if exchange.adopt_stop_pct >= 100:
        problems.append(
            Problem(
                file,
                "exchange.adopt_stop_pct",
                "a percentage below 100 (a stop that far would never protect)",
                describe_value(exchange.adopt_stop_pct),
            )
        )
    for i, timeframe in enumerate(exchange.timeframes):
        if timeframe not in TIMEFRAMES:
            problems.append(
                Problem(
                    file,
                    f"exchange.timeframes[{i}]",
                    "one of " + ", ".join(TIMEFRAMES),
                    describe_value(timeframe),
                )
            )
    for key, schemes in (("rest_url", ("http", "https")), ("ws_url", ("ws", "wss"))):
        url = getattr(exchange, key)
        if url is not None and url.split("://", 1)[0] not in schemes:
            problems.append(
                Problem(
                    file,
                    f"exchange.{key}",
                    f"an address starting {' or '.join(s + '://' for s in schemes)}",
                    describe_value(url),
                )
            )
    for i, symbol in enumerate(exchange.symbols):
        if not symbol.isalnum() or symbol.upper() != symbol:
            problems.append(
                Problem(
                    file,
                    f"exchange.symbols[{i}]",
                    "an exchange symbol id in capitals, such as BTCUSDT",
                    describe_value(symbol),
                )
            )
    return problems


def check_markets(file: str, markets: MarketsConfig) -> list[Problem]:
    """``[markets]``: a snapshot name, and overrides that are positive when given."""
    problems = []
    if not markets.snapshot.strip():
        problems.append(
            Problem(
                file,
                "markets.snapshot",
                "a bundled snapshot name or a CSV path",
                describe_value(markets.snapshot),
            )
        )
    for symbol, override in markets.overrides.items():
        for field in attrs.fields(type(override)):
            value = getattr(override, field.name)
            if value is not None and value <= 0:
                problems.append(
                    Problem(
                        file,
                        format_path(("markets", "overrides", symbol, field.name)),
                        "a number > 0",
                        describe_value(value),
                    )
                )
    return problems


def check_mode(
    file: str, info: ProfileInfo, data: DataConfig, exchange: ExchangeConfig
) -> list[Problem]:
    """What the profile's mode needs: recorded data to replay, or symbols to trade."""
    if info.mode is Mode.REPLAY:
        if data.source == "csv" and not data.paths:
            return [
                Problem(
                    file,
                    "data.paths",
                    'at least one path or glob for source = "csv"',
                    "no paths",
                    'e.g. paths = ["data/bybit_BTCUSDT_5m.csv.gz"]',
                )
            ]
        return []
    if not exchange.symbols:
        return [
            Problem(
                file,
                "exchange.symbols",
                f"the symbols a {info.mode.value} profile trades",
                "none",
                'e.g. [exchange] symbols = ["BTCUSDT", "ETHUSDT"]',
            )
        ]
    return []


def check_data(file: str, data: DataConfig) -> list[Problem]:
    """``[data]``: a usable source, a known timeframe, ISO dates in order."""
    problems = []
    if data.source == "sqlite" and not data.sqlite:
        problems.append(
            Problem(
                file,
                "data.sqlite",
                'the path of a SQLite journal for source = "sqlite"',
                "nothing",
            )
        )
    if data.timeframe is not None:
        try:
            timeframe_ms(data.timeframe)
        except ValueError:
            problems.append(
                Problem(
                    file,
                    "data.timeframe",
                    "one of " + ", ".join(TIMEFRAMES),
                    describe_value(data.timeframe),
                )
            )
    bounds: dict[str, int] = {}
    for field in ("start", "end"):
        value = getattr(data, field)
        if value is None:
            continue
        try:
            bounds[field] = iso_to_ms(value)
        except ValueError:
            problems.append(
                Problem(
                    file,
                    f"data.{field}",
                    "an ISO date (2024-03-01) or datetime (2024-03-01T12:00:00Z), in UTC",
                    describe_value(value),
                )
            )
    if len(bounds) == 2 and bounds["start"] >= bounds["end"]:
        problems.append(
            Problem(
                file,
                "data.end",
                f"a moment after start ({data.start}); end is exclusive",
                describe_value(data.end),
            )
        )
    return problems
