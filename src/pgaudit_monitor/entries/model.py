"""The two things a log reader hands on: a parsed entry, or the reason an entry could not be parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only a type: the records layer reads entries, not the other way round
    from pgaudit_monitor.records.pgaudit import AuditRecord


EXCERPT = 80
"""How much of a malformed entry its report shows."""

AMBIGUOUS_USER = "?"
"""The user of a record whose prefix reads more than one way (a role name holding a newline or a piece of a log
prefix, in stderr): the value of policy.accounts.UNKNOWN_USER, which this layer may not import. The policy takes
it as a human's, so a forged prefix can make a record `?`'s, never a service account's."""


@dataclass(slots=True)
class LogEntry:
    """One PostgreSQL log entry (one elog message), whatever format it was written in.

    Treated as immutable, but not `frozen`: a frozen dataclass sets each field through object.__setattr__, which
    made building the entries of a scan cost a microsecond more each (measured: 1.15 us against 0.15 us).

    Fields the format or the log_line_prefix does not carry are None. `stream` names the server-side stream the
    entry belongs to (for backend identity); `source` and `line` say where it was read, for error messages.
    """

    message: str
    level: str
    source: str
    line: int
    stream: str = ""
    time: str | None = None
    user: str | None = None
    database: str | None = None
    pid: int | None = None
    remote: str | None = None
    application_name: str | None = None
    session_id: str | None = None
    session_line: int | None = None
    leader_pid: int | None = None
    """The parallel group leader's pid when a parallel worker wrote the entry (csvlog, jsonlog, `%P`)."""
    context: str | None = None
    """The entry's CONTEXT text, where the format keeps it in the entry (csvlog, jsonlog). pgAudit never writes one
    (it hides the context), so a record that has one was written by something else: RAISE. In stderr CONTEXT is an
    entry of its own, with level `CONTEXT`."""
    record: AuditRecord | None = None
    """The pgAudit record of the message when the reader has parsed it already (the background reader does, in
    its own process); None when not, and then whoever needs it parses the message."""

    def fields(self) -> tuple[Any, ...]:
        """The fields in declaration order: `LogEntry(*entry.fields())` is the same entry. A tuple crosses between
        processes several times faster than the object (the background reader's way, `record` as its fields)."""
        return (
            self.message,
            self.level,
            self.source,
            self.line,
            self.stream,
            self.time,
            self.user,
            self.database,
            self.pid,
            self.remote,
            self.application_name,
            self.session_id,
            self.session_line,
            self.leader_pid,
            self.context,
            self.record,
        )


@dataclass(frozen=True, slots=True)
class Malformed:
    """An entry that could not be read; reported with its place and reason, then skipped. Its excerpt is the
    entry's first EXCERPT characters: enough to find it, never a whole statement in an error stream."""

    source: str
    line: int
    reason: str
    excerpt: str = ""

    def fields(self) -> tuple[str, int, str, str]:
        """The fields in declaration order, as LogEntry.fields() (how the background reader sends them)."""
        return (self.source, self.line, self.reason, self.excerpt)

    def __str__(self) -> str:
        excerpt = f": {self.excerpt!r}" if self.excerpt else ""
        return f"{self.source}:{self.line}: {self.reason}{excerpt}"
