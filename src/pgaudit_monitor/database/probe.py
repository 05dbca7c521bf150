"""The live probe: send an audited statement of our own and prove that its record reached the log.

Settings can look right while nothing is logged (the library not loaded on the instance you think, a log that
goes elsewhere, an export to CloudWatch that is off). Only a record seen in the log proves the chain.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pgaudit_monitor.entries.model import LogEntry
from pgaudit_monitor.entries.prefix import CompiledPrefix
from pgaudit_monitor.entries.reader import entry_splitter, read_events, sniff_format
from pgaudit_monitor.errors import RecordError
from pgaudit_monitor.records.pgaudit import is_audit_message, parse_record

PROBE_TEXT = "pgaudit-monitor probe"


def new_marker() -> str:
    return f"{PROBE_TEXT} {uuid.uuid4().hex}"


def send_probe(conn: Any, marker: str, *, elevate: bool) -> bool:
    """Run `SELECT '<marker>'`; with `elevate`, first turn on READ auditing for this session (superusers only).

    Returns whether the session was elevated. The statement touches no table: it is never a detection.
    """
    import psycopg
    from psycopg import sql

    elevated = False
    if elevate:
        try:
            conn.execute("SET pgaudit.log = 'read'")
            elevated = True
        except psycopg.errors.InsufficientPrivilege:
            pass
    conn.execute(sql.SQL("SELECT {} AS pgaudit_monitor_probe").format(sql.Literal(marker)))
    return elevated


def _has_marker(entries: Iterable[object], marker: str) -> bool:
    for entry in entries:
        if isinstance(entry, LogEntry) and is_audit_message(entry.message):
            try:
                if marker in parse_record(entry.message).statement:
                    return True
            except RecordError:
                continue
    return False


class LogSource(Protocol):
    def mark(self) -> None:
        """Remember where the log ends now: only what is written after counts."""

    def contains(self, marker: str) -> bool:
        """Whether an audit record holding `marker` was written since `mark`."""

    def describe(self) -> str: ...


class FileLogSource:
    """A log file, or every file of a log directory (new files included)."""

    def __init__(self, path: str, prefix: CompiledPrefix) -> None:
        self.path = Path(path)
        self.prefix = prefix
        self._offsets: dict[Path, int] = {}

    def describe(self) -> str:
        return str(self.path)

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file())
        return [self.path] if self.path.exists() else []

    def mark(self) -> None:
        self._offsets = {p: p.stat().st_size for p in self._files()}

    def contains(self, marker: str) -> bool:
        needle = marker.encode()
        for path in self._files():
            start = self._offsets.get(path, 0)
            if path.stat().st_size < start:  # truncated or replaced since mark
                start = 0
            with open(path, "rb") as handle:
                head = handle.read(65536)
                handle.seek(start)
                data = handle.read()
            if needle not in data:
                continue
            splitter = entry_splitter(sniff_format(head), self.prefix, (needle,), source=str(path), stream=str(path))
            if _has_marker([*splitter.feed(data), *splitter.finish()], marker):
                return True
        return False


class CloudWatchLogSource:
    """A CloudWatch Logs group (RDS/Aurora export): the record may take a minute or more to arrive."""

    def __init__(self, group: str, prefix: CompiledPrefix, client: Any = None) -> None:
        self.group = group
        self.prefix = prefix
        if client is None:
            import boto3

            client = boto3.client("logs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        self.client = client
        self._start_ms = 0

    def describe(self) -> str:
        return f"CloudWatch Logs group {self.group}"

    def mark(self) -> None:
        self._start_ms = int(time.time() * 1000) - 60_000  # clock skew between this host and the database

    def contains(self, marker: str) -> bool:
        events: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {
            "logGroupName": self.group,
            "startTime": self._start_ms,
            "filterPattern": f'"{marker}"',
        }
        while True:
            page = self.client.filter_log_events(**kwargs)
            events.extend((e.get("logStreamName", ""), e["message"]) for e in page.get("events", []))
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        return _has_marker(read_events(events, self.prefix, source=self.group), marker)


@dataclass(frozen=True)
class ProbeOutcome:
    marker: str
    found: bool
    waited: float


def wait_for(source: LogSource, marker: str, timeout: float, interval: float = 0.2) -> ProbeOutcome:
    started = time.monotonic()
    while True:
        if source.contains(marker):
            return ProbeOutcome(marker, True, time.monotonic() - started)
        if time.monotonic() - started >= timeout:
            return ProbeOutcome(marker, False, time.monotonic() - started)
        time.sleep(interval)
