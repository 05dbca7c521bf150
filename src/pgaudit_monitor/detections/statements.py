"""Group pgAudit records into statements and judge each statement exactly once.

The unit of counting is a statement: one distinct (log stream, backend, pgAudit statement id). pgAudit writes all
records of a statement from its backend, one after the other: the records of its substatements (a DELETE inside
a function, a trigger's INSERT) and, with log_relation on, one per relation. So a statement is complete when its
backend writes a record with another statement id, disconnects, or the input ends.

A backend is its session id where the log has one (csvlog, jsonlog, %c), otherwise its pid, renewed when the pid
is reused: a `connection received` entry for that pid, a change of user or database, or statement ids that go
back. Where the prefix has no user, the `connection authorized` entry of the backend names it.

Two kinds of records are not their backend's own statement: a parallel worker's (pgAudit logs each worker's
execution with an empty user and a statement id of its own), given to its leader's open statement; and a record
that RAISE wrote (it has a CONTEXT, which pgAudit hides), reported as tampering and kept out of the backend's state.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries.model import EXCERPT, LogEntry, Malformed
from pgaudit_monitor.entries.splitting import RAISE_CONTEXT_MESSAGE, may_change_auditing
from pgaudit_monitor.errors import RecordError
from pgaudit_monitor.policy.accounts import UNKNOWN_USER
from pgaudit_monitor.policy.session import Session
from pgaudit_monitor.policy.verdict import Judge
from pgaudit_monitor.records.pgaudit import AuditRecord, is_audit_message, parse_record

_AUTHORIZED = re.compile(r"connection authorized: user=(?P<user>.*?) database=(?P<database>\S*)")
_RECEIVED = "connection received:"
_DISCONNECTED = "disconnection:"


@dataclass(slots=True)
class _OpenStatement:
    first: LogEntry
    user: str
    records: list[AuditRecord]
    touched: float  # monotonic time of its last record, for complete_idle
    statement_id: int  # its records' (the first's)


@dataclass
class _Backend:
    user: str | None = None  # from `connection authorized`, for prefixes without %u
    database: str | None = None
    open: _OpenStatement | None = None
    session: Session = field(default_factory=Session)  # what the policy follows of the backend (and its cursor)
    last_done: int | None = None  # the statement id last judged, and whether it was reported
    last_done_detected: bool = False
    prefix_identity: tuple[str | None, str | None] = field(default=(None, None))
    pid: int | None = None
    last_record: LogEntry | None = None  # the entry of its last record, for a CONTEXT entry right after it


class StatementAssembler:
    """Feed LogEntries in log order; get an Outcome for each statement as soon as it is complete.

    With `report_excluded=False` only detections are yielded, and a service account's records are counted and
    dropped before they are even parsed: half the work of a log where service accounts are audited too.
    Memory stays flat: a backend's state is dropped at its disconnection, and at most `max_backends` are kept
    (the least recently active is completed and forgotten first).
    """

    def __init__(self, judge: Judge, *, report_excluded: bool = True, max_backends: int = 50_000) -> None:
        self.judge = judge
        self.report_excluded = report_excluded
        self.max_backends = max_backends
        self._backends: OrderedDict[Hashable, _Backend] = OrderedDict()
        self._accounts = judge.policy.service_accounts
        self._named_streams: set[str] = set()  # streams whose prefix shows users (an empty one is a worker's)

    def feed(self, entry: LogEntry) -> list[Outcome | Malformed]:
        """Take one entry; the outcomes it completes, or a Malformed for an unreadable AUDIT record.

        A list, most often empty: called once per entry of a scan, where a generator would cost more than the rest.
        """
        done: list[Outcome | Malformed] = []
        message = entry.message
        if entry.record is not None or is_audit_message(message):  # (parsed already by the background reader)
            self._record(entry, done)
        elif message.startswith(_RECEIVED) or message.startswith(_DISCONNECTED):
            backend = self._backends.pop(self._key(entry), None)
            if backend is not None:
                self._complete(backend, done)
        elif (match := _AUTHORIZED.match(message)) is not None:
            backend = self._backend(entry)
            backend.user, backend.database = match.group("user"), match.group("database")
        elif entry.level == "CONTEXT" and RAISE_CONTEXT_MESSAGE.match(message):
            self._context(entry, done)
        return done

    def complete_idle(self, idle_seconds: float, now: float | None = None) -> Iterator[Outcome]:
        """Judge the open statements that got no record for `idle_seconds` (monotonic clock).

        A follower of a live log calls this: a human's single UPDATE in psql has no next statement to complete
        it. pgAudit writes a statement's records in one burst, so a short idle time is enough; records that
        still come later for a statement already reported are not counted again.
        """
        now = time.monotonic() if now is None else now
        done: list[Outcome] = []
        for backend in list(self._backends.values()):
            if backend.open is not None and now - backend.open.touched >= idle_seconds:
                self._complete(backend, done)
        yield from done

    def open_entries(self) -> Iterator[LogEntry]:
        """The first entry of each statement still open.

        A follower that checkpoints its place in a log keeps the checkpoint before these: after a restart it reads
        them again, so a statement whose records straddle the checkpoint is never judged on half its records.
        """
        for backend in self._backends.values():
            if backend.open is not None:
                yield backend.open.first

    def flush(self) -> Iterator[Outcome]:
        """End of input: judge every statement still open."""
        for key in list(self._backends):
            done: list[Outcome] = []
            self._complete(self._backends.pop(key), done)
            yield from done

    # ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _key(entry: LogEntry) -> Hashable:
        if entry.session_id:
            return (entry.stream, entry.session_id)
        return (entry.stream, entry.pid)

    def _backend(self, entry: LogEntry) -> _Backend:
        key = self._key(entry)
        backend = self._backends.get(key)
        if backend is None:
            backend = self._backends[key] = _Backend(pid=entry.pid)
            if entry.user:
                self._named_streams.add(entry.stream)
        else:
            self._backends.move_to_end(key)
        return backend

    def _to_leader(self, entry: LogEntry, record: AuditRecord) -> bool:
        """Give a parallel worker's record to its leader's statement; False when it has none.

        pgAudit logs each worker's execution too, with an empty user, database and client and a statement id of
        its own: the same statement, which must neither count twice nor page as an unknown human's. The leader is
        named by `leader_pid` (csvlog, jsonlog, `%P`); otherwise, where the prefix shows users (so an empty one is
        a background process's), it is the backend of the same stream whose open statement has the same text.
        """
        leader_pid = entry.leader_pid
        candidates = reversed(self._backends.values())  # the most recently active first
        if leader_pid is not None:
            leader = next((b for b in candidates if b.pid == leader_pid and b.open is not None), None)
        elif entry.stream in self._named_streams and entry.user is None and record.statement_logged:
            leader = next(
                (b for b in candidates
                 if b.open is not None and b.open.user != UNKNOWN_USER and b.open.first.stream == entry.stream
                 and b.open.records[0].statement == record.statement),
                None,
            )  # fmt: skip
        else:
            return False
        if leader is None or leader.open is None:
            return False
        leader.open.records.append(record)
        return True

    def _context(self, entry: LogEntry, done: list[Outcome | Malformed]) -> None:
        """A stderr CONTEXT entry of a RAISE right after a backend's record: that record was written by RAISE."""
        backend = self._backends.get(self._key(entry))
        if backend is None or backend.open is None or (last := backend.last_record) is None:
            return
        # Right after the record: in a file, the line after its last one; in CloudWatch events, whose entries are
        # numbered by event, the next event. (In a file the line after a record's first line is its own
        # continuation when it has several lines, never another entry: the two cannot be confused.)
        if entry.source != last.source or entry.line not in (last.line + 1, last.line + last.message.count("\n") + 1):
            return
        current = backend.open
        record = current.records.pop()  # the record of `last`: a backend's records are appended in log order
        if not current.records:
            backend.open = None
        self._forged(last, current.user, record, done)  # reported where the forged line is

    def _forged(self, entry: LogEntry, user: str, record: AuditRecord, done: list[Outcome | Malformed]) -> None:
        """Report a record RAISE wrote as tampering; it moves nothing in its backend's state."""
        verdict = self.judge.forged(record)
        done.append(
            Outcome(
                verdict,
                entry.time,
                user,
                entry.database,
                entry.remote,
                entry.application_name,
                entry.pid,
                entry.session_id,
                record.statement_id,
                entry.source,
                entry.line,
                entry.stream,
            )
        )

    def is_service(self, user: str) -> bool:
        """Whether `user` is a service account."""
        return self._accounts.matches(user) is not None

    def _dropped(self, user: str, message: str) -> bool:
        """Whether a record is dropped unread: a service account's, unless it may change the audit trail."""
        return self.is_service(user) and not may_change_auditing(message.encode("utf-8", "surrogatepass"))

    def _record(self, entry: LogEntry, done: list[Outcome | Malformed]) -> None:
        if not self.report_excluded and entry.user is not None and self._dropped(entry.user, entry.message):
            return  # before any backend state: what readers that drop them unread do
        backend = self._backend(entry)
        identity = (entry.user, entry.database)
        if entry.session_id is None and entry.user is not None and backend.prefix_identity != identity:
            if backend.prefix_identity != (None, None):  # another role or database on this pid: a new backend
                self._complete(backend, done)
                backend = self._backends[self._key(entry)] = _Backend()
            backend.prefix_identity = identity
        user = entry.user or backend.user or UNKNOWN_USER
        if not self.report_excluded and user is not entry.user and self._dropped(user, entry.message):
            return
        try:
            record = entry.record or parse_record(entry.message)
        except RecordError as exc:
            done.append(Malformed(entry.source, entry.line, str(exc), entry.message[:EXCERPT]))
            return
        if entry.context:  # pgAudit hides the context of its records: RAISE wrote this one
            self._forged(entry, user, record, done)
            return
        if user is UNKNOWN_USER and self._to_leader(entry, record):
            self._backends.pop(self._key(entry), None)
            return
        backend.last_record = entry
        current = backend.open
        if current is not None and self._continues(current, record):
            current.records.append(record)
            current.touched = time.monotonic()
            return
        if current is not None:
            self._complete(backend, done)
        if record.substatement_id > 1 and record.statement_id == backend.last_done and backend.last_done_detected:
            return  # late records of a statement already reported: counted once
        backend.open = _OpenStatement(entry, user, [record], time.monotonic(), record.statement_id)
        if len(self._backends) > self.max_backends:
            self._evict(done)

    @staticmethod
    def _continues(current: _OpenStatement, record: AuditRecord) -> bool:
        """Whether a record belongs to the open statement: the unit is (backend, statement id), whatever the
        substatement ids do (they go back to 1 inside one ALTER TABLE that validates a foreign key)."""
        if record.statement_id != current.statement_id:
            return False
        first = current.records[0]
        if record.substatement_id == 1 and record.statement_logged and first.statement_logged:
            # statement 1 of a new backend on a reused pid (log_connections off) has another text
            return record.statement == first.statement or any(r.statement == record.statement for r in current.records)
        return True

    def _complete(self, backend: _Backend, done: list[Any]) -> None:
        """Judge the backend's open statement, if it has one; its outcome goes to `done`."""
        current = backend.open
        if current is None:
            return
        backend.open = None
        verdict = self.judge.judge(current.user, current.records, backend.session)
        backend.last_done, backend.last_done_detected = current.statement_id, verdict.detected
        if not verdict.detected and not self.report_excluded:
            return
        entry = current.first
        done.append(
            Outcome(  # positional, in field order: once per reported statement
                verdict,
                entry.time,
                current.user,
                entry.database or backend.database,
                entry.remote,
                entry.application_name,
                entry.pid,
                entry.session_id,
                current.statement_id,
                entry.source,
                entry.line,
                entry.stream,
            )
        )

    def _evict(self, done: list[Outcome | Malformed]) -> None:
        while len(self._backends) > self.max_backends:
            _, backend = self._backends.popitem(last=False)
            self._complete(backend, done)
