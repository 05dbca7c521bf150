"""Read a large log file, and parse its pgAudit records, in a second process: reading and judging use two cores.

A scan has two halves of about equal cost: finding the entries that matter in the file's bytes (the needle
search, line counting, the prefix, dropping service accounts' records unread, decoding, reading the pgAudit
fields) and judging them (grouping records into statements, the policy, the output). Judging is sequential by
nature: a statement's records must be grouped in log order. Reading is not tied to it, so a child process reads
the file with the very same reader (`read_batches`, which is `read_file` a block at a time), parses each audit
record with the very same `parse_record`, and hands both over in batches, in order, while the parent judges. The
entries, their order and their line numbers are exactly what `read_file` yields in one process (each with its
`record` parsed); only the wall time changes. A record the child cannot parse is left unparsed: the pipeline
parses it again and reports it, in its place. What crosses, and how, is written once: `encode` and `decode`.

The child is forked, so it shares the parent's compiled prefix and service-account check without pickling them;
where fork does not exist, or the file is small, or is standard input, `read_entries` reads in-process.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import marshal
import multiprocessing
import os
import signal
import stat
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import CompiledPrefix
from pgaudit_monitor.entries.reader import STDIN, SkipUser, read_batches, read_file
from pgaudit_monitor.errors import InputError, RecordError
from pgaudit_monitor.records.pgaudit import AuditRecord, is_audit_message, record_fields

MIN_BACKGROUND_BYTES = 32 << 20
"""Below this size a second process costs more than it saves."""

_DONE, _FAILED = "done", "failed"


def read_entries(
    path: str,
    prefix: CompiledPrefix,
    *,
    skip_user: SkipUser | None = None,
    min_bytes: int = MIN_BACKGROUND_BYTES,
) -> Iterator[LogEntry | Malformed]:
    """The entries `read_file` yields for `path`, read in a child process when the file has `min_bytes` or more.

    Raises InputError, as read_file does, when the file cannot be opened or read (in either process).
    """
    if _worth_a_process(path, min_bytes):
        yield from _read_in_child(path, prefix, skip_user)
    else:
        yield from read_file(path, prefix, skip_user=skip_user)


def _worth_a_process(path: str, min_bytes: int) -> bool:
    if path == STDIN or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False  # read_file reports it, in-process, with the usual message
    return stat.S_ISREG(info.st_mode) and info.st_size >= min_bytes


def _read_in_child(path: str, prefix: CompiledPrefix, skip_user: SkipUser | None) -> Iterator[LogEntry | Malformed]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    _widen(sender)
    child = context.Process(target=_child, args=(sender, path, prefix, skip_user), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                message = marshal.loads(receiver.recv_bytes())  # noqa: S302 (from our own child, over our own pipe)
            except EOFError:
                raise InputError(f"{path}: the reading process ended unexpectedly ({_how_it_ended(child)})") from None
            if type(message) is list:  # a batch: one block's entries, in order
                for item in message:
                    yield decode(item)
            elif message[0] == _DONE:
                return
            else:  # _FAILED
                raise InputError(message[1])
    finally:
        receiver.close()
        if child.is_alive():  # the consumer stopped early (an error, ^C): the child has nothing left to do
            child.terminate()
        child.join()


PIPE_BYTES = 1 << 20
"""The pipe's capacity, where the system lets it be set (Linux: up to /proc/sys/fs/pipe-max-size, 1 MiB by
default). A batch (the entries of one 4 MiB block, some 400 KB here) then crosses in one read instead of
seven of the default 64 KiB: the parent's CPU for receiving 1 GiB's batches goes from 0.14 s to 0.03 s."""


def _widen(end: Connection) -> None:
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setter is None:
        return
    with contextlib.suppress(OSError):  # not allowed this large here: the default capacity works, only slower
        fcntl.fcntl(end.fileno(), setter, PIPE_BYTES)


def _how_it_ended(child: Any) -> str:
    child.join(5)
    code = child.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit status {code}"


def _child(sender: Connection, path: str, prefix: CompiledPrefix, skip_user: SkipUser | None) -> None:
    # ^C reaches the whole process group: the parent handles it (and ends this process), the child stays quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What this process makes (entries, their fields) is freed as soon as it is sent, and holds no reference
    # cycle: the cyclic collector would only walk it, again and again (3% of this process's instructions).
    gc.disable()
    try:
        for batch in read_batches(path, prefix, skip_user=skip_user):  # one block's entries
            _send(sender, [encode(item) for item in batch])
        _send(sender, (_DONE,))
    except InputError as exc:
        _send(sender, (_FAILED, str(exc)))
    except BrokenPipeError:
        pass  # the parent stopped reading
    finally:
        sender.close()


# -- what crosses the pipe ------------------------------------------------------------------------------------------
# marshal, not pickle: the messages are lists of tuples of strings, integers and None, which marshal writes and
# reads in about half of pickle's time (both processes pay it once per entry). Each item says what it is first.
_ENTRY, _MALFORMED = 0, 1


def encode(item: LogEntry | Malformed) -> tuple[Any, ...]:
    """An entry as (_ENTRY, its record's fields or None, its own fields but the record), its pgAudit record read
    here (None: not a record, or not one that parses, which the pipeline then reports in its place); a Malformed
    as (_MALFORMED, its fields)."""
    if type(item) is Malformed:
        return (_MALFORMED, *item.fields())
    assert isinstance(item, LogEntry)  # (for the type checker: `type() is` is the faster test)
    record = None
    if is_audit_message(item.message):
        with contextlib.suppress(RecordError):
            record = record_fields(item.message)
    return (_ENTRY, record, *item.fields()[:-1])


def decode(item: tuple[Any, ...]) -> LogEntry | Malformed:
    """What `encode` made, back: the same entry, its record built from the fields sent."""
    if item[0] == _ENTRY:
        record = item[1]
        return LogEntry(*item[2:], None if record is None else AuditRecord(*record))  # type: ignore[call-arg]
    return Malformed(*item[1:])


def _send(sender: Connection, message: Any) -> None:
    sender.send_bytes(marshal.dumps(message))
