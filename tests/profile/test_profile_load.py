"""Valid profiles: everything structured, defaults filled in, the risk chain completed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from garrison.profile.errors import ProfileError
from garrison.profile.load import load_profile, parse_profile
from garrison.profile.model import (
    AccountConfig,
    BrokerConfig,
    Credentials,
    EngineConfig,
    JournalConfig,
    MarketOverride,
    Mode,
    Profile,
)
from garrison_api import Registry, component_params


def params_of(registry: Registry, kind: str, name: str) -> type:
    entry = registry.get(kind, name)
    assert entry is not None
    return component_params(entry.factory)


def test_full_profile_loads(parse: Callable[[str], Profile], registry: Registry, full: str) -> None:
    profile = parse(full)
    assert profile.source == Path("configs/test.toml")
    assert profile.profile.name == "bybit-main"
    assert profile.profile.mode is Mode.PAPER
    assert (profile.profile.exchange, profile.profile.network) == ("binance", "demo")
    assert profile.account == AccountConfig(starting_balance=2500.0, leverage=3.0)
    assert isinstance(profile.account.starting_balance, float)
    assert profile.data.paths == ("data/binance_*_5m.csv.gz", "more/*.csv")
    assert profile.data.symbols == ("BTCUSDT", "ETHUSDT")
    assert profile.data.timeframe == "5m"
    # An unquoted TOML datetime becomes the ISO string the model holds.
    assert (profile.data.start, profile.data.end) == ("2024-01-01", "2024-02-01T12:00:00+00:00")
    assert profile.markets.snapshot == "binance_usdm"
    assert profile.markets.overrides == {"BTCUSDT": MarketOverride(tick_size=0.1, min_qty=0.001)}
    assert profile.broker == BrokerConfig(
        slippage_bps=2.5, taker_fee=0.0005, maker_fee=0.0, both_touched="take_profit_first"
    )
    assert profile.journal == JournalConfig(
        path="runs/main.sqlite", synchronous="full", retention_days=7
    )
    assert profile.engine == EngineConfig(
        max_plugin_failures=5,
        notifier_timeout_s=2.5,
        equity_interval_minutes=15,
        phantom_max_bars=100,
        plugin_call_budget_ms=250,
        notifier_queue_size=50,
    )
    assert profile.credentials == Credentials(
        api_key_env="BINANCE_API_KEY", api_secret_env="BINANCE_API_SECRET"
    )

    breakout = params_of(registry, "strategy", "breakout")
    fast, slow, needs = profile.strategies
    assert (fast.use, fast.name, fast.symbols) == ("breakout", "fast", ("BTCUSDT",))
    assert fast.params == breakout(10, 5, 2, "long", False, (0.25, 1.0))
    assert slow.params == breakout()
    assert needs.name == "needs_params"
    assert needs.params.lookback == 50
    assert (needs.params.band.low, needs.params.band.high) == (-1.0, 2.5)

    assert profile.scorer is not None
    assert (profile.scorer.mode, profile.scorer.threshold) == ("shadow", 0.6)
    assert profile.scorer.component.params.value == 0.7
    assert profile.sizer.name == "risk-1pct"
    assert profile.sizer.params == params_of(registry, "sizer", "fixed_risk")(0.5, 200.0)
    assert [r.name for r in profile.risk] == [
        "trading_state",
        "max_open_positions",
        "one_position_per_symbol",
    ]
    assert profile.risk[1].params.limit == 2
    assert [n.name for n in profile.notifiers] == ["log", "ops"]
    assert profile.notifiers[1].params.chat_ids == (1, 2)


def test_minimal_profile_gets_every_default(
    parse: Callable[[str], Profile], minimal: str, registry: Registry
) -> None:
    profile = parse(minimal)
    assert profile.profile.mode is Mode.REPLAY
    assert (profile.profile.exchange, profile.profile.network) == ("bybit", "testnet")
    assert profile.account == AccountConfig()
    assert profile.broker == BrokerConfig()
    assert profile.journal == JournalConfig()
    assert profile.engine == EngineConfig()
    engine = profile.engine
    assert (engine.plugin_call_budget_ms, engine.notifier_queue_size) == (1000, 1000)
    assert profile.credentials == Credentials()
    assert profile.markets.overrides == {}
    assert profile.scorer is None
    assert profile.notifiers == ()
    assert profile.strategies[0].params == params_of(registry, "strategy", "breakout")()
    assert profile.sizer.params == params_of(registry, "sizer", "fixed_risk")()
    # No [[risk]]: the default chain (test chain here), trading_state first.
    assert [r.use for r in profile.risk] == ["trading_state", "one_position_per_symbol"]


def test_trading_state_is_prepended_when_omitted(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    profile = parse(minimal + '\n[[risk]]\nuse = "max_open_positions"\n')
    assert [r.use for r in profile.risk] == ["trading_state", "max_open_positions"]
    assert attrs.asdict(profile.risk[0].params) == {}


def test_trading_state_placed_by_the_profile_stays_put(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    text = minimal + '\n[[risk]]\nuse = "max_open_positions"\n[[risk]]\nuse = "trading_state"\n'
    profile = parse(text)
    assert [r.use for r in profile.risk] == ["max_open_positions", "trading_state"]


def test_default_chain_without_trading_state_still_gets_it(
    registry: Registry, minimal: str
) -> None:
    profile = parse_profile(
        minimal, Path("p.toml"), registry, default_risk_chain=["max_open_positions"]
    )
    assert [r.use for r in profile.risk] == ["trading_state", "max_open_positions"]


def test_host_default_chain_is_used_when_none_is_given(minimal: str) -> None:
    from garrison.risk.defaults import DEFAULT_RISK_CHAIN

    class Rule:
        @attrs.frozen
        class Params:
            pass

    registry = Registry()
    registry.add_strategy("breakout", Rule)
    registry.add_sizer("fixed_risk", Rule)
    for name in DEFAULT_RISK_CHAIN:
        registry.add_risk_rule(name, Rule)
    profile = parse_profile(minimal, Path("p.toml"), registry)
    names = [r.name for r in profile.risk]
    assert names[0] == "trading_state"
    assert set(names) == {"trading_state", *DEFAULT_RISK_CHAIN}
    assert len(names) == len(set(names))


def test_unregistered_default_rule_is_a_problem(registry: Registry, minimal: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(minimal, Path("p.toml"), registry, default_risk_chain=["free_margin"])
    (problem,) = caught.value.problems
    assert problem.path == "risk"
    assert "'free_margin'" in problem.expected


def test_load_profile_reads_a_file(tmp_path: Path, minimal: str, registry: Registry) -> None:
    path = tmp_path / "configs" / "mine.toml"
    path.parent.mkdir()
    path.write_text(minimal.replace('name = "t"', 'name = "from-file"'), encoding="utf-8")
    profile = load_profile(path, registry, default_risk_chain=())
    assert profile.profile.name == "from-file"
    assert profile.source == path.resolve()
    assert profile.resolve("data/x.csv") == path.parent.resolve() / "data" / "x.csv"


def test_load_profile_names_the_file_as_given(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text('[profile]\nname = "x"\nmode = "live!"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile("bad.toml", registry, default_risk_chain=())
    assert {p.file for p in caught.value.problems} == {"bad.toml"}
    assert str(caught.value).startswith("bad.toml: profile.mode: expected one of")


def test_missing_file_is_a_profile_error(tmp_path: Path, registry: Registry) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError) as caught:
        load_profile(missing, registry)
    (problem,) = caught.value.problems
    assert problem.file == str(missing)
    assert problem.found == "no such file"


def test_non_utf8_file_is_a_profile_error(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[profile]\nname = "caf\xe9"\n')
    with pytest.raises(ProfileError, match="UTF-8"):
        load_profile(path, registry)


def test_env_names_are_accepted(parse: Callable[[str], Profile], minimal: str) -> None:
    text = minimal + '\n[credentials]\napi_key_env = "_KEY_1"\napi_secret_env = "BYBIT_SECRET"\n'
    assert parse(text).credentials == Credentials(
        api_key_env="_KEY_1", api_secret_env="BYBIT_SECRET"
    )
