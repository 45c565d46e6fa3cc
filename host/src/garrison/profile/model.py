"""The shape of a profile once it has been read and checked.

A profile is one TOML file per exchange account. ``garrison.profile.load``
turns it into these frozen classes; every component's table becomes that
component's own ``Params`` instance. Relative paths in a profile are resolved
against the directory of the profile file.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Literal

import attrs


class Mode(str, enum.Enum):  # noqa: UP042 (kept as written: str() stays 'Mode.X')
    REPLAY = "replay"
    PAPER = "paper"
    LIVE = "live"


Exchange = Literal["bybit", "binance"]
Network = Literal["testnet", "demo", "mainnet"]
BothTouched = Literal["stop_first", "take_profit_first"]
Synchronous = Literal["normal", "full"]
CommitPolicy = Literal["step", "chunk"]
DataSource = Literal["csv", "sqlite"]
ScorerMode = Literal["gate", "shadow"]
UnknownPositions = Literal["adopt", "flatten", "halt"]
MarginMode = Literal["cross", "isolated"]


@attrs.frozen
class ProfileInfo:
    """``[profile]``: what this profile is and where it trades."""

    name: str
    mode: Mode = Mode.REPLAY
    exchange: Exchange = "bybit"
    network: Network = "testnet"


@attrs.frozen
class AccountConfig:
    """``[account]``: the starting balance of a replay or paper account, and leverage."""

    starting_balance: float = 10_000.0
    leverage: float = 1.0


@attrs.frozen
class DataConfig:
    """``[data]``: where replay candles come from.

    ``source = "csv"`` reads ``paths`` (globs; ``.csv`` or ``.csv.gz`` named
    ``<exchange>_<SYMBOL>_<timeframe>.csv[.gz]``); ``source = "sqlite"`` reads
    the candle table of the journal at ``sqlite``. ``symbols`` filters (empty:
    all found). ``start``/``end`` are ISO dates or datetimes in UTC; ``end`` is
    exclusive.
    """

    source: DataSource = "csv"
    paths: tuple[str, ...] = ()
    sqlite: str | None = None
    symbols: tuple[str, ...] = ()
    timeframe: str | None = None
    start: str | None = None
    end: str | None = None


@attrs.frozen
class MarketOverride:
    """``[markets.overrides.SYMBOL]``: replace some trading rules of one symbol."""

    tick_size: float | None = None
    lot_step: float | None = None
    min_qty: float | None = None
    min_notional: float | None = None
    contract_size: float | None = None


@attrs.frozen
class MarketsConfig:
    """``[markets]``: which bundled instrument snapshot to use, and per-symbol overrides.

    ``snapshot`` is a bundled name (``bybit_linear``, ``binance_usdm``) or a
    path to a CSV with the same columns.
    """

    snapshot: str = "bybit_linear"
    overrides: dict[str, MarketOverride] = attrs.Factory(dict)


@attrs.frozen
class BrokerConfig:
    """``[broker]``: the simulated broker of replay and paper modes.

    Market orders fill at the next bar's open moved against the trader by
    ``slippage_bps``; stops and take-profits fill intrabar. ``both_touched``
    decides which one a bar that touches both is taken to have hit first.
    Fees are fractions of notional (0.00055 = 0.055 %).
    """

    slippage_bps: float = 0.0
    taker_fee: float = 0.00055
    maker_fee: float = 0.0002
    both_touched: BothTouched = "stop_first"


@attrs.frozen
class JournalConfig:
    """``[journal]``: the SQLite file that is the source of truth for a run.

    ``commit`` decides when a replay commits. Rows are always written in
    pipeline order, so an intent is in the journal before any fill it causes.
    ``"chunk"`` (the replay default) commits every few thousand candles: a
    crash loses at most the last chunk, never leaves a fill without its
    intent, and never touches a committed row. ``"step"`` also commits each
    time step's intents before the simulated broker may fill them, the rule
    live trading always follows, at about 30 µs per commit. ``synchronous =
    "full"`` makes commits survive power loss too, not only a killed process.
    """

    path: str = "garrison.sqlite"
    synchronous: Synchronous = "normal"
    commit: CommitPolicy = "chunk"
    retention_days: int = 30


@attrs.frozen
class EngineConfig:
    """``[engine]``: how the host treats its plugins and its bookkeeping.

    A component that fails ``max_plugin_failures`` times in a row (raises,
    returns garbage, times out; a good call resets the count) is quarantined
    (no longer called) for the rest of the run. A strategy or scorer call
    that runs longer than ``plugin_call_budget_ms`` milliseconds is stopped
    and counts as a failure. Each notifier runs on its own thread with a
    queue of ``notifier_queue_size`` events (when it is full the oldest is
    dropped, and the drop is journaled) and gets ``notifier_timeout_s`` per
    event. Equity is journaled every ``equity_interval_minutes`` of market
    time and at every trade. Phantom trades without a stop or target resolve
    after ``phantom_max_bars`` bars. With ``screen`` (the default) a replay
    calls a strategy that declares a ``screen`` only on the bars it flags;
    ``screen = false`` calls every strategy on every bar (the decisions are
    the same; it is slower).
    """

    max_plugin_failures: int = 3
    notifier_timeout_s: float = 5.0
    equity_interval_minutes: int = 60
    phantom_max_bars: int = 288
    screen: bool = True
    plugin_call_budget_ms: int = 1000
    notifier_queue_size: int = 1000


@attrs.frozen
class ExchangeConfig:
    """``[exchange]``: how paper and live trading reach the exchange.

    ``symbols`` are exchange ids (``BTCUSDT``); ``timeframes`` default to
    what the strategies decide on and read. ``rest_url``/``ws_url`` point the
    ccxt client somewhere other than the exchange (``garrison fake-exchange``
    prints them); otherwise ``[profile] network`` picks testnet, demo or
    mainnet. At start each series gets ``history_bars`` closed bars through
    REST (0: what the strategies' warm-up needs). A step waits at most
    ``step_wait_s`` wall seconds for every candle closing at its instant; a
    candle later than that is booked but decided on by nobody. A symbol with
    no closed candle for ``stale_after`` of its timeframes is stale: the risk
    chain refuses entries on it. When the websockets send nothing at all for
    ``quiet_s`` wall seconds, REST is asked whether they missed a closed bar
    (see :mod:`garrison.live.feed`). Every ``reconcile_s`` seconds the journal is
    compared with the exchange; a position the host does not know is
    taken over (``"adopt"``: booked at the exchange's entry price and
    protected by the stop the exchange holds for it, else one
    ``adopt_stop_pct`` percent beyond its entry), closed at market
    (``"flatten"``) or halts trading (``"halt"``), per ``unknown_positions``.
    ``symbols_per_connection`` shards the candle websockets (0: the
    exchange's default).
    """

    symbols: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ()
    rest_url: str | None = None
    ws_url: str | None = None
    history_bars: int = 0
    step_wait_s: float = 3.0
    stale_after: float = 1.5
    quiet_s: float = 20.0
    reconcile_s: float = 30.0
    unknown_positions: UnknownPositions = "halt"
    adopt_stop_pct: float = 2.0
    margin_mode: MarginMode = "cross"
    request_timeout_ms: int = 10_000
    symbols_per_connection: int = 0


@attrs.frozen
class Credentials:
    """``[credentials]``: NAMES of environment variables that hold secrets, never the secrets."""

    api_key_env: str | None = None
    api_secret_env: str | None = None


@attrs.frozen
class PluginsConfig:
    """``[plugins]``: which installed plugins a live run may load.

    ``allow`` names plugins (entry-point names, ``turtle``) or distributions
    (``garrison-turtle``). In ``live`` mode only those are imported; without
    the key, only first-party plugins are (see ``garrison.plugins.firstparty``).
    Replay and paper runs load every installed plugin. The environment variable
    ``GARRISON_LOAD_PLUGINS`` restricts loading further in every mode.
    """

    allow: tuple[str, ...] | None = None


@attrs.frozen
class ComponentUse:
    """One use of a registered component: ``use`` names it, ``params`` is its structured Params.

    ``name`` tells two uses of the same component apart (it defaults to
    ``use``) and is what the journal records. ``symbols`` narrows a strategy
    to some symbols (empty: all). ``enabled = false`` (strategies only) keeps
    a strategy out of the decisions: it is built and started, never called,
    until an operator enables it (``garrison strategy enable``, or a reload).
    """

    use: str
    name: str
    params: Any
    symbols: tuple[str, ...] = ()
    enabled: bool = True


@attrs.frozen
class ScorerUse:
    """One ``[[scorers]]`` table (or the single ``[scorer]``): a scorer and how it is used.

    ``mode = "gate"`` trades a signal only when its score reaches
    ``threshold``; ``"shadow"`` journals the score and never gates.
    ``strategies`` names the strategy uses whose signals it rates (empty: all).
    """

    component: ComponentUse
    mode: ScorerMode = "gate"
    threshold: float = 0.5
    strategies: tuple[str, ...] = ()


@attrs.frozen
class ControlConfig:
    """``[control]``: the local control channel a running host (``garrison run``) serves.

    ``socket`` is the Unix socket's path ("" for the default per profile name:
    ``$XDG_RUNTIME_DIR/garrison/<name>.sock``, else
    ``/tmp/garrison-<uid>/<name>.sock``); its directory is made owner-only.
    ``enabled = false`` serves nothing. ``risk_pct_min`` / ``risk_pct_max``
    bound what an operator may set the sizer's ``risk_pct`` to while the host
    runs (percent of equity); unset, the maximum is the profile's own value
    (an operator may lower risk, not raise it past what the profile says).
    """

    enabled: bool = True
    socket: str = ""
    risk_pct_min: float | None = None
    risk_pct_max: float | None = None


@attrs.frozen
class RedisConfig:
    """``[redis]``: where a running host publishes what its control channel serves.

    With ``url`` set (``redis://HOST:PORT/DB``, ``rediss://`` for TLS or
    ``unix:///path``), the host writes a snapshot of its state (the
    console's topics) to Redis every ``every_s`` seconds under
    ``<prefix>:host:<profile>@<machine>``, so ``garrison console --redis URL``
    can follow every host that publishes there. The URL holds no password:
    ``password_env`` names the environment variable holding it. Unset, the
    host publishes nothing; Redis being away never stops the host.
    """

    url: str = ""
    password_env: str = ""
    prefix: str = "garrison"
    every_s: float = 1.0


@attrs.frozen
class Profile:
    """A whole, checked profile."""

    source: Path
    profile: ProfileInfo
    account: AccountConfig
    data: DataConfig
    markets: MarketsConfig
    broker: BrokerConfig
    journal: JournalConfig
    engine: EngineConfig
    credentials: Credentials
    strategies: tuple[ComponentUse, ...]
    sizer: ComponentUse
    risk: tuple[ComponentUse, ...]
    notifiers: tuple[ComponentUse, ...] = ()
    scorers: tuple[ScorerUse, ...] = ()
    exchange: ExchangeConfig = ExchangeConfig()
    plugins: PluginsConfig = PluginsConfig()
    control: ControlConfig = ControlConfig()
    redis: RedisConfig = RedisConfig()

    @property
    def scorer(self) -> ScorerUse | None:
        """The first scorer, or None (profiles written with a single ``[scorer]``)."""
        return self.scorers[0] if self.scorers else None

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the profile are resolved against."""
        return self.source.parent

    def resolve(self, path: str) -> Path:
        """A path from the profile, made absolute against the profile's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()
