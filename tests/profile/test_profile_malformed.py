"""Malformed profiles: each must raise ProfileError naming the file, the TOML path and why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from garrison.profile.errors import ProfileError
from garrison.profile.model import Profile

FILE = "configs/test.toml"

BASE = """\
[profile]
name = "t"

[data]
paths = ["data/*.csv.gz"]

[[strategies]]
use = "breakout"

[sizer]
use = "fixed_risk"
"""


def edit(old: str, new: str) -> str:
    """BASE with one piece replaced (the piece must be there)."""
    assert old in BASE
    return BASE.replace(old, new)


def add(extra: str) -> str:
    """BASE with more tables after it."""
    return BASE + "\n" + extra


BREAKOUT = '[[strategies]]\nuse = "breakout"\n'

# (id, profile text, TOML path the problem must name, fragment of its message)
CASES: list[tuple[str, str, str, str]] = [
    ("toml-syntax", "[profile]\nname = \n", "line 2, column 8", "valid TOML"),
    ("toml-bad-header", "[profile\nname = 1\n", "line 1, column 9", "syntax error"),
    ("missing-profile", edit('[profile]\nname = "t"\n', ""), "profile", "[profile] table"),
    ("missing-name", edit('name = "t"', 'mode = "replay"'), "profile.name", "(required)"),
    ("empty-name", edit('name = "t"', 'name = " "'), "profile.name", "non-empty name"),
    ("unknown-top-level", add('[strategy]\nuse = "x"\n'), "strategy", "'strategies'"),
    ("unknown-profile-key", edit('name = "t"', 'nmae = "t"\nname = "t"'), "profile.nmae", "'name'"),
    ("unknown-account-key", add("[account]\nbalance = 5\n"), "account.balance", "unknown key"),
    ("unknown-data-key", edit("paths = [", "path = [0]\npaths = ["), "data.path", "'paths'"),
    ("unknown-markets-key", add('[markets]\nsnapshots = "x"\n'), "markets.snapshots", "'snapshot'"),
    (
        "unknown-override-key",
        add("[markets.overrides.BTCUSDT]\ntick = 0.1\n"),
        "markets.overrides.BTCUSDT.tick",
        "did you mean 'tick_size'?",
    ),
    ("unknown-broker-key", add("[broker]\nslippage = 1\n"), "broker.slippage", "'slippage_bps'"),
    (
        "paper-without-symbols",
        edit('name = "t"', 'name = "t"\nmode = "paper"'),
        "exchange.symbols",
        "the symbols a paper profile trades",
    ),
    (
        "exchange-symbol-not-an-id",
        add('[exchange]\nsymbols = ["BTC/USDT:USDT"]\n'),
        "exchange.symbols[0]",
        "an exchange symbol id in capitals",
    ),
    (
        "exchange-unknown-timeframe",
        add('[exchange]\ntimeframes = ["7m"]\n'),
        "exchange.timeframes[0]",
        "one of 1m",
    ),
    (
        "exchange-rest-url-scheme",
        add('[exchange]\nrest_url = "ws://127.0.0.1:1"\n'),
        "exchange.rest_url",
        "http:// or https://",
    ),
    (
        "exchange-unknown-policy",
        add('[exchange]\nunknown_positions = "ignore"\n'),
        "exchange.unknown_positions",
        "flatten",
    ),
    (
        "exchange-adopt-stop-too-far",
        add("[exchange]\nadopt_stop_pct = 100\n"),
        "exchange.adopt_stop_pct",
        "below 100",
    ),
    ("exchange-zero-wait", add("[exchange]\nstep_wait_s = 0\n"), "exchange.step_wait_s", "> 0"),
    (
        "unknown-journal-key",
        add("[journal]\nretention = 3\n"),
        "journal.retention",
        "'retention_days'",
    ),
    (
        "unknown-engine-key",
        add("[engine]\nmax_failures = 3\n"),
        "engine.max_failures",
        "'max_plugin_failures'",
    ),
    (
        "unknown-credentials-key",
        add('[credentials]\nwallet_env = "WALLET"\n'),
        "credentials.wallet_env",
        "unknown key 'wallet_env'",
    ),
    (
        "unknown-strategy-key",
        edit('use = "breakout"', 'use = "breakout"\nperiod = 5'),
        "strategies[0].period",
        "unknown key 'period'",
    ),
    (
        "unknown-scorer-key",
        add('[scorer]\nuse = "constant"\ntreshold = 0.4\n'),
        "scorer.treshold",
        "'threshold'",
    ),
    (
        "string-for-float",
        add('[account]\nstarting_balance = "1000"\n'),
        "account.starting_balance",
        'expected a finite number; found "1000" (a string)',
    ),
    ("nan-for-float", add("[account]\nleverage = nan\n"), "account.leverage", "finite number"),
    ("list-for-table", "account = [1, 2]\n" + BASE, "account", "expected a table"),
    (
        "string-for-array",
        edit('paths = ["data/*.csv.gz"]', 'paths = "x.csv"'),
        "data.paths",
        "an array of strings",
    ),
    ("int-for-string", edit('name = "t"', "name = 5"), "profile.name", "expected a string"),
    (
        "bool-for-int",
        add("[engine]\nmax_plugin_failures = true\n"),
        "engine.max_plugin_failures",
        "expected a whole number; found true",
    ),
    (
        "float-for-int",
        add("[journal]\nretention_days = 1.5\n"),
        "journal.retention_days",
        "whole number",
    ),
    (
        "bad-mode",
        edit('name = "t"', 'name = "t"\nmode = "backtest"'),
        "profile.mode",
        "one of 'replay', 'paper', 'live'",
    ),
    (
        "misspelt-mode",
        edit('name = "t"', 'name = "t"\nmode = "repaly"'),
        "profile.mode",
        "did you mean 'replay'?",
    ),
    (
        "bad-exchange",
        edit('name = "t"', 'name = "t"\nexchange = "kraken"'),
        "profile.exchange",
        "one of 'bybit', 'binance'",
    ),
    (
        "bad-network",
        edit('name = "t"', 'name = "t"\nnetwork = "prod"'),
        "profile.network",
        "'testnet', 'demo', 'mainnet'",
    ),
    (
        "bad-both-touched",
        add('[broker]\nboth_touched = "target_first"\n'),
        "broker.both_touched",
        "one of 'stop_first', 'take_profit_first'",
    ),
    (
        "bad-scorer-mode",
        add('[scorer]\nuse = "constant"\nmode = "shadows"\n'),
        "scorer.mode",
        "did you mean 'shadow'?",
    ),
    (
        "unknown-strategy",
        edit('use = "breakout"', 'use = "brekout"'),
        "strategies[0].use",
        "did you mean 'breakout'?",
    ),
    (
        "unknown-second-strategy",
        add('[[strategies]]\nuse = "needs_param"\n'),
        "strategies[1].use",
        "registered strategy: 'breakout', 'needs_params'",
    ),
    (
        "unknown-sizer",
        edit('use = "fixed_risk"', 'use = "fixed_rsik"'),
        "sizer.use",
        "did you mean 'fixed_risk'?",
    ),
    (
        "unknown-notifier",
        add('[[notifiers]]\nuse = "telegramm"\n'),
        "notifiers[0].use",
        "did you mean 'telegram'?",
    ),
    (
        "unknown-risk-rule",
        add('[[risk]]\nuse = "max_open_position"\n'),
        "risk[0].use",
        "did you mean 'max_open_positions'?",
    ),
    (
        "unknown-scorer",
        add('[scorer]\nuse = "constnat"\n'),
        "scorer.use",
        "did you mean 'constant'?",
    ),
    (
        "missing-use",
        add('[[notifiers]]\nname = "n"\n'),
        "notifiers[0].use",
        "a string (required); found nothing",
    ),
    (
        "misspelt-param",
        add("[strategies.params]\nentry_perod = 30\n"),
        "strategies[0].params.entry_perod",
        "did you mean 'entry_period'?",
    ),
    (
        "param-wrong-type",
        add('[strategies.params]\nentry_period = "20"\n'),
        "strategies[0].params.entry_period",
        'expected a whole number; found "20" (a string)',
    ),
    (
        "param-validator",
        add("[strategies.params]\nentry_period = 1\n"),
        "strategies[0].params.entry_period",
        "entry_period must be >= 2, got 1",
    ),
    (
        "param-cross-field-check",
        add("[strategies.params]\nentry_period = 10\nexit_period = 20\n"),
        "strategies[0].params.exit_period",
        "must be smaller than entry_period",
    ),
    (
        "param-literal",
        add("[strategies.params]\nsystem = 3\n"),
        "strategies[0].params.system",
        "one of 1, 2; found 3",
    ),
    (
        "param-array-item",
        add('[strategies.params]\nweights = [1.0, "x"]\n'),
        "strategies[0].params.weights[1]",
        "finite number",
    ),
    (
        "param-required-missing",
        add('[[strategies]]\nuse = "needs_params"\n'),
        "strategies[1].params.lookback",
        "(required); found nothing",
    ),
    (
        "param-nested-table",
        add(
            '[[strategies]]\nuse = "needs_params"\n[strategies.params]\nlookback = 5\n'
            '[strategies.params.band]\nlow = "x"\n'
        ),
        "strategies[1].params.band.low",
        "finite number",
    ),
    (
        "params-not-table",
        edit('use = "breakout"', 'use = "breakout"\nparams = 5'),
        "strategies[0].params",
        "expected a table",
    ),
    (
        "sizer-param-wrong-type",
        edit('use = "fixed_risk"', 'use = "fixed_risk"\nparams = { max_usd = "lots" }'),
        "sizer.params.max_usd",
        "finite number",
    ),
    (
        "risk-param-validator",
        add('[[risk]]\nuse = "max_open_positions"\nparams = { limit = 0 }\n'),
        "risk[0].params.limit",
        "limit must be >= 1",
    ),
    ("missing-sizer", edit('[sizer]\nuse = "fixed_risk"\n', ""), "sizer", "[sizer] table"),
    ("sizer-as-array", edit("[sizer]", "[[sizer]]"), "sizer", "expected a table"),
    (
        "no-strategies",
        edit(BREAKOUT, ""),
        "strategies",
        "at least one [[strategies]] table",
    ),
    ("empty-strategies", "strategies = []\n" + edit(BREAKOUT, ""), "strategies", "empty array"),
    (
        "strategies-as-table",
        edit("[[strategies]]", "[strategies]"),
        "strategies",
        "an array of tables ([[strategies]])",
    ),
    (
        "duplicate-strategy",
        add(BREAKOUT),
        "strategies[1].name",
        "'breakout', already used by strategies[0]",
    ),
    (
        "duplicate-notifier",
        add('[[notifiers]]\nuse = "log"\n[[notifiers]]\nuse = "telegram"\nname = "log"\n'),
        "notifiers[1].name",
        "unique among the [[notifiers]] tables",
    ),
    (
        "duplicate-risk",
        add('[[risk]]\nuse = "max_open_positions"\n[[risk]]\nuse = "max_open_positions"\n'),
        "risk[1].name",
        "unique among the [[risk]] tables",
    ),
    (
        "bad-instance-name",
        edit('use = "breakout"', 'use = "breakout"\nname = "my strategy"'),
        "strategies[0].name",
        "letters, digits",
    ),
    (
        "symbols-as-string",
        edit('use = "breakout"', 'use = "breakout"\nsymbols = "BTCUSDT"'),
        "strategies[0].symbols",
        "an array of strings",
    ),
    ("bad-timeframe", edit("paths = [", 'timeframe = "7m"\npaths = ['), "data.timeframe", "1h"),
    ("bad-date", edit("paths = [", 'start = "2024-02-30"\npaths = ['), "data.start", "ISO date"),
    ("bad-end-date", edit("paths = [", 'end = "yesterday"\npaths = ['), "data.end", "ISO date"),
    (
        "start-after-end",
        edit("paths = [", 'start = "2024-03-01"\nend = "2024-02-01"\npaths = ['),
        "data.end",
        "after start",
    ),
    (
        "start-equals-end",
        edit("paths = [", "start = 2024-03-01\nend = 2024-03-01T00:00:00Z\npaths = ["),
        "data.end",
        "after start",
    ),
    ("negative-taker-fee", add("[broker]\ntaker_fee = -0.001\n"), "broker.taker_fee", ">= 0"),
    ("negative-slippage", add("[broker]\nslippage_bps = -1\n"), "broker.slippage_bps", ">= 0"),
    ("percent-fee", add("[broker]\nmaker_fee = 2.0\n"), "broker.maker_fee", "fraction"),
    ("leverage-below-1", add("[account]\nleverage = 0.5\n"), "account.leverage", ">= 1"),
    ("zero-balance", add("[account]\nstarting_balance = 0\n"), "account.starting_balance", "> 0"),
    ("zero-retention", add("[journal]\nretention_days = 0\n"), "journal.retention_days", ">= 1"),
    (
        "zero-call-budget",
        add("[engine]\nplugin_call_budget_ms = 0\n"),
        "engine.plugin_call_budget_ms",
        "expected a whole number >= 1; found 0 (a whole number); the longest a strategy or",
    ),
    (
        "float-call-budget",
        add("[engine]\nplugin_call_budget_ms = 0.5\n"),
        "engine.plugin_call_budget_ms",
        "whole number",
    ),
    (
        "negative-queue-size",
        add("[engine]\nnotifier_queue_size = -5\n"),
        "engine.notifier_queue_size",
        "expected a whole number >= 1; found -5 (a whole number); how many events may wait",
    ),
    (
        "string-queue-size",
        add('[engine]\nnotifier_queue_size = "1000"\n'),
        "engine.notifier_queue_size",
        'expected a whole number; found "1000" (a string)',
    ),
    (
        "threshold-above-1",
        add('[scorer]\nuse = "constant"\nthreshold = 1.5\n'),
        "scorer.threshold",
        "from 0 to 1",
    ),
    (
        "negative-override",
        add("[markets.overrides.BTCUSDT]\ntick_size = -0.1\n"),
        "markets.overrides.BTCUSDT.tick_size",
        "> 0",
    ),
    ("csv-without-paths", edit('paths = ["data/*.csv.gz"]', ""), "data.paths", "at least one"),
    (
        "sqlite-without-path",
        edit('paths = ["data/*.csv.gz"]', 'source = "sqlite"'),
        "data.sqlite",
        'source = "sqlite"',
    ),
    (
        "bad-data-source",
        edit('paths = ["data/*.csv.gz"]', 'source = "parquet"'),
        "data.source",
        "one of 'csv', 'sqlite'",
    ),
    (
        "bad-env-var-name",
        add('[credentials]\napi_key_env = "my key"\n'),
        "credentials.api_key_env",
        "NAME of an environment variable",
    ),
    (
        "env-name-in-params",
        add('[[notifiers]]\nuse = "telegram"\nparams = { bot_token_env = "telegram token" }\n'),
        "notifiers[0].params.bot_token_env",
        "environment-variable name only",
    ),
]

# (id, profile text, TOML path, fragment, the secret that must not appear anywhere)
SECRET_CASES: list[tuple[str, str, str, str, str]] = [
    (
        "inline-api-key",
        add('[credentials]\napi_key = "Xk29fQ7pLmN3vB8s"\n'),
        "credentials.api_key",
        'api_key_env = "BYBIT_API_KEY"',
        "Xk29fQ7pLmN3vB8s",
    ),
    (
        "inline-secret-in-env-key",
        add('[credentials]\napi_secret_env = "s3cr3t-Value-123"\n'),
        "credentials.api_secret_env",
        "not shown",
        "s3cr3t-Value-123",
    ),
    (
        "upper-case-key-as-env-name",
        add('[credentials]\napi_key_env = "AB12CD34EF56GH78IJ90"\n'),
        "credentials.api_key_env",
        "environment-variable name only",
        "AB12CD34EF56GH78IJ90",
    ),
    (
        "token-in-params",
        add('[[notifiers]]\nuse = "telegram"\n[notifiers.params]\nbot_token = "123456:AAH-xyz"\n'),
        "notifiers[0].params.bot_token",
        'bot_token_env = "BOT_TOKEN"',
        "123456:AAH-xyz",
    ),
    (
        "password-anywhere",
        add('[journal]\npassword = "hunter2hunter2"\n'),
        "journal.password",
        "environment-variable name only",
        "hunter2hunter2",
    ),
    (
        "secret-with-wrong-type",
        add("[credentials]\napi_key_env = 12345678\n"),
        "credentials.api_key_env",
        "not shown",
        "12345678",
    ),
]


def _assert_problem(err: ProfileError, path: str, fragment: str) -> None:
    lines = str(err).splitlines()
    assert len(lines) == len(err.problems)
    matching = [p for p in err.problems if p.path == path]
    assert matching, f"no problem at {path!r}; got:\n{err}"
    assert all(p.file == FILE for p in err.problems)
    assert any(fragment in str(p) for p in matching), f"{fragment!r} not in:\n{err}"
    assert any(line.startswith(f"{FILE}: {path}: expected ") for line in lines)


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [pytest.param(text, path, fragment, id=name) for name, text, path, fragment in CASES],
)
def test_malformed_profile_is_refused(
    parse: Callable[[str], Profile], text: str, path: str, fragment: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse(text)
    _assert_problem(caught.value, path, fragment)


@pytest.mark.parametrize(
    ("text", "path", "fragment", "secret"),
    [pytest.param(*case[1:], id=case[0]) for case in SECRET_CASES],
)
def test_inline_secret_is_refused_without_echo(
    parse: Callable[[str], Profile], text: str, path: str, fragment: str, secret: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse(text)
    _assert_problem(caught.value, path, fragment)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.problems)


def test_case_ids_are_unique() -> None:
    names = [c[0] for c in CASES] + [c[0] for c in SECRET_CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 30


def test_every_problem_is_collected(parse: Callable[[str], Profile]) -> None:
    text = """\
colour = "blue"
[profile]
name = "t"
mode = "repaly"
[account]
starting_balance = "lots"
leverage = 0.5
[data]
paths = ["x.csv"]
timeframe = "7m"
start = "2024-13-01"
[credentials]
api_key = "Zq81mVt55uPx"
[[strategies]]
use = "brekout"
[[strategies]]
use = "breakout"
[strategies.params]
entry_perod = 3
[sizer]
use = "fixed_risk"
params = { risk_pct = "1%" }
[[notifiers]]
use = "log"
params = { level = "loud" }
"""
    with pytest.raises(ProfileError) as caught:
        parse(text)
    paths = {p.path for p in caught.value.problems}
    assert paths == {
        "colour",
        "profile.mode",
        "account.starting_balance",
        "account.leverage",
        "data.timeframe",
        "data.start",
        "credentials.api_key",
        "strategies[0].use",
        "strategies[1].params.entry_perod",
        "sizer.params.risk_pct",
        "notifiers[0].params.level",
    }
    assert "Zq81mVt55uPx" not in str(caught.value)
