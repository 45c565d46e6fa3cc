"""The ``[redis]`` table: where a host publishes its state for consoles to follow."""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import pytest
from garrison.profile.errors import ProfileError
from garrison.profile.model import Profile, RedisConfig
from garrison.profile.render import profile_as_toml

REDIS = """
[redis]
url = "redis://127.0.0.1:6379/2"
password_env = "GARRISON_TEST_REDIS_PASSWORD"
prefix = "desk"
every_s = 2.5
"""


def test_unset_publishes_nothing_and_renders_nothing(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    profile = parse(minimal)
    assert profile.redis == RedisConfig()
    assert not profile.redis.url
    assert "redis" not in tomllib.loads(profile_as_toml(profile, environ={}))


def test_set_round_trips(parse: Callable[[str], Profile], minimal: str) -> None:
    profile = parse(minimal + REDIS)
    assert profile.redis == RedisConfig(
        url="redis://127.0.0.1:6379/2",
        password_env="GARRISON_TEST_REDIS_PASSWORD",
        prefix="desk",
        every_s=2.5,
    )
    rendered = profile_as_toml(profile, environ={})
    assert tomllib.loads(rendered)["redis"]["prefix"] == "desk"
    assert parse(rendered) == profile


def test_a_password_in_the_url_is_refused_and_never_echoed(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    for url in (
        "redis://ops:hunter2secret@10.0.0.5:6379/0",
        "unix:///run/r.sock?password=hunter2secret",
    ):
        with pytest.raises(ProfileError) as caught:
            parse(minimal + f'\n[redis]\nurl = "{url}"\n')
        said = str(caught.value)
        assert "redis.url" in said
        assert "password_env" in said
        assert "hunter2secret" not in said


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('url = "http://127.0.0.1:6379"', "redis.url", "redis://"),
        ('url = "redis:///0"', "redis.url", "with a host"),
        ('url = "redis://h:port/0"', "redis.url", "not an address"),
        ('url = "redis://h/0"\nprefix = "a b"', "redis.prefix", "without spaces"),
        ('url = "redis://h/0"\nprefix = ""', "redis.prefix", "non-empty"),
        ('url = "redis://h/0"\nevery_s = 0.05', "redis.every_s", ">= 0.2"),
        ('password_env = "REDIS_PW"', "redis.password_env", "together with redis.url"),
        ('url = "redis://h/0"\npassword = "x"', "redis.password", "environment-variable"),
    ],
)
def test_bad_values_name_the_key(
    parse: Callable[[str], Profile], minimal: str, table: str, key: str, expected: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse(minimal + f"\n[redis]\n{table}\n")
    said = str(caught.value)
    assert key in said
    assert expected in said


def test_publishing_needs_the_control_channel(
    parse: Callable[[str], Profile], minimal: str
) -> None:
    text = minimal + '\n[control]\nenabled = false\n\n[redis]\nurl = "redis://h/0"\n'
    with pytest.raises(ProfileError, match=r"control\.enabled: expected true when redis\.url"):
        parse(text)
