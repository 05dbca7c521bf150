"""Severity: relation globs to levels, the most severe relation wins, tampering is critical, unknown schemas fail
toward the more severe reading; the levels reach the receivers in their own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.errors import ConfigError
from pgaudit_monitor.policy.severity import Severities, Severity, most_severe
from pgaudit_monitor.sinks.base import Notification, describe
from pgaudit_monitor.sinks.webhook import WebhookConfig, build_request

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
MAP = Severities(((("billing.*"), CRITICAL), ("public.audit_view", LOW), ("payroll", MEDIUM), ("public.*", LOW)))


@pytest.mark.parametrize(
    ("relations", "expected"),
    [
        (("billing.invoices",), CRITICAL),
        (("public.audit_view",), LOW),
        (("public.orders",), LOW),  # public.* = low
        (("sales.orders",), HIGH),  # no glob: the default
        (("hr.payroll",), MEDIUM),  # a glob without a dot names it in any schema
        (("payroll",), CRITICAL),  # no schema in the log: it may be billing.payroll
        (("invoices",), CRITICAL),  # no schema in the log: it may be billing's
        (("orders",), CRITICAL),  # it may be billing.orders
        (("public.orders", "billing.x"), CRITICAL),  # the most severe relation
        ((), HIGH),
    ],
)
def test_a_detection_takes_its_most_severe_relation(relations: tuple[str, ...], expected: Severity) -> None:
    assert MAP.of("app-dml", relations) is expected


def test_a_name_without_schema_takes_the_more_severe_of_what_it_may_be() -> None:
    public_low = Severities((("public.*", LOW),))
    assert public_low.of("app-dml", ("orders",)) is HIGH  # public.orders (low) or another schema's (the default)
    assert public_low.of("app-dml", ("public.orders",)) is LOW
    assert Severities((("orders", LOW),)).of("app-dml", ("orders",)) is LOW  # named in every schema: certain


def test_tampering_is_critical_whatever_it_touched() -> None:
    assert MAP.of("audit-tamper", ("public.orders",)) is CRITICAL
    assert Severities().of("audit-tamper", ()) is CRITICAL
    assert Severities().of("app-dml", ("public.orders",)) is HIGH


def test_most_severe_ignores_what_is_not_a_level() -> None:
    assert most_severe(["low", None, "critical", "bogus", "medium"]) is CRITICAL
    assert most_severe([None, "?"]) is None


def test_config_file_and_environment(tmp_path: Path) -> None:
    conf = tmp_path / "m.toml"
    conf.write_text('[severity]\n"billing.*" = "critical"\n"public.logs" = "Low"\n')
    assert load_settings(str(conf), env={}).severities.rules == (("billing.*", CRITICAL), ("public.logs", LOW))
    from_env = load_settings(str(conf), env={"SEVERITY": "hr.* = medium, ,x=high"}).severities
    assert from_env.rules == (("hr.*", MEDIUM), ("x", HIGH))  # the environment replaces the file's table
    assert load_settings(str(conf), env={}).policy().severities.of("app-dml", ["billing.t"]) is CRITICAL


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            '[severity]\n"a.*" = "urgent"\n',
            "",
            r"m\.toml: severity: a\.\*: unknown severity 'urgent'; expected one of low",
        ),
        ("severity = 3\n", "", r"m\.toml: severity: expected a table"),
        ('[severity]\n"a" = 1\n', "", r"m\.toml: severity: 'a': expected a non-empty glob and a level, got 1"),
        ("", "billing.*", r"SEVERITY: expected RELATION_GLOB=LEVEL, got 'billing\.\*'"),
        ("", "=high", r"SEVERITY: expected RELATION_GLOB=LEVEL, got '=high'"),
        ("", "a=hihg", r"SEVERITY: a: unknown severity 'hihg'"),
    ],
)
def test_bad_severities_name_where_and_why(tmp_path: Path, toml: str, env: str, message: str) -> None:
    conf = tmp_path / "m.toml"
    conf.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(conf), env={"SEVERITY": env} if env else {})


def _detection(severity: str | None) -> Detection:
    return Detection.from_dict({"user": "alice", "command": "UPDATE", "relations": ["public.t"], "category": "app-dml",
                                "severity": severity, "time": "t", "client": "c", "database": "d"})  # fmt: skip


@pytest.mark.parametrize(
    ("levels", "pagerduty", "opsgenie"),
    [
        (("low",), "info", "P4"),
        (("low", "medium"), "warning", "P3"),
        (("high", "low"), "error", "P2"),
        (("critical", "high"), "critical", "P1"),
        ((), "critical", "P1"),
    ],
)
def test_receivers_get_the_notifications_most_severe_level(
    levels: tuple[str, ...], pagerduty: str, opsgenie: str
) -> None:
    n = Notification("ALARM", "human-dml", "1-a", "db1", "2026-01-01T10:00:00.000Z", len(levels), 60, 1,
                     tuple(_detection(level) for level in levels))  # fmt: skip
    pd = build_request(n, WebhookConfig("https://events.pagerduty.com/v2/enqueue", "pagerduty", key="K")).body
    og = build_request(n, WebhookConfig("https://api.opsgenie.com/v2/alerts", "opsgenie", key="K")).body
    assert pd["payload"]["severity"] == pagerduty
    assert og["priority"] == opsgenie


def test_alert_text_leads_with_the_severity() -> None:
    assert describe(_detection("medium")).startswith("[medium] alice UPDATE public.t at t")
    assert describe(_detection(None)).startswith("alice UPDATE")
