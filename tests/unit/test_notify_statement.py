"""What a notification shows of a statement: by default its normalized text (literals as `$n`), or all of it, or
nothing; a text the grammar cannot read is never shown. Every body a receiver gets is checked: the webhook's three
shapes, the e-mail, the console, and the Lambda's configuration that chooses it."""

from __future__ import annotations

import io
import json

import pytest

from pgaudit_monitor.aws.monitor import MonitorConfig
from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.entrypoints.cli import main
from pgaudit_monitor.errors import ConfigError
from pgaudit_monitor.policy.sql import normalized_statement
from pgaudit_monitor.sinks.base import (
    FULL,
    NONE,
    NORMALIZED,
    NOT_NORMALIZED,
    REMINDER,
    Notification,
    notified,
    shown_statement,
    statement_mode,
)
from pgaudit_monitor.sinks.console import ConsoleNotifier
from pgaudit_monitor.sinks.email import EmailConfig, build_message
from pgaudit_monitor.sinks.webhook import SHAPES, WebhookConfig, build_request

NAME, CARD = "Alice Smith", "4111 1111 1111 1111"
STATEMENT = f"UPDATE customers SET name = '{NAME}', card = '{CARD}' WHERE id = 42"
NORMALIZED_TEXT = "UPDATE customers SET name = $1, card = $2 WHERE id = $3"
CUT_SHORT = f"UPDATE customers SET name = '{NAME}', card = '{CARD}' WHERE"  # a record truncated by the log


def detection(statement: str) -> Detection:
    return Detection.from_dict(
        {"user": "alice", "command": "UPDATE", "relations": ["public.customers"], "time": "2026-01-01 10:00:00 UTC",
         "client": "10.0.0.5(5432)", "database": "shop", "statement": statement, "category": "app-dml"}
    )  # fmt: skip


def bodies(statement: str, mode: str) -> dict[str, str]:
    """Every body a receiver gets for an ALARM and a REMINDER about `statement`, as the watcher builds them."""
    out: dict[str, str] = {}
    for kind in ("ALARM", REMINDER):
        n = Notification(kind, "human-dml", "1-a", "db1", "2026-01-01T10:00:00Z", 1, 60, 1,
                         (notified(detection(statement), mode),))  # fmt: skip
        # the outbox stores the notification as JSON and the dispatcher reads it back before sending
        n = Notification.from_dict(json.loads(json.dumps(n.to_dict())))
        for shape in SHAPES:
            config = WebhookConfig("https://hooks.example/x", shape, key="K")
            out[f"{kind} webhook {shape}"] = json.dumps(build_request(n, config).body, ensure_ascii=False)
        message = build_message(n, EmailConfig("smtp.example", "m@x", ("s@x",)))
        out[f"{kind} email"] = f"{message['Subject']}\n{message.get_content()}"  # decoded: what people read
        console = io.StringIO()
        ConsoleNotifier(console).send(n)
        out[f"{kind} console"] = console.getvalue()
    return out


def test_by_default_no_literal_reaches_any_notification_body() -> None:
    for where, body in bodies(STATEMENT, NORMALIZED).items():
        assert NAME not in body, where
        assert CARD not in body, where
        assert "4111" not in body, where
        assert NORMALIZED_TEXT in body, where
        assert "alice" in body, where  # who and which table are still said
        assert "customers" in body, where


def test_full_shows_the_statement_as_logged() -> None:
    for where, body in bodies(STATEMENT, FULL).items():
        assert NAME in body, where
        assert CARD in body, where


def test_none_shows_no_statement_at_all() -> None:
    for where, body in bodies(STATEMENT, NONE).items():
        assert NAME not in body, where
        assert CARD not in body, where
        assert "SET name" not in body, where
        assert "$1" not in body, where
        assert "alice UPDATE public.customers" in body, where  # the rest of the notification is all there


def test_a_statement_that_does_not_parse_fails_closed() -> None:
    assert normalized_statement(CUT_SHORT) is None
    assert shown_statement(CUT_SHORT, NORMALIZED) == NOT_NORMALIZED
    for where, body in bodies(CUT_SHORT, NORMALIZED).items():
        assert NAME not in body, where
        assert CARD not in body, where
        assert NOT_NORMALIZED in body, where


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        # constants libpg_query's normalize leaves in utility statements, found by PostgreSQL's scanner
        ("COPY customers FROM '/home/alice/cards.csv'", "COPY customers FROM $1"),
        ("EXECUTE upd('Alice Smith', 4111111111111111)", "EXECUTE upd($1, $2)"),
        ("COMMENT ON TABLE customers IS 'Alice Smith'", "COMMENT ON TABLE customers IS $1"),
        (
            "ALTER TABLE customers ALTER name SET DEFAULT 'Alice Smith'",
            "ALTER TABLE customers ALTER name SET DEFAULT $1",
        ),
        # every kind of constant, and a parameter already there
        (
            "UPDATE t SET a = E'Alice\\'s', b = B'1', c = X'ff', d = U&'Alice', e = $$Alice$$, f = 1.5 WHERE g = $1",
            "UPDATE t SET a = $2, b = $3, c = $4, d = $5, e = $6, f = $7 WHERE g = $1",
        ),
        # comments are dropped: a customer's name in a ticket reference
        ("/* ticket for Alice Smith */ DELETE FROM t WHERE id = 1 -- Alice", "DELETE FROM t WHERE id = $1"),
        ("ALTER ROLE bob PASSWORD 'Alice Smith'", "ALTER ROLE bob PASSWORD $1"),
        ("DO $$BEGIN UPDATE t SET a = 'Alice Smith'; END$$", "DO $1"),
        ("SELECT 'Alice Smith'; UPDATE t SET a = 'Alice Smith'", "SELECT $1; UPDATE t SET a = $2"),
    ],
)
def test_normalization_leaves_no_constant_and_no_comment(statement: str, shown: str) -> None:
    assert shown_statement(statement, NORMALIZED) == shown
    assert "Alice" not in shown
    assert "4111" not in shown


@pytest.mark.parametrize("marker", ["", "<not logged>", "<previously logged>"])
def test_pgaudits_stand_ins_for_a_text_are_shown_as_they_are(marker: str) -> None:
    assert shown_statement(marker, NORMALIZED) == marker


def test_the_setting_is_checked_where_it_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert statement_mode("") == NORMALIZED
    assert statement_mode(" Full ") == FULL
    with pytest.raises(ConfigError, match="NOTIFY_STATEMENT: expected one of normalized, full, none"):
        statement_mode("redacted")
    assert MonitorConfig.from_env({"LOG_GROUP_NAME": "g"}).notify_statement == NORMALIZED
    assert MonitorConfig.from_env({"LOG_GROUP_NAME": "g", "NOTIFY_STATEMENT": "none"}).notify_statement == NONE
    with pytest.raises(ConfigError, match="NOTIFY_STATEMENT"):
        MonitorConfig.from_env({"LOG_GROUP_NAME": "g", "NOTIFY_STATEMENT": "raw"})
    with pytest.raises(SystemExit) as exit_info:
        main(["watch", "--notify-statement", "raw", "/nonexistent"])
    assert exit_info.value.code == 2
    assert "--notify-statement" in capsys.readouterr().err
