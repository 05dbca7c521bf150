"""Split a byte stream into whole log entries, incrementally, looking only at the entries that matter.

Most of a busy server's log is not audit records. Decoding and matching every line would make the scan as slow as
Python's line loop; instead the splitter searches each block for a few literal strings (` AUDIT: `, the start of
a stderr message that matters at any verbosity; `"message":"AUDIT: ` in jsonlog) with SIMD instructions, and cuts
out only the entries they occur in. Entry boundaries are the format's own:

* stderr: a line that does not start with a TAB begins an entry; PostgreSQL puts a TAB after every newline
  inside a message, so continuation lines always start with one;
* jsonlog: one JSON object per line, newlines inside strings escaped.

The splitter is incremental (`feed`, then `finish`) so that a follower of a growing file can use it: an entry
is handed on only once the start of the next one shows that it is complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stringzilla

AUDIT_MARKER = "AUDIT: "
"""How pgAudit starts each record's message (and what a forger must write): records.pgaudit reads from here."""
AUDIT_NEEDLE = AUDIT_MARKER.encode()
CONNECTION_NEEDLE = b"connection"
AUTHORIZED_HEAD = b"connection authorized: "
MESSAGE_HEADS: tuple[bytes, ...] = (
    AUDIT_NEEDLE,
    b"connection received: ",
    AUTHORIZED_HEAD,
    b"disconnection: ",
)
"""The messages the pipeline reads: audit records, and the connection entries that start a backend, name its
user, and end it (which completes its last statement and frees its state)."""
RAISE_CONTEXT = b" at RAISE"
RAISE_CONTEXT_MESSAGE = re.compile(r"PL/pgSQL function .* at RAISE\s*$", re.DOTALL)
"""The whole CONTEXT message of a RAISE (what a CONTEXT entry holding RAISE_CONTEXT must be to mark a forged record)."""
"""How the CONTEXT of a message written by PL/pgSQL's RAISE ends its first line (`PL/pgSQL function
inline_code_block line 1 at RAISE`). pgAudit hides the context of its records, so a record with this context was
raised, not audited: in stderr, where CONTEXT is an entry of its own, readers look for it too."""


AUDITING_WORDS: tuple[bytes, ...] = (b"pgaudit", b"log_", b"logging", b"preload", b"set_config", b"reset", b"u&")
"""Words that every statement changing what is audited or logged contains, in some case: `pgaudit`, `log_`
(policy.catalog's AUDIT_SETTINGS: log_* and syslog_*), `logging`, `preload`, `set_config`, `reset` (`ALTER ...
RESET ALL`), `u&` (a name spelled in escapes). A test holds these words and the policy's settings together."""
_PGAUDIT, _LOG_, _LOGGING, _PRELOAD, _SET_CONFIG, _RESET, _ESCAPED = AUDITING_WORDS


def may_change_auditing(data: bytes) -> bool:
    """Whether a message holds one of AUDITING_WORDS, in any case. A service account's record holding one is never
    dropped unread (here, nor by the Logs Insights query): changing the audit trail is reported whoever does it,
    and the policy decides. It runs on every service account's record, so it is written for speed: a lowered
    copy and one SIMD search per word, about 7,000 instructions for a 200-byte statement (`in` or one regular
    expression of the words: about 19,500)."""
    low = data.lower()
    return (_find(low, _PGAUDIT) >= 0 or _find(low, _LOG_) >= 0 or _find(low, _LOGGING) >= 0
            or _find(low, _PRELOAD) >= 0 or _find(low, _SET_CONFIG) >= 0 or _find(low, _RESET) >= 0
            or _find(low, _ESCAPED) >= 0)  # fmt: skip


Needles = tuple[bytes, ...] | re.Pattern[bytes] | None
Cut = Callable[[bytes, int, int, int, int, int], Any]
"""What a splitter hands on for each entry, given the block, where the entry starts and ends in it, its line
number, where the entries before it that were not handed on begin (the end of the last one handed on; -1 when
the entry just before it was handed on: see `look_back`) and where the first needle occurs again inside the
entry (-1 if it does not): by default a RawEntry; None drops the
entry; a list is several items (an entry, and the Malformed one before it). A reader that parses the entry
straight from the block (reader.entry_splitter) never copies its bytes out first, and drops service accounts'
records unread."""

# Byte search and newline counting with SIMD: over a large log they are most of the bytes' cost, and the
# interpreter's own loops run them at a quarter of the speed (docs/benchmarks.md).
_find = stringzilla.find
_count = stringzilla.count
_NOWHERE = 1 << 62  # "no further match" for a needle, larger than any offset


def compile_needles(needles: Needles) -> re.Pattern[bytes] | None:
    """One pattern for a tuple of literal needles (or the pattern itself); None means every entry."""
    if needles is None or isinstance(needles, re.Pattern):
        return needles
    return re.compile(b"|".join(re.escape(n) for n in needles))


@dataclass(slots=True)
class RawEntry:
    """The bytes of one whole entry, and the 1-based line number where it starts.

    Treated as immutable; not `frozen`, which would make each (one per entry a scan reads) four times dearer."""

    data: bytes
    line: int


def raw_entry(buf: bytes, start: int, stop: int, line: int, before: int = -1, again: int = -1) -> RawEntry:
    """The default Cut: the entry's bytes, copied out of the block."""
    return RawEntry(buf[start:stop], line)


class EntrySplitter:
    """Cut whole entries in which one of `needles` (literal byte strings) occurs.

    `continuation` is the byte that marks a continuation line (TAB for stderr), or None when every line is an
    entry (jsonlog). With `needles=None` every entry is handed on. `cut` makes what is handed on of each entry.

    With `look_back`, a cut is also told where the entries before its entry that were not handed on begin: a
    stderr line that a newline in a role name cut off the record after it is found there (formats.previous_entry),
    where the cut looks. The last whole entry of a block is kept for the next one (`_behind`), so that the look
    reaches across the boundary, wherever the bytes were cut (the watcher feeds what was written since its last
    read).
    """

    def __init__(
        self,
        needles: tuple[bytes, ...] | None,
        continuation: bytes | None,
        cut: Cut = raw_entry,
        *,
        look_back: bool = False,
        first_line: int = 1,
    ) -> None:
        if needles is not None and (isinstance(needles, re.Pattern) or not needles or not all(needles)):
            raise ValueError("EntrySplitter takes non-empty literal needles")
        self._needles = needles
        self._rare = None if needles is None else _RareNeedles.of(needles[1:], needles)
        self._cut_out = cut
        self._continuation = continuation
        self._look_back = look_back and continuation is not None
        # a newline not followed by the continuation byte: where an entry ends (`end` itself is always a boundary)
        self._entry_break: Callable[[bytes, int, int], re.Match[bytes] | None] | None = None
        if continuation is not None:
            self._entry_break = re.compile(b"\n(?!" + re.escape(continuation) + b")").search
        self._buffer = b""
        self._behind = 0  # with look_back: the buffer's first bytes, an entry already cut, kept to look back at
        self._line = first_line  # line number of the byte after the `_behind` bytes of the buffer

    def feed(self, data: bytes) -> list[Any]:
        """Take more bytes; the entries now known to be complete (what `cut` made of each).

        The block itself is never copied: only the entry held back from the last block is joined with the
        start of this one, up to where this one starts a new entry (with `look_back`, up to the end of its first
        entry, so that this one can look back at the entry held back).
        """
        out: list[Any] = []
        begin = floor = 0
        head = b""
        if len(self._buffer) > self._behind:
            start = self._first_start(data)
            if start < 0:  # the held-back entry goes on through the whole block
                self._buffer += data
                return out
            begin = self._entry_end(data, start, len(data)) if self._look_back else start
            if begin >= len(data):  # the block's first entry is not known to be whole: it waits for the next
                begin = start
            head, behind, self._buffer = self._buffer + data[:begin], self._behind, b""
            self._cut(head, behind, len(head), out, 0)
            floor = start
        elif self._behind:  # only the entry kept to look back at (an empty block before): go on from it
            data, begin, self._buffer = self._buffer + data, self._behind, b""
        end = self._complete_end(data, begin)
        if end > begin:
            self._cut(data, begin, end, out, floor)
        if self._look_back and end > floor:  # the block's last whole entry, kept to look back at
            keep = self._entry_start(data, end - 1)
            self._buffer, self._behind = data[keep:], end - keep
        elif self._look_back and head:  # nothing whole in the block: the head's last entry is kept
            keep = self._entry_start(head, len(head) - 1)
            self._buffer, self._behind = head[keep:] + data[end:], len(head) - keep
        else:
            self._buffer, self._behind = data[end:], 0
        return out

    def finish(self) -> list[Any]:
        """End of input: the last entry is complete even without a newline after it."""
        out: list[Any] = []
        if len(self._buffer) > self._behind:
            buf, behind, self._buffer, self._behind = self._buffer, self._behind, b"", 0
            self._cut(buf, behind, len(buf), out, 0)
        return out

    @property
    def pending(self) -> int:
        """Bytes held back because the entry they belong to may not be complete yet (not the entry kept only to
        look back at: it is read)."""
        return len(self._buffer) - self._behind

    def _starts_entry(self, buf: bytes, pos: int) -> bool:
        """Whether a new entry starts at `pos`, just after a newline (False when the byte there is unknown)."""
        if self._continuation is None:
            return True
        return pos < len(buf) and buf[pos : pos + 1] != self._continuation

    def _first_start(self, data: bytes) -> int:
        """Where `data` first starts an entry after the held-back buffer, or -1 if it does not (yet)."""
        if self._buffer.endswith(b"\n") and data and self._starts_entry(data, 0):
            return 0
        nl = data.find(b"\n")
        while nl != -1:
            if self._starts_entry(data, nl + 1):
                return nl + 1
            nl = data.find(b"\n", nl + 1)
        return -1

    def _complete_end(self, buf: bytes, begin: int) -> int:
        """Offset just past the last complete entry in buf[begin:] (`begin` if none is known complete)."""
        nl = buf.rfind(b"\n", begin)
        while nl != -1:
            if self._starts_entry(buf, nl + 1):
                return nl + 1
            nl = buf.rfind(b"\n", begin, nl)
        return begin

    def _cut(self, buf: bytes, begin: int, end: int, out: list[Any], floor: int) -> None:
        """The entries of buf[begin:end], which holds whole entries, onto `out`; the line count moves to `end`.
        buf[floor:begin] holds entries already read, which the first entries may look back at."""
        if self._needles is None or self._rare is None:
            self._all_entries(buf, begin, end, out)
        else:
            self._matching_entries(buf, begin, end, self._needles[0], self._rare, out, floor)

    def _entry_end(self, buf: bytes, start: int, end: int) -> int:
        """Just past the newline that ends the entry going on at `start` (`end` if none does before it)."""
        if self._entry_break is None:
            nl = buf.find(b"\n", start, end)
            return end if nl == -1 else nl + 1
        found = self._entry_break(buf, start, end)  # one search over all of its continuation lines
        return end if found is None else found.start() + 1

    def _entry_start(self, buf: bytes, pos: int) -> int:
        start = buf.rfind(b"\n", 0, pos) + 1
        while self._continuation is not None and buf[start : start + 1] == self._continuation and start > 0:
            start = buf.rfind(b"\n", 0, start - 1) + 1
        return start

    def _all_entries(self, buf: bytes, begin: int, end: int, out: list[Any]) -> None:
        cut = self._cut_out
        start = begin
        while start < end:
            stop = self._entry_end(buf, start, end)
            if (item := cut(buf, start, stop, self._line, -1, -1)) is not None:
                if type(item) is list:
                    out.extend(item)
                else:
                    out.append(item)
            self._line += buf.count(b"\n", start, stop)
            start = stop

    def _matching_entries(
        self, buf: bytes, begin: int, end: int, first: bytes, rare: _RareNeedles, out: list[Any], floor: int
    ) -> None:
        # The hot loop of a scan: one SIMD search per hit of the first needle (the frequent one, audit records),
        # the other needles' few hits found beforehand, newlines counted once, no per-line work.
        find, count, rfind = _find, _count, buf.rfind
        tab = -1 if self._continuation is None else self._continuation[0]
        cut, append = self._cut_out, out.append
        size = len(first)
        look_back = self._look_back
        next_first = p if (p := find(buf, first, begin, end)) >= 0 else _NOWHERE
        others = rare.hits(buf, begin, end)
        others.append(_NOWHERE)
        next_other = others[0]
        index = 0
        counted_to = begin
        handed_to = floor  # the end of the last entry handed on: the entry that starts there needs no look back
        line = self._line
        while (hit := next_first if next_first < next_other else next_other) < end:
            start = rfind(b"\n", begin, hit) + 1 or begin
            if buf[start] == tab:  # the hit is on a continuation line: its entry starts further back
                start = max(self._entry_start(buf, hit), begin)
            stop = find(buf, b"\n", hit, end) + 1 or end
            if stop < end and buf[stop] == tab:
                stop = self._entry_end(buf, stop, end)
            line += count(buf, b"\n", counted_to, start)
            counted_to = start
            if next_first == hit:  # found from the hit on, not from the entry's end: is there a second one in it?
                next_first = p if (p := find(buf, first, hit + size, end)) >= 0 else _NOWHERE
            again = next_first if next_first < stop else -1
            before = handed_to if look_back and start != handed_to else -1
            if (item := cut(buf, start, stop, line, before, again)) is not None:
                if type(item) is list:
                    out.extend(item)
                else:
                    append(item)
            handed_to = stop
            if next_first < stop:  # hits inside the entry just cut are part of it
                next_first = p if (p := find(buf, first, stop, end)) >= 0 else _NOWHERE
            while next_other < stop:
                index += 1
                next_other = others[index]
        self._line = line + count(buf, b"\n", counted_to, end)


@dataclass(frozen=True, slots=True)
class _RareNeedles:
    """How a splitter finds its rare needles (all but the first) in a block.

    A SIMD scan of a block costs the same whatever it finds (0.1 s per GiB here), so each needle scanned on its own
    costs that much. Needles that share a string of 4 bytes or more, besides the prefix every needle starts with
    (` ` before a stderr message, which every line has), are found by one scan for that string, each of its few
    hits checked against them: `connection` for the three connection messages. A needle that shares none (RAISE's
    context) is scanned on its own.
    """

    groups: tuple[tuple[bytes | None, tuple[tuple[bytes, int], ...]], ...]
    """(anchor, each needle and where the anchor lies in it), or (None, ((needle, 0),)) for a needle alone."""

    @classmethod
    def of(cls, rare: tuple[bytes, ...], every: tuple[bytes, ...]) -> _RareNeedles:
        prefix = _common_prefix_length(every)
        groups: list[tuple[bytes | None, tuple[tuple[bytes, int], ...]]] = []
        left = list(rare)
        while left:
            first = left[0]
            group = [n for n in left if len(_longest_common_substring([first[prefix:], n[prefix:]])) >= 4]
            anchor = _longest_common_substring([n[prefix:] for n in group]) if len(group) > 1 else b""
            if len(anchor) < 4:
                group, anchor = [first], b""
            left = [n for n in left if n not in group]
            if not anchor:
                groups.append((None, ((first, 0),)))
                continue
            placed = tuple((n, at) for n in group for at in range(len(n) - len(anchor) + 1) if n.startswith(anchor, at))
            groups.append((anchor, placed))
        return cls(tuple(groups))

    def hits(self, buf: bytes, begin: int, end: int) -> list[int]:
        """Where each of the needles starts in buf[begin:end] (the whole needle inside it), in order."""
        hits: list[int] = []
        for anchor, placed in self.groups:
            if anchor is None:
                needle = placed[0][0]
                at = _find(buf, needle, begin, end)
                while at >= 0:
                    hits.append(at)
                    at = _find(buf, needle, at + 1, end)
                continue
            at = _find(buf, anchor, begin, end)
            while at >= 0:
                for needle, offset in placed:
                    start = at - offset
                    if start >= begin and start + len(needle) <= end and buf.startswith(needle, start):
                        hits.append(start)
                at = _find(buf, anchor, at + 1, end)
        return sorted(set(hits))


def _common_prefix_length(strings: tuple[bytes, ...]) -> int:
    shortest = min(strings, key=len)
    size = 0
    while size < len(shortest) and all(s[size] == shortest[size] for s in strings):
        size += 1
    return size


def _longest_common_substring(strings: list[bytes]) -> bytes:
    """The longest byte string found in each of `strings` (a few short needles: plain search is enough)."""
    shortest = min(strings, key=len)
    for size in range(len(shortest), 0, -1):
        for at in range(len(shortest) - size + 1):
            candidate = shortest[at : at + size]
            if all(candidate in s for s in strings):
                return candidate
    return b""


class CsvSplitter:
    """Cut whole csvlog rows out of a stream of bytes: a newline ends a row only outside double quotes."""

    def __init__(self, needles: Needles, cut: Cut = raw_entry, *, first_line: int = 1) -> None:
        self._pattern = compile_needles(needles)
        self._cut_out = cut
        self._buffer = b""
        self._line = first_line

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        return self._rows(final=False)

    def finish(self) -> list[Any]:
        return self._rows(final=True)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _rows(self, *, final: bool) -> list[Any]:
        out: list[Any] = []
        cut, pattern = self._cut_out, self._pattern
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
                if (pattern is None or pattern.search(row)) and (
                    item := cut(buf, start, scan, line, -1, -1)
                ) is not None:
                    out.append(item)
                line += row.count(b"\n")
                start = scan
                quotes = 0
        if final and start < len(buf):
            row = buf[start:]
            if (pattern is None or pattern.search(row)) and (
                item := cut(buf, start, len(buf), line, -1, -1)
            ) is not None:
                out.append(item)
            line += row.count(b"\n")
            start = len(buf)
        self._buffer = buf[start:]
        self._line = line
        return out
