"""What the pipeline reports: one Outcome per audited statement, a Detection when the policy flags it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgaudit_monitor.policy.verdict import Verdict


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

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a detection: stable field names, shared by the CLI, the Lambda and the watcher."""
        v = self.verdict
        return {
            "time": self.time,
            "user": self.user,
            "database": self.database,
            "client": self.client,
            "application_name": self.application_name,
            "pid": self.pid,
            "session_id": self.session_id,
            "statement_id": self.statement_id,
            "category": v.category,
            "command": v.command,
            "relations": list(v.relations),
            "statement": v.statement,
            "rule": v.rule,
            "evidence": v.evidence,
            "source": self.source,
            "line": self.line,
        }
