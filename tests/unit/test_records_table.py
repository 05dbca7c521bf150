"""Table-driven tests of the pgAudit record parser, on AUDIT messages pgAudit 1.7 really wrote.

Every message marked real is copied from tests/data/prefixes/aurora.csv (see tests/data/prefixes/README.md), as the
log entry parsers hand it on: stderr's TABs after newlines already removed. test_table_messages_are_real checks
that they are still in the capture. Each row: the message, then the AuditRecord it must give (or RecordError), and
whether the record carries its statement's text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pgaudit_monitor.entries import LogEntry, compile_prefix, read_file
from pgaudit_monitor.errors import RecordError
from pgaudit_monitor.records import AuditRecord, is_audit_message, parse_record

DATA = Path(__file__).resolve().parents[1] / "data" / "prefixes"
NOT_LOGGED = "<not logged>"
PREVIOUSLY = "<previously logged>"
DEEP_DELETE = "DELETE FROM accounts WHERE id = " + "+".join(["1"] * 500) + ";"


def rec(*fields: Any, rows: str | None = None) -> AuditRecord:
    return AuditRecord(*fields, rows=rows)


def row(id: str, message: str, want: AuditRecord | type[RecordError], logged: bool = True, *, real: bool = True) -> Any:
    return pytest.param(message, want, logged, real, id=id)


RECORD_TABLE = [
    # -- alice, psql, pgaudit.log = 'all': SESSION records, OBJECT_TYPE and OBJECT_NAME empty ------------------------
    # A statement with a comma or a quote is CSV-quoted, its quotes doubled; the parser undoes both.
    row("quoted-statement-commas-and-doubled-quotes",
        "AUDIT: SESSION,1,1,WRITE,INSERT,,,\"INSERT INTO accounts (id, owner, note) VALUES (3, 'Smith, John', "
        "'said \"\"hello\"\", then left');\",<not logged>",
        rec("SESSION", 1, 1, "WRITE", "INSERT", "", "",
            "INSERT INTO accounts (id, owner, note) VALUES (3, 'Smith, John', 'said \"hello\", then left');",
            NOT_LOGGED)),
    # A statement with newlines is quoted too; its newlines are part of the text.
    row("quoted-statement-newlines",
        "AUDIT: SESSION,2,1,WRITE,UPDATE,,,\"UPDATE accounts\n   SET note = 'first line\nsecond line'\n WHERE id = "
        "3;\",<not logged>",
        rec("SESSION", 2, 1, "WRITE", "UPDATE", "", "", "UPDATE accounts\n   SET note = 'first line\nsecond line'\n"
            " WHERE id = 3;", NOT_LOGGED)),
    row("statement-that-then-failed",
        "AUDIT: SESSION,3,1,WRITE,INSERT,,,\"INSERT INTO accounts\nVALUES (1, 'dup', 'x');\",<not logged>",
        rec("SESSION", 3, 1, "WRITE", "INSERT", "", "", "INSERT INTO accounts\nVALUES (1, 'dup', 'x');", NOT_LOGGED)),
    # pgAudit 1.7 does not know MERGE's command tag: class MISC, command ???.
    row("merge-is-misc-question-marks",
        "AUDIT: SESSION,4,1,MISC,???,,,\"MERGE INTO accounts a USING (VALUES (3, 'merged')) AS v(id, note) ON a.id = "
        "v.id\nWHEN MATCHED THEN UPDATE SET note = v.note;\",<not logged>",
        rec("SESSION", 4, 1, "MISC", "???", "", "", "MERGE INTO accounts a USING (VALUES (3, 'merged')) AS v(id, note) "
            "ON a.id = v.id\nWHEN MATCHED THEN UPDATE SET note = v.note;", NOT_LOGGED)),
    # Nothing to quote: the statement is written as it is.
    row("unquoted-long-statement", f"AUDIT: SESSION,5,1,WRITE,DELETE,,,{DEEP_DELETE},<not logged>",
        rec("SESSION", 5, 1, "WRITE", "DELETE", "", "", DEEP_DELETE, NOT_LOGGED)),
    # -- joe user, psql on the Unix socket, pgaudit.log = 'all' -------------------------------------------------------
    row("ddl-class-two-word-command",
        'AUDIT: SESSION,1,1,DDL,CREATE TABLE,,,"CREATE TABLE leads (id int, who text);",<not logged>',
        rec("SESSION", 1, 1, "DDL", "CREATE TABLE", "", "", "CREATE TABLE leads (id int, who text);", NOT_LOGGED)),
    row("tab-inside-string-literal",
        "AUDIT: SESSION,2,1,WRITE,INSERT,,,\"INSERT INTO leads VALUES (1, 'tab\there');\",<not logged>",
        rec("SESSION", 2, 1, "WRITE", "INSERT", "", "", "INSERT INTO leads VALUES (1, 'tab\there');", NOT_LOGGED)),
    row("tab-indented-lines-kept",
        'AUDIT: SESSION,3,1,READ,SELECT,,,"SELECT who,\n\tcount(*)\n\tFROM leads\n\tGROUP BY who;",<not logged>',
        rec("SESSION", 3, 1, "READ", "SELECT", "", "", "SELECT who,\n\tcount(*)\n\tFROM leads\n\tGROUP BY who;",
            NOT_LOGGED)),
    row("copy-is-read", "AUDIT: SESSION,4,1,READ,COPY,,,COPY leads TO STDOUT WITH (FORMAT csv);,<not logged>",
        rec("SESSION", 4, 1, "READ", "COPY", "", "", "COPY leads TO STDOUT WITH (FORMAT csv);", NOT_LOGGED)),
    row("truncate-table-command", "AUDIT: SESSION,5,1,WRITE,TRUNCATE TABLE,,,TRUNCATE leads;,<not logged>",
        rec("SESSION", 5, 1, "WRITE", "TRUNCATE TABLE", "", "", "TRUNCATE leads;", NOT_LOGGED)),
    # -- [ops]@corp, psycopg: log_relation (one record per relation), log_parameter, log_statement_once ---------------
    row("log-relation-object-fields-and-parameters",
        'AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO orders (id, account_id, total) VALUES '
        '($1, $2, $3)","10,1,9.99"',
        rec("SESSION", 1, 1, "WRITE", "INSERT", "TABLE", "public.orders",
            "INSERT INTO orders (id, account_id, total) VALUES ($1, $2, $3)", "10,1,9.99")),
    # The PARAMETER field is itself a CSV list, quoted once more: the parser undoes the outer quoting only.
    row("object-audit-parameter-quoted-twice",
        "AUDIT: OBJECT,2,1,READ,SELECT,TABLE,public.orders,\"SELECT o.id, a.owner FROM orders o JOIN accounts a ON "
        "a.id = o.account_id WHERE a.owner <> $1\",\"\"\"O'Brien, \"\"\"\"Bob\"\"\"\"\"\"\"",
        rec("OBJECT", 2, 1, "READ", "SELECT", "TABLE", "public.orders",
            "SELECT o.id, a.owner FROM orders o JOIN accounts a ON a.id = o.account_id WHERE a.owner <> $1",
            "\"O'Brien, \"\"Bob\"\"\"")),
    # log_statement_once: later records of the statement say <previously logged> instead of the text.
    row("previously-logged-statement-and-parameter",
        "AUDIT: SESSION,2,1,READ,SELECT,TABLE,public.orders,<previously logged>,<previously logged>",
        rec("SESSION", 2, 1, "READ", "SELECT", "TABLE", "public.orders", PREVIOUSLY, PREVIOUSLY), False),
    row("previously-logged-second-relation",
        "AUDIT: SESSION,2,1,READ,SELECT,TABLE,public.accounts,<previously logged>,<previously logged>",
        rec("SESSION", 2, 1, "READ", "SELECT", "TABLE", "public.accounts", PREVIOUSLY, PREVIOUSLY), False),
    row("object-audit-multi-line-statement-unquoted-parameter",
        'AUDIT: OBJECT,3,1,WRITE,UPDATE,TABLE,public.orders,"UPDATE orders\nSET total = total + 1\nWHERE id = $1",10',
        rec("OBJECT", 3, 1, "WRITE", "UPDATE", "TABLE", "public.orders",
            "UPDATE orders\nSET total = total + 1\nWHERE id = $1", "10")),
    # -- app_svc, psycopg, pgaudit.log_rows = on: a tenth field, ROWS ------------------------------------------------
    row("log-rows-field", 'AUDIT: SESSION,1,1,WRITE,INSERT,,,"INSERT INTO orders VALUES (11, 2, 1.5)",<not logged>,1',
        rec("SESSION", 1, 1, "WRITE", "INSERT", "", "", "INSERT INTO orders VALUES (11, 2, 1.5)", NOT_LOGGED,
            rows="1")),
    row("log-rows-unquoted-statement",
        "AUDIT: SESSION,2,1,WRITE,DELETE,,,DELETE FROM orders WHERE id = 11,<not logged>,1",
        rec("SESSION", 2, 1, "WRITE", "DELETE", "", "", "DELETE FROM orders WHERE id = 11", NOT_LOGGED, rows="1")),
    row("object-record-with-rows",
        "AUDIT: OBJECT,2,1,WRITE,DELETE,TABLE,public.orders,DELETE FROM orders WHERE id = 11,<not logged>,1",
        rec("OBJECT", 2, 1, "WRITE", "DELETE", "TABLE", "public.orders", "DELETE FROM orders WHERE id = 11",
            NOT_LOGGED, rows="1")),
    # -- Not a pgAudit record, or one whose fields cannot be read: RecordError ----------------------------------------
    row("not-an-audit-message", "connection authorized: user=alice database=shop application_name=psql", RecordError,
        real=False),
    row("marker-is-case-sensitive", "audit: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>", RecordError, real=False),
    row("empty-payload", "AUDIT: ", RecordError, real=False),
    row("too-few-fields", "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1", RecordError, real=False),
    # A record cut inside its quoted statement (a truncated line) must not be read as a shorter statement.
    row("cut-inside-quoted-statement", 'AUDIT: SESSION,2,1,WRITE,UPDATE,,,"UPDATE accounts', RecordError, real=False),
    row("cut-inside-quoted-statement-with-enough-commas",
        'AUDIT: SESSION,2,1,WRITE,UPDATE,,,"UPDATE accounts SET a = 1, b = 2, c = 3, d = 4, e = 5',
        RecordError, real=False),
    row("text-after-closing-quote", 'AUDIT: SESSION,1,1,READ,SELECT,,,"SELECT 1"x,<not logged>', RecordError,
        real=False),
    row("unknown-audit-type", "AUDIT: ROLE,1,1,ROLE,GRANT,,,GRANT x TO y,<not logged>", RecordError, real=False),
    row("statement-id-not-a-number", "AUDIT: SESSION,x,1,READ,SELECT,,,SELECT 1,<not logged>", RecordError,
        real=False),
    row("substatement-id-empty", "AUDIT: SESSION,1,,READ,SELECT,,,SELECT 1,<not logged>", RecordError, real=False),
]  # fmt: skip


@pytest.mark.parametrize(("message", "want", "logged", "real"), RECORD_TABLE)
def test_parse_record(message: str, want: AuditRecord | type[RecordError], logged: bool, real: bool) -> None:
    # Each field pgAudit wrote is read back exactly (CSV quoting undone); a record that cannot be read raises.
    if want is RecordError:
        with pytest.raises(RecordError):
            parse_record(message)
        return
    assert is_audit_message(message)
    record = parse_record(message)
    assert record == want
    assert record.statement_logged is logged


def _captured_messages() -> set[str]:
    entries = read_file(str(DATA / "aurora.csv"), compile_prefix("%m"), needles=None)
    return {e.message for e in entries if isinstance(e, LogEntry)}


@pytest.mark.parametrize("message", [pytest.param(p.values[0], id=p.id) for p in RECORD_TABLE if p.values[3]])
def test_table_messages_are_real(message: str) -> None:
    # Rows marked real hold a message exactly as pgAudit wrote it in the capture.
    assert message in _captured_messages()


def test_every_captured_record_parses() -> None:
    # Every AUDIT message of every capture and format is a readable record, and the formats agree on them.
    by_file: dict[str, list[AuditRecord]] = {}
    for path in sorted(DATA.glob("*.*")):
        if path.suffix == ".md":
            continue
        prefix = {"aurora": "%t:%r:%u@%d:[%p]:", "default": "%m [%p] ", "debian": "%m [%p] %q%u@%d "}.get(
            path.stem, "%m|%n|%r|%h|%-10u|%d|%6p|%a|%c|%l|%s|%v|%x|%e|%i|%b|%Q|%% "
        )
        entries = read_file(str(path), compile_prefix(prefix), needles=None)
        by_file[path.name] = [
            parse_record(e.message) for e in entries if isinstance(e, LogEntry) and is_audit_message(e.message)
        ]
    assert len(by_file) == 12
    reference = by_file["aurora.csv"]
    assert len(reference) == 19
    assert all(records == reference for records in by_file.values())
    assert {r.audit_type for r in reference} == {"SESSION", "OBJECT"}
