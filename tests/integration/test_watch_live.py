"""Local mode end to end: the real server writes its log through the logging collector, real psql and psycopg
sessions run the scripted workload, the watcher (a separate process) follows the log directory and notifies a real
HTTPS receiver (self-signed certificate, trusted through --webhook-ca-file) and a real SMTP server (STARTTLS and
login). Faults on the way: the webhook answers 500, then refuses connections; the SMTP server is down; the watcher
is killed with SIGKILL twice; the collector rotates; PostgreSQL itself writes a malformed audit entry. In the end
every human statement is one detection and every alarm transition one delivered notification per channel."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path

import pytest

from pgserver import PgServer, require_postgres
from watchkit import HttpsReceiver, SmtpReceiver, WatcherProcess, make_certificate, wait_for
from workload import CASES, SERVICE_ACCOUNTS, SETUP_SQL, expected_detections, normalize, run_case

NAME, CARD = "Alice Smith", "4111 1111 1111 1111"
FINAL_UPDATE = f"UPDATE accounts SET note = '{NAME}, card {CARD}' WHERE id = 8"
NOTIFIED_UPDATE = "UPDATE accounts SET note = $1 WHERE id = $2"  # --notify-statement's default: normalized


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _delivered(watcher: WatcherProcess, channel: str) -> list[tuple[str, str]]:
    rows = watcher.query(
        f"SELECT payload FROM outbox WHERE channel = '{channel}' AND delivered IS NOT NULL ORDER BY id"
    )
    return [(json.loads(p)["kind"], json.loads(p)["incident"]) for (p,) in rows]


def _settled(watcher: WatcherProcess) -> bool:
    alarm = watcher.meta("alarm") or {}
    pending = watcher.query("SELECT count(*) FROM outbox WHERE delivered IS NULL")
    return alarm.get("state") == "OK" and bool(pending) and pending[0][0] == 0


@pytest.mark.postgres
def test_live_log_alerts_through_webhook_and_email_despite_faults(tmp_path: Path) -> None:
    require_postgres()
    key, password = f"whk-{secrets.token_hex(12)}", f"smtp-{secrets.token_hex(12)}"
    cert, cert_key = make_certificate(tmp_path)
    hook = HttpsReceiver(cert, cert_key, mode="fail").start()
    smtp = SmtpReceiver(cert, cert_key, "alerts", password, _free_port())  # not started: refusing at first
    key_file = tmp_path / "webhook.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    first, second, third = CASES[:15], CASES[15:30], CASES[30:]
    try:
        with PgServer() as server:  # stderr, csvlog and jsonlog: the watcher follows one of them (*.json)
            server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP_SQL)
            watcher = WatcherProcess(
                [str(server.log_dir), "--service-accounts", SERVICE_ACCOUNTS, "--window-seconds", "2",
                 "--retry-max-seconds", "1", "--webhook-url", hook.url, "--webhook-ca-file", str(cert),
                 "--webhook-key-file", str(key_file), "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port),
                 "--smtp-user", "alerts", "--smtp-to", "security@example.com", "--smtp-ca-file", str(cert)],
                tmp_path / "state", env={"PGAUDIT_MONITOR_SMTP_PASSWORD": password},
            )  # fmt: skip
            watcher.start()
            wait_for(lambda: watcher.meta("heartbeat"), "the watcher's first step")

            # Phase 1: the webhook answers 500, the SMTP server is down.
            for case in first:
                run_case(server, case)
            server.rotate()
            wait_for(lambda: len(watcher.journal()) >= len(expected_detections(first)), "phase 1 detections")
            wait_for(lambda: hook.failed >= 1, "a failed delivery")
            run_case(server, second[0])
            watcher.kill()  # SIGKILL in the middle of the traffic
            run_case(server, second[1])
            watcher.start()

            # Phase 2: the webhook refuses connections; PostgreSQL writes an audit entry that cannot be read.
            hook.go_down()
            for case in second[2:]:
                run_case(server, case)
            server.sql("DO $$ BEGIN RAISE LOG 'AUDIT: SESSION,broken'; END $$")
            server.rotate()
            wait_for(lambda: len(watcher.journal()) >= len(expected_detections(first + second)), "phase 2")
            watcher.kill()
            watcher.start()

            # Phase 3: both receivers back; the rest of the workload.
            hook.come_back()
            smtp.start()
            for case in third:
                run_case(server, case)
            wait_for(lambda: len(watcher.journal()) >= len(expected_detections()), "every detection")
            wait_for(lambda: _settled(watcher), "the alarm back to OK, the outbox empty", timeout=120)

            # One more UPDATE in psql: exactly one ALARM, then one OK, on each channel.
            before = len(hook.bodies())
            server.psql("-c", FINAL_UPDATE, user="alice")
            alarm = wait_for(lambda: [b for b in hook.bodies()[before:] if b["kind"] == "ALARM"], "the last ALARM")
            wait_for(lambda: len(hook.bodies()) >= before + 2 and _settled(watcher), "the last OK", timeout=120)
            code, status = watcher.status()
            assert watcher.terminate() == 0
    finally:
        if "watcher" in locals():
            watcher.ensure_stopped()
        hook.stop()
        smtp.stop()

    # Every human statement exactly once, in the journal.
    journal = watcher.journal()
    final = ("alice", "UPDATE", ("accounts",), "app-dml")
    assert sorted(normalize(d) for d in journal) == sorted([*expected_detections(), final])
    assert watcher.meta("malformed_total") >= 1

    # Every transition exactly once per channel, in order, each ALARM closed by its OK.
    transitions = _delivered(watcher, "webhook")
    received = [(b["kind"], b["incident"]) for b in hook.bodies()]
    assert received == transitions
    assert sorted(smtp.incidents(), key=transitions.index) == transitions
    assert len(set(transitions)) == len(transitions)
    assert [kind for kind, _ in transitions] == ["ALARM", "OK"] * (len(transitions) // 2)
    assert all(a[1] == o[1] for a, o in zip(transitions[::2], transitions[1::2], strict=True))
    assert hook.failed >= 1
    assert all(r.authorization == f"Bearer {key}" for r in hook.delivered)

    # The last ALARM says who did what to which table, when and from where.
    (last,) = alarm
    (detection,) = last["detections"]
    assert (detection["user"], detection["command"], detection["statement"]) == ("alice", "UPDATE", NOTIFIED_UPDATE)
    assert "accounts" in last["title"]
    assert detection["client"].startswith("127.0.0.1")
    assert detection["time"]
    mail = smtp.messages[-2]
    assert mail["X-Pgaudit-Monitor-Kind"] == "ALARM"
    assert "[ALARM]" in mail["Subject"]
    assert NOTIFIED_UPDATE in mail.get_payload(decode=True).decode()
    assert "alice UPDATE accounts" in mail.get_payload(decode=True).decode()
    assert smtp.logins

    # The literals (a name, a card number) reached no receiver, nor the outbox; the journal, the record, has them.
    received_texts = [json.dumps(b, ensure_ascii=False) for b in hook.bodies()]
    received_texts += [f"{m['Subject']}\n{m.get_payload(decode=True).decode()}" for m in smtp.messages]
    outbox = [payload for (payload,) in watcher.query("SELECT payload FROM outbox")]
    for text in received_texts + outbox:
        assert NAME not in text
        assert "4111" not in text
    assert FINAL_UPDATE in [d["statement"] for d in journal]

    # Secrets appear nowhere: not in the watcher's output, its state, nor its journal.
    for text in (watcher.output(), (tmp_path / "state" / "state.sqlite3").read_bytes().decode("latin-1"),
                 (tmp_path / "state" / "detections.jsonl").read_text()):  # fmt: skip
        assert key not in text
        assert password not in text

    # status: files followed, alarm, last detection, outbox depth.
    assert code == 0
    assert "alarm:      OK" in status
    assert "alice UPDATE accounts" in status
    assert "webhook  0 pending" in status
    assert "email    0 pending" in status
    assert ".json" in status
