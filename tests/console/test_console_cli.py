"""``garrison console``'s command line: how it finds the hosts it attaches to."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from garrison.cli.console_cmd import resolve_target
from garrison.cli.main import cli
from garrison.control.paths import candidate_socket_paths


def test_a_profile_name_is_its_socket_at_the_default_place() -> None:
    label, path = resolve_target("bybit-main")
    assert label == "bybit-main"
    assert path in candidate_socket_paths("bybit-main")


def test_a_profile_file_names_its_socket(tmp_path: Path) -> None:
    profile = tmp_path / "main.toml"
    profile.write_text('[profile]\nname = "main"\n[control]\nsocket = "run/main.sock"\n')
    assert resolve_target(str(profile)) == ("main", tmp_path / "run" / "main.sock")


def test_a_missing_profile_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["console", str(tmp_path / "gone.toml")])
    assert result.exit_code == 2
    assert "gone.toml: no such profile file" in result.output


def test_no_host_named_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["console"])
    assert result.exit_code == 2
    assert "name a host: garrison console PROFILE, or --socket PATH" in result.output


@pytest.mark.parametrize("word", ["PROFILE", "--socket", "--every", "--redis", "read-only"])
def test_help_names_the_options(word: str) -> None:
    result = CliRunner().invoke(cli, ["console", "--help"])
    assert result.exit_code == 0
    assert word in result.output


def test_redis_unreachable_is_a_clear_error_without_the_password(redis: object) -> None:
    port = redis.port + 1 if redis.port < 65535 else redis.port - 1  # type: ignore[attr-defined]
    url = f"redis://ops:topsecret@127.0.0.1:{port}/0"
    result = CliRunner().invoke(cli, ["console", "--redis", url])
    assert result.exit_code == 1
    assert f"cannot read Redis at redis://ops:***@127.0.0.1:{port}/0" in result.output
    assert "topsecret" not in result.output


def test_redis_with_no_host_publishing_says_how_hosts_publish(redis: object) -> None:
    url = redis.url  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["console", "--redis", url, "--redis-prefix", "nobody"])
    assert result.exit_code == 1
    assert f"no host publishes to Redis at {url} under the prefix 'nobody'" in result.output
    assert "[redis] url" in result.output


def test_a_redis_address_of_another_kind_is_refused() -> None:
    result = CliRunner().invoke(cli, ["console", "--redis", "http://127.0.0.1:6379"])
    assert result.exit_code == 2
    assert "redis://" in result.output


def test_redis_password_env_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GARRISON_TEST_UNSET_PW", raising=False)
    result = CliRunner().invoke(
        cli,
        [
            "console",
            "--redis",
            "redis://127.0.0.1:1/0",
            "--redis-password-env",
            "GARRISON_TEST_UNSET_PW",
        ],
    )
    assert result.exit_code == 2
    assert "GARRISON_TEST_UNSET_PW is not set" in result.output
