"""Split a byte stream into whole log entries, incrementally, looking only at the entries that matter.

Most of a busy server's log is not audit records. Decoding and matching every line would make the scan as slow as
Python's line loop; instead the splitter searches each block with one compiled pattern whose literal head
(`:  ` before a stderr message, `"message":"` in jsonlog) lets the regular-expression engine skip ahead at memory
speed, and cuts out only the entries it finds. Entry boundaries are the format's own:

* stderr: a line that does not start with a TAB begins an entry; PostgreSQL puts a TAB after every newline
  inside a message, so continuation lines always start with one;
* jsonlog: one JSON object per line, newlines inside strings escaped.

The splitter is incremental (`feed`, then `finish`) so that a follower of a growing file can use it: an entry
is handed on only once the start of the next one shows that it is complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

AUDIT_NEEDLE = b"AUDIT: "
CONNECTION_NEEDLE = b"connection"
MESSAGES = rb"(?:AUDIT: |connection received: |connection authorized: |disconnection: )"
"""The messages the pipeline reads: audit records, and the connection entries that start a backend, name its
user, and end it (which completes its last statement and frees its state)."""

Needles = tuple[bytes, ...] | re.Pattern[bytes] | None
Drop = Callable[[bytes, int, int], bool]
"""Given a block, the start of an entry's first line and where a needle matched on it: True to skip the entry
before it is cut out (readers drop service accounts' records this way; see reader.make_parser)."""


def compile_needles(needles: Needles) -> re.Pattern[bytes] | None:
    """One pattern for a tuple of literal needles (or the pattern itself); None means every entry."""
    if needles is None or isinstance(needles, re.Pattern):
        return needles
    return re.compile(b"|".join(re.escape(n) for n in needles))


@dataclass(frozen=True, slots=True)
class RawEntry:
    """The bytes of one whole entry, and the 1-based line number where it starts."""

    data: bytes
    line: int


class EntrySplitter:
    """Cut whole entries in which `needles` (literal byte strings, or a compiled pattern) match.

    `continuation` is the byte that marks a continuation line (TAB for stderr), or None when every line is an
    entry (jsonlog). With `needles=None` every entry is handed on.
    """

    def __init__(self, needles: Needles, continuation: bytes | None, drop: Drop | None = None) -> None:
        self._pattern = compile_needles(needles)
        self._drop = drop
        self._continuation = continuation
        self._buffer = b""
        self._line = 1  # line number of the first byte of the buffer

    def feed(self, data: bytes) -> Iterator[RawEntry]:
        """Take more bytes; yield the entries now known to be complete."""
        buf = self._buffer + data if self._buffer else data
        self._buffer = buf
        end = self._complete_end(buf)
        if end:
            yield from self._cut(end)

    def finish(self) -> Iterator[RawEntry]:
        """End of input: the last entry is complete even without a newline after it."""
        if self._buffer:
            yield from self._cut(len(self._buffer))

    @property
    def pending(self) -> int:
        """Bytes held back because the entry they belong to may not be complete yet."""
        return len(self._buffer)

    def _complete_end(self, buf: bytes) -> int:
        """Offset just past the last complete entry in `buf` (0 if none is known complete)."""
        nl = buf.rfind(b"\n")
        while nl != -1:
            if nl + 1 < len(buf):
                if self._continuation is None or buf[nl + 1 : nl + 2] != self._continuation:
                    return nl + 1
            elif self._continuation is None:
                return nl + 1
            nl = buf.rfind(b"\n", 0, nl)
        return 0

    def _cut(self, end: int) -> Iterator[RawEntry]:
        buf = self._buffer
        self._buffer = buf[end:]
        if self._pattern is None:
            yield from self._all_entries(buf, end)
        else:
            yield from self._matching_entries(buf, end)

    def _entry_end(self, buf: bytes, start: int, end: int) -> int:
        nl = buf.find(b"\n", start, end)
        while nl != -1 and self._continuation is not None and buf[nl + 1 : nl + 2] == self._continuation:
            nl = buf.find(b"\n", nl + 1, end)
        return end if nl == -1 else nl + 1

    def _entry_start(self, buf: bytes, pos: int) -> int:
        start = buf.rfind(b"\n", 0, pos) + 1
        while self._continuation is not None and buf[start : start + 1] == self._continuation and start > 0:
            start = buf.rfind(b"\n", 0, start - 1) + 1
        return start

    def _all_entries(self, buf: bytes, end: int) -> Iterator[RawEntry]:
        start = 0
        while start < end:
            stop = self._entry_end(buf, start, end)
            yield RawEntry(buf[start:stop], self._line)
            self._line += buf.count(b"\n", start, stop)
            start = stop

    def _matching_entries(self, buf: bytes, end: int) -> Iterator[RawEntry]:
        # The hot loop of a scan: one pattern search per matching entry, newlines counted once, no per-line work.
        search = self._pattern.search  # type: ignore[union-attr]
        rfind, find, count = buf.rfind, buf.find, buf.count
        continuation = self._continuation
        drop = self._drop
        counted_to = 0
        match = search(buf, 0, end)
        while match is not None:
            hit = match.start()
            start = rfind(b"\n", 0, hit) + 1
            if continuation is not None and buf[start : start + 1] == continuation:
                start = self._entry_start(buf, hit)
            elif drop is not None and drop(buf, start, hit):
                match = search(buf, hit + 1, end)
                continue
            stop = find(b"\n", hit, end) + 1 or end
            if continuation is not None and buf[stop : stop + 1] == continuation:
                stop = self._entry_end(buf, hit, end)
            self._line += count(b"\n", counted_to, start)
            counted_to = start
            yield RawEntry(buf[start:stop], self._line)
            match = search(buf, stop, end)
        self._line += count(b"\n", counted_to, end)


class CsvSplitter:
    """Cut whole csvlog rows out of a stream of bytes: a newline ends a row only outside double quotes."""

    def __init__(self, needles: Needles) -> None:
        self._pattern = compile_needles(needles)
        self._buffer = b""
        self._line = 1

    def feed(self, data: bytes) -> Iterator[RawEntry]:
        self._buffer += data
        yield from self._rows(final=False)

    def finish(self) -> Iterator[RawEntry]:
        yield from self._rows(final=True)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _rows(self, *, final: bool) -> Iterator[RawEntry]:
        buf = self._buffer
        start = 0
        scan = 0
        quotes = 0
        line = self._line
        while True:
            nl = buf.find(b"\n", scan)
            if nl == -1:
                break
            quotes += buf.count(b'"', scan, nl)
            scan = nl + 1
            if quotes % 2 == 0:
                row = buf[start:scan]
                if self._pattern is None or self._pattern.search(row):
                    yield RawEntry(row, line)
                line += row.count(b"\n")
                start = scan
                quotes = 0
        if final and start < len(buf):
            row = buf[start:]
            if self._pattern is None or self._pattern.search(row):
                yield RawEntry(row, line)
            line += row.count(b"\n")
            start = len(buf)
        self._buffer = buf[start:]
        self._line = line
