"""Table-driven tests of the log entry parsers, on entries PostgreSQL 15 really wrote.

Every raw entry in these tables is copied verbatim from tests/data/prefixes/, which `python scripts/capture_samples.py`
made with real servers and real psql and psycopg sessions (test_table_entries_are_real checks they still are there).
One table per parser, in the style of pganalyze/collector's logs/parse_test.go: rows grouped by log_line_prefix,
each row's id naming the prefix and the quirk, then the expected fields of the LogEntry, or MALFORMED.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from captures import CAPTURES, DATA, RICH_PREFIX
from pgaudit_monitor.entries import (
    AURORA_PREFIX,
    DEBIAN_PREFIX,
    POSTGRES_DEFAULT_PREFIX,
    LogEntry,
    LogFormat,
    Malformed,
    compile_prefix,
    read_file,
    sniff_format,
)
from pgaudit_monitor.entries.formats import parse_csvlog, parse_jsonlog, parse_stderr

FIELDS = (
    "level",
    "time",
    "user",
    "database",
    "pid",
    "remote",
    "application_name",
    "session_id",
    "session_line",
    "leader_pid",
    "context",
)


@dataclass(frozen=True)
class Want:
    """The expected LogEntry: `message` is its start, or all of it when `exact`. Fields left out must be None."""

    level: str
    message: str
    user: str | None = None
    database: str | None = None
    pid: int | None = None
    remote: str | None = None
    application_name: str | None = None
    session_id: str | None = None
    session_line: int | None = None
    time: str | None = None
    leader_pid: int | None = None
    context: str | None = None
    exact: bool = False


MALFORMED = None  # the parser must return a Malformed (and not raise)


def row(id: str, prefix: str, raw: bytes, want: Want | None, *, real: bool = True, marks: Any = ()) -> Any:
    return pytest.param(prefix, raw, want, real, id=id, marks=marks)


def check(result: LogEntry | Malformed, want: Want | None) -> None:
    if want is MALFORMED:
        assert isinstance(result, Malformed), result
        assert result.reason
        return
    assert isinstance(result, LogEntry), result
    assert {f: getattr(result, f) for f in FIELDS} == {f: getattr(want, f) for f in FIELDS}
    if want.exact:
        assert result.message == want.message
    else:
        assert result.message.startswith(want.message), result.message


# ---------------------------------------------------------------------------------------------------------------------
# stderr
# ---------------------------------------------------------------------------------------------------------------------
ALICE_UPDATE = (
    "AUDIT: SESSION,2,1,WRITE,UPDATE,,,\"UPDATE accounts\n   SET note = 'first line\nsecond line'\n WHERE id = 3;\","
    "<not logged>"
)
JOE_SELECT = 'AUDIT: SESSION,3,1,READ,SELECT,,,"SELECT who,\n\tcount(*)\n\tFROM leads\n\tGROUP BY who;",<not logged>'
ALICE_INSERT = (
    "AUDIT: SESSION,1,1,WRITE,INSERT,,,\"INSERT INTO accounts (id, owner, note) VALUES (3, 'Smith, John', "
    '\'said ""hello"", then left\');",<not logged>'
)

STDERR_TABLE = [
    # -- Aurora / RDS: %t:%r:%u@%d:[%p]: ----------------------------------------------------------------------------
    # Background processes write empty %r, %u and %d: "::@:".
    row("aurora-checkpointer-empty-remote-user-db", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC::@:[6837]:LOG:  checkpoint starting: immediate force wait\n',
        Want("LOG", "checkpoint starting: immediate force wait", pid=6837, exact=True, time="2026-11-25 09:53:22 UTC")),
    row("aurora-postmaster-message-with-quotes-and-parens", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC::@:[6835]:LOG:  background worker "logical replication '
        b'launcher" (PID 6842) exited with exit code 1\n',
        Want("LOG", 'background worker "logical replication launcher" (PID 6842) exited', pid=6835,
             time="2026-11-25 09:53:22 UTC")),
    row("aurora-checkpoint-complete-colons-semicolons-in-message", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC::@:[6837]:LOG:  checkpoint complete: wrote 1875 buffers '
        b'(45.8%); 1 WAL file(s) added, 0 removed, 0 recycled; write=0.010 s, sync=0.001 '
        b's, total=0.038 s; sync files=0, longest=0.000 s, average=0.000 s; distance=8573 '
        b'kB, estimate=8573 kB\n',
        Want("LOG", "checkpoint complete: wrote 1875 buffers (45.8%); 1 WAL file(s) added", pid=6837,
             time="2026-11-25 09:53:22 UTC")),
    # Before authentication user and database are "[unknown]": read as unknown (None), never as a user name.
    row("aurora-connection-received-unknown-placeholders", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34962):[unknown]@[unknown]:[6844]:LOG:  connection '
        b'received: host=127.0.0.1 port=34962\n',
        Want("LOG", "connection received: host=127.0.0.1 port=34962", pid=6844, remote="127.0.0.1(34962)",
             time="2026-11-25 09:53:22 UTC")),
    row("aurora-unix-socket-remote-is-local", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:[local]:[unknown]@[unknown]:[6852]:LOG:  connection received: '
        b'host=[local]\n',
        Want("LOG", "connection received: host=[local]", pid=6852, remote="[local]", time="2026-11-25 09:53:22 UTC")),
    row("aurora-audit-record-quotes-and-commas", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:LOG:  AUDIT: SESSION,'
        b'1,1,WRITE,INSERT,,,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith,'
        b' John\', \'said ""hello"", then left\');",<not logged>\n',
        Want("LOG", ALICE_INSERT, "alice", "shop", 6850, "127.0.0.1(34992)", exact=True,
             time="2026-11-25 09:53:22 UTC")),
    # Newlines in a message are followed by a TAB in stderr format; the TAB is not part of the message.
    row("aurora-multi-line-statement-tab-continuations-removed", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:LOG:  AUDIT: SESSION,'
        b'2,1,WRITE,UPDATE,,,"UPDATE accounts\n'
        b"\t   SET note = 'first line\n"
        b"\tsecond line'\n"
        b'\t WHERE id = 3;",<not logged>\n',
        Want("LOG", ALICE_UPDATE, "alice", "shop", 6850, "127.0.0.1(34992)", exact=True,
             time="2026-11-25 09:53:22 UTC")),
    row("aurora-statement-own-tabs-kept-space-in-user-and-db", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:[local]:joe user@sales db:[6852]:LOG:  AUDIT: SESSION,'
        b'3,1,READ,SELECT,,,"SELECT who,\n'
        b'\t\tcount(*)\n'
        b'\t\tFROM leads\n'
        b'\t\tGROUP BY who;",<not logged>\n',
        Want("LOG", JOE_SELECT, "joe user", "sales db", 6852, "[local]", exact=True, time="2026-11-25 09:53:22 UTC")),
    row("aurora-connection-authorized-app-name-with-colons", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:[local]:joe user@sales db:[6852]:LOG:  connection authorized: '
        b'user=joe user database=sales db application_name=report tool: v2.1 (joe)\n',
        Want("LOG", "connection authorized: user=joe user database=sales db application_name=report tool: v2.1 (joe)",
             "joe user", "sales db", 6852, "[local]", exact=True, time="2026-11-25 09:53:22 UTC")),
    row("aurora-error-message-quoted-commas", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:ERROR:  column ",,,'
        b'1," does not exist at character 8\n',
        Want("ERROR", 'column ",,,1," does not exist at character 8', "alice", "shop", 6850, "127.0.0.1(34992)",
             exact=True, time="2026-11-25 09:53:22 UTC")),
    row("aurora-detail-line", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:DETAIL:  Key (id)=(1) '
        b'already exists.\n',
        Want("DETAIL", "Key (id)=(1) already exists.", "alice", "shop", 6850, "127.0.0.1(34992)", exact=True,
             time="2026-11-25 09:53:22 UTC")),
    row("aurora-statement-line-multi-line", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:STATEMENT:  INSERT '
        b'INTO accounts\n'
        b"\tVALUES (1, 'dup', 'x');\n",
        Want("STATEMENT", "INSERT INTO accounts\nVALUES (1, 'dup', 'x');", "alice", "shop", 6850, "127.0.0.1(34992)",
             exact=True, time="2026-11-25 09:53:22 UTC")),
    row("aurora-fatal-unknown-role", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(35024):ghost@shop:[6856]:FATAL:  role "ghost" '
        b'does not exist\n',
        Want("FATAL", 'role "ghost" does not exist', "ghost", "shop", 6856, "127.0.0.1(35024)", exact=True,
             time="2026-11-25 09:53:22 UTC")),
    row("aurora-user-with-brackets-and-at", AURORA_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(35006):[ops]@corp@shop:[6853]:LOG:  AUDIT: SESSION,'
        b'1,1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO orders (id, account_id, total) '
        b'VALUES ($1, $2, $3)","10,1,9.99"\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,", "[ops]@corp", "shop", 6853,
             "127.0.0.1(35006)", time="2026-11-25 09:53:22 UTC")),
    # A line another prefix wrote, or no log line at all, is Malformed.
    row("aurora-rejects-debian-line", AURORA_PREFIX,
        b'2026-11-25 09:53:25.411 UTC [6946] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,'
        b',,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"",'
        b' then left\');",<not logged>\n',
        MALFORMED),
    row("aurora-rejects-rich-line", AURORA_PREFIX,
        b'2026-11-25 09:53:27.024 UTC|1795600407.024|||          ||  6981||6b06b016.1b45|'
        b'1|2026-11-25 09:53:26 UTC||0|00000||checkpointer|0|% LOG:  checkpoint starting: '
        b'immediate force wait\n',
        MALFORMED),
    row("aurora-rejects-csvlog-row", AURORA_PREFIX,
        b'2026-11-25 09:53:22.170 UTC,,,6844,"127.0.0.1:34962",6b06b012.1abc,1,"",2026-11-25 '
        b'09:53:22 UTC,,0,LOG,00000,"connection received: host=127.0.0.1 port=34962",,,,'
        b',,,,,"","not initialized",,0\n',
        MALFORMED),
    row("aurora-rejects-jsonlog-line", AURORA_PREFIX,
        b'{"timestamp":"2026-11-25 09:53:22.368 UTC","pid":6852,"remote_host":"[local]",'
        b'"session_id":"6b06b012.1ac4","line_num":1,"ps":"","session_start":"2026-11-25 '
        b'09:53:22 UTC","txid":0,"error_severity":"LOG","message":"connection received: '
        b'host=[local]","backend_type":"not initialized","query_id":0}\n',
        MALFORMED),
    row("aurora-rejects-orphan-continuation-line", AURORA_PREFIX, b"\tsecond line'\n", MALFORMED, real=False),
    row("aurora-rejects-prefix-cut-short", AURORA_PREFIX, b"2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@sh",
        MALFORMED, real=False),
    row("aurora-rejects-single-space-after-severity", AURORA_PREFIX,
        b"2026-11-25 09:53:22 UTC::@:[6837]:LOG: checkpoint starting\n", MALFORMED, real=False),
    row("aurora-rejects-garbage", AURORA_PREFIX, b"\x00\xff garbage: not a log line\n", MALFORMED, real=False),
    row("aurora-rejects-empty-line", AURORA_PREFIX, b"\n", MALFORMED, real=False),
    # -- PostgreSQL's default: %m [%p] (no user, no database: they come from connection entries) ----------------------
    row("default-postmaster-first-line-with-commas", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:23.614 UTC [6883] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) '
        b'on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit\n',
        Want("LOG", "starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled", pid=6883,
             time="2026-11-25 09:53:23.614 UTC")),
    row("default-connection-received-no-user-field", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:23.724 UTC [6892] LOG:  connection received: host=127.0.0.1 port=32882\n',
        Want("LOG", "connection received: host=127.0.0.1 port=32882", pid=6892, exact=True,
             time="2026-11-25 09:53:23.724 UTC")),
    row("default-audit-record-without-user", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:23.889 UTC [6898] LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,,,"INSERT '
        b'INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"", '
        b'then left\');",<not logged>\n',
        Want("LOG", ALICE_INSERT, pid=6898, exact=True, time="2026-11-25 09:53:23.889 UTC")),
    row("default-multi-line-audit-record", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:23.890 UTC [6898] LOG:  AUDIT: SESSION,2,1,WRITE,UPDATE,,,"UPDATE '
        b'accounts\n'
        b"\t   SET note = 'first line\n"
        b"\tsecond line'\n"
        b'\t WHERE id = 3;",<not logged>\n',
        Want("LOG", ALICE_UPDATE, pid=6898, exact=True, time="2026-11-25 09:53:23.890 UTC")),
    row("default-multi-line-statement-line", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:23.891 UTC [6898] STATEMENT:  INSERT INTO accounts\n'
        b"\tVALUES (1, 'dup', 'x');\n",
        Want("STATEMENT", "INSERT INTO accounts\nVALUES (1, 'dup', 'x');", pid=6898, exact=True,
             time="2026-11-25 09:53:23.891 UTC")),
    row("default-rejects-debian-session-line", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:25.411 UTC [6946] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,'
        b',,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"",'
        b' then left\');",<not logged>\n',
        MALFORMED),
    row("default-rejects-aurora-line-no-milliseconds", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:22 UTC::@:[6837]:LOG:  checkpoint starting: immediate force wait\n',
        MALFORMED),
    row("default-rejects-rich-line", POSTGRES_DEFAULT_PREFIX,
        b'2026-11-25 09:53:26.930 UTC|1795600406.930|127.0.0.1(39602)|127.0.0.1|alice   '
        b'  |shop|  6994|psql|6b06b016.1b52|3|2026-11-25 09:53:26 UTC|3/28|0|00000|INSERT|'
        b'client backend|-8528058461421773529|% LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,,,'
        b'"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"",'
        b' then left\');",<not logged>\n',
        MALFORMED),
    # -- Debian / Ubuntu: %m [%p] %q%u@%d (nothing after %q for non-session processes) --------------------------------
    row("debian-connection-received-unknown-placeholders", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.236 UTC [6940] [unknown]@[unknown] LOG:  connection received: '
        b'host=127.0.0.1 port=56564\n',
        Want("LOG", "connection received: host=127.0.0.1 port=56564", pid=6940, time="2026-11-25 09:53:25.236 UTC")),
    # %q: a non-session process writes nothing from %q on, so the line has no "user@db ".
    row("debian-q-checkpointer-without-session-part", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.507 UTC [6933] LOG:  checkpoint starting: immediate force '
        b'wait\n',
        Want("LOG", "checkpoint starting: immediate force wait", pid=6933, exact=True,
             time="2026-11-25 09:53:25.507 UTC")),
    row("debian-q-postmaster-first-line-with-commas", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.125 UTC [6931] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) '
        b'on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit\n',
        Want("LOG", "starting PostgreSQL 15.18", pid=6931, time="2026-11-25 09:53:25.125 UTC")),
    row("debian-space-in-user-and-database-multi-line", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.437 UTC [6948] joe user@sales db LOG:  AUDIT: SESSION,3,1,'
        b'READ,SELECT,,,"SELECT who,\n'
        b'\t\tcount(*)\n'
        b'\t\tFROM leads\n'
        b'\t\tGROUP BY who;",<not logged>\n',
        Want("LOG", JOE_SELECT, "joe user", "sales db", 6948, exact=True, time="2026-11-25 09:53:25.437 UTC")),
    row("debian-audit-record-quotes-and-commas", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.411 UTC [6946] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,'
        b',,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"",'
        b' then left\');",<not logged>\n',
        Want("LOG", ALICE_INSERT, "alice", "shop", 6946, exact=True, time="2026-11-25 09:53:25.411 UTC")),
    row("debian-audit-record-with-rows-field", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.446 UTC [6950] app_svc@shop LOG:  AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,,,"INSERT INTO orders VALUES (11, 2, 1.5)",<not logged>,1\n',
        Want("LOG", 'AUDIT: SESSION,1,1,WRITE,INSERT,,,"INSERT INTO orders VALUES (11, 2, 1.5)",<not logged>,1',
             "app_svc", "shop", 6950, exact=True, time="2026-11-25 09:53:25.446 UTC")),
    row("debian-error-quoted-commas", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.412 UTC [6946] alice@shop ERROR:  column ",,,1," does not '
        b'exist at character 8\n',
        Want("ERROR", 'column ",,,1," does not exist at character 8', "alice", "shop", 6946, exact=True,
             time="2026-11-25 09:53:25.412 UTC")),
    row("debian-fatal-unknown-role", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.466 UTC [6952] ghost@shop FATAL:  role "ghost" does not exist\n',
        Want("FATAL", 'role "ghost" does not exist', "ghost", "shop", 6952, exact=True,
             time="2026-11-25 09:53:25.466 UTC")),
    row("debian-user-with-brackets-and-at", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.442 UTC [6949] [ops]@corp@shop LOG:  AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,TABLE,public.orders,"INSERT INTO orders (id, account_id, total) VALUES '
        b'($1, $2, $3)","10,1,9.99"\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,", "[ops]@corp", "shop", 6949,
             time="2026-11-25 09:53:25.442 UTC"),
        ),
    # On a non-session line (nothing after %q) the message is never read as "user@db LEVEL:  ": here an autovacuum
    # worker's line naming a table called 'x@y z:  AUDIT: ...' (synthetic: a name a user can create).
    row("debian-q-non-session-message-is-not-user-at-db", DEBIAN_PREFIX,
        b'2026-11-25 09:53:25.507 UTC [6933] LOG:  automatic analyze of table "shop.public.x@y z:  AUDIT: '
        b'SESSION,1,1,WRITE,DELETE,,,DELETE FROM t,<n>"\n',
        Want("LOG", 'automatic analyze of table "shop.public.x@y z:  AUDIT: SESSION', pid=6933,
             time="2026-11-25 09:53:25.507 UTC"), real=False),
    # With %q the session part is optional, so a default-prefix line is a (non-session) Debian line.
    row("debian-q-accepts-default-prefix-line-without-user", DEBIAN_PREFIX,
        b'2026-11-25 09:53:23.889 UTC [6898] LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,,,"INSERT '
        b'INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"", '
        b'then left\');",<not logged>\n',
        Want("LOG", ALICE_INSERT, pid=6898, exact=True, time="2026-11-25 09:53:23.889 UTC")),
    row("debian-rejects-aurora-line", DEBIAN_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:LOG:  AUDIT: SESSION,'
        b'1,1,WRITE,INSERT,,,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith,'
        b' John\', \'said ""hello"", then left\');",<not logged>\n',
        MALFORMED),
    row("debian-rejects-message-without-prefix", DEBIAN_PREFIX,
        b"LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>\n", MALFORMED, real=False),
    # -- rich: %m|%n|%r|%h|%-10u|%d|%6p|%a|%c|%l|%s|%v|%x|%e|%i|%b|%Q|%% ----------------------------------------------
    # Padding: %-10u writes 10 spaces when there is no user, %6p pads the pid on the left; neither is data.
    row("rich-postmaster-padding-and-empty-fields", RICH_PREFIX,
        b'2026-11-25 09:53:26.650 UTC|1795600406.650|||          ||  6979||6b06b016.1b43|'
        b'4|2026-11-25 09:53:26 UTC||0|00000||postmaster|0|% LOG:  starting PostgreSQL 15.18 '
        b'(Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) '
        b'12.2.0, 64-bit\n',
        Want("LOG", "starting PostgreSQL 15.18", pid=6979, session_id="6b06b016.1b43", session_line=4,
             time="2026-11-25 09:53:26.650 UTC")),
    row("rich-checkpointer-padding-and-empty-fields", RICH_PREFIX,
        b'2026-11-25 09:53:27.024 UTC|1795600407.024|||          ||  6981||6b06b016.1b45|'
        b'1|2026-11-25 09:53:26 UTC||0|00000||checkpointer|0|% LOG:  checkpoint starting: '
        b'immediate force wait\n',
        Want("LOG", "checkpoint starting: immediate force wait", pid=6981, session_id="6b06b016.1b45",
             session_line=1, exact=True, time="2026-11-25 09:53:27.024 UTC")),
    row("rich-connection-received-padded-unknown-user-and-app", RICH_PREFIX,
        b'2026-11-25 09:53:26.760 UTC|1795600406.760|127.0.0.1(39578)|127.0.0.1|[unknown] '
        b'|[unknown]|  6988|[unknown]|6b06b016.1b4c|1|2026-11-25 09:53:26 UTC||0|00000||'
        b'not initialized|0|% LOG:  connection received: host=127.0.0.1 port=39578\n',
        Want("LOG", "connection received: host=127.0.0.1 port=39578", pid=6988, remote="127.0.0.1(39578)",
             session_id="6b06b016.1b4c", session_line=1, exact=True, time="2026-11-25 09:53:26.760 UTC")),
    row("rich-audit-padded-user-negative-query-id", RICH_PREFIX,
        b'2026-11-25 09:53:26.930 UTC|1795600406.930|127.0.0.1(39602)|127.0.0.1|alice   '
        b'  |shop|  6994|psql|6b06b016.1b52|3|2026-11-25 09:53:26 UTC|3/28|0|00000|INSERT|'
        b'client backend|-8528058461421773529|% LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,,,'
        b'"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"",'
        b' then left\');",<not logged>\n',
        Want("LOG", ALICE_INSERT, "alice", "shop", 6994, "127.0.0.1(39602)", "psql", "6b06b016.1b52", 3, exact=True,
             time="2026-11-25 09:53:26.930 UTC")),
    row("rich-multi-line-audit-record", RICH_PREFIX,
        b'2026-11-25 09:53:26.930 UTC|1795600406.930|127.0.0.1(39602)|127.0.0.1|alice   '
        b'  |shop|  6994|psql|6b06b016.1b52|4|2026-11-25 09:53:26 UTC|3/29|0|00000|UPDATE|'
        b'client backend|5615656541475135437|% LOG:  AUDIT: SESSION,2,1,WRITE,UPDATE,,,"UPDATE '
        b'accounts\n'
        b"\t   SET note = 'first line\n"
        b"\tsecond line'\n"
        b'\t WHERE id = 3;",<not logged>\n',
        Want("LOG", ALICE_UPDATE, "alice", "shop", 6994, "127.0.0.1(39602)", "psql", "6b06b016.1b52", 4, exact=True,
             time="2026-11-25 09:53:26.930 UTC")),
    row("rich-local-space-user-app-name-with-colons-and-spaces", RICH_PREFIX,
        b'2026-11-25 09:53:26.955 UTC|1795600406.955|[local]|[local]|joe user  |sales db|'
        b'  6996|report tool: v2.1 (joe)|6b06b016.1b54|5|2026-11-25 09:53:26 UTC|3/38|0|'
        b'00000|SELECT|client backend|-1481161915098434846|% LOG:  AUDIT: SESSION,3,1,READ,'
        b'SELECT,,,"SELECT who,\n'
        b'\t\tcount(*)\n'
        b'\t\tFROM leads\n'
        b'\t\tGROUP BY who;",<not logged>\n',
        Want("LOG", JOE_SELECT, "joe user", "sales db", 6996, "[local]", "report tool: v2.1 (joe)", "6b06b016.1b54", 5,
             exact=True, time="2026-11-25 09:53:26.955 UTC")),
    # Between delimiters that cannot occur in the name, brackets and @ in a user name are read right.
    row("rich-user-with-brackets-and-at-fills-the-padding", RICH_PREFIX,
        b'2026-11-25 09:53:26.960 UTC|1795600406.960|127.0.0.1(39618)|127.0.0.1|[ops]@corp|'
        b'shop|  6997|etl:nightly:step 2|6b06b016.1b55|3|2026-11-25 09:53:26 UTC|3/42|0|'
        b'00000|INSERT|client backend|-5964487303779718989|% LOG:  AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,TABLE,public.orders,"INSERT INTO orders (id, account_id, total) VALUES '
        b'($1, $2, $3)","10,1,9.99"\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,", "[ops]@corp", "shop", 6997,
             "127.0.0.1(39618)", "etl:nightly:step 2", "6b06b016.1b55", 3, time="2026-11-25 09:53:26.960 UTC")),
    row("rich-app-name-colon-and-space", RICH_PREFIX,
        b'2026-11-25 09:53:26.964 UTC|1795600406.964|127.0.0.1(39632)|127.0.0.1|app_svc '
        b'  |shop|  6998|billing: worker 3|6b06b016.1b56|3|2026-11-25 09:53:26 UTC|3/44|'
        b'755|00000|INSERT|client backend|2981109998927143549|% LOG:  AUDIT: SESSION,1,1,'
        b'WRITE,INSERT,,,"INSERT INTO orders VALUES (11, 2, 1.5)",<not logged>,1\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,,,", "app_svc", "shop", 6998, "127.0.0.1(39632)",
             "billing: worker 3", "6b06b016.1b56", 3, time="2026-11-25 09:53:26.964 UTC")),
    row("rich-error-sqlstate", RICH_PREFIX,
        b'2026-11-25 09:53:26.931 UTC|1795600406.931|127.0.0.1(39602)|127.0.0.1|alice   '
        b'  |shop|  6994|psql|6b06b016.1b52|5|2026-11-25 09:53:26 UTC|3/30|0|42703|SELECT|'
        b'client backend|0|% ERROR:  column ",,,1," does not exist at character 8\n',
        Want("ERROR", 'column ",,,1," does not exist', "alice", "shop", 6994, "127.0.0.1(39602)", "psql",
             "6b06b016.1b52", 5, time="2026-11-25 09:53:26.931 UTC")),
    row("rich-fatal-unknown-app", RICH_PREFIX,
        b'2026-11-25 09:53:26.984 UTC|1795600406.984|127.0.0.1(39638)|127.0.0.1|ghost   '
        b'  |shop|  7000|[unknown]|6b06b016.1b58|3|2026-11-25 09:53:26 UTC|3/45|0|28000|'
        b'startup|client backend|3694949039461716331|% FATAL:  role "ghost" does not exist\n',
        Want("FATAL", 'role "ghost" does not exist', "ghost", "shop", 7000, "127.0.0.1(39638)", None, "6b06b016.1b58",
             3, exact=True, time="2026-11-25 09:53:26.984 UTC")),
    row("rich-rejects-aurora-line", RICH_PREFIX,
        b'2026-11-25 09:53:22 UTC:127.0.0.1(35006):[ops]@corp@shop:[6853]:LOG:  AUDIT: SESSION,'
        b'1,1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO orders (id, account_id, total) '
        b'VALUES ($1, $2, $3)","10,1,9.99"\n',
        MALFORMED),
    row("rich-rejects-debian-line", RICH_PREFIX,
        b'2026-11-25 09:53:25.125 UTC [6931] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) '
        b'on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit\n',
        MALFORMED),
    row("rich-rejects-line-without-literal-percent", RICH_PREFIX,
        b"2026-11-25 09:53:27.024 UTC|1795600407.024|||          ||  6981||6b06b016.1b45|1|2026-11-25 09:53:26 UTC"
        b"||0|00000||checkpointer|0| LOG:  checkpoint starting: immediate force wait\n", MALFORMED, real=False),
]  # fmt: skip


@pytest.mark.parametrize(("prefix", "raw", "want", "real"), STDERR_TABLE)
def test_parse_stderr(prefix: str, raw: bytes, want: Want | None, real: bool) -> None:
    # Each stderr entry gives the fields its prefix carries ([unknown] and empty as None), or Malformed.
    check(parse_stderr(raw, compile_prefix(prefix), source="t.log", line=7, stream="s"), want)


# ---------------------------------------------------------------------------------------------------------------------
# csvlog
# ---------------------------------------------------------------------------------------------------------------------
CSV_TABLE = [
    # Background processes: empty user, database, remote and application_name columns.
    row("csv-postmaster-empty-columns", "",
        b'2026-11-25 09:53:22.060 UTC,,,6835,,6b06b012.1ab3,1,,2026-11-25 09:53:22 UTC,,'
        b'0,LOG,00000,"starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu,'
        b' compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit",,,,,,,,,"","postmaster",'
        b',0\n',
        Want("LOG", "starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc",
             pid=6835, session_id="6b06b012.1ab3", session_line=1, time="2026-11-25 09:53:22.060 UTC")),
    # host:port in csvlog is host(port), as %r writes it, so that all formats agree.
    row("csv-connection-received-host-port", "",
        b'2026-11-25 09:53:22.170 UTC,,,6844,"127.0.0.1:34962",6b06b012.1abc,1,"",2026-11-25 '
        b'09:53:22 UTC,,0,LOG,00000,"connection received: host=127.0.0.1 port=34962",,,,'
        b',,,,,"","not initialized",,0\n',
        Want("LOG", "connection received: host=127.0.0.1 port=34962", pid=6844, remote="127.0.0.1(34962)",
             session_id="6b06b012.1abc", session_line=1, exact=True, time="2026-11-25 09:53:22.170 UTC")),
    row("csv-unix-socket-remote-is-local", "",
        b'2026-11-25 09:53:22.368 UTC,,,6852,"[local]",6b06b012.1ac4,1,"",2026-11-25 09:53:22 '
        b'UTC,,0,LOG,00000,"connection received: host=[local]",,,,,,,,,"","not initialized",'
        b',0\n',
        Want("LOG", "connection received: host=[local]", pid=6852, remote="[local]", session_id="6b06b012.1ac4",
             session_line=1, exact=True, time="2026-11-25 09:53:22.368 UTC")),
    row("csv-audit-doubled-quotes", "",
        b'2026-11-25 09:53:22.346 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'3,"INSERT",2026-11-25 09:53:22 UTC,3/28,0,LOG,00000,"AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,,,""INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', '
        b'\'said """"hello"""", then left\');"",<not logged>",,,,,,,,,"psql","client backend",'
        b',-8528058461421773529\n',
        Want("LOG", ALICE_INSERT, "alice", "shop", 6850, "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 3, exact=True,
             time="2026-11-25 09:53:22.346 UTC")),
    # csvlog quotes the newlines of a message: one row over several lines, no TABs added.
    row("csv-multi-line-message-in-quotes", "",
        b'2026-11-25 09:53:22.347 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'4,"UPDATE",2026-11-25 09:53:22 UTC,3/29,0,LOG,00000,"AUDIT: SESSION,2,1,WRITE,'
        b'UPDATE,,,""UPDATE accounts\n'
        b"   SET note = 'first line\n"
        b"second line'\n"
        b' WHERE id = 3;"",<not logged>",,,,,,,,,"psql","client backend",,5615656541475135437\n',
        Want("LOG", ALICE_UPDATE, "alice", "shop", 6850, "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 4, exact=True,
             time="2026-11-25 09:53:22.347 UTC")),
    row("csv-statement-own-tabs-space-user-and-db", "",
        b'2026-11-25 09:53:22.371 UTC,"joe user","sales db",6852,"[local]",6b06b012.1ac4,'
        b'5,"SELECT",2026-11-25 09:53:22 UTC,3/38,0,LOG,00000,"AUDIT: SESSION,3,1,READ,SELECT,'
        b',,""SELECT who,\n'
        b'\tcount(*)\n'
        b'\tFROM leads\n'
        b'\tGROUP BY who;"",<not logged>",,,,,,,,,"report tool: v2.1 (joe)","client backend",'
        b',-1481161915098434846\n',
        Want("LOG", JOE_SELECT, "joe user", "sales db", 6852, "[local]", "report tool: v2.1 (joe)", "6b06b012.1ac4", 5,
             exact=True, time="2026-11-25 09:53:22.371 UTC")),
    row("csv-literal-tab-in-statement", "",
        b'2026-11-25 09:53:22.370 UTC,"joe user","sales db",6852,"[local]",6b06b012.1ac4,'
        b'4,"INSERT",2026-11-25 09:53:22 UTC,3/37,0,LOG,00000,"AUDIT: SESSION,2,1,WRITE,'
        b'INSERT,,,""INSERT INTO leads VALUES (1, \'tab\there\');"",<not logged>",,,,,,,'
        b',,"report tool: v2.1 (joe)","client backend",,2273189087637958458\n',
        Want("LOG", "AUDIT: SESSION,2,1,WRITE,INSERT,,,\"INSERT INTO leads VALUES (1, 'tab\there');\",<not logged>",
             "joe user", "sales db", 6852, "[local]", "report tool: v2.1 (joe)", "6b06b012.1ac4", 4, exact=True,
                  time="2026-11-25 09:53:22.370 UTC")),
    row("csv-user-with-brackets-and-at", "",
        b'2026-11-25 09:53:22.376 UTC,"[ops]@corp","shop",6853,"127.0.0.1:35006",6b06b012.1ac5,'
        b'3,"INSERT",2026-11-25 09:53:22 UTC,3/42,0,LOG,00000,"AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,TABLE,public.orders,""INSERT INTO orders (id, account_id, total) VALUES '
        b'($1, $2, $3)"",""10,1,9.99""",,,,,,,,,"etl:nightly:step 2","client backend",,-5964487303779718989\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,", "[ops]@corp", "shop", 6853,
             "127.0.0.1(35006)", "etl:nightly:step 2", "6b06b012.1ac5", 3, time="2026-11-25 09:53:22.376 UTC")),
    # DETAIL, STATEMENT and the cursor position have their own columns: the message is the message alone.
    row("csv-error-quoted-commas-statement-column", "",
        b'2026-11-25 09:53:22.347 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'5,"SELECT",2026-11-25 09:53:22 UTC,3/30,0,ERROR,42703,"column "",,,1,"" does not '
        b'exist",,,,,,"SELECT "",,,1,"" FROM accounts;",8,,"psql","client backend",,0\n',
        Want("ERROR", 'column ",,,1," does not exist', "alice", "shop", 6850, "127.0.0.1(34992)", "psql",
             "6b06b012.1ac2", 5, exact=True, time="2026-11-25 09:53:22.347 UTC")),
    row("csv-error-detail-column", "",
        b'2026-11-25 09:53:22.347 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'8,"INSERT",2026-11-25 09:53:22 UTC,3/32,749,ERROR,23505,"duplicate key value violates '
        b'unique constraint ""accounts_pkey""","Key (id)=(1) already exists.",,,,,"INSERT '
        b'INTO accounts\n'
        b'VALUES (1, \'dup\', \'x\');",,,"psql","client backend",,-8528058461421773529\n',
        Want("ERROR", 'duplicate key value violates unique constraint "accounts_pkey"', "alice", "shop", 6850,
             "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 8, exact=True, time="2026-11-25 09:53:22.347 UTC")),
    row("csv-rejects-stderr-line", "",
        b'2026-11-25 09:53:23.889 UTC [6898] LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,,,"INSERT '
        b'INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said ""hello"", '
        b'then left\');",<not logged>\n',
        MALFORMED),
    row("csv-rejects-jsonlog-line", "",
        b'{"timestamp":"2026-11-25 09:53:22.060 UTC","pid":6835,"session_id":"6b06b012.1ab3",'
        b'"line_num":1,"session_start":"2026-11-25 09:53:22 UTC","txid":0,"error_severity":"LOG",'
        b'"message":"starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu,'
        b' compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit","backend_type":"postmaster",'
        b'"query_id":0}\n',
        MALFORMED),
    row("csv-rejects-row-cut-inside-quotes", "",
        b'2026-11-25 09:53:22.347 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,4,"UPDATE",'
        b'2026-11-25 09:53:22 UTC,3/29,0,LOG,00000,"AUDIT: SESSION,2,1,WRITE,UPDATE,,,""UPDATE accounts\n',
        MALFORMED, real=False),
    row("csv-rejects-too-few-columns", "", b"2026-11-25 09:53:22.347 UTC,alice,shop,6850\n", MALFORMED, real=False),
    row("csv-rejects-text-after-closing-quote", "",
        b'2026-11-25 09:53:22.060 UTC,,,6835,,6b06b012.1ab3,1,,2026-11-25 09:53:22 UTC,,0,LOG,00000,'
        b'"starting"x,,,,,,,,,"","postmaster",,0\n', MALFORMED, real=False),
]  # fmt: skip


@pytest.mark.parametrize(("prefix", "raw", "want", "real"), CSV_TABLE)
def test_parse_csvlog(prefix: str, raw: bytes, want: Want | None, real: bool) -> None:
    # Each csvlog row gives its columns (empty as None, host:port as host(port)), or Malformed.
    check(parse_csvlog(raw, source="t.csv", line=7, stream="s"), want)


# ---------------------------------------------------------------------------------------------------------------------
# jsonlog
# ---------------------------------------------------------------------------------------------------------------------
JSON_TABLE = [
    # Keys of empty fields are left out altogether (no "user" before authentication, no port on a socket).
    row("json-postmaster-no-user-keys", "",
        b'{"timestamp":"2026-11-25 09:53:22.060 UTC","pid":6835,"session_id":"6b06b012.1ab3",'
        b'"line_num":1,"session_start":"2026-11-25 09:53:22 UTC","txid":0,"error_severity":"LOG",'
        b'"message":"starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu,'
        b' compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit","backend_type":"postmaster",'
        b'"query_id":0}\n',
        Want("LOG", "starting PostgreSQL 15.18", pid=6835, session_id="6b06b012.1ab3", session_line=1,
             time="2026-11-25 09:53:22.060 UTC")),
    row("json-connection-received-host-and-port", "",
        b'{"timestamp":"2026-11-25 09:53:22.170 UTC","pid":6844,"remote_host":"127.0.0.1",'
        b'"remote_port":34962,"session_id":"6b06b012.1abc","line_num":1,"ps":"","session_start":"2026-11-25 '
        b'09:53:22 UTC","txid":0,"error_severity":"LOG","message":"connection received: '
        b'host=127.0.0.1 port=34962","backend_type":"not initialized","query_id":0}\n',
        Want("LOG", "connection received: host=127.0.0.1 port=34962", pid=6844, remote="127.0.0.1(34962)",
             session_id="6b06b012.1abc", session_line=1, exact=True, time="2026-11-25 09:53:22.170 UTC")),
    row("json-unix-socket-no-port", "",
        b'{"timestamp":"2026-11-25 09:53:22.368 UTC","pid":6852,"remote_host":"[local]",'
        b'"session_id":"6b06b012.1ac4","line_num":1,"ps":"","session_start":"2026-11-25 '
        b'09:53:22 UTC","txid":0,"error_severity":"LOG","message":"connection received: '
        b'host=[local]","backend_type":"not initialized","query_id":0}\n',
        Want("LOG", "connection received: host=[local]", pid=6852, remote="[local]", session_id="6b06b012.1ac4",
             session_line=1, exact=True, time="2026-11-25 09:53:22.368 UTC")),
    row("json-audit-escaped-quotes", "",
        b'{"timestamp":"2026-11-25 09:53:22.346 UTC","user":"alice","dbname":"shop","pid":6850,'
        b'"remote_host":"127.0.0.1","remote_port":34992,"session_id":"6b06b012.1ac2","line_num":3,'
        b'"ps":"INSERT","session_start":"2026-11-25 09:53:22 UTC","vxid":"3/28","txid":0,'
        b'"error_severity":"LOG","message":"AUDIT: SESSION,1,1,WRITE,INSERT,,,\\"INSERT '
        b'INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', \'said \\"\\"hello\\"\\",'
        b' then left\');\\",<not logged>","application_name":"psql","backend_type":"client '
        b'backend","query_id":-8528058461421773529}\n',
        Want("LOG", ALICE_INSERT, "alice", "shop", 6850, "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 3, exact=True,
             time="2026-11-25 09:53:22.346 UTC")),
    row("json-multi-line-message-escaped-newlines", "",
        b'{"timestamp":"2026-11-25 09:53:22.347 UTC","user":"alice","dbname":"shop","pid":6850,'
        b'"remote_host":"127.0.0.1","remote_port":34992,"session_id":"6b06b012.1ac2","line_num":4,'
        b'"ps":"UPDATE","session_start":"2026-11-25 09:53:22 UTC","vxid":"3/29","txid":0,'
        b'"error_severity":"LOG","message":"AUDIT: SESSION,2,1,WRITE,UPDATE,,,\\"UPDATE '
        b'accounts\\n   SET note = \'first line\\nsecond line\'\\n WHERE id = 3;\\",<not '
        b'logged>","application_name":"psql","backend_type":"client backend","query_id":5615656541475135437}\n',
        Want("LOG", ALICE_UPDATE, "alice", "shop", 6850, "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 4, exact=True,
             time="2026-11-25 09:53:22.347 UTC")),
    row("json-user-with-brackets-and-at", "",
        b'{"timestamp":"2026-11-25 09:53:22.376 UTC","user":"[ops]@corp","dbname":"shop",'
        b'"pid":6853,"remote_host":"127.0.0.1","remote_port":35006,"session_id":"6b06b012.1ac5",'
        b'"line_num":3,"ps":"INSERT","session_start":"2026-11-25 09:53:22 UTC","vxid":"3/42",'
        b'"txid":0,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,'
        b'public.orders,\\"INSERT INTO orders (id, account_id, total) VALUES ($1, $2, $3)\\",'
        b'\\"10,1,9.99\\"","application_name":"etl:nightly:step 2","backend_type":"client '
        b'backend","query_id":-5964487303779718989}\n',
        Want("LOG", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,", "[ops]@corp", "shop", 6853,
             "127.0.0.1(35006)", "etl:nightly:step 2", "6b06b012.1ac5", 3, time="2026-11-25 09:53:22.376 UTC")),
    row("json-escaped-tab-space-user-and-db", "",
        b'{"timestamp":"2026-11-25 09:53:22.370 UTC","user":"joe user","dbname":"sales db",'
        b'"pid":6852,"remote_host":"[local]","session_id":"6b06b012.1ac4","line_num":4,"ps":"INSERT",'
        b'"session_start":"2026-11-25 09:53:22 UTC","vxid":"3/37","txid":0,"error_severity":"LOG",'
        b'"message":"AUDIT: SESSION,2,1,WRITE,INSERT,,,\\"INSERT INTO leads VALUES (1, \'tab\\there\');\\",'
        b'<not logged>","application_name":"report tool: v2.1 (joe)","backend_type":"client '
        b'backend","query_id":2273189087637958458}\n',
        Want("LOG", "AUDIT: SESSION,2,1,WRITE,INSERT,,,\"INSERT INTO leads VALUES (1, 'tab\there');\",<not logged>",
             "joe user", "sales db", 6852, "[local]", "report tool: v2.1 (joe)", "6b06b012.1ac4", 4, exact=True,
                  time="2026-11-25 09:53:22.370 UTC")),
    row("json-error-statement-in-own-key", "",
        b'{"timestamp":"2026-11-25 09:53:22.347 UTC","user":"alice","dbname":"shop","pid":6850,'
        b'"remote_host":"127.0.0.1","remote_port":34992,"session_id":"6b06b012.1ac2","line_num":5,'
        b'"ps":"SELECT","session_start":"2026-11-25 09:53:22 UTC","vxid":"3/30","txid":0,'
        b'"error_severity":"ERROR","state_code":"42703","message":"column \\",,,1,\\" does '
        b'not exist","statement":"SELECT \\",,,1,\\" FROM accounts;","cursor_position":8,'
        b'"application_name":"psql","backend_type":"client backend","query_id":0}\n',
        Want("ERROR", 'column ",,,1," does not exist', "alice", "shop", 6850, "127.0.0.1(34992)", "psql",
             "6b06b012.1ac2", 5, exact=True, time="2026-11-25 09:53:22.347 UTC")),
    row("json-error-detail-in-own-key", "",
        b'{"timestamp":"2026-11-25 09:53:22.347 UTC","user":"alice","dbname":"shop","pid":6850,'
        b'"remote_host":"127.0.0.1","remote_port":34992,"session_id":"6b06b012.1ac2","line_num":8,'
        b'"ps":"INSERT","session_start":"2026-11-25 09:53:22 UTC","vxid":"3/32","txid":749,'
        b'"error_severity":"ERROR","state_code":"23505","message":"duplicate key value violates '
        b'unique constraint \\"accounts_pkey\\"","detail":"Key (id)=(1) already exists.",'
        b'"statement":"INSERT INTO accounts\\nVALUES (1, \'dup\', \'x\');","application_name":"psql",'
        b'"backend_type":"client backend","query_id":-8528058461421773529}\n',
        Want("ERROR", 'duplicate key value violates unique constraint "accounts_pkey"', "alice", "shop", 6850,
             "127.0.0.1(34992)", "psql", "6b06b012.1ac2", 8, exact=True, time="2026-11-25 09:53:22.347 UTC")),
    row("json-rejects-stderr-line", "",
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:LOG:  AUDIT: SESSION,'
        b'1,1,WRITE,INSERT,,,"INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith,'
        b' John\', \'said ""hello"", then left\');",<not logged>\n',
        MALFORMED),
    row("json-rejects-csvlog-row", "",
        b'2026-11-25 09:53:22.346 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'3,"INSERT",2026-11-25 09:53:22 UTC,3/28,0,LOG,00000,"AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,,,""INSERT INTO accounts (id, owner, note) VALUES (3, \'Smith, John\', '
        b'\'said """"hello"""", then left\');"",<not logged>",,,,,,,,,"psql","client backend",'
        b',-8528058461421773529\n',
        MALFORMED),
    row("json-rejects-line-cut-short", "",
        b'{"timestamp":"2026-11-25 09:53:22.346 UTC","user":"alice","dbname":"shop","pid":6850,"message":"AUDIT: S',
        MALFORMED, real=False),
    row("json-rejects-array", "", b'["AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>"]\n', MALFORMED,
        real=False),
    row("json-rejects-object-without-message", "", b'{"timestamp":"2026-11-25 09:53:22.346 UTC","pid":6850}\n',
        MALFORMED, real=False),
    row("json-rejects-message-not-a-string", "", b'{"message":["AUDIT: SESSION"],"pid":6850}\n', MALFORMED,
        real=False),
]  # fmt: skip


@pytest.mark.parametrize(("prefix", "raw", "want", "real"), JSON_TABLE)
def test_parse_jsonlog(prefix: str, raw: bytes, want: Want | None, real: bool) -> None:
    # Each jsonlog line gives its keys (absent as None, remote_host and remote_port as host(port)), or Malformed.
    check(parse_jsonlog(raw, source="t.json", line=7, stream="s"), want)


@pytest.mark.parametrize(
    "raw", [pytest.param(p.values[1], id=p.id) for p in STDERR_TABLE + CSV_TABLE + JSON_TABLE if p.values[3]]
)
def test_table_entries_are_real(raw: bytes) -> None:
    # Rows marked real hold an entry exactly as PostgreSQL wrote it in one of the captures.
    captured = b"".join(path.read_bytes() for path in sorted(DATA.iterdir()) if path.suffix != ".md")
    assert raw in captured


# ---------------------------------------------------------------------------------------------------------------------
# sniff_format: the first bytes of a log decide its format
# ---------------------------------------------------------------------------------------------------------------------

SNIFF_TABLE = [
    *(pytest.param((DATA / f"{name}.{ext}").read_bytes()[:65536], fmt, id=f"{name}-{ext}-capture-head")
      for name in CAPTURES for ext, fmt in (("log", LogFormat.STDERR), ("csv", LogFormat.CSVLOG),
                                            ("json", LogFormat.JSONLOG))),
    # A rotated file may start with any entry.
    pytest.param(
        b'2026-11-25 09:53:22.368 UTC,,,6852,"[local]",6b06b012.1ac4,1,"",2026-11-25 09:53:22 '
        b'UTC,,0,LOG,00000,"connection received: host=[local]",,,,,,,,,"","not initialized",'
        b',0\n',
        LogFormat.CSVLOG, id="csv-starting-with-local-connection"),
    pytest.param(
        b'2026-11-25 09:53:22.376 UTC,"[ops]@corp","shop",6853,"127.0.0.1:35006",6b06b012.1ac5,'
        b'3,"INSERT",2026-11-25 09:53:22 UTC,3/42,0,LOG,00000,"AUDIT: SESSION,1,1,WRITE,'
        b'INSERT,TABLE,public.orders,""INSERT INTO orders (id, account_id, total) VALUES '
        b'($1, $2, $3)"",""10,1,9.99""",,,,,,,,,"etl:nightly:step 2","client backend",,-5964487303779718989\n',
        LogFormat.CSVLOG, id="csv-starting-with-quoted-user-with-at"),
    pytest.param(
        b'2026-11-25 09:53:22.347 UTC,"alice","shop",6850,"127.0.0.1:34992",6b06b012.1ac2,'
        b'4,"UPDATE",2026-11-25 09:53:22 UTC,3/29,0,LOG,00000,"AUDIT: SESSION,2,1,WRITE,'
        b'UPDATE,,,""UPDATE accounts\n'
        b"   SET note = 'first line\n"
        b"second line'\n"
        b' WHERE id = 3;"",<not logged>",,,,,,,,,"psql","client backend",,5615656541475135437\n',
        LogFormat.CSVLOG, id="csv-starting-with-multi-line-row"),
    pytest.param(b"\n\n" + (DATA / "aurora.json").read_bytes()[:2000], LogFormat.JSONLOG,
                 id="json-after-blank-lines"),
    pytest.param(
        b'2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:ERROR:  column ",,,'
        b'1," does not exist at character 8\n',
        LogFormat.STDERR, id="aurora-stderr-starting-with-error-quoted-commas"),
    pytest.param(b"", LogFormat.STDERR, id="empty"),
    pytest.param(b"\xff\xfe garbage", LogFormat.STDERR, id="garbage"),
    pytest.param(
        b'2026-11-25 09:53:23.890 UTC [6898] ERROR:  column ",,,1," does not exist at character '
        b'8\n',
        LogFormat.STDERR, id="default-stderr-starting-with-error-quoted-commas"),
    pytest.param(
        b'2026-11-25 09:53:25.412 UTC [6946] alice@shop ERROR:  column ",,,1," does not '
        b'exist at character 8\n',
        LogFormat.STDERR, id="debian-stderr-starting-with-error-quoted-commas"),
]  # fmt: skip


@pytest.mark.parametrize(("head", "fmt"), SNIFF_TABLE)
def test_sniff_format(head: bytes, fmt: LogFormat) -> None:
    # The format is told from the content of the first bytes, whatever entry a (rotated) file starts with.
    assert sniff_format(head) is fmt


def test_rotated_stderr_file_starting_with_an_error_keeps_its_audit_records(tmp_path: Path) -> None:
    # A log rotated just before a failing statement must still yield the audit records that follow.
    data = (DATA / "default.log").read_bytes()
    start = data.rfind(b"\n", 0, data.index(b'ERROR:  column ",,,1,"')) + 1
    rotated = tmp_path / "postgresql-rotated.log"
    rotated.write_bytes(data[start:])
    read = list(read_file(str(rotated), compile_prefix(POSTGRES_DEFAULT_PREFIX)))
    assert [e for e in read if isinstance(e, Malformed)] == []
    assert sum(e.message.startswith("AUDIT: ") for e in read if isinstance(e, LogEntry)) == 17


# ---------------------------------------------------------------------------------------------------------------------
# Whole captured files
# ---------------------------------------------------------------------------------------------------------------------
def _read(name: str, ext: str) -> list[LogEntry | Malformed]:
    """Every entry of a captured file."""
    return list(read_file(str(DATA / f"{name}.{ext}"), compile_prefix(CAPTURES[name]), needles=None))


def _expected_count(name: str, ext: str) -> int:
    """How many entries the file holds, counted without the project's code."""
    path = DATA / f"{name}.{ext}"
    if ext == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            return sum(1 for _ in csv.reader(handle))
    lines = path.read_bytes().split(b"\n")
    return sum(1 for line in lines if line and not line.startswith(b"\t"))


def _audits(entries: list[LogEntry | Malformed]) -> list[LogEntry]:
    return [e for e in entries if isinstance(e, LogEntry) and e.message.startswith("AUDIT: ")]


@pytest.mark.parametrize("ext", ["log", "csv", "json"])
@pytest.mark.parametrize("name", list(CAPTURES))
def test_captured_file_reads_without_malformed(name: str, ext: str) -> None:
    # Every entry PostgreSQL wrote reads as one LogEntry: none malformed, none lost, none merged.
    entries = _read(name, ext)
    assert [e for e in entries if isinstance(e, Malformed)] == []
    assert len(entries) == _expected_count(name, ext)


def _stderr_fields(name: str) -> tuple[str, ...]:
    """The LogEntry fields a stderr line of this capture's prefix carries, and csvlog's carry the same value.

    Not %l: stderr counts its DETAIL and STATEMENT lines as lines of the session, csvlog counts messages. Not the
    time: csvlog writes milliseconds, a prefix's %t whole seconds.
    """
    compiled = compile_prefix(CAPTURES[name])
    remote = ("remote",) if compiled.fields & {"remote", "remote_host"} else ()
    return ("level", *(f for f in FIELDS if f in compiled.fields and f not in ("session_line", "time")), *remote)


@pytest.mark.parametrize("name", list(CAPTURES))
def test_audit_entries_agree_across_formats(name: str) -> None:
    # One server's audit records read the same from its stderr, csvlog and jsonlog files.
    stderr, csvlog, jsonlog = (_audits(_read(name, ext)) for ext in ("log", "csv", "json"))
    assert len(stderr) == len(csvlog) == len(jsonlog) == 19
    assert [e.message for e in stderr] == [e.message for e in csvlog] == [e.message for e in jsonlog]
    for a, b in zip(csvlog, jsonlog, strict=True):
        assert {f: getattr(a, f) for f in FIELDS} == {f: getattr(b, f) for f in FIELDS}
    fields = _stderr_fields(name)
    assert len(fields) >= 2
    for a, b in zip(csvlog, stderr, strict=True):
        assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}


@pytest.mark.parametrize("name", ["aurora", "debian"])
def test_user_with_at_sign_agrees_across_formats(name: str) -> None:
    # The user of an entry is the same whether it was read from stderr or from csvlog.
    stderr, csvlog = (_audits(_read(name, ext)) for ext in ("log", "csv"))
    assert [(e.user, e.database) for e in stderr] == [(e.user, e.database) for e in csvlog]


@pytest.mark.parametrize("ext", ["log", "csv", "json"])
@pytest.mark.parametrize("name", list(CAPTURES))
def test_default_needles_keep_what_the_pipeline_needs(name: str, ext: str) -> None:
    # The pre-filter keeps exactly the entries the pipeline reads: audit records, and the connection entries that
    # start, name and end a backend; nothing else is parsed.
    everything = _read(name, ext)
    filtered = list(read_file(str(DATA / f"{name}.{ext}"), compile_prefix(CAPTURES[name])))
    kinds = ("AUDIT: ", "connection received: ", "connection authorized: ", "disconnection: ")

    def needed(entry: LogEntry | Malformed) -> bool:
        return isinstance(entry, LogEntry) and entry.message.startswith(kinds)

    assert [e for e in everything if needed(e)] == [e for e in filtered if needed(e)]
    assert all(needed(e) for e in filtered)
    assert len(_audits(filtered)) == 19
    authorized = [e for e in filtered if isinstance(e, LogEntry) and e.message.startswith("connection authorized")]
    assert len(authorized) == 10
