"""Capture real PostgreSQL 15 + pgAudit log output, under several log_line_prefix settings, for the parser tests.

    python scripts/capture_samples.py            # (re)writes tests/data/prefixes/<name>.log|.csv|.json

For every prefix below, a throwaway server (tests/support/pgserver.py) logs to stderr, csvlog and jsonlog at
once, and the same sessions run against it: real psql and psycopg clients, roles with awkward names, an
application_name with colons and spaces, multi-line statements, quotes and commas, failing statements (ERROR +
STATEMENT), refused connections, a checkpoint, and the server's own start-up and shut-down lines. The three files
the logging collector wrote are copied verbatim; nothing is edited, so the tests read exactly what PostgreSQL writes.

Needs the PostgreSQL 15 and pgAudit Debian packages, and psycopg (the project's `test` extra). Run as root or as a
user who can run initdb.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

import psycopg  # noqa: E402

from pgserver import PgServer, postgres_available  # noqa: E402

OUT = ROOT / "tests" / "data" / "prefixes"

# name -> log_line_prefix. The names are the file names the tests use.
PREFIXES: dict[str, str] = {
    "aurora": "%t:%r:%u@%d:[%p]:",  # Aurora / RDS, fixed
    "default": "%m [%p] ",  # PostgreSQL's default since 10: no user
    "debian": "%m [%p] %q%u@%d ",  # Debian/Ubuntu packages: %q hides user@db on non-session lines
    # Nearly every escape, with padding (%-10u pads on the right, %6p on the left) and a literal %.
    "rich": "%m|%n|%r|%h|%-10u|%d|%6p|%a|%c|%l|%s|%v|%x|%e|%i|%b|%Q|%% ",
}

# Awkward names: a space; brackets and an @ (ambiguous in `%u@%d`); a database with a space.
HUMAN = "alice"
SPACE_USER = "joe user"
BRACKET_USER = "[ops]@corp"
SERVICE = "app_svc"
SHOP = "shop"
SPACE_DB = "sales db"
APP_COLONS = "report tool: v2.1 (joe)"
ETL_APP = "etl:nightly:step 2"
SERVICE_APP = "billing: worker 3"


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


SETUP = [
    "CREATE EXTENSION IF NOT EXISTS pgaudit",
    *(f"CREATE ROLE {q(r)} LOGIN" for r in (HUMAN, SPACE_USER, BRACKET_USER, SERVICE)),
    f"CREATE DATABASE {q(SHOP)}",
    f"CREATE DATABASE {q(SPACE_DB)}",
    f"ALTER ROLE {q(HUMAN)} SET pgaudit.log TO 'all'",
    f"ALTER ROLE {q(SPACE_USER)} SET pgaudit.log TO 'all'",
    f"ALTER ROLE {q(BRACKET_USER)} SET pgaudit.log TO 'read, write'",
    f"ALTER ROLE {q(BRACKET_USER)} SET pgaudit.log_relation TO on",
    f"ALTER ROLE {q(BRACKET_USER)} SET pgaudit.log_parameter TO on",
    f"ALTER ROLE {q(BRACKET_USER)} SET pgaudit.log_statement_once TO on",
    f"ALTER ROLE {q(SERVICE)} SET pgaudit.log TO 'write'",
    f"ALTER ROLE {q(SERVICE)} SET pgaudit.log_rows TO on",
    # Object auditing: statements on orders (SELECT, DELETE) also give OBJECT records, for every role.
    "CREATE ROLE auditor NOLOGIN",
    f"ALTER DATABASE {q(SHOP)} SET pgaudit.role TO 'auditor'",
]
GRANTEES = ", ".join(q(r) for r in (HUMAN, SPACE_USER, BRACKET_USER, SERVICE))
TABLES = f"""
CREATE TABLE accounts (id int PRIMARY KEY, owner text, note text);
CREATE TABLE orders (id int PRIMARY KEY, account_id int, total numeric);
INSERT INTO accounts VALUES (1, 'O''Brien, "Bob"', 'seed'), (2, 'Smith', 'seed');
GRANT ALL ON accounts, orders TO {GRANTEES};
GRANT SELECT, DELETE ON orders TO auditor;
"""

# alice, in psql over TCP: quotes and commas, a multi-line UPDATE, failing statements (one audited, multi-line, with
# a DETAIL), MERGE, a huge expression.
DEEP_EXPRESSION = "+".join(["1"] * 500)
ALICE_SCRIPT = f"""\
INSERT INTO accounts (id, owner, note) VALUES (3, 'Smith, John', 'said "hello", then left');
UPDATE accounts
   SET note = 'first line
second line'
 WHERE id = 3;
SELECT ",,,1," FROM accounts;
SELECT id FROM accounts WHERE id = 1/0;
INSERT INTO accounts
VALUES (1, 'dup', 'x');
MERGE INTO accounts a USING (VALUES (3, 'merged')) AS v(id, note) ON a.id = v.id
WHEN MATCHED THEN UPDATE SET note = v.note;
DELETE FROM accounts WHERE id = {DEEP_EXPRESSION};
"""

# joe user, in psql over the Unix socket ([local]), in "sales db", with an application_name full of colons.
JOE_SCRIPT = """\
CREATE TABLE leads (id int, who text);
INSERT INTO leads VALUES (1, 'tab\there');
SELECT who,
\tcount(*)
\tFROM leads
\tGROUP BY who;
COPY leads TO STDOUT WITH (FORMAT csv);
TRUNCATE leads;
"""


def psql_script(
    server: PgServer, user: str, dbname: str, script: str, *, app: str = "psql", local: bool = False
) -> None:
    host = str(server.socket_dir) if local else server.host
    cmd = ["psql", "-X", "-q", "-h", host, "-p", str(server.port), "-U", user, "-d", dbname, "-f", "-"]
    env = {"PATH": "/usr/bin:/bin", "PGAPPNAME": app, "PGCONNECT_TIMEOUT": "10"}
    subprocess.run(cmd, input=script, text=True, capture_output=True, check=True, env=env)


def refused(server: PgServer, user: str, dbname: str) -> None:
    """A connection the server refuses: `connection received` with [unknown], then FATAL."""
    result = server.psql("-c", "SELECT 1", user=user, dbname=dbname, check=False)
    assert result.returncode != 0, result


def run_sessions(server: PgServer) -> None:
    server.psql("-v", "ON_ERROR_STOP=1", "-f", "-", stdin="".join(f"{statement};\n" for statement in SETUP))
    server.psql("-v", "ON_ERROR_STOP=1", "-f", "-", dbname=SHOP, stdin=TABLES)
    server.psql("-v", "ON_ERROR_STOP=1", "-c", f"GRANT ALL ON SCHEMA public TO {q(SPACE_USER)}", dbname=SPACE_DB)

    psql_script(server, HUMAN, SHOP, ALICE_SCRIPT)
    psql_script(server, SPACE_USER, SPACE_DB, JOE_SCRIPT, app=APP_COLONS, local=True)

    # A driver with server-side parameters: log_parameter fills PARAMETER, log_relation one record per relation,
    # log_statement_once leaves the text out of the second; log_rows adds ROWS to app_svc's records.
    with psycopg.connect(server.dsn(BRACKET_USER, SHOP, application_name=ETL_APP)) as conn:
        conn.execute("INSERT INTO orders (id, account_id, total) VALUES (%s, %s, %s)", (10, 1, "9.99"))
        conn.execute(
            "SELECT o.id, a.owner FROM orders o JOIN accounts a ON a.id = o.account_id WHERE a.owner <> %s",
            ('O\'Brien, "Bob"',),
        )
        conn.execute("UPDATE orders\nSET total = total + 1\nWHERE id = %s", (10,))
    with psycopg.connect(server.dsn(SERVICE, SHOP, application_name=SERVICE_APP)) as conn:
        conn.execute("INSERT INTO orders VALUES (11, 2, 1.5)")
        conn.execute("DELETE FROM orders WHERE id = 11")

    refused(server, "ghost", SHOP)  # no such role
    refused(server, HUMAN, "nope")  # no such database
    server.sql("CHECKPOINT")  # checkpointer lines: no user, no database, no client


def capture(name: str, prefix: str) -> None:
    settings = {"log_checkpoints": "on", "compute_query_id": "on"}
    server = PgServer(log_line_prefix=prefix, settings=settings)
    try:
        server.start()
        run_sessions(server)
        server.wait_for_log("checkpoint complete")
        time.sleep(0.5)
        server.stop()  # the fast shutdown's own lines end each file
        for suffix, ext in ((".log", ".log"), (".csv", ".csv"), (".json", ".json")):
            (source,) = server.log_files(suffix)
            shutil.copyfile(source, OUT / f"{name}{ext}")
    finally:
        server.cleanup()


def main() -> int:
    if not postgres_available():
        print("PostgreSQL 15 is not installed (see scripts/setup.sh)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    for name, prefix in PREFIXES.items():
        capture(name, prefix)
        sizes = ", ".join(f"{p.name} {p.stat().st_size} B" for p in sorted(OUT.glob(f"{name}.*")))
        print(f"{name:8} {prefix!r}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
