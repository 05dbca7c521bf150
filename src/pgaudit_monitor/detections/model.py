"""What the pipeline reports: one Outcome per audited statement, a Detection when the policy flags it, and the
one serializer every output of a detection goes through."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from pgaudit_monitor.policy.verdict import Verdict

# U+2028, U+2029 and U+0085 in UTF-8: JSON allows them raw, but every reader that splits on Unicode line ends
# (Python's splitlines, many log shippers) would cut a detection in two there. Inside a JSON string, which is the
# only place they can be, their escapes mean the same.
_LINE_ENDS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def json_line(fields: dict[str, Any] | Detection) -> bytes:
    """One detection (or any record of the pipeline) as exactly one LF-terminated line of compact JSON in UTF-8:
    what scan's JSON lines, the watcher's journal and the Lambda's log all write. A Detection is written by orjson
    field by field, in their declared order, as its `to_dict` would be (without building the dict: a scan writes
    one per detection).

    orjson writes it in a fifteenth of the standard library's time, which a scan of a large log pays once per
    detection; it refuses what is not valid Unicode (a lone surrogate from a jsonlog `\\ud800` escape, a log line's
    own bytes), which the standard library then writes as an escape: never an exception, whatever the log held.
    """
    try:
        line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
    except (orjson.JSONEncodeError, TypeError):
        plain = fields.to_dict() if isinstance(fields, Detection) else fields
        line = json.dumps(plain, separators=(",", ":"), default=str).encode() + b"\n"
    if b"\xe2\x80" in line or b"\xc2\x85" in line:
        for raw, escaped in _LINE_ENDS:
            line = line.replace(raw, escaped)
    return line


@dataclass(slots=True)
class Detection:
    """A statement the policy flagged, as every sink receives it: who ran it, where, what it did and why it was
    flagged. Built once from an Outcome (stage 4), written by one serializer (`to_dict`, `json_line`), and read
    back with `from_dict` where it waited in the watcher's alarm state or outbox.

    Treated as immutable (a changed copy is `dataclasses.replace`'s); not `frozen`, which sets each of its 17
    fields through object.__setattr__ and cost a scan 1% more instructions (a detection per statement found).
    """

    time: str | None
    user: str
    database: str | None
    client: str | None
    application_name: str | None
    pid: int | None
    session_id: str | None
    statement_id: int
    category: str | None  # app-dml, sensitive-catalog, audit-tamper (policy.verdict); None: excluded
    severity: str | None  # low, medium, high or critical (policy.severity); None: excluded
    command: str
    relations: tuple[str, ...]  # what was read or written, schema-qualified where the log says so
    statement: str
    rule: str  # the policy rule that decided
    evidence: str  # what decided it: pgAudit's objects, the statement's text, fail-closed, a forged record
    source: str  # the file or log group it was read from
    line: int  # its place there: the record's line, or the event's number

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a detection: stable field names, shared by the CLI, the Lambda and the watcher."""
        return {
            "time": self.time,
            "user": self.user,
            "database": self.database,
            "client": self.client,
            "application_name": self.application_name,
            "pid": self.pid,
            "session_id": self.session_id,
            "statement_id": self.statement_id,
            "category": self.category,
            "severity": self.severity,
            "command": self.command,
            "relations": list(self.relations),
            "statement": self.statement,
            "rule": self.rule,
            "evidence": self.evidence,
            "source": self.source,
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detection:
        """A detection written by `to_dict` (fields it did not have yet, in an older state file, left empty)."""
        fields: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        fields["relations"] = tuple(data.get("relations") or ())
        for name in ("user", "command", "statement", "rule", "evidence", "source"):
            fields[name] = str(fields[name] or "")
        fields["statement_id"] = int(fields["statement_id"] or 0)
        fields["line"] = int(fields["line"] or 0)
        return cls(**fields)

    def json_line(self) -> bytes:
        return json_line(self)


@dataclass(slots=True)
class Outcome:
    """One audited statement and the policy's verdict on it: who ran it, where, and what it did.

    Treated as immutable; not `frozen` for the hot path's sake (see LogEntry)."""

    verdict: Verdict
    time: str | None
    user: str
    database: str | None
    client: str | None
    application_name: str | None
    pid: int | None
    session_id: str | None
    statement_id: int
    source: str
    line: int
    stream: str

    @property
    def detected(self) -> bool:
        return self.verdict.detected

    def detection(self) -> Detection:
        """The statement as the sinks see it; for an excluded statement too (--explain and the tests read it)."""
        v = self.verdict
        return Detection(  # positional, in declared order: a scan builds one per detection
            self.time,
            self.user,
            self.database,
            self.client,
            self.application_name,
            self.pid,
            self.session_id,
            self.statement_id,
            v.category,
            v.severity,
            v.command,
            tuple(v.relations),
            v.statement,
            v.rule,
            v.evidence,
            self.source,
            self.line,
        )
