"""Hostile and unusual SQL against the real test server, each case with the detections it must produce.

The SQL our own workload (workload.py) does not think of: what PostgreSQL's planner, psql and pg_dump do behind a
statement's back, and what a human with ordinary means does to hide a DELETE or forge one. Every case runs twice,
as `hank` (log_relation off: the text decides) and as `rita` (log_relation on: pgAudit's own objects decide), each
in its own connection; `expect_on` is given where pgAudit's objects say more than the text can.
"""

from __future__ import annotations

from dataclasses import dataclass

from pgserver import PgServer

SERVICE_ACCOUNTS = "*_svc"
APP, TAMPER = "app-dml", "audit-tamper"
HUMANS = {"hank": "off", "rita": "on"}  # user -> log_relation

SETUP_SQL = """
CREATE EXTENSION IF NOT EXISTS pgaudit;
CREATE ROLE hank LOGIN SUPERUSER; CREATE ROLE rita LOGIN SUPERUSER; CREATE ROLE app_svc LOGIN SUPERUSER;
ALTER ROLE hank SET pgaudit.log TO 'all';
ALTER ROLE rita SET pgaudit.log TO 'all';
ALTER ROLE rita SET pgaudit.log_relation TO on;
ALTER ROLE app_svc SET pgaudit.log TO 'all';
CREATE TABLE orders (id int PRIMARY KEY, total numeric);
INSERT INTO orders SELECT g, g FROM generate_series(1, 5000) g;
CREATE TABLE customers (id int PRIMARY KEY);
INSERT INTO customers SELECT g FROM generate_series(1, 10) g;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM orders;
CREATE FUNCTION f_inl() RETURNS SETOF orders LANGUAGE sql STABLE AS 'SELECT * FROM orders';
CREATE FUNCTION f_atomic() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM orders; END;
CREATE TABLE public.pg_settings (name text, secret text);
"""
# Detections are (command, relations without `public.`, category).
Detection = tuple[str, tuple[str, ...], str]


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    expect: tuple[Detection, ...] = ()
    expect_on: tuple[Detection, ...] | None = None  # as `rita`, when pgAudit's objects say more
    script: bool = False  # run as a psql script (each statement sent on its own) instead of one -c string
    user: str | None = None  # a fixed user instead of hank and rita (service accounts)

    def expected(self, user: str) -> tuple[Detection, ...]:
        if HUMANS.get(user) == "on" and self.expect_on is not None:
            return self.expect_on
        return self.expect


def app(command: str, *relations: str) -> Detection:
    return (command, tuple(sorted(relations)), APP)


def tamper(command: str) -> Detection:
    return (command, (), TAMPER)


CASES: tuple[Case, ...] = (
    # -- 1. pgAudit's objects first: what the text does not show ---------------------------------------------
    # with log_relation on, what the refresh read; off, the view stands for its query, which the text does not show
    Case("refresh-matview", "REFRESH MATERIALIZED VIEW mv", (app("SELECT", "mv"),), (app("SELECT", "orders"),)),
    # an inlined SQL function leaves no record: only pgAudit's objects show what it read (log_relation on)
    Case("inlined-sql-function", "SELECT * FROM f_inl() LIMIT 1", (), (app("SELECT", "orders"),)),
    Case("begin-atomic-body", "SELECT f_atomic()", (app("SELECT"),), (app("SELECT", "orders"),)),
    # -- 2. scope: a CTE never names the DML target -----------------------------------------------------------
    Case("cte-named-like-target", "WITH orders AS (SELECT 1) DELETE FROM orders WHERE id = 5",
         (app("DELETE", "orders"),)),
    Case("cte-reads-table", "WITH x AS (SELECT * FROM orders) SELECT * FROM x LIMIT 1", (app("SELECT", "orders"),)),
    Case("cte-only", "WITH orders AS (SELECT 1 AS id) SELECT * FROM orders"),
    # -- 3. the backend's state ------------------------------------------------------------------------------
    Case("temp-table-shadows", "CREATE TEMP TABLE orders AS SELECT 1 AS id;\nSELECT * FROM orders;\n"
         "DELETE FROM orders;\n", script=True),
    Case("temp-table-rolled-back",
         "BEGIN;\nCREATE TEMP TABLE customers AS SELECT 1 AS id;\nROLLBACK;\nDELETE FROM customers WHERE id = 1000;\n",
         (app("DELETE", "customers"),), script=True),
    Case("search-path-before-catalog", "SET search_path = public, pg_catalog;\nSELECT * FROM pg_settings;\n",
         (app("SELECT", "pg_settings"),), script=True),
    # -- 4. built-in SQL function bodies read nothing --------------------------------------------------------
    Case("builtin-bodies", "SELECT lpad(total::text, 5) FROM orders WHERE id = 3;\nSELECT log(10.0);\n"
         "SELECT xpath('/a', '<a/>');\n", (app("SELECT", "orders"),), script=True),
    # -- 5. multi-statement strings ----------------------------------------------------------------------------
    Case("begin-update-commit", "BEGIN; UPDATE orders SET total = 1 WHERE id = 10; COMMIT", (app("UPDATE", "orders"),)),
    Case("string-sent-twice",
         "SELECT 1; DELETE FROM orders WHERE id = 11;\nSELECT 1; DELETE FROM orders WHERE id = 11;\n",
         (app("DELETE", "orders"), app("DELETE", "orders")), script=True),
    Case("reset-role", "SET ROLE app_svc; RESET ROLE; DELETE FROM orders WHERE id = 12", (app("DELETE", "orders"),)),
    # -- 6. substatement ids that go back to 1 -----------------------------------------------------------------
    Case("add-foreign-key", "CREATE TABLE IF NOT EXISTS o2 (cid int);\n"
         "ALTER TABLE o2 ADD FOREIGN KEY (cid) REFERENCES customers(id);\n"
         "ALTER TABLE o2 DROP CONSTRAINT o2_cid_fkey;\n",
         (app("SELECT", "customers", "o2"),), script=True),
    # -- 7. EXPLAIN: the last ANALYZE wins; a plain EXPLAIN EXECUTE runs nothing ----------------------------
    Case("explain-analyze-last-true", "EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM orders WHERE id = 6",
         (app("DELETE", "orders"),)),
    Case("explain-analyze-last-false", "EXPLAIN (ANALYZE true, ANALYZE false) DELETE FROM orders WHERE id = 7"),
    Case("explain-execute", "PREPARE p AS DELETE FROM orders WHERE id = 8;\nEXPLAIN EXECUTE p;\n", script=True),
    Case("explain-plain", "EXPLAIN SELECT * FROM orders"),
    # -- 8. CREATE ... AS reads its query, not its new table ---------------------------------------------------
    Case("create-as", "DROP TABLE IF EXISTS x1, x2, x3; DROP MATERIALIZED VIEW IF EXISTS mv2;\n"
         "CREATE TABLE x1 AS SELECT * FROM orders WITH NO DATA;\n"
         "CREATE MATERIALIZED VIEW mv2 AS SELECT * FROM orders WITH NO DATA;\n"
         "CREATE TABLE x2 AS SELECT relname FROM pg_class;\nSELECT * INTO x3 FROM orders LIMIT 1;\n",
         (app("SELECT", "orders"),), script=True),
    # -- 9. parallel workers belong to their leader -------------------------------------------------------------
    Case("parallel-query", "SET parallel_setup_cost = 0;\nSET parallel_tuple_cost = 0;\n"
         "SET min_parallel_table_scan_size = 0;\nSET max_parallel_workers_per_gather = 2;\n"
         "SELECT count(*) FROM orders;\n", (app("SELECT", "orders"),), script=True),
    Case("parallel-query-service", "SET parallel_setup_cost = 0;\nSET parallel_tuple_cost = 0;\n"
         "SET min_parallel_table_scan_size = 0;\nSELECT count(*) FROM orders;\n", script=True, user="app_svc"),
    # -- 10. psql's catalog queries read pg_authid under pg_roles: not sensitive -------------------------------
    Case("psql-du", r"\du"),
    Case("psql-d-plus", r"\d+ orders"),
    Case("psql-dp", r"\dp orders"),
    # -- 11. a record written by RAISE is tampering, not DML ---------------------------------------------------
    Case("forged-record",
         "DO $$ BEGIN RAISE LOG 'AUDIT: SESSION,99,1,WRITE,DELETE,,,DELETE FROM public.orders,<not logged>'; END $$",
         (tamper("DELETE"),)),
    # -- 13. tampering with the audit trail, by anyone ----------------------------------------------------------
    Case("set-config-pgaudit", "SELECT set_config('pgaudit.log', 'none', false)", (tamper("SELECT"),)),
    Case("alter-role-pgaudit", "ALTER ROLE app_svc SET pgaudit.log = 'all'", (tamper("ALTER ROLE"),)),
    Case("alter-system-pgaudit",
         "ALTER SYSTEM SET pgaudit.log_catalog = on;\nALTER SYSTEM RESET pgaudit.log_catalog;\n",
         (tamper("ALTER SYSTEM"), tamper("ALTER SYSTEM")), script=True),
    Case("set-log-verbosity", "SET log_error_verbosity = verbose", (tamper("SET"),)),
    Case("alter-extension", "ALTER EXTENSION pgaudit UPDATE", (tamper("ALTER EXTENSION"),)),
    Case("service-account-tampers", "SELECT set_config('pgaudit.log_relation', 'off', false)",
         (tamper("SELECT"),), user="app_svc"),
)  # fmt: skip


def run_hostile(server: PgServer) -> list[tuple[str, Case]]:
    """Run every case as its users, in order; the (user, case) pairs run."""
    server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP_SQL)
    ran: list[tuple[str, Case]] = []
    for case in CASES:
        for user in (case.user,) if case.user else HUMANS:
            if case.script:
                server.psql(user=user, stdin=case.sql, check=False)
            else:
                server.psql("-c", case.sql, user=user, check=False)
            ran.append((user, case))
    return ran


def expected(ran: list[tuple[str, Case]]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(user, command, sorted relations, category) for every detection the cases must produce, in order."""
    return [(user, *detection) for user, case in ran for detection in case.expected(user)]


def normalize(detection: dict) -> tuple[str, str, tuple[str, ...], str]:
    relations = tuple(sorted(r.removeprefix("public.") for r in detection["relations"]))
    return (detection["user"], detection["command"], relations, detection["category"])
