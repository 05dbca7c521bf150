"""Windows, plans and the query: the bookkeeping that makes counts exact, without any AWS service."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest

from pgaudit_monitor.aws.insights import USER_FIELD, _insights_regex, auditing_regex, build_query
from pgaudit_monitor.aws.windows import Span, last_due_end, parse_time, plan, split
from pgaudit_monitor.entries.prefix import AURORA_PREFIX, POSTGRES_DEFAULT_PREFIX, compile_prefix
from pgaudit_monitor.policy.accounts import glob_regex
from pgaudit_monitor.timestamps import iso

W = 300
T0 = parse_time("2026-11-25T10:00:00Z")


def windows(chunks: list[Span]) -> list[Span]:
    return [Span(s, s + W) for c in chunks for s in range(c.start, c.end, W)]


def test_times_read_eventbridge_and_epoch() -> None:
    assert parse_time("2026-11-25T10:00:00Z") == T0
    assert parse_time(str(T0)) == T0
    assert iso(T0) == "2026-11-25T10:00:00Z"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0 + 180, T0),  # 10:03 - 120 s delay - 60 s grace = 10:00, exactly due
        (T0 + 179, T0 - W),  # one second earlier: 09:55 is the last complete one
        (T0 + 300 + 180, T0 + W),
    ],
)
def test_a_window_is_due_once_delay_and_grace_have_passed(now: int, expected: int) -> None:
    assert last_due_end(now, W, 120, 60) == expected


def test_first_run_takes_only_the_last_due_window() -> None:
    assert plan(None, T0, W, 12) == [Span(T0 - W, T0)]


def test_regular_run_takes_one_window() -> None:
    assert plan(T0 - W, T0, W, 12) == [Span(T0 - W, T0)]


def test_retried_run_finds_nothing_to_do() -> None:
    # the retry plans from the same scheduled time; the first attempt moved the checkpoint to its end
    assert plan(T0, T0, W, 12) == []


def test_after_a_gap_every_missed_window_is_planned_once_in_order() -> None:
    checkpoint = T0 - 30 * W
    chunks = plan(checkpoint, T0, W, 12)
    assert [c.seconds for c in chunks] == [12 * W, 12 * W, 6 * W]
    assert windows(chunks) == [Span(s, s + W) for s in range(checkpoint, T0, W)]


def test_an_unaligned_checkpoint_realigns_without_gap_or_overlap() -> None:
    checkpoint = T0 - 2 * W + 17  # QUERY_WINDOW_MINUTES was changed
    chunks = plan(checkpoint, T0, W, 1)
    assert chunks == [Span(checkpoint, T0 - W), Span(T0 - W, T0)]


def test_a_checkpoint_in_the_future_plans_nothing() -> None:
    assert plan(T0 + W, T0, W, 12) == []


@pytest.mark.parametrize("seconds", [2, 3, 300, 3601])
def test_split_halves_cover_the_span_exactly(seconds: int) -> None:
    first, second = split(Span(T0, T0 + seconds))
    assert first.start == T0
    assert first.end == second.start
    assert second.end == T0 + seconds
    assert first.seconds >= 1
    assert second.seconds >= 1


# -- the query only narrows ---------------------------------------------------------------------------------------
AURORA_LINES = [  # (line, user the prefix names)
    ("2026-11-25 10:00:01 UTC:10.0.0.1(5432):app_svc@db:[10]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<n>", "app_svc"),
    ("2026-11-25 10:00:01 UTC:[local]:alice@db:[10]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>", "alice"),
    ("2026-11-25 10:00:01 UTC::user@corp.com@db:[10]:LOG:  AUDIT: x", "user@corp.com"),
    ("2026-11-25 10:00:01 UTC:::1(5432):bob@db:[10]:LOG:  AUDIT: x", None),  # IPv6 without brackets: no parse
]  # fmt: skip


def _insights_user(line: str) -> str | None:
    """The user the query's `parse` reads, with Python's engine standing in for Logs Insights'."""
    query = build_query(AURORA_PREFIX, ["app_*"])
    pattern = re.search(r"\| parse @message /(.*)/\n", query).group(1)
    pattern = pattern.replace(f"(?<{USER_FIELD}>", f"(?P<{USER_FIELD}>").replace(r"\/", "/")
    match = re.match(pattern, line)
    return match.group(USER_FIELD) if match else None


@pytest.mark.parametrize(("line", "user"), AURORA_LINES)
def test_the_query_reads_the_user_exactly_as_the_python_reader(line: str, user: str | None) -> None:
    python = compile_prefix(AURORA_PREFIX).regex.match(line)
    assert _insights_user(line) == (python.group("user") if python else None)
    if user is not None:
        assert _insights_user(line) == user


def test_text_in_a_statement_cannot_make_a_human_look_like_a_service_account() -> None:
    # a human writes the service account's prefix into the statement: the parse is anchored at the line's start
    line = (
        "2026-11-25 10:00:01 UTC:[local]:alice@db:[10]:LOG:  "
        "AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM t -- :app_svc@db:[1]:"
    )
    assert _insights_user(line) == "alice"


@pytest.mark.parametrize("pattern", ["app_*", "etl", "svc_??", "[ab]x*", "[!c]y", "a.b", "a/b"])
@pytest.mark.parametrize("user", ["app_1", "etl", "etl2", "svc_12", "svc_1", "ax", "bx1", "cy", "dy", "a.b", "a/b"])
def test_service_account_globs_match_in_the_query_as_in_fnmatch(pattern: str, user: str) -> None:
    regex = "^(?:" + glob_regex(pattern).replace(r"\/", "/") + ")$"
    assert bool(re.match(regex, user)) == fnmatchcase(user, pattern)


def test_the_query_without_service_accounts_only_narrows_to_audit_records() -> None:
    query = build_query(AURORA_PREFIX, [])
    assert "parse" not in query
    assert "pgaudit_user" not in query
    assert 'filter @message like "AUDIT: "' in query
    assert query.endswith("| sort @timestamp asc\n| limit 10000")


def test_a_prefix_without_user_keeps_connection_entries_and_excludes_nobody() -> None:
    query = build_query(POSTGRES_DEFAULT_PREFIX, ["app_*"])
    assert "connection authorized" in query
    assert "not like" not in query


def test_the_canary_role_is_never_excluded_by_the_query() -> None:
    query = build_query(AURORA_PREFIX, ["app_*", "canary"], keep_users=["canary"])
    assert f'or {USER_FIELD} = "canary"' in query


def test_insights_regex_has_no_python_only_syntax() -> None:
    pattern = _insights_regex(compile_prefix(AURORA_PREFIX).regex.pattern.split("(?P<level>")[0])
    assert "(?P<" not in pattern
    assert pattern.count("(?<") == 1


def _insights_keeps(line: str, query: str) -> bool:
    """Whether the query's service-account filter keeps a record, Python's engine standing in for Logs Insights'."""
    clause = re.search(r"\| filter (not ispresent.*)\n", query).group(1)
    accounts, words = re.fullmatch(
        rf"not ispresent\({USER_FIELD}\) or {USER_FIELD} not like /(.*)/ or @message like /(.*)/", clause
    ).groups()
    user = _insights_user(line)
    return user is None or not re.match(accounts.replace(r"\/", "/"), user) or bool(re.search(words, line))


@pytest.mark.parametrize(
    ("statement", "kept"),
    [
        ("UPDATE orders SET status = 'x' WHERE id = 1", False),  # a service account's DML: narrowed away
        ("SET pgaudit.log = 'none'", True),
        ("SET PGAUDIT.LOG TO 'none'", True),  # in any case
        ("SELECT set_config('pgaudit.log', 'none', false)", True),
        ("ALTER SYSTEM SET Log_Min_Messages = panic", True),
        ("ALTER ROLE app_api RESET ALL", True),
        ('SET U&"pg\\0061udit.log" = none', True),  # a name spelled in escapes
    ],
)
def test_the_query_keeps_a_service_accounts_record_that_may_change_auditing(statement: str, kept: bool) -> None:
    # Tampering is reported whoever does it (issue 13): the query must not drop it before the policy reads it.
    query = build_query(AURORA_PREFIX, ["app_*"])
    line = (
        f"2026-11-25 10:00:01 UTC:10.0.0.5(5432):app_api@db:[10]:LOG:  AUDIT: SESSION,1,1,MISC,SET,,,{statement},<none>"
    )
    assert _insights_keeps(line, query) is kept
    assert auditing_regex().count("|") == 6  # one alternative per word of entries.splitting.AUDITING_WORDS
