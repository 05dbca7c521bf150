"""Parse one raw entry of each PostgreSQL log format into a LogEntry.

Each parser takes the bytes of a whole entry (as the splitters cut them) and returns a LogEntry, or a Malformed
naming the reason; for stderr, `stderr_cut` does the same straight from a block, for readers of whole files.
None of them raises on bad input: a log can hold anything, and the monitor must go on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import stringzilla

from pgaudit_monitor.entries.model import AMBIGUOUS_USER, EXCERPT, LogEntry, Malformed
from pgaudit_monitor.entries.prefix import SQLSTATE_BYTES, CompiledPrefix
from pgaudit_monitor.entries.splitting import AUDIT_NEEDLE, Cut, may_change_auditing

_find = stringzilla.find
_SEVERITY_MARK = b":  "  # what follows the severity on every entry's first line, at any verbosity

"""Given an entry's message, what goes in the `record` field of its tuple (see stderr_cut)."""

UNKNOWN = "[unknown]"  # what PostgreSQL writes for a user or database not yet known (before authentication)
UNKNOWN_BYTES = UNKNOWN.encode()


def _decode(data: bytes) -> str:
    # A log mixes encodings when databases do; undecodable bytes must not stop the scan.
    return data.decode("utf-8", errors="replace")


class _BadField(ValueError):
    """A field of a structured entry with a value of the wrong kind."""


def _known(value: Any, name: str = "field") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadField(f"{name} is not a string")
    return None if value in ("", UNKNOWN) else value


def _int(value: Any) -> int | None:
    """An integer field, or None: absent, empty, or not a number PostgreSQL could have written."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_stderr(
    data: bytes, prefix: CompiledPrefix, *, source: str, line: int, stream: str = ""
) -> LogEntry | Malformed:
    """One stderr-format entry: the prefix line, and continuation lines that PostgreSQL started with a TAB.

    An entry whose prefix reads more than one way (see stderr_cut) comes out as its first reading, with user `?`.
    """
    fields = stderr_fields(data, prefix, source=source, line=line, stream=stream)
    return fields if isinstance(fields, Malformed) else LogEntry(*fields)


@lru_cache(maxsize=32)
def _field_groups(head: re.Pattern[bytes]) -> tuple[int, ...]:
    """The group number in `head` of each field stderr_fields reads (see _STDERR_FIELDS), -1 where it has none."""
    return tuple(head.groupindex.get(name, 0) - 1 for name in _STDERR_FIELDS)


_STDERR_FIELDS: tuple[str, ...] = ("level", "time", "user", "database", "pid", "remote", "remote_host")
_STDERR_FIELDS += ("application_name", "session_id", "session_line", "leader_pid")


def stderr_fields(
    data: bytes, prefix: CompiledPrefix, *, source: str, line: int, stream: str = ""
) -> tuple[Any, ...] | Malformed:
    """The fields of one stderr-format entry's LogEntry, in its declaration order, or why it is malformed (the
    first reading, where its prefix reads more than one way: see stderr_readings)."""
    return stderr_readings(data, prefix, source=source, line=line, stream=stream)[0]


def stderr_readings(
    data: bytes, prefix: CompiledPrefix, *, source: str, line: int, stream: str = ""
) -> list[tuple[Any, ...] | Malformed]:
    """Every reading of one stderr-format entry, as LogEntry fields (or the Malformed it is): one, unless its
    prefix reads more than one way (see stderr_cut), when each reading that is an audit record has user `?`.
    For readers that cut entries out first and parse them later (the follower): none of them may be lost."""
    match = prefix.head.match(data)
    if match is None:
        return [_unmatched(data, prefix, source, line)]
    at = message_start(data, match.end())
    if not data.startswith(AUDIT_NEEDLE, at) or data.count(AUDIT_NEEDLE) > 1:
        suspect = _suspect(prefix, match, at, data, 0, len(data), line, -1, True, source, stream)
        if suspect:
            return suspect
    return [_stderr_entry(match, data, at, len(data), _field_groups(prefix.head), source, line, stream)]


def message_start(buf: bytes, at: int) -> int:
    """Where the message starts, `at` being the end of the severity's `:  `: after the SQLSTATE that
    log_error_verbosity = verbose writes there (`LOG:  00000: AUDIT: ...`), so that a message reads the same at
    every verbosity. A record of default verbosity never gets here (the readers test for `AUDIT: ` first)."""
    if buf[at + 5 : at + 7] == b": " and SQLSTATE_BYTES.match(buf, at) is not None:
        return at + 7
    return at


def stderr_cut(
    prefix: CompiledPrefix,
    *,
    source: str,
    stream: str = "",
    skip_user: Callable[[bytes], bool] | None = None,
) -> Cut:
    """The splitter's Cut for stderr: each entry parsed where it lies in the block, without copying it out first.

    `skip_user` (given the raw bytes of the prefix's user) drops an audit record unread when it is true: most of
    a scan's records can be service accounts', and this way they cost one match of the prefix. The answer for
    each user's bytes is kept (a log has few users; up to 4,096, then asked again). An audit record whose user
    the prefix does not show is never dropped here (the pipeline decides with the backend's user).

    PostgreSQL writes %u, %d and %a raw, so a name can hold a newline or what looks like the rest of a prefix. An
    entry is read more closely (see _suspect) when the splitter saw the first needle twice in it (`again`), when
    it is not an audit record where its message starts, or when the entry before it was not read (`before`) and
    lacks a severity: a line that starts like an entry but does not parse is reported as Malformed, and every
    reading of an entry whose prefix reads more than one way comes out with user `?`, never dropped as a service
    account's. The entry before is looked at only where it can change what is dropped: before a record about to
    be dropped unread (a record the reader keeps is reported whatever the line before it), or before every
    record when nothing is (`skip_user` None).
    """
    head = prefix.head.match
    groups = _field_groups(prefix.head)
    i_user = groups[2]
    skip = None if skip_user is None or i_user < 0 else skip_user
    known: dict[bytes, bool] = {}

    def cut(buf: bytes, start: int, stop: int, line: int, before: int = -1, again: int = -1) -> Any:
        match = head(buf, start, stop)
        if match is None:
            malformed = _unmatched(buf[start:stop], prefix, source, line)
            return malformed
        at = match.end()
        record = buf.startswith(AUDIT_NEEDLE, at)
        if not record:  # (or one of log_error_verbosity = verbose, after its SQLSTATE)
            at = message_start(buf, at)
            record = buf.startswith(AUDIT_NEEDLE, at)
        if not record or again >= 0:  # not a record where its message starts, or `AUDIT: ` twice: look closer
            return closer(
                match, buf, start, stop, line, -1 if before < 0 else previous_entry(buf, before, start), again
            )
        if skip is not None:
            user = match.group(i_user + 1)
            if user is not None:
                dropped = known.get(user)
                if dropped is None:
                    if len(known) >= 4096:
                        known.clear()
                    dropped = known[user] = skip(user)
                if dropped and not may_change_auditing(buf[match.end() : stop]):
                    # Dropped unread, unless the entry before it (not read: it held no needle) lacks the `:  `
                    # after a severity that every whole entry has: the first half of this one's prefix?
                    if before < 0:
                        return None
                    before = previous_entry(buf, before, start)
                    if _find(buf, _SEVERITY_MARK, before, start) >= 0:
                        return None
                    return closer(match, buf, start, stop, line, before, again)
        elif before >= 0:
            before = previous_entry(buf, before, start)
            if _find(buf, _SEVERITY_MARK, before, start) < 0:
                return closer(match, buf, start, stop, line, before, again)
        return LogEntry(*_stderr_entry(match, buf, at, stop, groups, source, line, stream))

    def closer(match: re.Match[bytes], buf: bytes, start: int, stop: int, line: int, before: int, again: int) -> Any:
        """The rare cases: what _suspect makes of the entry, else the entry as read (a record is then not dropped:
        only the common path drops one unread, and this one is a record of a prefix that reads one way)."""
        at = message_start(buf, match.end())
        record = buf.startswith(AUDIT_NEEDLE, at)
        shifts = again >= 0 or (not record and _find(buf, AUDIT_NEEDLE, at, stop) >= 0)
        if before >= 0 and _find(buf, _SEVERITY_MARK, before, start) >= 0:
            before = -1
        if (shifts or before >= 0) and (
            suspect := _suspect(prefix, match, at, buf, start, stop, line, before, shifts, source, stream)
        ):
            return [item if type(item) is Malformed else LogEntry(*item) for item in suspect]
        user = match.group(i_user + 1) if record and skip is not None else None
        if user is not None and skip is not None and skip(user) and not may_change_auditing(buf[at:stop]):
            return None
        return LogEntry(*_stderr_entry(match, buf, at, stop, groups, source, line, stream))

    return cut


def previous_entry(buf: bytes, floor: int, start: int) -> int:
    """Where the entry before the one at `start` starts (not before `floor`, where entries are known to start):
    its first line, above any continuation lines. Asked only where a cut looks back (see stderr_cut)."""
    before = buf.rfind(b"\n", floor, start - 1) + 1 or floor
    while before > floor and buf[before] == 9:  # a TAB: a continuation line
        before = buf.rfind(b"\n", floor, before - 1) + 1 or floor
    return before


_TEXTS: dict[bytes, str] = {}


def _text(raw: bytes) -> str:
    """A prefix field (time, client, user, database...) decoded once per distinct value: the entries of one
    second, one connection or one user share the str object, which the background reader then sends once per
    batch instead of once per entry (the cache is cleared at 4,096 values)."""
    text = _TEXTS.get(raw)
    if text is None:
        if len(_TEXTS) >= 4096:
            _TEXTS.clear()
        text = _TEXTS[raw] = raw.decode("utf-8", errors="replace")
    return text


def _name(raw: bytes | None) -> str | None:
    """A level, user, database or application name: None when absent or `[unknown]`, else as _text."""
    if not raw or raw == UNKNOWN_BYTES:
        return None
    return _TEXTS.get(raw) or _text(raw)  # (the lookup first: one call fewer per entry)


def _unmatched(data: bytes, prefix: CompiledPrefix, source: str, line: int) -> Malformed:
    excerpt = data[:EXCERPT].decode("utf-8", errors="replace").rstrip("\r\n")
    return Malformed(source, line, f"does not match log_line_prefix {prefix.text!r}", excerpt)


def _message(buf: bytes, at: int, stop: int) -> str:
    message = buf[at:stop].decode("utf-8", errors="replace").rstrip("\r\n")
    return message.replace("\n\t", "\n") if "\n\t" in message else message


def _suspect(
    prefix: CompiledPrefix,
    match: re.Match[bytes],
    at: int,
    buf: bytes,
    start: int,
    stop: int,
    line: int,
    before: int,
    shifts: bool,
    source: str,
    stream: str,
) -> list[Any]:
    """What a forged prefix makes of the entry in buf[start:stop] whose prefix `match` read (its message starting
    at `at`): [] when nothing.

    Else the Malformed line before it (`before`, when it starts like an entry but does not parse: the first half
    of a prefix that a newline in a name cut in two; the cut looks only where that line lacks `:  `, so a name
    that also holds `:  `, or a whole forged prefix, passes unseen: hence the doctor's finding on such names),
    and each reading of the entry as a LogEntry's fields with user `?`: the prefix as first read, and every
    other place where `AUDIT: ` follows what the prefix (on the first line) or its end after a client-chosen
    field (on a continuation line, after a name holding a newline and a TAB) can match (looked for only with
    `shifts`: the entry holds `AUDIT: ` twice, or not where its message starts). Several readings are all handed
    on: one of them is the true one, and which one cannot be told from the bytes, so none may be dropped (a role
    `app_svc@db:[1]:LOG:  x` shifts the first reading onto the service account; a statement holding such text
    would shift the last one). A first reading that is not a record (a background process's line naming a table
    `x@y z:  AUDIT: ...`) is kept as it is, before the others.
    """
    orphan = None
    if (
        before >= 0
        and prefix.lead is not None
        and prefix.head.match(buf, before, start) is None
        and prefix.lead.match(buf, before, start) is not None
    ):
        excerpt = buf[before : min(start, before + EXCERPT)].decode("utf-8", errors="replace").rstrip("\r\n")
        orphan = Malformed(
            source,
            line - buf.count(b"\n", before, start),
            "starts like an entry but does not parse: a name holding a newline may have cut a prefix in two "
            "(the next entry is read with user '?')",
            excerpt,
        )
    groups = _field_groups(prefix.head)
    readings: list[tuple[int, tuple[Any, ...]]] = []  # (where its message starts, its fields)
    if shifts:
        first_end = buf.find(b"\n", start, stop)
        first_end = stop if first_end < 0 else first_end
        q = _find(buf, AUDIT_NEEDLE, start, stop)
        while q >= 0:
            if q != at and q < first_end:
                # the prefix and severity ending right before `AUDIT: `, or before a SQLSTATE before it
                other = prefix.head.fullmatch(buf, start, q)
                if other is None and q - start > 7 and SQLSTATE_BYTES.fullmatch(buf, q - 7, q) is not None:
                    other = prefix.head.fullmatch(buf, start, q - 7)
                if other is not None:
                    readings.append((q, _stderr_entry(other, buf, q, stop, groups, source, line, stream)))
            elif q != at and prefix.tail is not None and buf[(row := buf.rfind(b"\n", start, q) + 1)] == 9:  # TAB
                tail = prefix.tail.fullmatch(buf, row + 1, q)
                if tail is not None:
                    fields = list(_stderr_entry(match, buf, at, stop, groups, source, line, stream))
                    fields[0] = _message(buf, q, stop)
                    named = tail.groupdict()
                    if named.get("database"):
                        fields[7] = _name(named["database"])
                    if named.get("pid"):
                        fields[8] = int(named["pid"])
                    readings.append((q, tuple(fields)))
            q = _find(buf, AUDIT_NEEDLE, q + len(AUDIT_NEEDLE), stop)
    if not readings and orphan is None:
        return []
    first = _stderr_entry(match, buf, at, stop, groups, source, line, stream)
    out: list[Any] = [] if orphan is None else [orphan]
    if readings and not buf.startswith(AUDIT_NEEDLE, at):
        out.append(first)  # not a record as first read (an autovacuum line naming a table so): kept as it is
    else:
        readings.append((at, first))
    readings.sort(key=lambda reading: reading[0])
    for _, read in readings:
        out.append((*read[:6], AMBIGUOUS_USER, *read[7:]))
    return out


def _stderr_entry(
    match: re.Match[bytes],
    buf: bytes,
    at: int,
    stop: int,
    groups: tuple[int, ...],
    source: str,
    line: int,
    stream: str,
) -> tuple[Any, ...]:
    """The fields of the entry whose prefix `match` found in `buf`, its message from `at` to `stop`; only the
    prefix's own fields are decoded. Runs once per audit record of a scan, so it is written for speed: positional
    groups, no helper calls per field, and a tuple rather than an object."""
    message = buf[at:stop].decode("utf-8", errors="replace").rstrip("\r\n")
    if "\n\t" in message:
        message = message.replace("\n\t", "\n")
    g = match.groups()
    i_level, i_time, i_user, i_db, i_pid, i_remote, i_host, i_app, i_session, i_session_line, i_leader = groups
    time = g[i_time] if i_time >= 0 else None
    user = g[i_user] if i_user >= 0 else None
    database = g[i_db] if i_db >= 0 else None
    pid = g[i_pid] if i_pid >= 0 else None
    remote = (g[i_remote] if i_remote >= 0 else None) or (g[i_host] if i_host >= 0 else None)
    app = g[i_app] if i_app >= 0 else None
    session_id = g[i_session] if i_session >= 0 else None
    session_line = g[i_session_line] if i_session_line >= 0 else None
    leader = g[i_leader] if i_leader >= 0 else None
    return (
        message,
        _name(g[i_level]),
        source,
        line,
        stream,
        _text(time) if time else None,  # a zone name is any bytes but space and `:`
        _name(user),
        _name(database),
        int(pid) if pid and len(pid) < 20 else None,
        _text(remote) if remote else None,
        _name(app),
        session_id.decode("ascii") if session_id is not None else None,  # hex digits and a dot only
        int(session_line) if session_line and len(session_line) < 20 else None,
        int(leader) if leader and len(leader) < 20 else None,
        None,  # context: in stderr, an entry of its own
        None,  # record: read by the pipeline (or by the background reader, before the entry crosses)
    )


def parse_jsonlog(data: bytes, *, source: str, line: int, stream: str = "") -> LogEntry | Malformed:
    """One jsonlog entry (PostgreSQL 15+): a JSON object on one line."""
    text = _decode(data).strip()
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = exc.args[0] if isinstance(exc, ValueError) and exc.args else "nested too deeply"
        return Malformed(source, line, f"not a JSON object ({reason})", text[:EXCERPT])
    if not isinstance(obj, dict) or not isinstance(obj.get("message"), str):
        return Malformed(source, line, "JSON entry without a message", text[:EXCERPT])
    try:
        return _json_entry(obj, source, line, stream)
    except _BadField as exc:
        return Malformed(source, line, str(exc), text[:EXCERPT])


def _json_entry(obj: dict[str, Any], source: str, line: int, stream: str) -> LogEntry:
    host, port = _known(obj.get("remote_host"), "remote_host"), _int(obj.get("remote_port"))
    remote = f"{host}({port})" if host and port is not None else host
    return LogEntry(
        message=obj["message"],
        level=str(obj.get("error_severity", "")),
        source=source,
        line=line,
        stream=stream,
        time=_known(obj.get("timestamp"), "timestamp"),
        user=_known(obj.get("user"), "user"),
        database=_known(obj.get("dbname"), "dbname"),
        pid=_int(obj.get("pid")),
        remote=remote,
        application_name=_known(obj.get("application_name"), "application_name"),
        session_id=_known(obj.get("session_id"), "session_id"),
        session_line=_int(obj.get("line_num")),
        leader_pid=_int(obj.get("leader_pid")),
        context=_known(obj.get("context"), "context"),
    )


# csvlog columns, PostgreSQL 13 to 17 (14 appended backend_type, leader_pid and query_id).
CSV_TIME, CSV_USER, CSV_DATABASE, CSV_PID, CSV_REMOTE, CSV_SESSION, CSV_LINE = range(7)
CSV_SEVERITY, CSV_MESSAGE, CSV_CONTEXT, CSV_APPLICATION, CSV_LEADER_PID = 11, 13, 18, 22, 24
_CSV_MIN_COLUMNS = 23


def parse_csvlog(data: bytes, *, source: str, line: int, stream: str = "") -> LogEntry | Malformed:
    """One csvlog row; quoted fields may hold newlines."""
    text = _decode(data).rstrip("\r\n")
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        return Malformed(source, line, f"not a CSV row ({exc})", text[:EXCERPT])
    row = rows[0] if len(rows) == 1 else []
    if len(row) < _CSV_MIN_COLUMNS:
        return Malformed(source, line, f"csvlog row with {len(row)} columns, expected at least 23", text[:EXCERPT])
    remote = row[CSV_REMOTE]
    if ":" in remote and not remote.startswith("["):
        host, _, port = remote.rpartition(":")
        remote = f"{host}({port})"
    return LogEntry(
        message=row[CSV_MESSAGE],
        level=row[CSV_SEVERITY],
        source=source,
        line=line,
        stream=stream,
        time=row[CSV_TIME] or None,
        user=_known(row[CSV_USER]),
        database=_known(row[CSV_DATABASE]),
        pid=_int(row[CSV_PID]),
        remote=_known(remote),
        application_name=_known(row[CSV_APPLICATION]),
        session_id=row[CSV_SESSION] or None,
        session_line=_int(row[CSV_LINE]),
        leader_pid=_int(row[CSV_LEADER_PID]) if len(row) > CSV_LEADER_PID else None,
        context=row[CSV_CONTEXT] or None,
    )
