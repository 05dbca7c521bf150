"""Configuration in one place: a small TOML file, then environment variables, then command-line flags.

The environment variables carry the names the Lambda uses, so one policy travels unchanged between the CLI, the
watcher and the AWS deployment:

    PGAUDIT_MONITOR_CONFIG   path of the TOML file (optional)
    SERVICE_ACCOUNTS         comma-separated users or glob patterns whose DML is expected (`app_*,etl`)
    LOG_LINE_PREFIX          the server's log_line_prefix (default: Aurora/RDS's `%t:%r:%u@%d:[%p]:`)

    SEVERITY                 relation globs and their severity (`billing.*=critical,public.audit_view=low`)

The TOML file takes the same settings in lower case (`[severity]` as a table: `"billing.*" = "critical"`), plus
`builtin_service_accounts` (default `["rdsadmin"]`; set `[]` to audit Aurora's internal user too) and
`sensitive_catalogs`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pgaudit_monitor.entries.prefix import AURORA_PREFIX, compile_prefix
from pgaudit_monitor.errors import ConfigError, PrefixError
from pgaudit_monitor.policy.accounts import BUILTIN_SERVICE_ACCOUNTS, ServiceAccounts
from pgaudit_monitor.policy.catalog import DEFAULT_SENSITIVE_CATALOGS
from pgaudit_monitor.policy.severity import Severities, parse_severity
from pgaudit_monitor.policy.verdict import Policy

CONFIG_ENV = "PGAUDIT_MONITOR_CONFIG"
_KEYS = {"service_accounts", "builtin_service_accounts", "log_line_prefix", "sensitive_catalogs", "severity"}


@dataclass(frozen=True)
class Settings:
    service_accounts: tuple[str, ...] = ()
    builtin_service_accounts: tuple[str, ...] = BUILTIN_SERVICE_ACCOUNTS
    log_line_prefix: str = AURORA_PREFIX
    sensitive_catalogs: frozenset[str] = field(default=DEFAULT_SENSITIVE_CATALOGS)
    severities: Severities = field(default_factory=Severities)

    def policy(self) -> Policy:
        accounts = ServiceAccounts(self.builtin_service_accounts + self.service_accounts)
        return Policy(service_accounts=accounts, sensitive_catalogs=self.sensitive_catalogs, severities=self.severities)


def parse_account_list(text: str, origin: str) -> tuple[str, ...]:
    """`a, b ,app_*` -> ("a", "b", "app_*"). Empty items are an error: `a,,b` is more likely a typo than a wish."""
    if not text.strip():
        return ()
    items = tuple(item.strip() for item in text.split(","))
    if any(not item for item in items):
        raise ConfigError(f"{origin}: empty name in service-account list {text!r}")
    return items


def _string_list(value: Any, origin: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{origin}: expected a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def parse_severities(text: str, origin: str) -> Severities:
    """`billing.*=critical, public.audit_view=low` -> Severities; a pair without `=`, an empty glob or an unknown
    level is an error naming `origin`."""
    rules = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        pattern, equals, level = (piece.strip() for piece in item.partition("="))
        if not equals or not pattern:
            raise ConfigError(f"{origin}: expected RELATION_GLOB=LEVEL, got {item!r}")
        rules.append((pattern, parse_severity(level, f"{origin}: {pattern}")))
    return Severities(tuple(rules))


def _severity_table(value: Any, origin: str) -> Severities:
    if not isinstance(value, dict):
        raise ConfigError(f'{origin}: expected a table of relation globs and levels ("billing.*" = "critical")')
    rules = []
    for pattern, level in value.items():
        if not pattern.strip() or not isinstance(level, str):
            raise ConfigError(f"{origin}: {pattern!r}: expected a non-empty glob and a level, got {level!r}")
        rules.append((pattern.strip(), parse_severity(level, f"{origin}: {pattern}")))
    return Severities(tuple(rules))


def _from_toml(path: str, settings: Settings) -> Settings:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
    changes: dict[str, Any] = {}
    for key in ("service_accounts", "builtin_service_accounts"):
        if key in data:
            changes[key] = _string_list(data[key], f"{path}: {key}")
    if "sensitive_catalogs" in data:
        changes["sensitive_catalogs"] = frozenset(
            _string_list(data["sensitive_catalogs"], f"{path}: sensitive_catalogs")
        )
    if "severity" in data:
        changes["severities"] = _severity_table(data["severity"], f"{path}: severity")
    if "log_line_prefix" in data:
        if not isinstance(data["log_line_prefix"], str):
            raise ConfigError(f"{path}: log_line_prefix: expected a string")
        changes["log_line_prefix"] = data["log_line_prefix"]
    return replace(settings, **changes)


def load_settings(
    config_path: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    service_accounts: str | None = None,
    log_line_prefix: str | None = None,
) -> Settings:
    """Defaults, then the TOML file, then the environment, then the explicit arguments (command-line flags)."""
    env = os.environ if env is None else env
    settings = Settings()
    path = config_path or env.get(CONFIG_ENV)
    if path:
        settings = _from_toml(path, settings)
    if env.get("SERVICE_ACCOUNTS"):
        settings = replace(settings, service_accounts=parse_account_list(env["SERVICE_ACCOUNTS"], "SERVICE_ACCOUNTS"))
    if env.get("SEVERITY"):
        settings = replace(settings, severities=parse_severities(env["SEVERITY"], "SEVERITY"))
    if env.get("LOG_LINE_PREFIX"):
        settings = replace(settings, log_line_prefix=env["LOG_LINE_PREFIX"])
    if service_accounts is not None:
        settings = replace(settings, service_accounts=parse_account_list(service_accounts, "--service-accounts"))
    if log_line_prefix is not None:
        settings = replace(settings, log_line_prefix=log_line_prefix)
    try:
        compile_prefix(settings.log_line_prefix)
    except PrefixError as exc:
        raise ConfigError(str(exc)) from exc
    return settings
