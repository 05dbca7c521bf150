"""Group pgAudit records into statements and judge each statement exactly once.

The unit of counting is a statement: one distinct (log stream, backend, pgAudit statement id). pgAudit writes all
records of a statement from its backend, one after the other: the records of its substatements (a DELETE inside
a function, a trigger's INSERT) and, with log_relation on, one per relation. So a statement is complete when its
backend writes a record with another statement id, disconnects, or the input ends.

A backend is its session id where the log has one (csvlog, jsonlog, %c), otherwise its pid, renewed when the pid
is reused: a `connection received` entry for that pid, a change of user or database, or statement ids that go
back. Where the prefix has no user, the `connection authorized` entry of the backend names it.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.policy.accounts import UNKNOWN_USER
from pgaudit_monitor.policy.verdict import Judge
from pgaudit_monitor.records.pgaudit import AuditRecord, RecordError, is_audit_message, parse_record

_AUTHORIZED = re.compile(r"connection authorized: user=(?P<user>.*?) database=(?P<database>\S*)")
_RECEIVED = "connection received:"
_DISCONNECTED = "disconnection:"


@dataclass(slots=True)
class _OpenStatement:
    first: LogEntry
    user: str
    records: list[AuditRecord]
    part_index: int | None
    touched: float  # monotonic time of its last record, for complete_idle
    statement_id: int  # its records' (the first's)


@dataclass
class _Backend:
    user: str | None = None  # from `connection authorized`, for prefixes without %u
    database: str | None = None
    open: _OpenStatement | None = None
    last_text: str | None = None  # multi-statement cursor: the string and the part last matched in it
    last_part: int = -1
    last_done: int | None = None  # the statement id last judged, and whether it was reported
    last_done_detected: bool = False
    prefix_identity: tuple[str | None, str | None] = field(default=(None, None))


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
        self.service_records_skipped = 0
        self._backends: OrderedDict[Hashable, _Backend] = OrderedDict()
        self._accounts = judge.policy.service_accounts

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
            backend = self._backends[key] = _Backend()
        else:
            self._backends.move_to_end(key)
        return backend

    def is_service(self, user: str) -> bool:
        """Whether `user` is a service account."""
        return self._accounts.matches(user) is not None

    def _record(self, entry: LogEntry, done: list[Outcome | Malformed]) -> None:
        if not self.report_excluded and entry.user is not None and self.is_service(entry.user):
            self.service_records_skipped += 1  # before any backend state: what readers that drop them unread do
            return
        backend = self._backend(entry)
        identity = (entry.user, entry.database)
        if entry.session_id is None and entry.user is not None and backend.prefix_identity != identity:
            if backend.prefix_identity != (None, None):  # another role or database on this pid: a new backend
                self._complete(backend, done)
                backend = self._backends[self._key(entry)] = _Backend()
            backend.prefix_identity = identity
        user = entry.user or backend.user or UNKNOWN_USER
        if not self.report_excluded and user is not entry.user and self.is_service(user):
            self.service_records_skipped += 1
            return
        try:
            record = entry.record or parse_record(entry.message)
        except RecordError as exc:
            done.append(Malformed(entry.source, entry.line, str(exc), entry.message[:80]))
            return
        current = backend.open
        if current is not None and self._continues(current, record):
            current.records.append(record)
            current.touched = time.monotonic()
            return
        if current is not None:
            self._complete(backend, done)
        if record.substatement_id > 1 and record.statement_id == backend.last_done and backend.last_done_detected:
            return  # late records of a statement already reported: counted once
        part = self._part(backend, record)
        backend.open = _OpenStatement(entry, user, [record], part, time.monotonic(), record.statement_id)
        if len(self._backends) > self.max_backends:
            self._evict(done)

    @staticmethod
    def _continues(current: _OpenStatement, record: AuditRecord) -> bool:
        if record.statement_id != current.statement_id:
            return False
        last_sub = current.records[-1].substatement_id
        if record.substatement_id < last_sub:
            return False  # ids went back: the pid was reused by a new backend
        if record.substatement_id == 1 and record.statement_logged and current.records[0].statement_logged:
            return record.statement == current.records[0].statement
        return True

    def _part(self, backend: _Backend, record: AuditRecord) -> int | None:
        if record.substatement_id != 1 or not record.statement_logged:
            return None
        text = record.statement
        if ";" not in text or ";" not in text.rstrip(" \t\r\n;"):  # one statement at most: no part to match
            backend.last_text = text
            return None
        start = backend.last_part + 1 if text == backend.last_text else 0
        index = self.judge.match_part(record, text, start)
        backend.last_text, backend.last_part = text, (index if index is not None else backend.last_part)
        return index

    def _complete(self, backend: _Backend, done: list[Any]) -> None:
        """Judge the backend's open statement, if it has one; its outcome goes to `done`."""
        current = backend.open
        if current is None:
            return
        backend.open = None
        verdict = self.judge.judge(current.user, current.records, current.part_index)
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
