"""Read PostgreSQL log entries from files (plain, gzip, bzip2, xz or zstd), standard input, or CloudWatch Logs
events.

The format is detected from the content, never from the file name: jsonlog starts with `{`, csvlog with a
millisecond timestamp and a comma, anything else is stderr format read with the configured log_line_prefix. A
file (not a live log: see sniff_input) may also be one of CloudWatch Logs' wrappings of RDS's stderr entries:
an export to S3, or a Logs Insights result saved as JSON or CSV (entries.wrapped).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from typing import Any, BinaryIO, Protocol

from pgaudit_monitor.entries import compression, wrapped
from pgaudit_monitor.entries.formats import (
    parse_csvlog,
    parse_jsonlog,
    stderr_cut,
)
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import CompiledPrefix
from pgaudit_monitor.entries.splitting import (
    AUDIT_NEEDLE,
    MESSAGE_HEADS,
    RAISE_CONTEXT,
    CsvSplitter,
    Cut,
    EntrySplitter,
)
from pgaudit_monitor.errors import InputError, UnrecognisedInput

BLOCK_SIZE = 4 << 20
AUTO = "auto"

# Where a message starts in each format, then the messages the pipeline reads (splitting.MESSAGE_HEADS): each
# literal is searched for on its own, at memory speed, and only entries holding one are cut out. In stderr the
# severity's `:  ` is followed by the SQLSTATE at log_error_verbosity = verbose (`LOG:  00000: AUDIT: `): the
# space before the message is what both verbosities share. stderr also writes a message's CONTEXT as an entry of
# its own, which the pipeline reads when it is RAISE's (see splitting.RAISE_CONTEXT).
_MESSAGE_STARTS = {"stderr": b" ", "csvlog": b',"', "jsonlog": b'"message":"'}
_ALSO: dict[str, tuple[bytes, ...]] = {"stderr": (RAISE_CONTEXT,)}
PIPELINE_NEEDLES: dict[str, tuple[bytes, ...]] = {
    fmt: tuple(start + head for head in MESSAGE_HEADS) + _ALSO.get(fmt, ()) for fmt, start in _MESSAGE_STARTS.items()
}


# A csvlog row: millisecond timestamp with its zone (no spaces, no commas), quoted or empty user and database, pid.
_CSV_START = re.compile(rb'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [^\s,]+,("(?:[^"]|"")*")?,("(?:[^"]|"")*")?,\d*,')
STDIN = "-"


class LogFormat(Enum):
    STDERR = "stderr"
    CSVLOG = "csvlog"
    JSONLOG = "jsonlog"
    S3_EXPORT = "CloudWatch Logs export to S3"
    INSIGHTS_JSON = "Logs Insights result (JSON)"
    INSIGHTS_CSV = "Logs Insights result (CSV)"


def sniff_format(head: bytes) -> LogFormat:
    """Tell the log format from the first bytes of a log PostgreSQL writes: stderr, csvlog or jsonlog (what a
    live log, the watcher's or the probe's, can be)."""
    first = head.lstrip()[:1]
    if first == b"{":
        return LogFormat.JSONLOG
    if _CSV_START.match(head.lstrip()):
        return LogFormat.CSVLOG
    return LogFormat.STDERR


def sniff_input(head: bytes, prefix: CompiledPrefix) -> LogFormat:
    """Tell the format of a file to scan from its first bytes: one PostgreSQL writes (sniff_format), or one of
    CloudWatch Logs' wrappings of RDS's entries.

    A Logs Insights result is tried first: as JSON it starts with get-query-results' keys or a list of rows
    (never a jsonlog entry's `{"timestamp"`), as CSV with a line of field names holding @message (which no
    PostgreSQL entry is). A stderr log is an export to S3 when its lines start with the export's time
    (wrapped.looks_like_s3_export: no log_line_prefix writes that time, and the configured prefix decides the
    one case left).
    """
    if wrapped.INSIGHTS_JSON_START.match(head):
        return LogFormat.INSIGHTS_JSON
    if wrapped.INSIGHTS_CSV_HEADER.match(head.lstrip()):
        return LogFormat.INSIGHTS_CSV
    fmt = sniff_format(head)
    if fmt is LogFormat.STDERR and wrapped.looks_like_s3_export(head, prefix):
        return LogFormat.S3_EXPORT
    return fmt


def needles_for(fmt: LogFormat) -> tuple[bytes, ...]:
    """The literal needles that find every entry the detection pipeline reads in this format.

    Audit records, and the connection entries: `connection authorized` names a backend's user where the prefix
    does not, `connection received` starts a new backend on a reused pid, `disconnection` completes a backend's
    last statement at once and frees its state (memory stays flat on a log of any size).
    """
    if fmt is LogFormat.S3_EXPORT:  # read as stderr, once unwrapped
        return PIPELINE_NEEDLES[LogFormat.STDERR.value]
    return PIPELINE_NEEDLES.get(fmt.value, ())  # Logs Insights results are read whole, every event parsed


def _open(path: str) -> tuple[BinaryIO, BinaryIO, str | None]:
    """The decompressed data to read, the file under it (to close), and the compression's name (or None)."""
    try:
        raw: BinaryIO = sys.stdin.buffer if path == STDIN else open(path, "rb")  # noqa: SIM115 - closed by _read_file
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        handle, kind = compression.decompressing(raw)
    except OSError as exc:
        _close(raw)
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return handle, raw, kind


def _close(handle: BinaryIO) -> None:
    if handle is not sys.stdin.buffer:
        handle.close()


def default_stream(path: str) -> str:
    """The server a file's entries come from: rotated files in one directory belong to one server."""
    return "<stdin>" if path == STDIN else os.path.dirname(os.path.abspath(path))


def read_file(
    path: str,
    prefix: CompiledPrefix,
    *,
    needles: tuple[bytes, ...] | str | None = AUTO,
    stream: str | None = None,
    skip_user: SkipUser | None = None,
) -> Iterator[LogEntry | Malformed]:
    """Yield the entries of one log file (or `-` for standard input) that contain a needle.

    `needles="auto"` takes what the detection pipeline needs for the file's format; None yields every entry.
    `skip_user` drops, unread, the audit records of users for which it is true, where the format and the prefix
    let the reader see the user before it decodes the entry (stderr with %u); elsewhere the pipeline drops them.

    Raises InputError when the file cannot be opened or read; malformed entries are yielded, not raised.
    """
    for batch in _read_file(path, prefix, needles, stream, skip_user):
        yield from batch


def read_batches(
    path: str, prefix: CompiledPrefix, *, skip_user: SkipUser | None = None
) -> Iterator[list[LogEntry | Malformed]]:
    """What read_file yields with the pipeline's needles, in lists: one per block read, never empty. For the
    background reader, which hands a block's entries to the other process at once."""
    yield from _read_file(path, prefix, AUTO, None, skip_user)


def _read_file(
    path: str,
    prefix: CompiledPrefix,
    needles: tuple[bytes, ...] | str | None,
    stream: str | None,
    skip_user: SkipUser | None,
) -> Iterator[list[LogEntry | Malformed]]:
    """The entries of one file, in lists: one per block read."""
    source = "<stdin>" if path == STDIN else path
    stream = default_stream(path) if stream is None else stream
    handle, raw, kind = _open(path)
    try:
        yield from _read_blocks(handle, prefix, needles, source, stream, skip_user)
    except InputError:
        raise
    except compression.read_errors() as exc:
        if kind is None:
            raise InputError(f"{source}: read failed: {exc}") from exc
        raise InputError(f"{source}: read failed: not valid {kind} data, truncated or corrupt ({exc})") from exc
    finally:
        if handle is not raw:
            handle.close()
        _close(raw)


def _read_blocks(
    handle: BinaryIO,
    prefix: CompiledPrefix,
    needles: tuple[bytes, ...] | str | None,
    source: str,
    stream: str,
    skip_user: SkipUser | None,
) -> Iterator[list[LogEntry | Malformed]]:
    """The entries of each block read, as a list (none empty).

    Raises UnrecognisedInput at the end when the input held something (not only blank space) and no entry was
    recognised in it: neither in its first 64 KiB (see _recognised), nor among the entries read.
    """
    block = handle.read(BLOCK_SIZE)
    head = block[:SNIFF_BYTES]
    fmt = sniff_input(head, prefix)
    chosen = needles_for(fmt) if isinstance(needles, str) else needles
    splitter = entry_splitter(fmt, prefix, chosen, source=source, stream=stream, skip_user=skip_user)
    content = bool(head.strip())  # a file of blank space is an empty log
    recognised = content and _recognised(fmt, head, prefix)
    while block:
        if entries := splitter.feed(block):
            recognised = recognised or _any_entry(entries)
            yield entries
        block = handle.read(BLOCK_SIZE)
        if not recognised and block.strip():  # (only while nothing is: a file that is a log never gets here)
            content = True
            recognised = _recognised(fmt, block[:SNIFF_BYTES], prefix)
    if entries := splitter.finish():
        recognised = recognised or _any_entry(entries)
        yield entries
    if content and not recognised:
        raise UnrecognisedInput(f"{source}: no PostgreSQL log entry recognised; tried {tried(prefix)}")


SNIFF_BYTES = 65536
"""How much of the start of a log its format is told from."""


def tried(prefix: CompiledPrefix) -> str:
    """The formats and compressions a file is read as, for the message of one in which nothing was
    recognised."""
    return (
        f"stderr with log_line_prefix {prefix.text!r} (give the server's with --log-line-prefix), csvlog, jsonlog, "
        f"{LogFormat.S3_EXPORT.value}, Logs Insights results (JSON, CSV); plain or {', '.join(compression.NAMES)}"
    )


def _recognised(fmt: LogFormat, head: bytes, prefix: CompiledPrefix) -> bool:
    """Whether an entry is recognised in the first bytes of a log: a line that the prefix reads (stderr, an
    export to S3 once unwrapped), a jsonlog entry that parses; csvlog and Logs Insights results are recognised
    by their sniffed shape (a result that does not parse is an InputError of its own). Runs once per file."""
    if fmt is LogFormat.STDERR or fmt is LogFormat.S3_EXPORT:
        if fmt is LogFormat.S3_EXPORT:
            head = wrapped.unwrap_s3_export(head)
        match = prefix.head.match
        return any(match(line) is not None for line in head.split(b"\n") if line[:1] != b"\t")
    if fmt is LogFormat.JSONLOG:
        lines = head.split(b"\n")
        return any(type(parse_jsonlog(line, source="", line=0)) is LogEntry for line in lines[:-1] or lines if line)
    return True


def _any_entry(items: list[LogEntry | Malformed]) -> bool:
    """Whether a batch of read items holds an entry (not only Malformed ones). Asked only until one is seen."""
    return any(type(item) is not Malformed for item in items)


class Splitter(Protocol):
    """The one interface every reader of bytes goes through: bytes in (`feed`, then `finish` at the end of the
    input), whole entries out (parsed, or what the splitter's cut made of them), `pending` bytes held back."""

    def feed(self, data: bytes) -> list[Any]: ...

    def finish(self) -> list[Any]: ...

    @property
    def pending(self) -> int: ...


SkipUser = Callable[[bytes], bool]
"""Given the raw bytes of a prefix's user, True when that user's audit records can be dropped unread."""


def entry_splitter(
    fmt: LogFormat,
    prefix: CompiledPrefix,
    needles: tuple[bytes, ...] | None,
    *,
    source: str,
    stream: str,
    skip_user: SkipUser | None = None,
    first_line: int = 1,
) -> Splitter:
    """The one reader of each format: a splitter whose `feed` and `finish` take the log's bytes and return its
    parsed entries (LogEntry or Malformed), numbered from `first_line` (where the bytes start in the file: the
    watcher resumes mid-file). read_file, the background reader, the watcher's follower and the probe all read
    through it.

    `skip_user` drops the audit records of users for which it is true, unread, where the prefix shows the user
    on the entry's first line (stderr with %u); elsewhere the pipeline drops them.

    An export to S3 is read as stderr once each line is unwrapped; a Logs Insights result whole, at `finish`
    (its rows put in time order first: see wrapped.events_in_time_order).
    """
    if fmt is LogFormat.S3_EXPORT:
        inner = entry_splitter(
            LogFormat.STDERR,
            prefix,
            needles,
            source=source,
            stream=stream,
            skip_user=skip_user,
            first_line=first_line,
        )
        return wrapped.UnwrappingSplitter(inner)
    if fmt is LogFormat.INSIGHTS_JSON or fmt is LogFormat.INSIGHTS_CSV:
        csv_format = fmt is LogFormat.INSIGHTS_CSV
        return wrapped.WholeDocumentSplitter(lambda data: _insights_entries(data, prefix, csv_format, source, stream))
    if fmt is LogFormat.STDERR:
        cut = stderr_cut(prefix, source=source, stream=stream, skip_user=skip_user)
        return EntrySplitter(needles, continuation=b"\t", cut=cut, look_back=True, first_line=first_line)
    parse = parse_jsonlog if fmt is LogFormat.JSONLOG else parse_csvlog

    def cut_and_parse(buf: bytes, start: int, stop: int, line: int, before: int = -1, again: int = -1) -> Any:
        return parse(buf[start:stop], source=source, line=line, stream=stream)

    if fmt is LogFormat.JSONLOG:
        return EntrySplitter(needles, continuation=None, cut=cut_and_parse, first_line=first_line)
    return CsvSplitter(needles, cut=cut_and_parse, first_line=first_line)


def _insights_entries(
    data: bytes,
    prefix: CompiledPrefix,
    csv_format: bool,
    source: str,
    stream: str,
) -> list[LogEntry | Malformed]:
    """The entries of a whole Logs Insights result: each row's @message read as a CloudWatch event, in time
    order, with the row's number (CSV: its line) as its line; rows without an event reported as Malformed."""
    try:
        rows = wrapped.insights_rows(data, csv_format=csv_format)
    except wrapped.NotInsights as exc:
        raise InputError(f"{source}: {exc}") from exc
    events, bad = wrapped.events_in_time_order(rows, source=source, stream=stream)
    return [*bad, *_numbered_event_entries(events, prefix, source=source)]


def read_events(
    events: Iterable[tuple[str, str]], prefix: CompiledPrefix, *, source: str
) -> Iterator[LogEntry | Malformed]:
    """Entries from CloudWatch Logs events, given as (log stream name, message) pairs.

    RDS exports one event per entry, newlines (and PostgreSQL's TABs after them) inside. The stream name is the
    instance, which is what identifies a backend together with its pid: each stream is read by an EventSplitter
    of its own, and all the entries of an event have the event's number as their line.
    """
    numbered = ((number, stream, message) for number, (stream, message) in enumerate(events, start=1))
    yield from _numbered_event_entries(numbered, prefix, source=source)


def _numbered_event_entries(
    events: Iterable[tuple[int, str, str]], prefix: CompiledPrefix, *, source: str
) -> Iterator[LogEntry | Malformed]:
    """read_events, each event given with the number its entries get as their line (a saved result's row)."""
    splitters: dict[str, EventSplitter] = {}
    for number, stream, message in events:
        splitter = splitters.get(stream)
        if splitter is None:
            splitter = splitters[stream] = EventSplitter(prefix, source=source, stream=stream)
        splitter.line = number
        yield from splitter.feed(message.encode("utf-8", errors="surrogateescape"))
    yield from sorted((item for splitter in splitters.values() for item in splitter.finish()), key=_line)


def _line(item: LogEntry | Malformed) -> int:
    return item.line


class EventSplitter:
    """One log stream's CloudWatch Logs events through the reader interface: each `feed` is one whole event.

    RDS exports one event per entry, newlines (and PostgreSQL's TABs after them) inside; an event of a jsonlog
    stream is one JSON object. A stderr event is cut as a file is (the same cut: a line that is not a continuation
    starts another entry, a CONTEXT or LOCATION line say, never part of this one's message), and every entry of
    an event has the event's number as its line: `line`, counted up by each feed (read_events, which numbers the
    events of all streams together, sets it before each).
    """

    def __init__(self, prefix: CompiledPrefix, *, source: str, stream: str, first_line: int = 1) -> None:
        self._cut = stderr_cut(prefix, source=source, stream=stream)
        self._source, self._stream = source, stream
        self._held: tuple[Malformed, bytes] | None = None  # a Malformed entry the stream's next event may explain
        self.line = first_line

    def feed(self, data: bytes) -> list[Any]:
        number, self.line = self.line, self.line + 1
        if _json_object(data):
            return [parse_jsonlog(data, source=self._source, line=number, stream=self._stream)]
        items, self._held = _event_entries(data, self._cut, number, self._held)
        return items

    def finish(self) -> list[Any]:
        held, self._held = self._held, None
        return [] if held is None else [held[0]]

    @property
    def pending(self) -> int:
        return 0 if self._held is None else len(self._held[1])


def _json_object(data: bytes) -> bool:
    """Whether an event is a jsonlog entry: a JSON object, after any white space (as str.isspace has it: Unicode's,
    and ASCII's separators \x1c-\x1f, which bytes.lstrip keeps)."""
    first = data.lstrip()[:1]
    if first == b"{":
        return True
    if not first or b" " <= first < b"\x80":
        return False
    return data.decode("utf-8", "surrogateescape").lstrip()[:1] == "{"


_NEXT_ENTRY = re.compile(rb"\n(?=[^\t])")


def _event_entries(
    data: bytes, cut: Cut, number: int, previous: tuple[Malformed, bytes] | None
) -> tuple[list[LogEntry | Malformed], tuple[Malformed, bytes] | None]:
    """The entries of one stderr event, and its last one when Malformed (held back for the stream's next event).

    A Malformed entry is held back: when it is the first half of the next one's prefix (a newline in a role name;
    an export may cut the two apart into events of their own), the cut of the next one says so, and reports it
    with its own entry. `previous` is the one the stream's last event held back. Every entry of an event has the
    event's number as its line.
    """
    out: list[LogEntry | Malformed] = []
    held: Malformed | None = None
    held_at = -1  # where the held-back entry starts: the cut looks back from there (see formats.previous_entry)
    start = 0
    if previous is not None:
        held, data, start = previous[0], previous[1] + data, len(previous[1])
        held_at = 0
    for stop in [*(m.end() for m in _NEXT_ENTRY.finditer(data, start)), len(data)]:
        if stop <= start:
            continue
        first = data.find(AUDIT_NEEDLE, start, stop)  # and a second one: what the splitter tells a cut
        again = -1 if first < 0 else data.find(AUDIT_NEEDLE, first + len(AUDIT_NEEDLE), stop)
        item = cut(data, start, stop, number, held_at if held is not None else -1, again)
        items = item if type(item) is list else ([] if item is None else [item])
        if held is not None:
            if items and type(items[0]) is Malformed and len(items) > 1:  # it explains the held one: in its place
                items[0] = Malformed(held.source, held.line, items[0].reason, items[0].excerpt)
            else:
                out.append(held)
        held, held_at = None, -1
        if len(items) == 1 and type(items[0]) is Malformed:
            held, held_at = items[0], start
        else:
            out.extend(items)
        start = stop
    if held is None:
        return out, None
    tail = data[held_at:]
    return out, (held, tail if tail.endswith(b"\n") else tail + b"\n")
