"""The watcher's pure parts: alarm semantics, retry schedule, webhook URL policy and payload shapes, email's
refusal to send without STARTTLS."""

from __future__ import annotations

import socket

import pytest

from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.errors import DeliveryError, WebhookConfigError
from pgaudit_monitor.sinks.base import Notification
from pgaudit_monitor.sinks.email import EmailConfig, EmailSink
from pgaudit_monitor.sinks.webhook import WebhookConfig, build_request
from pgaudit_monitor.watch.alarm import Alarm, AlarmRule, AlarmState
from pgaudit_monitor.watch.outbox import Backoff

DETECTION = Detection.from_dict(
    {"user": "alice", "command": "UPDATE", "relations": ["public.accounts"], "time": "2026-01-01 10:00:00 UTC",
     "client": "10.0.0.5(5432)", "database": "shop", "statement": "UPDATE accounts SET x = 1",
     "category": "app-dml"})  # fmt: skip


def kinds(transitions: list) -> list[str]:
    return [t.kind for t in transitions]


def test_alarm_fires_at_once_when_the_window_reaches_the_threshold() -> None:
    alarm = Alarm(AlarmRule(window_seconds=60, threshold=1))
    assert kinds(alarm.observe(DETECTION, 1000.0)) == ["ALARM"]  # mid-window, not at its end
    assert kinds(alarm.observe(DETECTION, 1001.0)) == []  # one notification per transition


def test_alarm_goes_ok_after_a_whole_window_without_detections() -> None:
    alarm = Alarm(AlarmRule(window_seconds=60, threshold=1))
    alarm.observe(DETECTION, 1000.0)  # window [960, 1020)
    assert kinds(alarm.tick(1030.0)) == []  # [1020, 1080) is not over
    alarm.observe(DETECTION, 1070.0)  # that window breaches too
    assert kinds(alarm.tick(1139.0)) == []
    (ok,) = alarm.tick(1140.0)  # [1080, 1140) had none
    assert (ok.kind, ok.count, ok.at) == ("OK", 2, 1140.0)
    assert kinds(alarm.observe(DETECTION, 1200.0)) == ["ALARM"]  # a new incident
    assert alarm.state.incident != ok.incident


def test_alarm_after_a_long_quiet_gap_goes_ok_at_once() -> None:
    alarm = Alarm(AlarmRule(window_seconds=10, threshold=1))
    alarm.observe(DETECTION, 100.0)
    assert kinds(alarm.tick(500.0)) == ["OK"]


def test_threshold_counts_per_window() -> None:
    alarm = Alarm(AlarmRule(window_seconds=60, threshold=3))
    assert kinds(alarm.observe(DETECTION, 0.0) + alarm.observe(DETECTION, 1.0)) == []
    assert kinds(alarm.observe(DETECTION, 61.0)) == []  # a new window starts from zero
    assert kinds(alarm.observe(DETECTION, 62.0)) == []
    (fired,) = alarm.observe(DETECTION, 63.0)
    assert (fired.kind, fired.count, len(fired.detections)) == ("ALARM", 3, 3)
    assert kinds(alarm.tick(180.0)) == ["OK"]  # [120, 180) stayed below the threshold


def test_renotify_sends_a_reminder_only_with_new_detections() -> None:
    alarm = Alarm(AlarmRule(window_seconds=60, threshold=1, renotify_seconds=30))
    alarm.observe(DETECTION, 0.0)
    assert kinds(alarm.tick(40.0)) == []  # nothing new
    alarm.observe(DETECTION, 41.0)
    assert kinds(alarm.tick(45.0)) == ["REMINDER"]
    alarm.observe(DETECTION, 50.0)
    assert kinds(alarm.tick(60.0)) == []  # at most every 30 s
    assert kinds(alarm.tick(75.0)) == ["REMINDER"]


def test_alarm_state_survives_a_round_trip() -> None:
    alarm = Alarm(AlarmRule())
    alarm.observe(DETECTION, 1000.0)
    again = Alarm(AlarmRule(), AlarmState.from_dict(alarm.state.to_dict()))
    assert kinds(again.observe(DETECTION, 1001.0)) == []
    assert again.state.episode_count == 2


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=1.0, cap=300.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 9, 10, 100)] == [1.0, 2.0, 4.0, 256.0, 300.0, 300.0]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/x", True),
        ("http://127.0.0.1:8080/x", True),
        ("http://[::1]/x", True),
        ("http://localhost/x", True),
        ("http://hooks.example.com/x", False),  # alerts never cross a network in clear
        ("http://10.0.0.1/x", False),
        ("ftp://example.com/x", False),
    ],
)
def test_webhook_url_policy(url: str, ok: bool) -> None:
    if ok:
        WebhookConfig(url)
    else:
        with pytest.raises(WebhookConfigError):
            WebhookConfig(url)


def notification(kind: str) -> Notification:
    return Notification(kind, "human-dml", "123-abc", "db1", "2026-01-01T10:00:00.000Z", 1, 60, 1, (DETECTION,))


def test_pagerduty_shape_triggers_and_resolves_one_incident() -> None:
    config = WebhookConfig("https://events.pagerduty.com/v2/enqueue", "pagerduty", key="R0UTING")
    trigger = build_request(notification("ALARM"), config).body
    resolve = build_request(notification("OK"), config).body
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "human-dml/123-abc"
    assert trigger["routing_key"] == "R0UTING"
    assert trigger["payload"]["severity"] == "critical"
    assert "alice UPDATE public.accounts" in trigger["payload"]["summary"]
    assert "from 10.0.0.5(5432)" in trigger["payload"]["summary"]


def test_opsgenie_shape_creates_then_closes_by_alias() -> None:
    config = WebhookConfig("https://api.opsgenie.com/v2/alerts", "opsgenie", key="G3NIE")
    create = build_request(notification("ALARM"), config)
    close = build_request(notification("OK"), config)
    assert create.url == "https://api.opsgenie.com/v2/alerts"
    assert create.headers["Authorization"] == "GenieKey G3NIE"
    assert create.body["alias"] == "human-dml/123-abc"
    assert len(create.body["message"]) <= 130
    assert close.url == "https://api.opsgenie.com/v2/alerts/human-dml%2F123-abc/close?identifierType=alias"


def test_generic_shape_is_the_notification_with_a_bearer_key() -> None:
    request = build_request(notification("ALARM"), WebhookConfig("https://x.example/h", key="K"))
    assert request.headers["Authorization"] == "Bearer K"
    assert request.body["detections"][0]["statement"] == "UPDATE accounts SET x = 1"
    assert request.body["kind"] == "ALARM"


def test_email_is_not_sent_to_a_server_without_starttls() -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        received = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            Handler.received += 1
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sink = EmailSink(EmailConfig("127.0.0.1", "m@localhost", ("sec@example.com",), port=port))
        with pytest.raises(DeliveryError, match="STARTTLS"):
            sink.send(notification("ALARM"))
    finally:
        controller.stop()
    assert Handler.received == 0


def test_alert_text_names_audit_tampering_and_its_rule() -> None:
    # Tampering reaches the same alert path as DML; the person reading the page must see it is not a DML.
    from pgaudit_monitor.sinks.base import describe

    text = describe(Detection.from_dict({"user": "alice", "command": "SET", "relations": [], "category": "audit-tamper",
                     "rule": "SET pgaudit.log", "time": "t", "client": "c", "database": "d"}))  # fmt: skip
    assert text == "alice SET ? (audit tampering: SET pgaudit.log) at t from c on database d"  # no severity given


def test_delivered_notifications_are_pruned_after_a_week_and_still_counted(tmp_path) -> None:
    import threading
    import time

    from pgaudit_monitor.watch.outbox import KEEP_DELIVERED_SECONDS, Dispatcher
    from pgaudit_monitor.watch.state import StateStore, connect

    class Received:
        name = "console"

        def __init__(self) -> None:
            self.kinds: list[str] = []

        def send(self, notification: Notification) -> None:
            self.kinds.append(notification.kind)

    sink, logged = Received(), []
    store = StateStore(connect(str(tmp_path)))
    dispatcher = Dispatcher(str(tmp_path), [sink], Backoff(), threading.Event(), logged.append)
    now = time.time()
    store.enqueue("console", notification("ALARM").to_dict(), now=now)
    dispatcher.deliver_due(store, now=now)
    # as if delivered over a week ago (the dispatcher stamps deliveries with the clock)
    store.conn.execute("UPDATE outbox SET delivered = ? WHERE id = 1", (now - KEEP_DELIVERED_SECONDS - 1,))
    store.enqueue("console", notification("OK").to_dict(), now=now)
    store.enqueue("console", notification("ALARM").to_dict(), now=now)
    store.mark_failed(3, "later", next_attempt=now + 3600)  # the third waits: it must survive any pruning
    dispatcher.deliver_due(store, now=now)
    assert sink.kinds == ["ALARM", "OK"]
    rows = store.conn.execute("SELECT id, delivered IS NOT NULL FROM outbox ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(2, 1), (3, 0)]  # the first, delivered over a week before, is gone
    assert store.delivered_counts() == {"console": 2}
    assert store.channels() == ["console"]
