"""Reproductions of ways around the monitor, each on the real test server; the ones still open (OPEN) are
xfail(strict), with the reason.

Each case runs as one user in its own connection (a psql script: each statement sent on its own) and names a
token that appears in the statement that must be reported, and the category it must be reported in. The case
fails (as expected, today) when no detection of that user and category has the token in its statement. Where
the scan does report the statement, the test passes and strict xfail flags the fix.

Roles as in hostile.py: hank (log_relation off), rita (log_relation on), app_svc (a service account).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostile import SERVICE_ACCOUNTS, SETUP_SQL
from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.pipeline import Pipeline
from pgserver import PgServer, only, require_postgres

APP, TAMPER, SENSITIVE = "app-dml", "audit-tamper", "sensitive-catalog"

EXTRA_SETUP = r"""
CREATE ROLE mallory LOGIN SUPERUSER; ALTER ROLE mallory SET pgaudit.log TO 'all';
CREATE FUNCTION public.lpad(int) RETURNS SETOF orders LANGUAGE sql STABLE AS 'SELECT * FROM orders';
CREATE VIEW public.pg_class AS SELECT * FROM orders;
CREATE TABLE notes (id int, body text);
ALTER TABLE notes ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO notes SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 400) g;
-- RAISE without a CONTEXT line in stderr: the function's own SET clause makes the verbosity terse
CREATE FUNCTION public.forge(msg text) RETURNS void LANGUAGE plpgsql SET log_error_verbosity = terse
  AS $$BEGIN RAISE LOG '%', msg; END$$;
CREATE FUNCTION public.forge_hide(sid int) RETURNS int LANGUAGE plpgsql SET log_error_verbosity = terse AS $$
BEGIN
  RAISE LOG 'AUDIT: SESSION,%,9,READ,SELECT,TABLE,pg_catalog.pg_class,"%",<not logged>',
    sid, replace(current_query(), '"', '""');
  RETURN 1;
END$$;
"""


@dataclass(frozen=True)
class Case:
    id: str
    user: str
    sql: str
    token: str  # in the text of the statement that must be reported
    category: str = APP
    unread: bool = False  # scanned as `scan` without --explain does: service accounts' records dropped unread


CASES: tuple[Case, ...] = (
    # -- (a) DML on an application table, not reported (log_relation off: the text decides) -----------------
    # the temporary table is gone at the end of its own statement's transaction: `orders` is public.orders again
    Case("on-commit-drop", "hank",
         "CREATE TEMP TABLE orders (id int) ON COMMIT DROP;\nDELETE FROM orders WHERE id = 101;\n", "id = 101"),
    # made inside a PL/pgSQL block whose exception handler rolls it back
    Case("temp-in-rolled-back-subtransaction", "hank",
         "DO $$BEGIN BEGIN CREATE TEMP TABLE orders (id int); RAISE EXCEPTION 'x'; "
         "EXCEPTION WHEN others THEN NULL; END; END$$;\nDELETE FROM orders WHERE id = 113;\n", "id = 113"),
    # a temporary view over an application table is not "the session's temporary data"
    Case("temp-view", "hank", "CREATE TEMP VIEW v AS SELECT * FROM orders;\nSELECT * FROM v WHERE id = 120;\n",
         "id = 120"),
    # a rule on a temporary table turns an INSERT into it into a DELETE of orders (pgAudit: WRITE,DELETE)
    Case("temp-rule", "hank",
         "CREATE TEMP TABLE t (id int);\n"
         "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM orders WHERE id = 102;\n"
         "INSERT INTO t VALUES (121);\n", "VALUES (121)"),
    # a user's inlined SQL function named like a built-in (public.lpad(int)): no FUNCTION record, no relation
    Case("shadowed-builtin", "hank", "SELECT * FROM lpad(1) WHERE id = 122;\n", "id = 122"),
    # set_config's value is a list: public before pg_catalog, so pg_class is public.pg_class (a view on orders)
    Case("set-config-search-path-list", "hank",
         "SELECT set_config('search_path', 'public, pg_catalog', false);\n"
         "SELECT count(*) FROM pg_class WHERE 123 > 0;\n",
         "123 > 0"),
    # a RESET inside a rolled-back transaction did not happen
    Case("rolled-back-reset", "hank",
         "SET search_path = public, pg_catalog;\nBEGIN;\nRESET search_path;\nROLLBACK;\n"
         "SELECT count(*) FROM pg_class WHERE 124 > 0;\n", "124 > 0"),
    # standard_conforming_strings is off again after the ROLLBACK: the server reads a subquery on orders
    Case("rolled-back-standard-strings", "hank",
         "SET standard_conforming_strings = off;\nBEGIN;\nSET standard_conforming_strings = on;\nROLLBACK;\n"
         "SELECT '\\' , ' AS a, (SELECT count(*) FROM orders WHERE id = 125) AS b --'\n;\n", "id = 125"),
    # a function's own SET clause: its body's statements are read by the server with standard_conforming_strings off
    Case("function-set-standard-strings", "hank",
         "CREATE FUNCTION sneaky() RETURNS bigint LANGUAGE plpgsql SET standard_conforming_strings = off AS "
         "$f$DECLARE x text; n bigint; BEGIN\n"
         "SELECT '\\' , ' AS a, (SELECT count(*) FROM orders WHERE id = 150) AS b --'\n INTO x, n; RETURN n; END$f$;\n"
         "SELECT sneaky();\n", "SELECT sneaky()"),
    # a forged DDL record (stderr, no CONTEXT at terse verbosity) makes orders look temporary
    Case("forged-temp-table", "hank",
         "SELECT forge('AUDIT: SESSION,1,2,DDL,CREATE TABLE,TABLE,pg_temp.orders,CREATE TEMP TABLE orders (id int),"
         "<not logged>');\nDELETE FROM orders WHERE id = 110;\n", "id = 110"),
    # a forged record of the same statement, with its text and a catalog object, hides the real text-only record
    Case("forged-objects-hide-text", "hank", "SELECT forge_hide(1), * FROM orders WHERE id = 126;\n", "id = 126"),
    # a view in information_schema is "system": what it reads is not looked at without pgAudit's objects
    Case("view-in-information-schema", "hank",
         "CREATE VIEW information_schema.loot AS SELECT * FROM orders;\n"
         "SELECT * FROM information_schema.loot WHERE id = 131;\n", "id = 131"),
    # log_relation on too: the application table itself moved into information_schema for a moment
    Case("table-moved-to-information-schema", "rita",
         "ALTER TABLE customers SET SCHEMA information_schema;\n"
         "DELETE FROM information_schema.customers WHERE id = 4;\n"
         "ALTER TABLE information_schema.customers SET SCHEMA public;\n", "WHERE id = 4"),
    # the TOAST chunks of an application table's values (pgAudit: TOAST TABLE pg_toast.pg_toast_N)
    Case("read-toast-table", "rita",
         "SELECT format('SELECT count(*), sum(length(chunk_data)) FROM pg_toast.%I', t.relname) FROM pg_class c "
         "JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.relname = 'notes' \\gexec\n",
         "FROM pg_toast.pg_toast_"),
    # the table's own data file, read by a superuser's built-in function: no relation at all
    Case("read-heap-file", "rita", "SELECT length(pg_read_binary_file(pg_relation_filepath('orders')));\n",
         "pg_read_binary_file"),
    # -- (b) auditing turned off, the change logged but not reported --------------------------------------------
    Case("create-function-set-pgaudit", "rita",
         "CREATE FUNCTION wipe(i int) RETURNS void LANGUAGE sql SET pgaudit.log = 'none' "
         "AS 'DELETE FROM orders WHERE id = i';\nSELECT wipe(103);\n", "SET pgaudit.log = 'none'", TAMPER),
    Case("alter-function-set-pgaudit", "rita",
         "CREATE FUNCTION wipe2(i int) RETURNS void LANGUAGE sql AS 'DELETE FROM orders WHERE id = i';\n"
         "ALTER FUNCTION wipe2(int) SET pgaudit.log = 'none';\nSELECT wipe2(107);\n", "ALTER FUNCTION", TAMPER),
    Case("do-block-set-pgaudit", "rita",
         "DO $$BEGIN SET pgaudit.log = 'none'; END$$;\nDELETE FROM orders WHERE id = 105;\n", "DO $$", TAMPER),
    Case("do-block-execute-computed", "rita",
         "DO $$BEGIN EXECUTE 'SET pg' || 'audit.log = none'; END$$;\nDELETE FROM orders WHERE id = 112;\n",
         "DO $$", TAMPER),
    Case("update-pg-settings", "rita",
         "UPDATE pg_settings SET setting = 'none' WHERE name = 'pgaudit.log';\nDELETE FROM orders WHERE id = 106;\n",
         "UPDATE pg_settings", TAMPER),
    # -- (c) a human makes itself a service account --------------------------------------------------------------
    Case("rename-role-to-service-pattern", "hank", "ALTER ROLE mallory RENAME TO mallory_svc;\n", "RENAME", TAMPER),
    # (and a new login role has no pgaudit.log of its own: nothing it does is audited at all)
    Case("create-unaudited-login-role", "hank", "CREATE ROLE ghost LOGIN SUPERUSER;\n", "CREATE ROLE ghost", TAMPER),
    Case("renamed-role-deletes", "mallory_svc", "DELETE FROM orders WHERE id = 111;\n", "id = 111"),
    # -- a service account's forged record: reported with --explain, dropped unread without it ---------------
    Case("service-account-forges", "app_svc",
         "DO $$BEGIN RAISE LOG 'AUDIT: SESSION,9,1,WRITE,DELETE,,,DELETE FROM customers WHERE id = 140,<not logged>';"
         " END$$;\n", "id = 140", TAMPER, unread=True),
    # -- sensitive catalogs read without naming them ----------------------------------------------------------
    Case("temp-view-over-pg-authid", "rita",
         "CREATE TEMP VIEW pw AS SELECT rolname, rolpassword FROM pg_authid;\nSELECT * FROM pw WHERE 127 > 0;\n",
         "127 > 0", SENSITIVE),
    Case("pg-stats-values", "rita",
         "ANALYZE orders;\nSELECT most_common_vals FROM pg_stats WHERE tablename = 'orders' AND 128 > 0;\n",
         "128 > 0", SENSITIVE),
    # -- (b) again, with the catalogs and files a superuser can write ------------------------------------------
    Case("catalog-update-disables-event-triggers", "hank",
         "UPDATE pg_event_trigger SET evtenabled = 'D' WHERE evtname LIKE 'pgaudit%';\n", "pg_event_trigger", TAMPER),
    # last: the server logs nothing below FATAL afterwards
    Case("copy-to-auto-conf", "hank",
         "COPY (SELECT 'log_min_messages = fatal') TO '{data}/postgresql.auto.conf';\nSELECT pg_reload_conf();\n"
         "SELECT pg_sleep(0.5);\nDELETE FROM orders WHERE id = 130;\n", "postgresql.auto.conf", TAMPER),
)  # fmt: skip


@pytest.fixture(scope="module")
def attack_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_postgres()
    out = tmp_path_factory.mktemp("attack-logs")
    with PgServer() as server:
        server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP_SQL + EXTRA_SETUP)
        for case in CASES:
            server.psql(user=case.user, stdin=case.sql.replace("{data}", str(server.data)), check=False)
        server.stop()
        for path in server.log_dir.iterdir():
            shutil.copy(path, out / path.name)
    return out


def scan(path: Path, *, unread: bool = False) -> list[dict]:
    pipeline = Pipeline(load_settings(env={}, service_accounts=SERVICE_ACCOUNTS), report_excluded=not unread)
    items = [*pipeline.scan_file(str(path)), *pipeline.finish()]
    return [item.detection().to_dict() for item in items if not isinstance(item, Malformed) and item.detected]


# The ways not closed yet, each with why (strict: a fix makes its case pass, and then it must leave this list).
OPEN: dict[str, str] = {
    "shadowed-builtin": "log_relation off: an inlined SQL function's reads are not in any text (README: known limits)",
    "function-set-standard-strings": "the function's creation is reported as audit-tamper; its body's read is not",
    "forged-objects-hide-text": "needs terse verbosity, whose function SET clause is reported as audit-tamper",
    "create-unaudited-login-role": "a role pgAudit does not audit: `doctor` and `coverage` report it, not the log",
    "renamed-role-deletes": "the rename into the service pattern is reported as audit-tamper; later DML is not",
    "service-account-forges": "a service account's record without audit-setting words is dropped unread",
    "pg-stats-values": "pg_stats is the sanctioned view of pg_statistic (it shows only columns one may read)",
}


@pytest.mark.postgres
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=OPEN[c.id])) if c.id in OPEN else c for c in CASES],
    ids=[c.id for c in CASES],
)
def test_attack_is_reported(attack_logs: Path, case: Case) -> None:
    detections = scan(only(attack_logs, ".log"), unread=case.unread)
    mine = [d for d in detections if d["user"] == case.user and case.token in d["statement"]]
    assert any(d["category"] == case.category for d in mine), mine


@pytest.mark.postgres
def test_each_case_reached_the_log(attack_logs: Path) -> None:
    # the control: every case's statement was run and audited (the xfails above are the monitor's, not the setup's)
    log = only(attack_logs, ".log").read_text(errors="replace")
    assert [c.id for c in CASES if c.token not in log] == []
    scan(only(attack_logs, ".log"))  # and the scan itself goes through
