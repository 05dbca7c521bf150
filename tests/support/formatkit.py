"""Wrap a real stderr log the way it reaches people: compressed, exported to S3 by CloudWatch Logs, or saved from
a Logs Insights query. Each wrapping keeps track of where each entry came from, so that a test can compare the
scan of the wrapped log with the scan of the log itself, detection by detection."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
from datetime import UTC, datetime

import zstandard

from pgaudit_monitor.entries.splitting import EntrySplitter

COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),
}
STREAM = "db-instance-1"


def entries(log: bytes) -> list[tuple[int, bytes]]:
    """Each entry of a stderr log (its first line and TAB continuation lines), with its first line's number."""
    splitter = EntrySplitter(None, continuation=b"\t")
    return [(raw.line, raw.data) for raw in [*splitter.feed(log), *splitter.finish()]]


def event_millis(entry: bytes) -> int:
    """The CloudWatch event time RDS gives an entry: its own %t (Aurora's prefix), to the second, so that the
    entries of one second share it as they do in CloudWatch."""
    moment = datetime.strptime(entry[:19].decode(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def s3_export(log: bytes) -> bytes:
    """The log as CreateExportTask writes it: each event as `<ISO 8601 time> <message>`, gzip-compressed. The
    message of several lines goes on over the following lines; lines keep their numbers."""
    out = []
    for _, entry in entries(log):
        stamp = datetime.fromtimestamp(event_millis(entry) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out.append(stamp.encode() + b" " + entry)
    return gzip.compress(b"".join(out))


def insights_rows(log: bytes, *, newest_first: bool) -> tuple[list[dict[str, str]], dict[int, int]]:
    """A Logs Insights result of every event of the log, as rows of fields, sorted by @timestamp as the service
    does (newest first by default: the log's order reversed); and each row's number -> its entry's line."""
    rows = []
    for line, entry in entries(log):
        stamp = datetime.fromtimestamp(event_millis(entry) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.000")
        rows.append(
            (
                line,
                {
                    "@timestamp": stamp,
                    "@message": entry.decode().removesuffix("\n"),
                    "@logStream": STREAM,
                    "@log": "123456789012:/aws/rds/cluster/c/postgresql",
                },
            )
        )
    if newest_first:
        rows.reverse()
    return [fields for _, fields in rows], {number: line for number, (line, _) in enumerate(rows, start=1)}


def insights_cli_json(rows: list[dict[str, str]]) -> bytes:
    """`aws logs get-query-results` output: rows of {"field", "value"} pairs, indented as the CLI prints it."""
    results = [[{"field": name, "value": value} for name, value in row.items()] for row in rows]
    document = {
        "results": results,
        "statistics": {"recordsMatched": len(rows), "recordsScanned": len(rows), "bytesScanned": 1},
        "status": "Complete",
    }
    return json.dumps(document, indent=4).encode()


def insights_console_json(rows: list[dict[str, str]]) -> bytes:
    """A result exported from the console as JSON: a list of objects, field name -> value."""
    return json.dumps(rows, indent=2).encode()


def insights_csv(rows: list[dict[str, str]]) -> tuple[bytes, dict[int, int]]:
    """A result exported as CSV, and each row's number -> the line where it starts (messages span lines)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(rows[0]))
    starts, line = {}, 2
    for number, row in enumerate(rows, start=1):
        starts[number] = line
        writer.writerow(list(row.values()))
        line += row["@message"].count("\n") + 1
    return out.getvalue().encode(), starts
