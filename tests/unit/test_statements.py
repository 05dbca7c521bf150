"""Statements are the unit: one per (stream, backend, statement id), whatever the records, the pid reuse or the
order of backends in the log. Lines are real server output (Aurora prefix), with pids changed where a case needs
it."""

from __future__ import annotations

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries import AURORA_PREFIX, compile_prefix
from pgaudit_monitor.entries.formats import parse_stderr
from pgaudit_monitor.entries.model import LogEntry
from pgaudit_monitor.pipeline import Pipeline

P = "2026-11-25 09:41:05 UTC:127.0.0.1(35004):alice@postgres:[{pid}]:LOG:  "
RECEIVED = (
    "2026-11-25 09:41:05 UTC:127.0.0.1(35004):[unknown]@[unknown]:[{pid}]:LOG:  connection received: host=127.0.0.1"
)
DISCONNECTED = P + "disconnection: session time: 0:00:00.003 user=alice database=postgres host=127.0.0.1 port=35004"
FUNCTION_CALL = [
    P + "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT purge(),<not logged>",
    P + "AUDIT: SESSION,1,2,FUNCTION,EXECUTE,FUNCTION,public.purge,SELECT purge(),<not logged>",
    P + "AUDIT: SESSION,1,3,WRITE,DELETE,,,DELETE FROM accounts WHERE id>100,<not logged>",
]
UPDATE_1 = P + "AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE accounts SET balance=0 WHERE id=1,<not logged>"
SELECT_1 = P + "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM accounts,<not logged>"


def run(lines: list[str], stream: str = "s") -> list[Outcome]:
    prefix = compile_prefix(AURORA_PREFIX)
    entries = []
    for number, line in enumerate(lines, start=1):
        entry = parse_stderr(line.encode(), prefix, source="test.log", line=number, stream=stream)
        assert isinstance(entry, LogEntry), entry
        entries.append(entry)
    pipeline = Pipeline(load_settings(env={}))
    return [o for o in [*pipeline.feed(entries), *pipeline.finish()] if isinstance(o, Outcome)]


def what(outcomes: list[Outcome]) -> list[tuple[int, int | None, str, int, str, tuple[str, ...]]]:
    """Each statement as (line, pid, user, statement id, command, relations): what the tests compare."""
    return [(o.line, o.pid, o.user, o.statement_id, o.verdict.command, tuple(o.verdict.relations)) for o in outcomes]


def test_substatements_make_one_statement() -> None:
    outcomes = run([line.format(pid=10) for line in FUNCTION_CALL])
    assert what(outcomes) == [(1, 10, "alice", 1, "DELETE", ("accounts",))]


def test_interleaved_backends_are_kept_apart() -> None:
    a = [line.format(pid=10) for line in FUNCTION_CALL]
    b = UPDATE_1.format(pid=11)
    outcomes = run([a[0], b, a[1], a[2]])
    assert sorted((o.pid, o.verdict.command) for o in outcomes) == [(10, "DELETE"), (11, "UPDATE")]


def test_reused_pid_after_connection_received_is_a_new_backend() -> None:
    # Same pid, same statement id 1, two sessions: two statements.
    lines = [UPDATE_1.format(pid=10), DISCONNECTED.format(pid=10), RECEIVED.format(pid=10), UPDATE_1.format(pid=10)]
    assert what(run(lines)) == [
        (1, 10, "alice", 1, "UPDATE", ("accounts",)),
        (4, 10, "alice", 1, "UPDATE", ("accounts",)),
    ]


def test_reused_pid_without_connection_entries_is_a_new_backend() -> None:
    # log_connections off: the text of statement 1 differs, so it is another backend's statement 1.
    outcomes = run([UPDATE_1.format(pid=10), SELECT_1.format(pid=10)])
    assert what(outcomes) == [
        (1, 10, "alice", 1, "UPDATE", ("accounts",)),
        (2, 10, "alice", 1, "SELECT", ("accounts",)),
    ]


def test_reused_pid_by_another_user_is_a_new_backend() -> None:
    bob = UPDATE_1.replace("alice@", "bob@")
    outcomes = run([UPDATE_1.format(pid=10), bob.format(pid=10)])
    assert [o.user for o in outcomes] == ["alice", "bob"]


def test_same_pid_in_two_streams_is_two_backends() -> None:
    outcomes = run([UPDATE_1.format(pid=10)], stream="a") + run([UPDATE_1.format(pid=10)], stream="b")
    assert [o.stream for o in outcomes] == ["a", "b"]
    assert what(outcomes) == [(1, 10, "alice", 1, "UPDATE", ("accounts",))] * 2


def test_log_relation_records_are_one_statement() -> None:
    text = "SELECT * FROM accounts a JOIN pg_class c ON true"
    lines = [
        P + f"AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.accounts,{text},<not logged>",
        P + f"AUDIT: SESSION,1,1,READ,SELECT,TABLE,pg_catalog.pg_class,{text},<not logged>",
    ]
    outcomes = run([line.format(pid=10) for line in lines])
    assert what(outcomes) == [(1, 10, "alice", 1, "SELECT", ("public.accounts",))]


def test_statement_once_placeholder_takes_the_first_text() -> None:
    # pgaudit.log_statement_once: later records of the statement say <previously logged>.
    lines = [
        P + "AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.accounts,SELECT * FROM accounts,<not logged>",
        P + "AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.other,<previously logged>,<previously logged>",
    ]
    outcomes = run([line.format(pid=10) for line in lines])
    assert what(outcomes) == [(1, 10, "alice", 1, "SELECT", ("public.accounts", "public.other"))]
    assert outcomes[0].verdict.statement == "SELECT * FROM accounts"


def test_disconnection_completes_the_open_statement_and_frees_the_backend() -> None:
    pipeline = Pipeline(load_settings(env={}))
    prefix = compile_prefix(AURORA_PREFIX)
    entries = [
        parse_stderr(line.format(pid=10).encode(), prefix, source="t", line=i)
        for i, line in enumerate([UPDATE_1, DISCONNECTED])
    ]
    outcomes = list(pipeline.feed(entries))
    assert what(outcomes) == [(0, 10, "alice", 1, "UPDATE", ("accounts",))]  # at the disconnection, not the end
    assert list(pipeline.finish()) == []


def test_many_backends_stay_bounded() -> None:
    # Memory stays flat: past max_backends the least recently active backend is judged and forgotten.
    pipeline = Pipeline(load_settings(env={}))
    pipeline.assembler.max_backends = 100
    prefix = compile_prefix(AURORA_PREFIX)
    outcomes = []
    for pid in range(1000):
        entry = parse_stderr(UPDATE_1.format(pid=pid).encode(), prefix, source="t", line=pid)
        outcomes.extend(pipeline.feed([entry]))
        assert len(pipeline.assembler._backends) <= 100
    outcomes.extend(pipeline.finish())
    assert sorted(what(outcomes)) == [(pid, pid, "alice", 1, "UPDATE", ("accounts",)) for pid in range(1000)]


def test_idle_statements_are_completed_and_late_records_not_counted_twice() -> None:
    # A live follower completes a statement after a quiet moment; its later substatements are not a second one.
    pipeline = Pipeline(load_settings(env={}))
    prefix = compile_prefix(AURORA_PREFIX)
    lines = [line.format(pid=10) for line in FUNCTION_CALL]
    entries = [parse_stderr(line.encode(), prefix, source="t", line=i) for i, line in enumerate(lines)]
    assert list(pipeline.feed(entries[:3])) == []
    assert list(pipeline.assembler.complete_idle(10.0)) == []  # not idle yet
    done = list(pipeline.assembler.complete_idle(0.0))
    assert [o.verdict.command for o in done] == ["DELETE"]
    late = parse_stderr((P + "AUDIT: SESSION,1,4,WRITE,DELETE,,,DELETE FROM accounts WHERE id>100,<none>").format(
        pid=10).encode(), prefix, source="t", line=9)  # fmt: skip
    assert [*pipeline.feed([late]), *pipeline.finish()] == []


def test_a_forged_record_of_several_lines_in_cloudwatch_events_is_tampering() -> None:
    # In CloudWatch events every entry's line is its event's number: the CONTEXT that RAISE leaves is the next
    # event, however many lines the forged record has (in a file, the line after its last one).
    forged = P + 'AUDIT: SESSION,99,1,WRITE,DELETE,,,"DELETE FROM public.orders\n\tWHERE id = 1",<not logged>'
    context = P.replace(":LOG:  ", ":CONTEXT:  ") + "PL/pgSQL function inline_code_block line 1 at RAISE"
    events = [(1_764_063_665_000, "s", forged.format(pid=10)), (1_764_063_665_000, "s", context.format(pid=10))]
    pipeline = Pipeline(load_settings(env={}))
    outcomes = [o for o in pipeline.scan_events(events, "group") if isinstance(o, Outcome)]
    assert [(o.line, o.verdict.category, o.verdict.rule) for o in outcomes] == [(1, "audit-tamper", "forged-record")]
