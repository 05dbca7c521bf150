"""Configuration: defaults, TOML file, environment, flags, in that order; clear errors naming the source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.errors import ConfigError


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.service_accounts == ()
    assert s.builtin_service_accounts == ("rdsadmin",)
    assert s.log_line_prefix == "%t:%r:%u@%d:[%p]:"
    assert s.policy().service_accounts.matches("rdsadmin") == "rdsadmin"


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    conf = tmp_path / "m.toml"
    conf.write_text('service_accounts = ["from_file"]\nlog_line_prefix = "%m [%p] "\n')
    assert load_settings(str(conf), env={}).service_accounts == ("from_file",)
    env = {"SERVICE_ACCOUNTS": "a, b_*", "PGAUDIT_MONITOR_CONFIG": str(conf)}
    s = load_settings(env=env)
    assert s.service_accounts == ("a", "b_*")
    assert s.log_line_prefix == "%m [%p] "
    assert load_settings(env=env, service_accounts="c").service_accounts == ("c",)


def test_builtin_accounts_can_be_turned_off(tmp_path: Path) -> None:
    conf = tmp_path / "m.toml"
    conf.write_text("builtin_service_accounts = []\n")
    assert load_settings(str(conf), env={}).policy().service_accounts.is_human("rdsadmin")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("service_accounts = 'app'", "expected a list of non-empty strings"),
        ("service_acounts = ['app']", "unknown setting(s) service_acounts"),
        ("service_accounts = [", "invalid TOML"),
        ("log_line_prefix = '%t %y'", "unknown escape %y"),
        ("log_line_prefix = 5", "log_line_prefix: expected a string"),
    ],
)
def test_file_errors_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text(content + "\n")
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings(str(conf), env={})
    if "escape" not in message:
        assert str(conf) in str(info.value)


def test_empty_name_in_list_is_an_error() -> None:
    with pytest.raises(ConfigError, match="SERVICE_ACCOUNTS: empty name"):
        load_settings(env={"SERVICE_ACCOUNTS": "a,,b"})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(str(tmp_path / "none.toml"), env={})
