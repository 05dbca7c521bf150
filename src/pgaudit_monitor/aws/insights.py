"""CloudWatch Logs Insights: the narrowing query, and a runner that never drops a row at the row limit.

The query only narrows: it keeps pgAudit records, RAISE's CONTEXT entries (and, where the log_line_prefix has no
user, the connection entries that name users) and, optionally, drops the records of service accounts. That
exclusion reads the user from the *parsed log prefix*, with the same regular expression the Python reader uses,
and only an exact match of a service-account pattern drops a record; text anywhere else in a message (a statement
can contain anything) cannot make a record disappear. Every row that comes back is judged by the Python policy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from pgaudit_monitor.aws.windows import Span, split
from pgaudit_monitor.entries.prefix import compile_prefix
from pgaudit_monitor.entries.splitting import AUDIT_NEEDLE, AUDITING_WORDS, AUTHORIZED_HEAD, RAISE_CONTEXT
from pgaudit_monitor.errors import QueryError
from pgaudit_monitor.policy.accounts import glob_regex

ROW_LIMIT = 10_000
"""The most rows one Logs Insights query returns."""
USER_FIELD = "pgaudit_user"
_FINAL = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}


def _insights_regex(python_pattern: str) -> str:
    """Python's `(?P<user>` groups as Logs Insights writes them; other named groups become plain groups."""
    pattern = python_pattern.replace("(?P<user>", f"(?<{USER_FIELD}>")
    pattern = re.sub(r"\(\?P<\w+>", "(?:", pattern)
    return pattern.replace("/", r"\/")


def auditing_regex() -> str:
    """entries.splitting's AUDITING_WORDS, in any case, as one regular expression for the query (spelled with
    character classes, `[pP][gG]...`, which every regular expression engine reads alike)."""
    words = (word.decode() for word in AUDITING_WORDS)
    return "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _literal(c) for c in w) for w in words)


def _literal(char: str) -> str:
    return "\\" + char if char in r".^$*+?{}[]\|()/" else char


def kept_messages(has_user: bool) -> list[str]:
    """What the query keeps, taken from the literals the file readers search for (entries.splitting), so that
    the two cannot drift apart: audit records (at any log_error_verbosity: `like` finds them after the SQLSTATE
    too), the CONTEXT of RAISE (a forged record's tell), and where the prefix has no user the entries that name
    users. (Not the other connection entries: the query's 10,000 rows are for records.)"""
    kept = [AUDIT_NEEDLE.decode()]
    if not has_user:
        kept.append(AUTHORIZED_HEAD.decode())
    kept.append(RAISE_CONTEXT.decode().strip())
    return kept


def build_query(
    log_line_prefix: str,
    service_accounts: Iterable[str] = (),
    *,
    keep_users: Iterable[str] = (),
    row_limit: int = ROW_LIMIT,
) -> str:
    """The Logs Insights query for one window, from the same settings the Python policy uses.

    `keep_users` are never excluded (the canary role, which the policy treats as a service account but the
    monitor counts).
    """
    prefix = compile_prefix(log_line_prefix)
    lines = ["fields @timestamp, @message, @logStream, @ingestionTime"]
    lines.append("| filter " + " or ".join(f'@message like "{kept}"' for kept in kept_messages(prefix.has_user)))
    patterns = [p for p in service_accounts if p]
    if prefix.has_user and patterns:
        head = prefix.regex.pattern.split("(?P<level>")[0]
        lines.append(f"| parse @message /^{_insights_regex(head)}/")
        alternatives = "|".join(glob_regex(p) for p in patterns)
        keep = [u for u in keep_users if u]
        # a service account's record that may change the audit trail is kept: tampering is reported whoever does it
        clause = (
            f"not ispresent({USER_FIELD}) or {USER_FIELD} not like /^(?:{alternatives})$/ "
            f"or @message like /{auditing_regex()}/"
        )
        if keep:
            clause += " or " + " or ".join(f'{USER_FIELD} = "{u}"' for u in keep)
        lines.append(f"| filter {clause}")
    lines.append("| sort @timestamp asc")
    lines.append(f"| limit {row_limit}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Row:
    timestamp: int  # epoch milliseconds
    stream: str
    message: str
    ingestion: int | None = None


@dataclass
class Fetch:
    """What one span's queries returned: the rows in [start, end), oldest first, and how they were obtained."""

    rows: list[Row] = field(default_factory=list)
    queries: int = 0
    truncated: list[Span] = field(default_factory=list)  # one-second spans still at the row limit


def _millis(value: str) -> int:
    """@timestamp as Logs Insights writes it (`2026-11-25 10:05:00.123`), or as epoch milliseconds."""
    if value.isdigit():
        return int(value)
    parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _reaches_past(rows: list[Row], high: int) -> bool:
    """Whether a result at the row limit still holds every row before `high` (epoch ms): its rows came in time
    order and the last lies at or after `high`. The query sorts by @timestamp ascending before its `limit`, which
    then keeps the earliest rows (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html,
    CWL_QuerySyntax-Limit.html); StartQuery's endTime is inclusive and in whole seconds
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html), so the next
    second's rows come too, and a part can reach the limit with them alone. Rows not in time order (the emulator
    returns insertion order) prove nothing: the part is split, as any full one."""
    return rows[-1].timestamp >= high and all(a.timestamp <= b.timestamp for a, b in pairwise(rows))


class InsightsRunner:
    """Runs a query over a span; a result at the row limit splits the span in halves until each part is complete."""

    def __init__(
        self,
        logs: Any,
        log_group: str,
        query: str,
        *,
        row_limit: int = ROW_LIMIT,
        poll_seconds: float = 1.0,
        deadline: Callable[[], float] = lambda: float("inf"),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.logs = logs
        self.log_group = log_group
        self.query = query
        self.row_limit = row_limit
        self.poll_seconds = poll_seconds
        self.deadline = deadline  # seconds left for this run
        self.sleep = sleep

    def fetch(self, span: Span) -> Fetch:
        result = Fetch()
        pending = [span]
        while pending:
            part = pending.pop(0)
            raw = self._query(part)
            result.queries += 1
            low, high = part.start * 1000, part.end * 1000
            full = len(raw) >= self.row_limit and not _reaches_past(raw, high)
            if full and part.seconds > 1:
                first, second = split(part)
                pending[:0] = [first, second]
                continue
            if full:
                result.truncated.append(part)
            result.rows.extend(r for r in raw if low <= r.timestamp < high)
        result.rows.sort(key=lambda r: r.timestamp)  # within a timestamp the pipeline recovers the log's order
        return result

    def _query(self, span: Span) -> list[Row]:
        # endTime is inclusive and in whole seconds: ask for a superset, keep [start, end) to the millisecond.
        query_id = self.logs.start_query(
            logGroupName=self.log_group, startTime=span.start, endTime=span.end, queryString=self.query
        )["queryId"]
        while True:
            response = self.logs.get_query_results(queryId=query_id)
            status = response.get("status")
            if status in _FINAL:
                break
            if self.deadline() < self.poll_seconds:
                self.logs.stop_query(queryId=query_id)
                raise QueryError(f"query {query_id} over {span} did not finish before the run's deadline")
            self.sleep(self.poll_seconds)
        if status != "Complete":
            raise QueryError(f"query {query_id} over {span} ended with status {status}")
        return [self._row(fields) for fields in response.get("results", [])]

    @staticmethod
    def _row(fields: list[dict[str, str]]) -> Row:
        values = {f["field"]: f.get("value", "") for f in fields}
        ingestion = values.get("@ingestionTime")
        return Row(
            timestamp=_millis(values["@timestamp"]),
            stream=values.get("@logStream", ""),
            message=values.get("@message", ""),
            ingestion=_millis(ingestion) if ingestion else None,
        )
