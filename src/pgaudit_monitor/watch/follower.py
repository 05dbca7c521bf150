"""Follow PostgreSQL log files as they are written: which bytes are new, and where it is safe to resume.

A PATH is a log file or a log directory. A file is known by its identity (device and inode) and a fingerprint of
its first bytes, never by its name, so that it is recognized after a rename (rotation), and a recreated file or a
reused inode is not. What the follower handles:

* growth: new bytes go through the format's splitter, which hands on only whole entries;
* an entry half-written at the end of a file waits for its end. In stderr format the end of an entry is known only
  when the next one starts; a file that stays quiet (`settle_seconds`) after a newline has its last entry
  complete, because the logging collector writes each message whole;
* rotation: in a directory, new files are picked up and old ones read to their end first; a followed file that
  is renamed or deleted is drained through its still-open descriptor for `detach_grace_seconds` after it stops
  growing; a file replaced at the same path is a new file, read from its start;
* truncation (copytruncate): a file that shrinks is read again from its start.

Checkpoints: a file's checkpoint is the offset before which everything is done. It only moves past whole entries,
and never past the first entry of a statement still open in the pipeline (its other records may follow), so that
a restart reads that statement again whole. Detections counted after a checkpoint are recognized on the replay by
their key (file identity, line).
"""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import CompiledPrefix
from pgaudit_monitor.entries.reader import (
    LogFormat,
    Splitter,
    default_stream,
    entry_splitter,
    needles_for,
    sniff_format,
)
from pgaudit_monitor.watch.state import FilePosition

READ_LIMIT = 8 << 20  # bytes read from one file per poll: a backlog is read in steps that each commit
HEAD_LEN = 1024  # bytes of a file's start that fingerprint it
SUFFIXES = (".json", ".csv", ".log")  # PostgreSQL's log files, structured formats first

Log = Callable[[str], None]


@dataclass(frozen=True)
class FollowOptions:
    settle_seconds: float = 0.3
    detach_grace_seconds: float = 5.0
    close_idle_seconds: float = 60.0  # a quiet file's descriptor is closed, and opened again when it grows
    start_at_end: bool = False  # first run only: skip what the files already hold
    pattern: str | None = None  # which files of a directory to follow (default: PostgreSQL's, one format)


def identity(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


def _fingerprint(fd: int, length: int) -> tuple[int, str]:
    head = os.pread(fd, length, 0)
    return len(head), hashlib.sha256(head).hexdigest()


class TrackedFile:
    """One file being followed: its descriptor, its splitter, how far it is read, and its checkpoint."""

    def __init__(self, path: str, root: str, key: str, label: str, prefix: CompiledPrefix) -> None:
        self.path, self.root, self.key, self.label = path, root, key, label
        self.prefix = prefix
        self.stream = default_stream(path)
        self.fd: int | None = None
        self.fmt: LogFormat | None = None
        self.splitter: Splitter | None = None
        self.read_offset = 0
        self.base_line = 1  # line number of the byte where the splitter started
        self.newlines = 0  # newlines fed to the splitter
        self.tail = b""  # the bytes the splitter holds back (an entry not known to be complete)
        self.marks: list[tuple[int, int]] = [(0, 1)]  # (offset, line) of entry boundaries since the checkpoint
        self.checkpoint = (0, 1)
        self.head_len, self.head_hash = 0, ""
        self.size = 0
        self.last_growth = 0.0
        self.detached = False  # renamed away or deleted: drained, then dropped
        self.done = False
        self.dirty = True
        self.reset_count = 0  # truncations seen: the watcher forgets its counted keys for this file

    # -- opening -------------------------------------------------------------------------------------------
    def open(self) -> bool:
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return False
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def matches(self, position: FilePosition) -> bool:
        """Is this the file the position was saved for (and not a new file on a reused inode)?"""
        if self.fd is None:
            return False
        length, digest = _fingerprint(self.fd, position.head_len)
        return (
            length == position.head_len
            and digest == position.head_hash
            and os.fstat(self.fd).st_size >= position.offset
        )

    def resume(self, offset: int, line: int) -> None:
        self.read_offset, self.base_line = offset, line
        self.checkpoint = (offset, line)
        self.marks = [(offset, line)]
        if self.fd is not None:
            self.head_len, self.head_hash = _fingerprint(self.fd, HEAD_LEN)
        if self.fmt is not None:  # (read from the start so far: number the entries from here)
            self._new_splitter()

    def start_at_end(self) -> None:
        """Skip what the file holds, up to its last newline (lines counted, so that keys stay comparable)."""
        assert self.fd is not None
        offset = line = 0
        size = os.fstat(self.fd).st_size
        last_newline = -1
        while offset < size:
            block = os.pread(self.fd, 1 << 20, offset)
            if not block:
                break
            line += block.count(b"\n")
            found = block.rfind(b"\n")
            if found >= 0:
                last_newline = offset + found
            offset += len(block)
        end = last_newline + 1
        self.resume(end, line + 1 if end else 1)

    # -- reading -------------------------------------------------------------------------------------------
    def read(self, now: float, settle: float) -> list[LogEntry | Malformed]:
        """The entries completed by what was written since the last read."""
        if not self.open():
            return []
        assert self.fd is not None
        items: list[LogEntry | Malformed] = []
        size = os.fstat(self.fd).st_size
        if size < self.read_offset or (size != self.size and self._head_changed()):
            # Truncated in place (copytruncate), even if already written past the old size: the new content.
            items += self._flush(force=True)
            self._restart_at_zero()
        self.size = size
        if self.head_len < HEAD_LEN and size > self.head_len:
            self.head_len, self.head_hash = _fingerprint(self.fd, HEAD_LEN)
            self.dirty = True
        if size > self.read_offset and (self.fmt is not None or self._sniff()):
            data = os.pread(self.fd, min(size - self.read_offset, READ_LIMIT), self.read_offset)
            if data:
                self.last_growth = now
                items += self._feed(data)
        elif self.tail and now - self.last_growth >= settle and self.tail.endswith(b"\n"):
            items += self._flush(force=False)
        return items

    def _head_changed(self) -> bool:
        assert self.fd is not None
        return self.head_len > 0 and _fingerprint(self.fd, self.head_len)[1] != self.head_hash

    def drain_finished(self, now: float, grace: float) -> list[LogEntry | Malformed]:
        """A detached file quiet for `grace`: whatever it still holds is its last entry."""
        self.done = True
        self.dirty = True
        items = self._flush(force=True)
        self.close()
        return items

    def _sniff(self) -> bool:
        assert self.fd is not None
        head = os.pread(self.fd, 65536, 0)
        if b"\n" not in head:
            return False  # not even one whole line yet
        self.fmt = sniff_format(head)
        self._new_splitter()
        return True

    def _new_splitter(self) -> None:
        """The format's reader, its entries numbered from the line where reading starts."""
        assert self.fmt is not None
        self.splitter = entry_splitter(
            self.fmt, self.prefix, needles_for(self.fmt), source=self.label, stream=self.stream,
            first_line=self.base_line,
        )  # fmt: skip

    def _feed(self, data: bytes) -> list[LogEntry | Malformed]:
        self.read_offset += len(data)
        self.newlines += data.count(b"\n")
        assert self.splitter is not None
        items: list[LogEntry | Malformed] = self.splitter.feed(data)
        pending = self.splitter.pending
        joined = self.tail + data if self.tail else data
        self.tail = joined[len(joined) - pending :] if pending else b""
        self._mark()
        return items

    def _flush(self, *, force: bool) -> list[LogEntry | Malformed]:
        if self.splitter is None or not (self.tail or force):
            return []
        items: list[LogEntry | Malformed] = self.splitter.finish()
        self.tail = b""
        self._mark()
        return items

    def _mark(self) -> None:
        boundary = (self.read_offset - len(self.tail), self.base_line + self.newlines - self.tail.count(b"\n"))
        if boundary[0] > self.marks[-1][0]:
            self.marks.append(boundary)
            self.dirty = True

    def _restart_at_zero(self) -> None:
        self.read_offset, self.base_line, self.newlines, self.tail = 0, 1, 0, b""
        if self.fmt is not None:
            self._new_splitter()
        self.marks, self.checkpoint = [(0, 1)], (0, 1)
        self.head_len, self.head_hash = 0, ""
        self.reset_count += 1
        self.dirty = True

    # -- checkpoints ---------------------------------------------------------------------------------------
    @property
    def boundary(self) -> tuple[int, int]:
        return self.marks[-1]

    def locate(self, line: int) -> tuple[int, int]:
        """The offset where line `line` starts (an entry's first line), found from the nearest boundary."""
        index = bisect.bisect_right([m[1] for m in self.marks], line) - 1
        offset, at = self.marks[max(index, 0)]
        if at >= line or self.fd is None:
            return (offset, at)
        while at < line:
            block = os.pread(self.fd, 1 << 20, offset)
            if not block:
                break
            start = 0
            while at < line:
                found = block.find(b"\n", start)
                if found < 0:
                    break
                start, at = found + 1, at + 1
            offset += start if at == line else len(block)
            if at == line:
                break
        return (offset, at)

    def move_checkpoint(self, open_lines: Iterable[int]) -> None:
        """Past every whole entry, but not past the first entry of a statement still open."""
        lines = list(open_lines)
        point = self.boundary
        if lines:
            point = min(point, self.locate(min(lines)))
        if point != self.checkpoint:
            self.checkpoint = point
            self.dirty = True
        self.marks = [point] + [m for m in self.marks if m[0] > point[0]]

    def position(self, now: float) -> FilePosition:
        offset, line = self.checkpoint
        return FilePosition(
            self.key,
            self.path,
            self.root,
            offset,
            line,
            self.head_len,
            self.head_hash,
            self.read_offset,
            self.size,
            now,
        )


class Follower:
    """Every file under the watched PATHs, read in order; checkpoints for the state database."""

    def __init__(
        self,
        roots: list[str],
        prefix: CompiledPrefix,
        options: FollowOptions,
        positions: list[FilePosition],
        *,
        first_run: bool,
        suffixes: dict[str, str],
        log: Log,
    ) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self.prefix, self.options, self.log = prefix, options, log
        self.stored = {p.key: p for p in positions}
        self.first_run = first_run
        self.suffixes = suffixes  # directory -> the one suffix followed there (persisted by the watcher)
        self.files: dict[str, TrackedFile] = {}
        self.labels: dict[str, TrackedFile] = {}
        self.forgotten: list[str] = []  # keys of files dropped since the last checkpoint
        self.resets: list[str] = []  # keys of files truncated since the last checkpoint
        self._recover_renamed()

    # -- discovery -----------------------------------------------------------------------------------------
    def _label(self, path: str) -> str:
        label, n = path, 1
        while label in self.labels:
            n += 1
            label = f"{path}#{n}"
        return label

    def _track(self, path: str, root: str, st: os.stat_result, *, detached: bool = False) -> TrackedFile | None:
        key = identity(st)
        tracked = TrackedFile(path, root, key, self._label(path), self.prefix)
        if not tracked.open():
            return None
        stored = self.stored.pop(key, None)
        if stored is not None and tracked.matches(stored):
            tracked.resume(stored.offset, stored.line)
        elif self.first_run and self.options.start_at_end:
            tracked.start_at_end()
        else:
            if stored is not None:
                self.log(f"{path}: a new file where a followed one was (inode reused): reading it from its start")
                self.resets.append(key)
            tracked.resume(0, 1)
        tracked.detached = detached
        self.files[key] = tracked
        self.labels[tracked.label] = tracked
        self.log(f"following {path} from offset {tracked.read_offset}")
        return tracked

    def _recover_renamed(self) -> None:
        """A followed file renamed while the watcher was stopped: find it beside its old path, drain it."""
        for position in list(self.stored.values()):
            if os.path.isdir(position.root):
                continue  # files of a directory are found by listing it
            try:
                current = identity(os.stat(position.root))
            except OSError:
                current = ""
            if current == position.key:
                continue
            directory = os.path.dirname(position.path)
            for entry in _scandir(directory):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if identity(st) == position.key:
                    self._track(entry.path, position.root, st, detached=True)
                    break

    def _suffix(self, root: str, entries: list[os.DirEntry[str]]) -> str | None:
        if root in self.suffixes:
            return self.suffixes[root]
        newest: dict[str, float] = {}
        for entry in entries:
            for suffix in SUFFIXES:
                if entry.name.endswith(suffix):
                    try:
                        newest[suffix] = max(newest.get(suffix, 0.0), entry.stat().st_mtime)
                    except OSError:  # gone since the listing
                        continue
        if not newest:
            return None
        latest = max(newest.values())
        chosen = next(s for s in SUFFIXES if newest.get(s, -1.0) >= latest - 60)
        self.suffixes[root] = chosen
        self.log(f"{root}: following its *{chosen} files")
        return chosen

    def _discover(self) -> None:
        present: set[str] = set()
        for root in self.roots:
            if os.path.isdir(root):
                present |= self._discover_directory(root)
            else:
                present |= self._discover_file(root)
        for key, tracked in self.files.items():
            if key not in present and not tracked.detached:
                tracked.detached = True
                self.log(f"{tracked.path}: renamed or deleted; reading it to its end")

    def _discover_directory(self, root: str) -> set[str]:
        entries = [e for e in _scandir(root) if _is_file(e)]
        pattern = self.options.pattern
        if pattern is None:
            suffix = self._suffix(root, entries)
            if suffix is None:
                return set()
            pattern = f"*{suffix}"
        present: set[str] = set()
        new: list[tuple[float, str, os.stat_result]] = []
        for entry in entries:
            if not fnmatch.fnmatch(entry.name, pattern):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            key = identity(st)
            present.add(key)
            tracked = self.files.get(key)
            if tracked is None:
                new.append((st.st_mtime, entry.path, st))
            elif tracked.path != entry.path:
                tracked.path, tracked.dirty = entry.path, True
        for _, path, st in sorted(new):
            self._track(path, root, st)
        return present

    def _discover_file(self, root: str) -> set[str]:
        try:
            st = os.stat(root)
        except OSError:
            return set()
        key = identity(st)
        if key not in self.files:
            self._track(root, root, st)
        return {key}

    # -- reading -------------------------------------------------------------------------------------------
    def poll(self, now: float) -> list[LogEntry | Malformed]:
        """Every entry completed since the last poll, older files first."""
        self._discover()
        if self.stored:  # saved positions of files that are gone: nothing left to read in them
            self.forgotten += list(self.stored)
            self.stored.clear()
        options = self.options
        items: list[LogEntry | Malformed] = []
        for tracked in sorted(self.files.values(), key=lambda t: not t.detached):
            if tracked.detached and tracked.fd is None:
                tracked.done = True
                continue
            before = tracked.reset_count
            items += tracked.read(now, options.settle_seconds)
            if tracked.reset_count != before:
                self.log(f"{tracked.path}: truncated; reading it again from its start")
                self.resets.append(tracked.key)
            quiet = now - tracked.last_growth
            if tracked.detached and quiet >= options.detach_grace_seconds:
                items += tracked.drain_finished(now, options.detach_grace_seconds)
            elif quiet >= options.close_idle_seconds and not tracked.tail and tracked.read_offset >= tracked.size:
                tracked.close()
        return items

    def file_for(self, label: str) -> TrackedFile | None:
        return self.labels.get(label)

    def checkpoint(self, open_entries: Iterable[LogEntry], now: float) -> tuple[list[FilePosition], list[str]]:
        """Move checkpoints; the positions that changed, and the keys of files no longer followed."""
        open_lines: dict[str, list[int]] = {}
        for entry in open_entries:
            open_lines.setdefault(entry.source, []).append(entry.line)
        changed: list[FilePosition] = []
        for key, tracked in list(self.files.items()):
            if tracked.done and tracked.label not in open_lines:  # kept while a statement begun in it is open
                del self.files[key]
                self.forgotten.append(key)
                continue
            tracked.move_checkpoint(open_lines.get(tracked.label, ()))
            if tracked.dirty:
                changed.append(tracked.position(now))
                tracked.dirty = False
        forgotten, self.forgotten = self.forgotten, []
        return changed, forgotten

    def take_resets(self) -> list[str]:
        resets, self.resets = self.resets, []
        return resets

    def close(self) -> None:
        for tracked in self.files.values():
            tracked.close()


def _scandir(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return list(it)
    except OSError:
        return []


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file() and not entry.name.endswith((".gz", ".tmp", ".swp"))
    except OSError:
        return False
