"""The demo: a throwaway PostgreSQL 15 with pgAudit, the watcher following its log, a human and a service account
at work, and the alert arriving on a webhook about a second after the human's UPDATE.

Run through `scripts/demo.sh`, which installs what it needs first. Nothing outside a temporary directory is
touched; the server and the watcher are stopped and removed at the end.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from pgserver import PgServer

SETUP = """
CREATE EXTENSION pgaudit;
CREATE ROLE alice LOGIN;                           -- a developer with direct access
CREATE ROLE app_svc LOGIN;                         -- the application's service account
ALTER ROLE alice SET pgaudit.log TO 'all';         -- audit the human
ALTER ROLE app_svc SET pgaudit.log TO 'all';       -- audited by mistake: the policy excludes it anyway
CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric);
INSERT INTO accounts SELECT g, 'customer ' || g, 100 FROM generate_series(1, 10) g;
GRANT ALL ON accounts TO alice, app_svc;
"""

SERVICE = ["UPDATE accounts SET balance = balance + 1 WHERE id = 3", "SELECT * FROM accounts WHERE id = 4"]
NOISE = [r"\dt", "SELECT 1"]  # psql's catalog query and a health check: not reported
HUMAN_UPDATE = "UPDATE accounts SET balance = 0 WHERE id = 7 /* pg_catalog DBeaver */"  # comments cannot hide it
BIN = Path(sys.executable).parent / "pgaudit-monitor"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on loopback (plain http is allowed to loopback only)."""

    alerts: ClassVar[list[tuple[float, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        Receiver.alerts.append((time.time(), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="pgaudit-monitor-demo-"))
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    print("Starting a throwaway PostgreSQL 15 with pgAudit on 127.0.0.1 ...", flush=True)
    try:
        with PgServer(log_destination="stderr") as server:
            server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP)
            command = [str(BIN), "watch", "--service-accounts", "app_svc", "--window-seconds", "10",
                       "--webhook-url", url, "--state-dir", str(work / "state"), str(server.log_dir)]  # fmt: skip
            print(f"\n$ pgaudit-monitor watch --service-accounts app_svc --webhook-url {url} <log directory> &\n")
            with open(work / "watch.log", "w") as log:
                watcher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            wait(lambda: "following" in (work / "watch.log").read_text())
            for sql in SERVICE:
                print(f"  app_svc$ {sql}")
                server.psql("-c", sql, user="app_svc")
            for sql in NOISE:
                print(f"  alice$   {sql}")
                server.psql("-c", sql, user="alice")
            print(f"  alice$   {HUMAN_UPDATE}      (an interactive psql session, left open)", flush=True)
            psql = subprocess.Popen(
                ["psql", "-X", "-q", "-h", server.host, "-p", str(server.port), "-U", "alice", "-d", "postgres"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert psql.stdin
            assert psql.stdout
            psql.stdin.write(f"{HUMAN_UPDATE};\n\\echo committed\n")
            psql.stdin.flush()
            psql.stdout.readline()
            committed = time.time()
            arrived = wait(lambda: Receiver.alerts, 30)
            psql.stdin.close()
            psql.wait()
            if arrived:
                at, alert = Receiver.alerts[0]
                print(f"\nwebhook: alert received {at - committed:.1f} s after the commit:\n")
                print("  " + alert["title"])
                for detection in alert["detections"]:
                    print(f"    statement: {detection['statement']}")
            else:
                print("\nwebhook: no alert within 30 s (see the watcher's log below)")
                print((work / "watch.log").read_text())
            print("\n$ pgaudit-monitor status\n", flush=True)
            subprocess.run([str(BIN), "status", "--state-dir", str(work / "state")], check=False)
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=30)
            print(f"\nThe record of every detection ({work / 'state' / 'detections.jsonl'}):")
            for line in (work / "state" / "detections.jsonl").read_text().splitlines():
                d = json.loads(line)
                print(f"  {d['time']}  {d['user']}  {d['command']} {', '.join(d['relations'])}  from {d['client']}")
    finally:
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print("\n(the service account's statements, psql's \\dt and SELECT 1 raised nothing)")
    return 0 if arrived else 1


if __name__ == "__main__":
    sys.exit(main())
