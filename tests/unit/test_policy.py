"""The classification policy on its own: records in, verdict out. Records are copied from the real server's log."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgaudit_monitor.policy import APP_DML, SENSITIVE_CATALOG, Judge, Policy, Relation, ServiceAccounts, SqlAnalyzer
from pgaudit_monitor.policy.session import Session
from pgaudit_monitor.policy.verdict import split_qualified
from pgaudit_monitor.records import parse_record


def judge(user: str, *messages: str, accounts: tuple[str, ...] = ("app_*",)) -> tuple:
    records = [parse_record(m) for m in messages]
    policy = Policy(service_accounts=ServiceAccounts(("rdsadmin", *accounts)))
    v = Judge(policy).judge(user, records)
    return (v.category, v.command, v.relations, v.rule)


# (id, user, records, expected (category, command, relations, rule))
CASES = [
    # -- evasion attempts: the grammar decides, not the text ------------------------------------------------------
    ("comment-with-noise-words", "alice",
     ["AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET balance=0 WHERE id=1 /* pg_catalog information_schema "
      "DBeaver */,<not logged>"],
     (APP_DML, "UPDATE", ("accounts",), "application-relation")),
    ("line-comment-select-1", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM accounts -- SELECT 1,<not logged>"],
     (APP_DML, "SELECT", ("accounts",), "application-relation")),
    ("literal-with-catalog-name", "alice",
     ['AUDIT: SESSION,1,1,WRITE,UPDATE,,,"UPDATE accounts SET note=\'pg_catalog.pg_class, ""x""\nline2\' WHERE id=2",'
      "<not logged>"],
     (APP_DML, "UPDATE", ("accounts",), "application-relation")),
    ("uppercase-qualified", "alice", ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM PUBLIC.ACCOUNTS,<not logged>"],
     (APP_DML, "SELECT", ("public.accounts",), "application-relation")),
    ("quoted-identifier-keeps-case", "alice", ['AUDIT: SESSION,1,1,READ,SELECT,,,"SELECT * FROM ""Accounts""",<none>'],
     (APP_DML, "SELECT", ("Accounts",), "application-relation")),
    ("string-that-spells-dml", "alice", ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 'DELETE FROM accounts',<not logged>"],
     (None, "SELECT", (), "no-relation")),
    ("catalog-function-with-table-name", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT pg_relation_size('public.accounts'),<not logged>"],
     (None, "SELECT", (), "no-relation")),
    ("cte-named-like-table-is-not-a-table", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,WITH accounts AS (SELECT 1 AS id) SELECT * FROM accounts,<not logged>"],
     (None, "SELECT", (), "no-relation")),
    # -- hidden DML ---------------------------------------------------------------------------------------------
    ("cte-delete-logged-as-select", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,WITH d AS (DELETE FROM accounts WHERE id=99 RETURNING *) SELECT * FROM d,"
      "<not logged>"],
     (APP_DML, "DELETE", ("accounts",), "application-relation")),
    ("merge-logged-as-misc-unknown", "alice",
     ["AUDIT: SESSION,1,1,MISC,???,,,MERGE INTO accounts a USING (SELECT 1 AS id) s ON a.id=s.id WHEN MATCHED THEN "
      "UPDATE SET balance=1,<not logged>"],
     (APP_DML, "MERGE", ("accounts",), "application-relation")),
    ("function-with-inner-delete", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT purge(),<not logged>",
      "AUDIT: SESSION,1,2,FUNCTION,EXECUTE,FUNCTION,public.purge,SELECT purge(),<not logged>",
      "AUDIT: SESSION,1,3,WRITE,DELETE,,,DELETE FROM accounts WHERE id>100,<not logged>"],
     (APP_DML, "DELETE", ("accounts",), "application-relation")),
    ("execute-carries-prepare-text", "alice",
     ["AUDIT: SESSION,2,1,READ,SELECT,,,PREPARE q AS SELECT * FROM accounts WHERE id=$1;,<not logged>",
      "AUDIT: SESSION,2,2,MISC,EXECUTE,,,EXECUTE q(1);,<not logged>"],
     (APP_DML, "SELECT", ("accounts",), "application-relation")),
    ("explain-analyze-runs", "alice",
     ["AUDIT: SESSION,8,1,READ,SELECT,,,EXPLAIN ANALYZE SELECT * FROM accounts;,<not logged>",
      "AUDIT: SESSION,8,2,MISC,EXPLAIN,,,EXPLAIN ANALYZE SELECT * FROM accounts;,<not logged>"],
     (APP_DML, "SELECT", ("accounts",), "application-relation")),
    ("explain-analyze-false-does-not-run", "alice",
     ["AUDIT: SESSION,8,1,READ,SELECT,,,\"EXPLAIN (ANALYZE false, COSTS off) SELECT * FROM accounts\",<not logged>"],
     (None, "SELECT", (), "explain-only")),
    ("copy-from-program-writes", "alice", ["AUDIT: SESSION,1,1,WRITE,COPY,,,COPY accounts FROM STDIN,<not logged>"],
     (APP_DML, "COPY", ("accounts",), "application-relation")),
    # -- not counted -----------------------------------------------------------------------------------------
    ("plain-explain", "alice",
     ["AUDIT: SESSION,7,1,READ,SELECT,,,EXPLAIN SELECT * FROM accounts;,<not logged>",
      "AUDIT: SESSION,7,2,MISC,EXPLAIN,,,EXPLAIN SELECT * FROM accounts;,<not logged>"],
     (None, "SELECT", (), "explain-only")),
    ("prepare-alone", "alice", ["AUDIT: SESSION,1,1,READ,PREPARE,,,PREPARE q AS SELECT * FROM accounts;,<not logged>"],
     (None, "PREPARE", (), "prepare")),
    ("lock-table", "alice", ["AUDIT: SESSION,10,1,MISC,LOCK TABLE,,,LOCK TABLE accounts;,<not logged>"],
     (None, "LOCK TABLE", (), "lock")),
    ("unqualified-catalog", "alice", ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM pg_stat_activity,<not logged>"],
     (None, "SELECT", (), "catalog-only")),
    ("information-schema", "alice",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT table_name FROM information_schema.tables,<not logged>"],
     (None, "SELECT", (), "catalog-only")),
    ("set-show-begin", "alice", ["AUDIT: SESSION,3,1,MISC,SET,,,SET search_path = public,<not logged>"],
     (None, "SET", (), "not-dml")),
    # -- who ---------------------------------------------------------------------------------------------------
    ("service-account-glob", "app_api", ["AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET x=1,<not logged>"],
     (None, "UPDATE", (), "service-account")),
    ("rdsadmin-builtin", "rdsadmin", ["AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET x=1,<not logged>"],
     (None, "UPDATE", (), "service-account")),
    ("unknown-user-is-human", "?", ["AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET x=1,<not logged>"],
     (APP_DML, "UPDATE", ("accounts",), "application-relation")),
    ("glob-does-not-match-prefix-only", "app", ["AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM t,<not logged>"],
     (APP_DML, "DELETE", ("t",), "application-relation")),
    # -- sensitive catalogs ----------------------------------------------------------------------------------
    ("sensitive-unqualified", "carol", ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM pg_authid,<not logged>"],
     (SENSITIVE_CATALOG, "SELECT", ("pg_authid",), "sensitive-catalog")),
    ("sensitive-with-app-is-app", "carol",
     ["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM pg_catalog.pg_shadow s JOIN accounts a ON true,<not logged>"],
     (APP_DML, "SELECT", ("accounts",), "application-relation")),
    # -- log_relation = on: pgAudit's resolved names ------------------------------------------------------------
    ("relation-fields-resolve-schema", "bob",
     ["AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.accounts,SELECT * FROM accounts a JOIN pg_class c ON true,"
      "<not logged>",
      "AUDIT: SESSION,1,1,READ,SELECT,TABLE,pg_catalog.pg_class,SELECT * FROM accounts a JOIN pg_class c ON true,"
      "<not logged>"],
     (APP_DML, "SELECT", ("public.accounts",), "application-relation")),
    ("relation-sequence", "bob", ["AUDIT: SESSION,3,1,READ,SELECT,SEQUENCE,public.s1,SELECT * FROM s1;,<not logged>"],
     (None, "SELECT", (), "sequence-only")),
    ("relation-temp-table", "bob", ["AUDIT: SESSION,3,1,READ,SELECT,TABLE,pg_temp_3.tt,SELECT * FROM tt;,<not logged>"],
     (None, "SELECT", (), "catalog-only")),
    # -- fail closed ---------------------------------------------------------------------------------------------
    ("unparsable-write", "alice", ["AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET (((,<not logged>"],
     (APP_DML, "UPDATE", (), "unreadable-statement")),
    ("empty-text-read", "alice", ["AUDIT: SESSION,1,1,READ,SELECT,,,,<not logged>"],
     (APP_DML, "SELECT", (), "unreadable-statement")),
    ("unparsable-but-objects-are-catalog", "bob",
     ["AUDIT: SESSION,1,1,READ,SELECT,TABLE,pg_catalog.pg_class,SELEC oops,<not logged>"],
     (None, "SELECT", (), "catalog-only")),
    ("unparsable-misc-is-not-data", "alice", ["AUDIT: SESSION,1,1,MISC,VACUUM,,,VACUUM (((,<not logged>"],
     (None, "VACUUM", (), "not-dml")),
]  # fmt: skip


@pytest.mark.parametrize(("user", "messages", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_policy(user: str, messages: list[str], expected: tuple) -> None:
    assert judge(user, *messages) == expected


def test_multi_statement_parts_are_matched_in_order() -> None:
    # One query string, two statements: pgAudit repeats the whole string; each record is judged on its own part.
    text = "SELECT 1; UPDATE accounts SET balance=0 WHERE id=1"
    analyzer = SqlAnalyzer()
    j = Judge(Policy(), analyzer)
    first = parse_record(f"AUDIT: SESSION,1,1,READ,SELECT,,,{text},<not logged>")
    second = parse_record(f"AUDIT: SESSION,2,1,WRITE,UPDATE,,,{text},<not logged>")
    session = Session()
    assert session.match_part(first, text, analyzer.analyze(text)) == 0
    assert session.match_part(second, text, analyzer.analyze(text)) == 1
    session = Session()  # the cursor is the backend's: judging moves it
    assert j.judge("alice", [first], session).category is None
    verdict = j.judge("alice", [second], session)
    assert (verdict.category, verdict.command, verdict.statement) == (APP_DML, "UPDATE", text.split("; ")[1])


def test_unmatched_part_fails_closed() -> None:
    # A record that fits no part of its string is judged on the severest of them all.
    text = "SELECT 1; DELETE FROM accounts"
    record = parse_record(f"AUDIT: SESSION,1,1,WRITE,INSERT,,,{text},<not logged>")
    verdict = Judge(Policy()).judge("alice", [record], None)
    assert (verdict.category, verdict.command) == (APP_DML, "DELETE")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("EXPLAIN (ANALYZE false) SELECT * FROM accounts", "EXPLAIN (ANALYZE true) SELECT * FROM accounts"),
        ("EXPLAIN (ANALYZE 0) SELECT * FROM accounts", "EXPLAIN (ANALYZE 1) SELECT * FROM accounts"),
        ("SELECT * FROM pg_class WHERE oid = 1", "SELECT * FROM accounts WHERE oid = 1"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH y AS (SELECT 1) SELECT * FROM x"),
        ("SELECT 'accounts'", "SELECT * FROM accounts"),
        # libpg_query's fingerprint ignores schema names: a cache keyed on it let pg_temp.t answer for public.t.
        ("DELETE FROM pg_temp.accounts WHERE id = 1", "DELETE FROM public.accounts WHERE id = 2"),
        # The shape drops comments, as PostgreSQL's scanner finds them: not what only looks like one.
        ("/* t-1 */ SELECT * FROM pg_class", "/* t-2 */ SELECT * FROM accounts"),
        ('SELECT * FROM "x/*y" -- c', 'SELECT * FROM "x" -- c'),
        ("SELECT '--' -- FROM accounts", "SELECT * -- '\n FROM accounts"),
        ("/* a /* nested */ FROM accounts */ SELECT 1", "/* a /* nested */ */ SELECT 1 FROM accounts"),
    ],
)
def test_shape_cache_cannot_be_poisoned(first: str, second: str) -> None:
    # The cache by statement shape ignores constants only: a harmless statement never makes a harmful one look so.
    analyzer = SqlAnalyzer()
    harmless, harmful = analyzer.analyze(first)[0], analyzer.analyze(second)[0]
    assert harmful.access is not None
    assert harmless.access != harmful.access
    assert harmful == SqlAnalyzer().analyze(second)[0]  # the same as without the cache


def test_shape_ignores_comments_and_keeps_each_text() -> None:
    # A ticket number in a comment would make each statement a new shape, and parse each one in full.
    analyzer = SqlAnalyzer()
    first, second = (f"/* ticket OPS-{n}: refund */ UPDATE billing.invoices SET amount = {n} WHERE id = {n};"
                     for n in (17, 18))  # fmt: skip
    assert analyzer.shape(first) == analyzer.shape(second) is not None
    assert analyzer.analyze(second)[0].text == second.rstrip(";")  # the log's text, comment included
    assert analyzer.analyze(second) == SqlAnalyzer().analyze(second)


def test_multi_statement_strings_share_their_analysis_across_constants() -> None:
    analyzer = SqlAnalyzer()
    analyzer.analyze("SELECT 1; UPDATE accounts SET balance = 0 WHERE id = 7")
    parts = analyzer.analyze("SELECT 2 ;\n /* again */ UPDATE accounts SET balance = 0 WHERE id = 8;")
    assert [p.text for p in parts] == ["SELECT 2", "/* again */ UPDATE accounts SET balance = 0 WHERE id = 8"]
    assert [p.tag for p in parts] == ["SELECT", "UPDATE"]
    assert analyzer.shape("SELECT 3; SELECT 4") is None  # Judge caches one statement's decisions only


def test_parts_the_scanner_cuts_otherwise_are_parsed_each_time() -> None:
    # A SQL-standard function body holds semicolons the scanner alone takes for ends of statements.
    body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END"
    analyzer = SqlAnalyzer()
    for n in (1, 2):
        parts = analyzer.analyze(f"{body}; DELETE FROM accounts WHERE id = {n}")
        assert [p.tag for p in parts] == ["CREATE FUNCTION", "DELETE"]
        assert parts[1].text == f"DELETE FROM accounts WHERE id = {n}"
        assert parts[1].access is not None


def test_shape_cache_shares_analysis_across_constants() -> None:
    analyzer = SqlAnalyzer()
    a = analyzer.analyze("UPDATE accounts SET balance = 1 WHERE id = 7")
    b = analyzer.analyze("UPDATE accounts SET balance = 2 WHERE id = 8;")
    assert a[0].access == b[0].access
    assert b[0].text == "UPDATE accounts SET balance = 2 WHERE id = 8"


def test_a_decision_taken_again_by_shape_is_the_full_judgment() -> None:
    # Judge decides a statement whose records carry one text once per shape: each later one of that shape must get
    # what judging it in full gets, and leave its backend's session as judging it in full leaves it. With
    # log_relation on (one record per relation, `;` in a literal), and after a COPY TO PROGRAM (tampering: pgAudit's
    # logged relations are uncertain again, which the session must follow each time, not only the first).
    statements = [
        ["AUDIT: SESSION,{n},1,READ,SELECT,TABLE,public.accounts,\"SELECT * FROM accounts a JOIN pg_class c ON "
         "c.relname = 'a;{n}'\",<not logged>",
         "AUDIT: SESSION,{n},1,READ,SELECT,TABLE,pg_catalog.pg_class,\"SELECT * FROM accounts a JOIN pg_class c ON "
         "c.relname = 'a;{n}'\",<not logged>"],
        ["AUDIT: SESSION,{n},1,READ,COPY,,,COPY accounts TO PROGRAM 'gzip > /tmp/a',<not logged>"],
        ["AUDIT: SESSION,{n},1,WRITE,UPDATE,,,UPDATE accounts SET note = 'x' WHERE id = {n},<not logged>"],
    ]  # fmt: skip
    memo_judge, memo_session, full_session = Judge(Policy()), Session(), Session()
    for n in (1, 2, 3):
        for messages in statements:
            records = [parse_record(m.replace("{n}", str(n))) for m in messages]
            memo_verdict = memo_judge.judge("alice", records, memo_session)
            full_verdict = Judge(Policy()).judge("alice", records, full_session)  # no decision known: in full
            assert memo_verdict == full_verdict
            assert memo_session == full_session


@pytest.mark.parametrize(
    ("name", "expected"),
    [("public.accounts", ("public", "accounts")), ('"My Schema"."a.b"', ("My Schema", "a.b")),
     ('public."x""y"', ("public", 'x"y')), ("accounts", (None, "accounts"))],
)  # fmt: skip
def test_split_qualified(name: str, expected: tuple) -> None:
    assert split_qualified(name) == expected


# -- scoping: a CTE hides a table only inside its own WITH, never as a DML target --------------------------------
_NAMES = ("orders", "accounts", "pg_class", "x", "Orders")


@given(cte=st.sampled_from(_NAMES), table=st.sampled_from(_NAMES), verb=st.sampled_from(["DELETE FROM", "UPDATE"]))
def test_cte_never_names_the_dml_target(cte: str, table: str, verb: str) -> None:
    tail = " SET id = 1" if verb == "UPDATE" else ""
    sql = f'WITH "{cte}" AS (SELECT 1 AS id) {verb} "{table}"{tail} WHERE id IN (SELECT id FROM "{cte}")'
    (part,) = SqlAnalyzer().analyze(sql)
    assert part.access is not None
    assert Relation(None, table) in part.access.relations


@given(cte=st.sampled_from(_NAMES), table=st.sampled_from(_NAMES), nested=st.booleans())
def test_cte_hides_a_read_only_in_its_own_scope(cte: str, table: str, nested: bool) -> None:
    inner = f'(WITH "{cte}" AS (SELECT 1) SELECT 1) s, ' if nested else ""
    sql = f'WITH "{cte}" AS (SELECT 1) SELECT * FROM "{table}"' if not nested else f'SELECT * FROM {inner}"{table}"'
    (part,) = SqlAnalyzer().analyze(sql)
    hidden = cte == table and not nested  # a CTE of a subquery is not visible outside it
    relations = part.access.relations if part.access else ()
    assert (Relation(None, table) in relations) is not hidden


@pytest.mark.parametrize(
    ("sql", "tamper"),
    [
        ("SET pgaudit.log = 'none'", "SET pgaudit.log"),
        ("SET LOCAL pgaudit.log_relation TO off", "SET pgaudit.log_relation"),
        ('SET "pgaudit".log = none', "SET pgaudit.log"),
        ("RESET pgaudit.log", "SET pgaudit.log"),
        ("SET log_min_messages = panic", "SET log_min_messages"),
        ("SELECT set_config('pgaudit.log', 'none', false)", "set_config pgaudit.log"),
        ("SELECT pg_catalog.set_config('PGAUDIT.LOG', 'none', true)", "set_config PGAUDIT.LOG"),
        ("SELECT set_config(name, 'none', false) FROM t", "set_config of a computed setting"),
        ("ALTER ROLE alice SET pgaudit.log = 'none'", "ALTER ROLE pgaudit.log"),
        ("ALTER ROLE alice IN DATABASE d RESET ALL", "ALTER ROLE RESET ALL"),
        ("ALTER DATABASE d SET log_statement = none", "ALTER DATABASE log_statement"),
        ("ALTER SYSTEM SET shared_preload_libraries = ''", "ALTER SYSTEM shared_preload_libraries"),
        ("DROP EXTENSION IF EXISTS pgaudit CASCADE", "DROP EXTENSION pgaudit"),
        ("ALTER EXTENSION pgaudit UPDATE TO '1.8'", "ALTER EXTENSION pgaudit"),
        ("ALTER EVENT TRIGGER pgaudit_ddl_command_end DISABLE", "ALTER EVENT TRIGGER pgaudit_ddl_command_end"),
        ("SET search_path = public", None),
        ("SELECT set_config('application_name', 'x', false)", None),
        ("RESET ALL", None),
        ("DISCARD ALL", None),
        ("SELECT 'SET pgaudit.log = none'", None),
    ],
)
def test_audit_tampering_is_read_from_the_grammar(sql: str, tamper: str | None) -> None:
    (part,) = SqlAnalyzer().analyze(sql)
    assert part.tamper == tamper


def test_tampering_shares_no_analysis_with_a_harmless_shape() -> None:
    # set_config's name is a constant, which a statement's shape replaces by $1: never decided by shape.
    analyzer = SqlAnalyzer()
    assert analyzer.analyze("SELECT set_config('app.tenant', '7', false)")[0].tamper is None
    assert analyzer.analyze("SELECT set_config('pgaudit.log', 'none', false)")[0].tamper == "set_config pgaudit.log"
    assert analyzer.shape("SELECT set_config('pgaudit.log', 'none', false)") is None


def test_every_audit_setting_is_kept_from_service_accounts_unread() -> None:
    # The readers drop a service account's record unread unless it holds one of these words: every tampering
    # statement must hold one, or a service account could turn auditing off unseen.
    from pgaudit_monitor.entries.splitting import may_change_auditing
    from pgaudit_monitor.policy.catalog import AUDIT_SETTINGS

    for name in [*AUDIT_SETTINGS, "pgaudit.log", "set_config", "ALTER ROLE x RESET ALL", 'SET U&"\\0070gaudit.log"']:
        assert may_change_auditing(name.upper().encode()), name


_PIECES = ("WITH", "orders", "AS", "(", ")", "SELECT", "*", "FROM", "DELETE", "UPDATE", "SET", "INSERT", "INTO",
           "VALUES", "1", ",", ";", "pgaudit.log", "=", "'none'", "set_config", "search_path", "RESET", "ALL",
           "ALTER", "ROLE", "SYSTEM", "DROP", "TABLE", "EXTENSION", "pgaudit", "EXPLAIN", "ANALYZE", "false",
           "true", "CREATE", "TEMP", "DATA", "NO", "WITH", "RECURSIVE", "DISCARD", "BEGIN", "COMMIT", "PREPARE",
           "EXECUTE", "MERGE", "USING", "ON", "WHEN", "MATCHED", "THEN", "COPY", "TO", "STDOUT",
           "U&\"\\0070\"")  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES), max_size=14))
def test_analysis_never_raises(pieces: list[str]) -> None:
    # Whatever the text, the analysis answers (None: unreadable, which fails closed): no input may stop the watcher.
    parts = SqlAnalyzer().analyze(" ".join(pieces))
    assert parts is None or all(p.tag for p in parts)


def test_the_readme_rule_tables_are_generated_from_the_registry() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "scripts/readme_rules.py", "--check"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    readme = (root / "README.md").read_text(encoding="utf-8")
    from pgaudit_monitor.policy.rules import RULES

    assert all(f"| `{rule.name}` |" in readme for rule in RULES)
