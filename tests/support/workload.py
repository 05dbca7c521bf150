"""Scripted sessions against the real test server, each with the detections it must produce.

Every case is run by a real client (psql, or psycopg for drivers) as a given role, in its own connection, in the
order of the table. Its `expect` lists, in order, the statements the monitor must report for it: (command,
relations, category). Relations are written without the `public.` schema: pgAudit names them qualified when
log_relation is on (bob), the text names them as written (alice), and the comparison drops `public.`.

Roles: alice (human, pgaudit.log = all), bob (human, log = all and log_relation = on), carol (human superuser),
app_svc (service account, not audited), etl_svc (service account audited by mistake, matched by `*_svc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.pipeline import Pipeline
from pgserver import PgServer

SERVICE_ACCOUNTS = "*_svc"
APP = "app-dml"
SENSITIVE = "sensitive-catalog"

SETUP_SQL = """
CREATE EXTENSION IF NOT EXISTS pgaudit;
CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN SUPERUSER;
CREATE ROLE app_svc LOGIN; CREATE ROLE etl_svc LOGIN;
ALTER ROLE alice SET pgaudit.log TO 'all';
ALTER ROLE bob SET pgaudit.log TO 'all';
ALTER ROLE bob SET pgaudit.log_relation TO on;
ALTER ROLE carol SET pgaudit.log TO 'all';
ALTER ROLE etl_svc SET pgaudit.log TO 'all';
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric, note text);
INSERT INTO accounts SELECT g, g * 10, 'n' || g FROM generate_series(1, 20) g;
CREATE TABLE audit_t (x int);
CREATE TABLE secret_t (x int);
CREATE SEQUENCE s1;
CREATE VIEW v_acc AS SELECT id, balance FROM accounts;
CREATE FUNCTION purge() RETURNS int LANGUAGE plpgsql AS $$
BEGIN DELETE FROM accounts WHERE id > 1000; RETURN 1; END $$;
CREATE FUNCTION rd() RETURNS SETOF accounts LANGUAGE sql AS 'SELECT * FROM accounts';
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_t VALUES (1); RETURN NEW; END $$;
CREATE TRIGGER accounts_audit AFTER UPDATE ON accounts FOR EACH ROW WHEN (NEW.id = 7) EXECUTE FUNCTION trg();
GRANT ALL ON accounts, audit_t, v_acc, s1 TO alice, bob, app_svc, etl_svc;
"""


@dataclass(frozen=True)
class Case:
    id: str
    user: str
    sql: str
    expect: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    client: str = "psql-c"  # psql-c | psql-script | psycopg
    application_name: str | None = None
    stdin: str | None = None
    params: tuple[object, ...] | None = None
    check: bool = True


def app(command: str, *relations: str) -> tuple[str, tuple[str, ...], str]:
    return (command, relations, APP)


CASES: tuple[Case, ...] = (
    # -- alice: log_relation off, so the text decides ---------------------------------------------------------
    Case("multi-statement", "alice", "SELECT 1; UPDATE accounts SET balance = 0 WHERE id = 1",
         (app("UPDATE", "accounts"),)),
    Case("psql-dt", "alice", r"\dt"),
    Case("psql-d-table", "alice", r"\d accounts"),
    Case("psql-l", "alice", r"\l"),
    Case("psql-du", "alice", r"\du"),
    Case("psql-copy-to", "alice", r"\copy accounts to /dev/null", (app("COPY", "accounts"),)),
    Case("psql-copy-from", "alice", r"\copy audit_t from stdin", (app("COPY", "audit_t"),),
         client="psql-script", stdin="\\copy audit_t from stdin\n5\n6\n\\.\n"),
    Case("trailing-comment", "alice", "SELECT * FROM accounts -- SELECT 1", (app("SELECT", "accounts"),)),
    Case("block-comment-noise-words", "alice",
         "UPDATE accounts SET balance=0 WHERE id=1 /* pg_catalog information_schema DBeaver */",
         (app("UPDATE", "accounts"),)),
    Case("literal-names-catalog", "alice",
         "UPDATE accounts SET note = 'pg_catalog.pg_class, \"x\"\nline2' WHERE id = 2",
         (app("UPDATE", "accounts"),)),
    Case("dbeaver-app-name", "alice", "SELECT * FROM accounts WHERE id = %s", (app("SELECT", "accounts"),),
         client="psycopg", application_name="DBeaver 23.1.0 - Main", params=(1,)),
    Case("jdbc-app-name", "alice", "UPDATE accounts SET balance = %s WHERE id = %s", (app("UPDATE", "accounts"),),
         client="psycopg", application_name="PostgreSQL JDBC Driver", params=(5, 3)),
    Case("function-delete", "alice", "SELECT purge()", (app("DELETE", "accounts"),)),
    Case("sql-function-read", "alice", "SELECT count(*) FROM rd()", (app("SELECT", "accounts"),)),
    Case("cte-delete", "alice", "WITH d AS (DELETE FROM accounts WHERE id = 99 RETURNING *) SELECT * FROM d",
         (app("DELETE", "accounts"),)),
    Case("merge", "alice",
         "MERGE INTO accounts a USING (SELECT 2 AS id) s ON a.id = s.id WHEN MATCHED THEN UPDATE SET balance = 1",
         (app("MERGE", "accounts"),)),
    Case("uppercase-names", "alice", "SELECT * FROM PUBLIC.ACCOUNTS", (app("SELECT", "accounts"),)),
    Case("string-literal-dml", "alice", "SELECT 'DELETE FROM accounts'"),
    Case("catalog-function-on-table", "alice", "SELECT pg_relation_size('public.accounts')"),
    Case("prepare-execute", "alice",
         "PREPARE q AS SELECT * FROM accounts WHERE id = $1;\nEXECUTE q(1);\nEXECUTE q(2);\n",
         (app("SELECT", "accounts"), app("SELECT", "accounts")), client="psql-script"),
    Case("explain-plain", "alice", "EXPLAIN SELECT * FROM accounts"),
    Case("explain-analyze", "alice", "EXPLAIN ANALYZE SELECT * FROM accounts", (app("SELECT", "accounts"),)),
    Case("lock-table", "alice", "BEGIN;\nLOCK TABLE accounts;\nCOMMIT;\n", client="psql-script"),
    Case("truncate", "alice", "TRUNCATE audit_t", (app("TRUNCATE", "audit_t"),)),
    Case("view", "alice", "SELECT * FROM v_acc", (app("SELECT", "v_acc"),)),
    Case("sequence-function", "alice", "SELECT nextval('s1')"),
    Case("no-relation-noise", "alice", "SELECT now();\nSET work_mem = '8MB';\nSHOW work_mem;\nBEGIN;\nCOMMIT;\n",
         client="psql-script"),
    Case("runtime-error-still-logged", "alice", "UPDATE accounts SET balance = balance / 0 WHERE id = 4",
         (app("UPDATE", "accounts"),), check=False),
    Case("permission-denied-not-logged", "alice", "SELECT * FROM secret_t", check=False),
    Case("select-then-noise", "alice", "SELECT * FROM accounts WHERE id = 1; SELECT 1",
         (app("SELECT", "accounts"),)),
    Case("leading-newline", "alice", "\nSELECT * FROM accounts WHERE id = %s", (app("SELECT", "accounts"),),
         client="psycopg", params=(2,)),
    Case("trigger-insert", "alice", "UPDATE accounts SET balance = 70 WHERE id = 7",
         (app("UPDATE", "accounts", "audit_t"),)),
    Case("do-block", "alice", "DO $$ BEGIN UPDATE accounts SET balance = 3 WHERE id = 5; END $$",
         (app("UPDATE", "accounts"),)),
    Case("create-table-as", "alice", "CREATE TEMP TABLE tt AS SELECT * FROM accounts",
         (app("SELECT", "accounts"),)),
    # -- bob: log_relation on, so pgAudit names every relation ----------------------------------------------
    Case("relation-psql-dt", "bob", r"\dt"),
    Case("relation-join-catalog", "bob", "SELECT a.id FROM accounts a JOIN pg_class c ON true LIMIT 1",
         (app("SELECT", "accounts"),)),
    Case("relation-sequence", "bob", "SELECT * FROM s1"),
    Case("relation-view", "bob", "SELECT * FROM v_acc", (app("SELECT", "v_acc", "accounts"),)),
    Case("relation-function-delete", "bob", "SELECT purge()", (app("DELETE", "accounts"),)),
    Case("relation-insert", "bob", "INSERT INTO audit_t VALUES (42)", (app("INSERT", "audit_t"),)),
    Case("relation-multi-statement", "bob", "SELECT 1; DELETE FROM audit_t WHERE x = 42",
         (app("DELETE", "audit_t"),)),
    # -- carol: a human superuser reading secrets --------------------------------------------------------------
    Case("sensitive-catalog", "carol", "SELECT rolname, rolpassword FROM pg_authid",
         (("SELECT", ("pg_authid",), SENSITIVE),)),
    Case("superuser-catalog-noise", "carol", "SELECT count(*) FROM pg_stat_activity"),
    # -- service accounts ------------------------------------------------------------------------------------
    Case("service-not-audited", "app_svc", "UPDATE accounts SET balance = 1 WHERE id = 9"),
    Case("service-audited-by-mistake", "etl_svc", "UPDATE accounts SET balance = 1 WHERE id = 10"),
)  # fmt: skip


def run_case(server: PgServer, case: Case) -> None:
    """Run one case with the real client it names."""
    if case.client == "psql-c":
        server.psql("-c", case.sql, user=case.user, check=case.check)
    elif case.client == "psql-script":
        server.psql(user=case.user, stdin=case.stdin or case.sql, check=case.check)
    elif case.client == "psycopg":
        import psycopg

        params = {"application_name": case.application_name} if case.application_name else {}
        with psycopg.connect(server.dsn(case.user, **params), autocommit=False) as conn:
            conn.execute(case.sql, case.params)
    else:
        raise ValueError(f"unknown client {case.client}")


def run_workload(server: PgServer, cases: tuple[Case, ...] = CASES) -> None:
    server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP_SQL)
    for case in cases:
        run_case(server, case)


def expected_detections(cases: tuple[Case, ...] = CASES) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(user, command, relations, category) for every statement the cases must produce, in order."""
    return [(c.user, command, rels, cat) for c in cases for (command, rels, cat) in c.expect]


def in_log_order(detections: list[dict]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """Detections normalized and sorted by their place in the log.

    A statement is reported when it is complete (its backend's next statement, or the end of the input), so the
    output follows completion order; the place in the log is the stable order to compare.
    """
    return [normalize(d) for d in sorted(detections, key=lambda d: (d["source"], d["line"]))]


def normalize(detection: dict) -> tuple[str, str, tuple[str, ...], str]:
    relations = tuple(r.removeprefix("public.").removeprefix("pg_catalog.") for r in detection["relations"])
    return (detection["user"], detection["command"], relations, detection["category"])


def scan_in_process(
    path: Path, prefix: str | None = None, service_accounts: str = SERVICE_ACCOUNTS
) -> tuple[list[dict], list[Malformed]]:
    """The detections (as JSON objects, in completion order) and malformed entries of one log, scanned in process."""
    settings = load_settings(env={}, service_accounts=service_accounts, log_line_prefix=prefix)
    pipeline = Pipeline(settings)
    detections, malformed = [], []
    for item in [*pipeline.scan_file(str(path)), *pipeline.finish()]:
        if isinstance(item, Malformed):
            malformed.append(item)
        elif item.detected:
            detections.append(item.detection().to_dict())
    return detections, malformed
