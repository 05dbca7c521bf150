"""The demo: a throwaway PostgreSQL 15 with pgAudit, a human and a service account at work, then the scan.

Run through `scripts/demo.sh`, which installs what it needs first. Nothing outside a temporary directory is
touched; the server is stopped and removed at the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

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
HUMAN = [
    r"\dt",  # psql's catalog query: noise, not reported
    "SELECT owner, balance FROM accounts WHERE id = 7",
    "UPDATE accounts SET balance = 0 WHERE id = 7 /* pg_catalog DBeaver */",  # comments cannot hide it
    "SELECT 1; DELETE FROM accounts WHERE id = 9",  # the DELETE is reported, once; the SELECT 1 is not
]


def main() -> int:
    print("Starting a throwaway PostgreSQL 15 with pgAudit on 127.0.0.1 ...", flush=True)
    with PgServer(log_destination="stderr") as server:
        server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP)
        for sql in SERVICE:
            print(f"  app_svc$ {sql}")
            server.psql("-c", sql, user="app_svc")
        for sql in HUMAN:
            print(f"  alice$   {sql}")
            server.psql("-c", sql, user="alice")
        server.stop()
        logs = [str(p) for p in server.log_files()]
        command = ["pgaudit-monitor", "scan", "--service-accounts", "app_svc", "--explain", *logs]
        print(f"\n$ {' '.join(command[:5])} <the server's log>\n", flush=True)
        scan = Path(sys.executable).parent / "pgaudit-monitor"
        code = subprocess.run([str(scan), *command[1:]], check=False).returncode
    print(f"\n(exit code {code}: 1 means detections were found)")
    return 0 if code == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
