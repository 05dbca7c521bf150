"""Real and hostile log lines from a real PostgreSQL 15 + pgAudit: verbose verbosity, forged prefixes, RAISE.

Every log here is written by a throwaway server during the test (tests/support/pgserver.py), in stderr, csvlog and
jsonlog at once, at log_error_verbosity default and verbose:

* `LOG:  00000: AUDIT: ...` and the `LOCATION:` line after it (verbose) must read as the default's records;
* roles whose names forge a stderr prefix (a newline and a fake prefix naming app_svc; `app_svc@appdb:[1]:LOG:  x`
  and friends, which move where the user seems to end) run a DELETE: it must come out with user `?`, never as the
  service account's and never lost, and a line cut off by a newline must be reported (csvlog and jsonlog quote
  every field: there the real role is named);
* a human's `RAISE LOG 'AUDIT: ...'` writes a record pgAudit did not: its CONTEXT (`... at RAISE`) is read.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgaudit_monitor.aws.insights import build_query, kept_messages
from pgaudit_monitor.config import load_settings
from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries.model import AMBIGUOUS_USER, LogEntry, Malformed
from pgaudit_monitor.entries.prefix import AURORA_PREFIX, compile_prefix
from pgaudit_monitor.entries.reader import PIPELINE_NEEDLES, LogFormat, entry_splitter, needles_for, read_file
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.policy.accounts import UNKNOWN_USER
from pgserver import PgServer, require_postgres

pytestmark = pytest.mark.postgres

SERVICE = "app_svc"
HUMAN_DELETE = "DELETE FROM orders WHERE id = 1"
FORGED_DELETE = "DELETE FROM orders WHERE id = 7"
HOSTILE = {
    # A newline, then a prefix naming the service account: the record's line reads as app_svc's.
    "newline": "x\n2026-11-25 09:00:00 UTC:127.0.0.1(1):app_svc",
    # Delimiters that end the user early: the record's message no longer starts with `AUDIT: `.
    "shift": "app_svc@appdb:[1]:LOG:  x",
    # ... and a whole forged record in front of the real one, under the service account's name.
    "twice": "app_svc@d:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x",
    # A newline and a TAB: the real record becomes a continuation line of a forged one.
    "tab": 'a@d:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,"\n\t',
}
RAISED = "DO $$ BEGIN RAISE LOG 'AUDIT: SESSION,99,1,WRITE,DELETE,,,DELETE FROM public.orders,<not logged>'; END $$"
RAISE_CONTEXT = "PL/pgSQL function inline_code_block line 1 at RAISE"
FORMATS = (".log", ".csv", ".json")
VERBOSITIES = ("default", "verbose")
IN_PROCESS, IN_CHILD = 1 << 40, 0  # background_min_bytes: never, always


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _capture(out: Path, verbosity: str) -> dict[str, Path]:
    """One server's three logs after: alice's DELETE, each hostile role's DELETE, alice's RAISE."""
    with PgServer(settings={"log_error_verbosity": verbosity}) as server:
        server.sql("CREATE EXTENSION pgaudit")
        server.sql("CREATE TABLE orders (id int)")
        for role in (SERVICE, "alice", *HOSTILE.values()):
            server.sql(f"CREATE ROLE {_quoted(role)} LOGIN")
            server.sql(f"ALTER ROLE {_quoted(role)} SET pgaudit.log TO 'all'")
            server.sql(f"GRANT ALL ON orders TO {_quoted(role)}")
        server.psql("-c", HUMAN_DELETE, user="alice")
        for role in HOSTILE.values():
            with psycopg.connect(server.dsn(user="postgres"), user=role, autocommit=True) as conn:
                conn.execute(FORGED_DELETE)
        server.psql("-c", RAISED, user="alice")
        server.stop()
        logs = {}
        for suffix in FORMATS:
            (path,) = server.log_files(suffix)
            logs[suffix] = out / f"{verbosity}{suffix}"
            shutil.copy(path, logs[suffix])
    return logs


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    require_postgres()
    out = tmp_path_factory.mktemp("hostile-logs")
    return {verbosity: _capture(out, verbosity) for verbosity in VERBOSITIES}


def _scan(path: Path, background_min_bytes: int, *, report_excluded: bool = False) -> list[Outcome | Malformed]:
    pipeline = Pipeline(
        load_settings(env={}, service_accounts=SERVICE),
        report_excluded=report_excluded,
        background_min_bytes=background_min_bytes,
    )
    return [*pipeline.scan_file(str(path)), *pipeline.finish()]


def _detections(items: list[Outcome | Malformed]) -> list[Outcome]:
    return [item for item in items if isinstance(item, Outcome) and item.detected]


KNOWN = {HUMAN_DELETE, FORGED_DELETE, "DELETE FROM public.orders"}
"""The statements run (and raised); a hostile name's connection entries add readings of their own, whose text
holds the pid and, at verbose, the SQLSTATE."""


def _what(items: list[Outcome | Malformed]) -> list[tuple[str, str | None, str | None]]:
    return sorted(
        (d.user, d.verdict.command, d.verdict.statement) for d in _detections(items) if d.verdict.statement in KNOWN
    )


# -- A: log_error_verbosity = verbose ------------------------------------------------------------------------------
def test_the_server_wrote_sqlstates_and_locations_at_verbose(logs: dict[str, dict[str, Path]]) -> None:
    # What the tests below rely on, as PostgreSQL 15 wrote it: the SQLSTATE in stderr's message, a LOCATION line
    # after each entry; csvlog and jsonlog keep both in columns of their own, the message unchanged.
    stderr = logs["verbose"][".log"].read_text()
    assert re.search(
        r":alice@postgres:\[\d+\]:LOG:  00000: AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM orders", stderr
    )
    assert re.search(r":alice@postgres:\[\d+\]:LOCATION:  log_audit_event, pgaudit\.c:\d+\n", stderr)
    assert re.search(r":LOG:  00000: connection authorized: user=alice ", stderr)
    assert ',LOG,00000,"AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM orders' in logs["verbose"][".csv"].read_text()
    assert '"message":"AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM orders' in logs["verbose"][".json"].read_text()
    assert "00000: AUDIT" not in logs["default"][".log"].read_text()


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("background", [IN_PROCESS, IN_CHILD], ids=["in-process", "in-child"])
def test_verbose_records_read_as_the_default_ones(
    logs: dict[str, dict[str, Path]], suffix: str, background: int
) -> None:
    verbose = _scan(logs["verbose"][suffix], background)
    assert ("alice", "DELETE", HUMAN_DELETE) in _what(verbose)
    assert _what(verbose) == _what(_scan(logs["default"][suffix], background))
    for entry in read_file(str(logs["verbose"][suffix]), compile_prefix(AURORA_PREFIX)):
        if isinstance(entry, LogEntry) and entry.user == "alice" and entry.level == "LOG":
            assert entry.message.startswith(("AUDIT: ", "connection ", "disconnection: ")), entry
            assert "LOCATION" not in entry.message
            assert "pgaudit.c" not in entry.message


def _events(path: Path, *, with_location: bool) -> Iterator[tuple[str, str]]:
    """CloudWatch events of a stderr log: one per entry, or (`with_location`) an entry and the LOCATION line after
    it in one event, newlines and TABs inside as RDS exports them."""
    entries = re.split(r"\n(?=[^\t])", path.read_text().rstrip("\n"))
    i = 0
    while i < len(entries):
        if with_location and i + 1 < len(entries) and ":LOCATION:  " in entries[i + 1]:
            yield "instance-1", entries[i] + "\n" + entries[i + 1]
            i += 2
        else:
            yield "instance-1", entries[i]
            i += 1


@pytest.mark.parametrize("with_location", [False, True], ids=["event-per-entry", "location-in-the-event"])
def test_verbose_cloudwatch_events_read_as_the_file(logs: dict[str, dict[str, Path]], with_location: bool) -> None:
    path = logs["verbose"][".log"]
    pipeline = Pipeline(load_settings(env={}, service_accounts=SERVICE), report_excluded=False)
    events = [(n, *event) for n, event in enumerate(_events(path, with_location=with_location))]  # times in order
    items = list(pipeline.scan_events(events, "cloudwatch"))
    assert ("alice", "DELETE", HUMAN_DELETE) in _what(items)
    assert _what(items) == _what(_scan(path, IN_PROCESS))
    assert all("LOCATION" not in (d.verdict.statement or "") for d in _detections(items))


def test_the_insights_query_keeps_verbose_records_and_raise_contexts(logs: dict[str, dict[str, Path]]) -> None:
    # The query's `like` filters are the readers' literals; on the real verbose lines they keep every record,
    # the connection entries where the prefix has no user, and RAISE's CONTEXT.
    query = build_query(AURORA_PREFIX, [SERVICE])
    for kept in kept_messages(True):
        assert f'@message like "{kept}"' in query
        assert any(kept in needle.decode() for needle in PIPELINE_NEEDLES["stderr"])
    lines = logs["verbose"][".log"].read_text().splitlines()
    records = [line for line in lines if re.search(r":LOG:  00000: AUDIT: ", line)]
    assert len(records) >= 3
    for line in [*records, *(line for line in lines if line.endswith(":CONTEXT:  " + RAISE_CONTEXT))]:
        assert any(kept in line for kept in kept_messages(True)), line
    authorized = [line for line in lines if "00000: connection authorized: " in line]
    assert authorized
    assert all(any(k in line for k in kept_messages(False)) for line in authorized)


# -- B: forged prefixes --------------------------------------------------------------------------------------------
def test_the_server_wrote_the_forged_prefixes(logs: dict[str, dict[str, Path]]) -> None:
    # %u is written raw: the newline role's record is two lines, the second one under a fake prefix; the shifted
    # ones carry a second `@db:[pid]:LOG:  ` after the name.
    text = logs["default"][".log"].read_text()
    assert re.search(
        r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:127\.0\.0\.1\(\d+\):x\n"
        r"2026-11-25 09:00:00 UTC:127\.0\.0\.1\(1\):app_svc@postgres:\[\d+\]:LOG:  AUDIT: SESSION,1,1,WRITE,DELETE,",
        text,
    )
    assert re.search(r":app_svc@appdb:\[1\]:LOG:  x@postgres:\[\d+\]:LOG:  AUDIT: SESSION,1,1,WRITE,DELETE,", text)
    assert re.search(r":a@d:\[1\]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,\"\n\t@postgres:\[\d+\]:LOG:  AUDIT: ", text)


@pytest.mark.parametrize("verbosity", VERBOSITIES)
@pytest.mark.parametrize("background", [IN_PROCESS, IN_CHILD], ids=["in-process", "in-child"])
def test_a_forged_prefix_never_makes_a_record_the_service_accounts(
    logs: dict[str, dict[str, Path]], verbosity: str, background: int
) -> None:
    path = logs[verbosity][".log"]
    items = _scan(path, background)
    forged = [d for d in _detections(items) if d.verdict.statement == FORGED_DELETE]
    # Each hostile role's DELETE is reported, once per role (their pids differ), and as `?`'s.
    assert sorted({d.pid for d in forged}) == sorted({d.pid for d in forged if d.user == UNKNOWN_USER})
    assert len({d.pid for d in forged}) == len(HOSTILE)
    assert {d.verdict.command for d in forged} == {"DELETE"}
    # app_svc never ran anything: no statement that ran may be its, not even as an excluded one. (A name can still
    # put app_svc's name before a line that is no statement at all, a LOCATION line at verbose: not a record
    # anyone ran, and excluded.)
    everything = _scan(path, background, report_excluded=True)
    assert not [o for o in everything if isinstance(o, Outcome) and o.user == SERVICE and o.verdict.statement in KNOWN]
    # The line a newline cut off is reported where it is, with why.
    lines = path.read_text().split("\n")
    cut_off = [
        n
        for n, line in enumerate(lines, start=1)
        if line.endswith(":x") and lines[n].startswith("2026-11-25 09:00:00") and "AUDIT: " in lines[n]
    ]
    assert cut_off
    reported = {m.line for m in items if isinstance(m, Malformed) and m.reason.startswith("starts like an entry")}
    assert set(cut_off) <= reported


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_quoted_formats_name_the_real_role(logs: dict[str, dict[str, Path]], suffix: str) -> None:
    forged = [
        d for d in _detections(_scan(logs["default"][suffix], IN_PROCESS)) if d.verdict.statement == FORGED_DELETE
    ]
    assert sorted(d.user for d in forged) == sorted(HOSTILE.values())


def test_a_newline_role_in_one_cloudwatch_event_is_reported_and_read_as_unknown(
    logs: dict[str, dict[str, Path]],
) -> None:
    # An export may keep the two physical lines of one record in one event: the cut-off line is reported, the
    # record is `?`'s.
    lines = logs["default"][".log"].read_text().split("\n")
    events = []
    for n, line in enumerate(lines[:-1]):
        if line.endswith(":x") and lines[n + 1].startswith("2026-11-25 09:00:00"):
            events.append((n, "instance-1", line + "\n" + lines[n + 1]))
    assert events
    pipeline = Pipeline(load_settings(env={}, service_accounts=SERVICE), report_excluded=False)
    items = list(pipeline.scan_events(events, "cloudwatch"))
    assert [m for m in items if isinstance(m, Malformed) and m.reason.startswith("starts like an entry")]
    assert ("?", "DELETE", FORGED_DELETE) in _what(items)


def test_the_ambiguous_user_is_the_policys_unknown_user() -> None:
    assert AMBIGUOUS_USER == UNKNOWN_USER


# -- C: RAISE's CONTEXT, leader_pid --------------------------------------------------------------------------------
@pytest.mark.parametrize("verbosity", VERBOSITIES)
def test_raise_writes_a_context_that_pgaudit_never_does(logs: dict[str, dict[str, Path]], verbosity: str) -> None:
    prefix = compile_prefix(AURORA_PREFIX)
    text = logs[verbosity][".log"].read_text()
    assert re.search(r":alice@postgres:\[\d+\]:CONTEXT:  " + re.escape(RAISE_CONTEXT) + "\n", text)
    # stderr: the CONTEXT is an entry of its own, which the pipeline's needles deliver right after the record.
    entries = [e for e in read_file(str(logs[verbosity][".log"]), prefix) if isinstance(e, LogEntry)]
    (raised,) = [e for e in entries if e.message.startswith("AUDIT: SESSION,99,")]
    (context,) = [e for e in entries if e.level == "CONTEXT"]
    assert (context.message, context.pid, context.user, context.line) == (
        RAISE_CONTEXT,
        raised.pid,
        "alice",
        raised.line + 1,
    )
    # csvlog and jsonlog: the same entry carries it; no pgAudit record has one.
    for suffix in (".csv", ".json"):
        records = [e for e in read_file(str(logs[verbosity][suffix]), prefix) if isinstance(e, LogEntry)]
        (raised,) = [e for e in records if e.message.startswith("AUDIT: SESSION,99,")]
        assert raised.context == RAISE_CONTEXT
        genuine = [e for e in records if e.message.startswith("AUDIT: ") and e is not raised]
        assert genuine
        assert all(e.context is None for e in genuine)


def test_entry_fields_are_in_declaration_order() -> None:
    entry = LogEntry("m", "LOG", "s", 1, leader_pid=7, context="c")
    assert [f.name for f in dataclasses.fields(LogEntry)] == [
        "message", "level", "source", "line", "stream", "time", "user", "database", "pid", "remote",
        "application_name", "session_id", "session_line", "leader_pid", "context", "record",
    ]  # fmt: skip
    assert LogEntry(*entry.fields()) == entry


def test_leader_pid_of_a_parallel_worker_in_every_format(tmp_path: Path) -> None:
    require_postgres()
    prefix_text = "%m [%p] %P %q%u@%d "
    query = "SET force_parallel_mode = on; SET parallel_setup_cost = 0; SELECT 1 / (id - 500) FROM t"
    with PgServer(log_line_prefix=prefix_text) as server:
        server.sql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g")
        assert server.psql("-c", query, check=False).returncode != 0  # division by zero, in the worker too
        time.sleep(0.5)
        server.stop()
        text = server.log_files(".log")[0].read_text()
        # The worker's line names its leader after its own pid; the leader's own %P is empty.
        worker = re.search(r"\[(\d+)\] (\d+) ERROR:  division by zero", text)
        assert worker is not None
        worker_pid, leader_pid = int(worker.group(1)), int(worker.group(2))
        for suffix in FORMATS:
            entries = [
                e
                for e in read_file(str(server.log_files(suffix)[0]), compile_prefix(prefix_text), needles=None)
                if isinstance(e, LogEntry) and e.message == "division by zero"
            ]
            by_pid = {e.pid: e.leader_pid for e in entries}
            assert by_pid == {worker_pid: leader_pid, leader_pid: None}, suffix


@pytest.mark.parametrize("piece", [13, 997, 1 << 20])
@pytest.mark.parametrize("verbosity", VERBOSITIES)
def test_the_follower_reads_forged_prefixes_as_a_file_reader_does(
    logs: dict[str, dict[str, Path]], verbosity: str, piece: int
) -> None:
    # The watcher feeds the file's reader (entry_splitter) what was written since its last read, cut anywhere: an
    # entry that reads more than one way comes out as all its readings, and a record with the line a newline cut
    # off before it: every hostile role's DELETE is `?`'s, the cut-off line is reported, as a file's reader does.
    path = logs[verbosity][".log"]
    prefix = compile_prefix(AURORA_PREFIX)
    data = path.read_bytes()
    splitter = entry_splitter(LogFormat.STDERR, prefix, needles_for(LogFormat.STDERR), source=str(path), stream="s")
    items = [item for at in range(0, len(data), piece) for item in splitter.feed(data[at : at + piece])]
    items += splitter.finish()
    entries = [e for e in items if isinstance(e, LogEntry)]
    deletes = [e for e in entries if e.message.startswith("AUDIT: SESSION,1,1,WRITE,DELETE,,," + FORGED_DELETE)]
    assert len({e.pid for e in deletes}) == len(HOSTILE)
    assert {e.user for e in deletes} == {UNKNOWN_USER}

    def key(entry: LogEntry) -> tuple[object, ...]:
        return (entry.line, entry.pid, entry.user, entry.database, entry.message)

    file_reader = [key(e) for e in read_file(str(path), prefix) if isinstance(e, LogEntry)]
    assert all(key(e) in file_reader for e in deletes)  # the same entries, lines and all
    assert [key(e) for e in entries] == file_reader
    lines = path.read_text().split("\n")
    reported = [m for m in items if isinstance(m, Malformed) and m.reason.startswith("starts like an entry")]
    assert reported
    assert all(lines[m.line - 1].endswith(":x") for m in reported)
