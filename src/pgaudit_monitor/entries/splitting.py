"""Split a byte stream into whole log entries, incrementally, looking only at the entries that matter.

Most of a busy server's log is not audit records. Decoding and matching every line would make the scan as slow as
Python's line loop; instead the splitter searches each block for a few needles (`AUDIT: `, `connection`) with
`bytes.find`, which runs at memory speed, and cuts out only the entries that contain one. Entry boundaries are
the format's own:

* stderr: a line that does not start with a TAB begins an entry; PostgreSQL puts a TAB after every newline
  inside a message, so continuation lines always start with one;
* jsonlog: one JSON object per line, newlines inside strings escaped.

The splitter is incremental (`feed`, then `finish`) so that a follower of a growing file can use it: an entry
is handed on only once the start of the next one shows that it is complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

AUDIT_NEEDLE = b"AUDIT: "
CONNECTION_NEEDLE = b"connection"


@dataclass(frozen=True, slots=True)
class RawEntry:
    """The bytes of one whole entry, and the 1-based line number where it starts."""

    data: bytes
    line: int


class EntrySplitter:
    """Cut whole entries that contain a needle out of a stream of bytes.

    `continuation` is the byte that marks a continuation line (TAB for stderr), or None when every line is an
    entry (jsonlog). With `needles=None` every entry is handed on.
    """

    def __init__(self, needles: tuple[bytes, ...] | None, continuation: bytes | None) -> None:
        self._needles = needles
        self._continuation = continuation
        self._buffer = b""
        self._line = 1  # line number of the first byte of the buffer

    def feed(self, data: bytes) -> Iterator[RawEntry]:
        """Take more bytes; yield the entries now known to be complete."""
        self._buffer += data
        end = self._complete_end(self._buffer)
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
        first_line = self._line
        self._line += buf.count(b"\n", 0, end)
        if self._needles is None:
            yield from self._all_entries(buf, end, first_line)
        else:
            yield from self._matching_entries(buf, end, first_line)

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

    def _all_entries(self, buf: bytes, end: int, line: int) -> Iterator[RawEntry]:
        start = 0
        while start < end:
            stop = self._entry_end(buf, start, end)
            yield RawEntry(buf[start:stop], line)
            line += buf.count(b"\n", start, stop)
            start = stop

    def _matching_entries(self, buf: bytes, end: int, line: int) -> Iterator[RawEntry]:
        # The hot loop of a scan: one bytes.find per hit and needle, no per-line work. The needle search runs at
        # memory speed; everything else here runs once per matching entry only.
        find, rfind, count = buf.find, buf.rfind, buf.count
        needles = self._needles or ()
        continuation = self._continuation
        single = needles[0] if len(needles) == 1 else None
        hits = [find(n, 0, end) for n in needles]
        hit = hits[0] if single is not None else min([h for h in hits if h >= 0], default=-1)
        counted_to = 0
        while hit >= 0:
            start = rfind(b"\n", 0, hit) + 1
            if continuation is not None and buf[start : start + 1] == continuation:
                start = self._entry_start(buf, hit)
            stop = find(b"\n", hit, end) + 1 or end
            if continuation is not None and buf[stop : stop + 1] == continuation:
                stop = self._entry_end(buf, hit, end)
            line += count(b"\n", counted_to, start)
            counted_to = start
            yield RawEntry(buf[start:stop], line)
            if single is not None:
                hit = find(single, stop, end)
            else:
                hits = [h if h >= stop or h < 0 else find(n, stop, end) for h, n in zip(hits, needles, strict=True)]
                hit = min([h for h in hits if h >= 0], default=-1)


class CsvSplitter:
    """Cut whole csvlog rows out of a stream of bytes: a newline ends a row only outside double quotes."""

    def __init__(self, needles: tuple[bytes, ...] | None) -> None:
        self._needles = needles
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
                if self._needles is None or any(n in row for n in self._needles):
                    yield RawEntry(row, line)
                line += row.count(b"\n")
                start = scan
                quotes = 0
        if final and start < len(buf):
            row = buf[start:]
            if self._needles is None or any(n in row for n in self._needles):
                yield RawEntry(row, line)
            line += row.count(b"\n")
            start = len(buf)
        self._buffer = buf[start:]
        self._line = line
