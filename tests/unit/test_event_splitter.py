"""CloudWatch events through the reader interface: one feed per event, the event's number as every entry's line,
a damaged entry held back until the stream's next event or the end, jsonlog events told apart from stderr ones."""

from __future__ import annotations

import json

from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import AURORA_PREFIX, compile_prefix
from pgaudit_monitor.entries.reader import EventSplitter, read_events

PREFIX = compile_prefix(AURORA_PREFIX)
RECORD = (
    "2026-01-01 10:00:00 UTC:10.0.0.5(5432):alice@shop:[42]:LOG:  "
    "AUDIT: SESSION,1,1,WRITE,UPDATE,,,UPDATE t SET x = 1,<not logged>"
)


def test_each_feed_is_one_event_numbered_in_turn() -> None:
    splitter = EventSplitter(PREFIX, source="g", stream="i-1", first_line=7)
    first = splitter.feed(RECORD.encode())
    second = splitter.feed((RECORD.replace("SESSION,1,1", "SESSION,2,1") + "\n\tcontinued").encode())
    assert [(type(e), e.line) for e in first + second] == [(LogEntry, 7), (LogEntry, 8)]
    assert isinstance(second[0], LogEntry)
    assert second[0].message.endswith("<not logged>\ncontinued")  # PostgreSQL's TAB after the newline taken off
    assert splitter.finish() == []
    assert splitter.pending == 0


def test_a_damaged_last_entry_waits_for_the_next_event_and_is_reported_at_the_end() -> None:
    splitter = EventSplitter(PREFIX, source="g", stream="i-1")
    assert splitter.feed(b"2026-01-01 10:00:00 UTC:garbage") == []  # held: the next event may explain it
    assert splitter.pending > 0
    (held,) = splitter.finish()
    assert isinstance(held, Malformed)
    assert (held.source, held.line) == ("g", 1)
    assert splitter.pending == 0


def test_a_jsonlog_event_after_unicode_white_space_is_read_as_json() -> None:
    obj = {"timestamp": "2026-01-01 10:00:00.000 UTC", "user": "alice", "dbname": "shop", "pid": 42,
           "error_severity": "LOG", "message": "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>"}  # fmt: skip
    for lead in ("", " ", "\u2028", "\x1c"):
        (entry,) = EventSplitter(PREFIX, source="g", stream="s").feed((lead + json.dumps(obj)).encode())
        assert isinstance(entry, LogEntry), lead
        assert (entry.user, entry.pid, entry.line) == ("alice", 42, 1)


def test_read_events_numbers_events_across_streams() -> None:
    events = [("i-1", RECORD), ("i-2", RECORD), ("i-1", "2026-01-01 10:00:00 UTC:garbage")]
    items = list(read_events(events, PREFIX, source="g"))
    assert [(type(i).__name__, i.line) for i in items] == [("LogEntry", 1), ("LogEntry", 2), ("Malformed", 3)]
