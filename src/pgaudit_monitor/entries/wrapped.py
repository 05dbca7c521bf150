"""Logs as CloudWatch Logs hands them over: an export to S3, and a Logs Insights query's result saved to a file.

Both wrap RDS's stderr entries (one CloudWatch event per entry) in a format of their own:

* An export to S3 (CreateExportTask) writes each event as `<time> <message>`, the time as ISO 8601 in UTC with
  milliseconds (`2026-11-25T10:05:00.123Z`), in gzip files, one folder per log stream. A message of several
  lines goes on over the following lines as it is (PostgreSQL starts each with a TAB). Taking the wrapper off
  the start of each line leaves the stderr log itself, line for line: it is then read as any stderr log is,
  with the same line numbers.
* A Logs Insights result, saved as JSON (`aws logs get-query-results`, or the console's export) or CSV (the
  console's export), has one row per event with fields such as `@timestamp`, `@message` and `@logStream`. Each
  row's `@message` is read as CloudWatch events are (reader.read_events), the stream from `@logStream`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any, NamedTuple

from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.entries.prefix import CompiledPrefix

S3_WRAPPER = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
"""The time an export to S3 writes before each event. No log_line_prefix escape writes a `T` between date and
time, nor the `Z`: PostgreSQL's own times (%t, %m, %s) have a space there and a zone name after."""
_WRAPPED_LINE = re.compile(rb"\n" + S3_WRAPPER.pattern)
_SNIFF_LINES = 50


def looks_like_s3_export(head: bytes, prefix: CompiledPrefix) -> bool:
    """Whether the first bytes of a log are an export to S3 rather than a stderr log.

    The first line that starts an entry (not a TAB continuation) must start with the export's time, and so must
    most of the first 50 such lines (an event's message may go on over lines of its own). One case is left: a
    log_line_prefix that itself reads the line as written, time included (it begins with a free-text field), and
    does not read it once the time is taken off: that is a stderr log, read as configured.
    """
    lines = [line for line in head.split(b"\n", _SNIFF_LINES * 4)[: _SNIFF_LINES * 4] if line and line[:1] != b"\t"]
    lines = lines[:_SNIFF_LINES]
    if not lines or S3_WRAPPER.match(lines[0]) is None:
        return False
    if 2 * sum(1 for line in lines if S3_WRAPPER.match(line)) <= len(lines):
        return False
    first = lines[0]
    as_written = prefix.head.match(first) is not None
    unwrapped = prefix.head.match(first, S3_WRAPPER.match(first).end()) is not None  # type: ignore[union-attr]
    return unwrapped or not as_written


def unwrap_s3_export(data: bytes) -> bytes:
    """The bytes of whole lines of an export with the time taken off the start of each line that has it; the
    newlines stay, so every line keeps its number. One C-speed substitution per block, only for exports."""
    data = _WRAPPED_LINE.sub(b"\n", data)
    wrapper = S3_WRAPPER.match(data)
    return data[wrapper.end() :] if wrapper is not None else data


class UnwrappingSplitter:
    """A stderr splitter (`inner`) fed with an export's lines, each unwrapped first (see unwrap_s3_export).

    Lines are unwrapped whole: the part of a block after its last newline waits for the next block, so that a
    wrapper cut in two by a block boundary is still recognised.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._partial = b""

    def feed(self, data: bytes) -> list[Any]:
        data = self._partial + data if self._partial else data
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        return self._inner.feed(unwrap_s3_export(data[:end])) if end else []

    def finish(self) -> list[Any]:
        partial, self._partial = self._partial, b""
        out = self._inner.feed(unwrap_s3_export(partial)) if partial else []
        return out + self._inner.finish()

    @property
    def pending(self) -> int:
        return len(self._partial) + self._inner.pending


class WholeDocumentSplitter:
    """For a format that can only be read whole (a JSON document, a result whose rows must be put in time
    order): `feed` keeps the bytes, `finish` hands them all to `read` and returns what it makes of them."""

    def __init__(self, read: Callable[[bytes], list[Any]]) -> None:
        self._read = read
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> list[Any]:
        self._parts.append(data)
        return []

    def finish(self) -> list[Any]:
        data, self._parts = b"".join(self._parts), []
        return self._read(data)

    @property
    def pending(self) -> int:
        return sum(len(part) for part in self._parts)


# -- Logs Insights results -------------------------------------------------------------------------------------

# A result as JSON: get-query-results' object (its keys in any order), or a list of rows, each a list of
# {"field", "value"} pairs or an object of field -> value.
INSIGHTS_JSON_START = re.compile(
    rb'(?:\xef\xbb\xbf)?\s*(?:\{\s*"(?:results|status|statistics|encryptionKey|queryLanguage)"\s*:'
    rb'|\[\s*(?:\[\s*\{\s*"(?:field|value)"|\{\s*"@|\]))'
)
# A result as CSV: a first line of field names, one of them @message (quoted or not). Either may start with the
# byte order mark that spreadsheet-minded exporters write.
INSIGHTS_CSV_HEADER = re.compile(rb'(?:\xef\xbb\xbf)?(?:"?@?[\w.@-]+"?,)*"?@message"?(?:,"?@?[\w.@-]+"?)*\r?\n')


class NotInsights(ValueError):
    """A document that was taken for a Logs Insights result and is not one; the message names where and why."""


class Row(NamedTuple):
    """One row of a result: where it is in the file (its number, or for CSV its first line), and its fields."""

    number: int
    fields: dict[str, Any]


def insights_rows(data: bytes, *, csv_format: bool) -> list[Row]:
    """The rows of a Logs Insights result, in the file's order. Raises NotInsights for a document that is not
    one (JSON that does not parse, a CSV without its header)."""
    text = data.decode("utf-8-sig", errors="surrogateescape")  # (-sig: without a byte order mark)
    return _csv_rows(text) if csv_format else _json_rows(text)


def _json_rows(text: str) -> list[Row]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotInsights(f"line {exc.lineno}: not a Logs Insights result in JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise NotInsights("not a Logs Insights result in JSON (nested too deeply)") from exc
    rows = document.get("results") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise NotInsights('not a Logs Insights result in JSON (no list of "results")')
    return [Row(number, _row_fields(row)) for number, row in enumerate(rows, start=1)]


def _row_fields(row: Any) -> dict[str, Any]:
    """A row's fields by name: get-query-results writes a list of {"field", "value"}; an export, an object."""
    if isinstance(row, dict):
        return row
    if isinstance(row, list) and all(isinstance(pair, dict) and "field" in pair for pair in row):
        return {pair["field"]: pair.get("value") for pair in row}
    return {}


def _csv_rows(text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or "@message" not in header:
            raise NotInsights("line 1: not a Logs Insights result in CSV (no @message column)")
        rows: list[Row] = []
        line = reader.line_num + 1
        for values in reader:
            if values:
                rows.append(Row(line, dict(zip(header, values, strict=False))))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise NotInsights(f"line {reader.line_num}: not a Logs Insights result in CSV ({exc})") from exc
    return rows


def events_in_time_order(
    rows: list[Row], *, source: str, stream: str
) -> tuple[list[tuple[int, str, str]], list[Malformed]]:
    """Each row's event as (its number in the file, log stream, message), in time order; and the rows that hold
    no event, as Malformed.

    Logs Insights sorts by @timestamp, newest first unless the query says `sort @timestamp asc`. The scan needs
    the log's order (a statement's records, and a backend's entries, in the order they were written), so a
    result that lists its rows newest first is reversed, then all are sorted by @timestamp, stably: rows of the
    same @timestamp keep the order they have then, which is the log's when the service listed them in it (or,
    newest first, in its reverse). Rows that all share one @timestamp cannot tell newest first: they are read in
    the file's order. When a row's @timestamp is missing or unreadable, it is reported, and the rows are read in
    the file's order.
    """
    events: list[tuple[int, str, str]] = []
    times: list[float | None] = []
    bad: list[Malformed] = []
    for row in rows:
        message = row.fields.get("@message")
        if not isinstance(message, str):
            bad.append(Malformed(source, row.number, "Logs Insights row without @message", _excerpt(row.fields)))
            continue
        row_stream = row.fields.get("@logStream")
        events.append((row.number, row_stream if isinstance(row_stream, str) and row_stream else stream, message))
        times.append(_millis(row.fields.get("@timestamp")))
    known = [time for time in times if time is not None]
    if len(known) < len(times):
        bad += [
            Malformed(source, number, "Logs Insights row without a readable @timestamp: rows read in the file's order")
            for (number, _, _), time in zip(events, times, strict=True)
            if time is None
        ]
        return events, bad
    return _in_time_order(events, known), bad


def _in_time_order(events: list[tuple[int, str, str]], times: list[float]) -> list[tuple[int, str, str]]:
    """The events sorted by their times, stably; newest first (each time no later than the one before it, and
    one earlier) is reversed first, so that rows of one time keep the order the service put them in."""
    pairs = list(zip(times, events, strict=True))
    steps = list(pairwise(times))
    if any(later < earlier for earlier, later in steps) and all(later <= earlier for earlier, later in steps):
        pairs.reverse()
    pairs.sort(key=lambda pair: pair[0])
    return [event for _, event in pairs]


def _millis(value: Any) -> float | None:
    """@timestamp as Logs Insights writes it (`2026-11-25 10:05:00.123`, UTC), ISO 8601, or epoch milliseconds;
    None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return float(value)
    from datetime import UTC, datetime  # only for a Logs Insights result: every other scan starts without it

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def _excerpt(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, default=str)[:80]
