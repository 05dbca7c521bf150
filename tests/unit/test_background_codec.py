"""What crosses between the background reader and the judging process: background.encode and decode."""

from __future__ import annotations

import marshal

import pytest

from pgaudit_monitor.background import decode, encode
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.records.pgaudit import parse_record

RECORD = (
    'AUDIT: SESSION,3,1,WRITE,DELETE,TABLE,public.orders,"DELETE FROM orders WHERE note = \'a,""b""\'",<not logged>'
)


@pytest.mark.parametrize(
    "item",
    [
        LogEntry(RECORD, "LOG", "pg.log", 7, "/var/log", "2026-12-02 10:00:00 UTC", "alice", "shop", 42, "10.0.0.5"),
        LogEntry("AUDIT: SESSION,not a number,1", "LOG", "pg.log", 8, user="alice"),  # a record that does not parse
        LogEntry("connection authorized: user=alice database=shop", "LOG", "pg.log", 9, pid=43, leader_pid=None),
        Malformed("pg.log", 10, "does not match log_line_prefix", "garbage"),
    ],
    ids=["record", "unparsable-record", "not-a-record", "malformed"],
)
def test_an_item_crosses_the_pipe_unchanged(item: LogEntry | Malformed) -> None:
    crossed = decode(marshal.loads(marshal.dumps(encode(item))))  # noqa: S302 (our own bytes)
    assert type(crossed) is type(item)
    if isinstance(item, Malformed):
        assert crossed == item
        return
    assert isinstance(crossed, LogEntry)
    assert crossed.fields()[:-1] == item.fields()[:-1]
    try:
        expected = parse_record(item.message)
    except ValueError:
        expected = None  # left for the pipeline, which reports it in its place
    assert crossed.record == expected
    if item.message == RECORD:
        assert crossed.record is not None
        assert crossed.record.object_name == "public.orders"
