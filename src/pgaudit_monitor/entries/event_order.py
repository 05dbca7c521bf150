"""The order in which CloudWatch Logs events are read: the log's order, recovered within one timestamp.

RDS and Aurora stamp each exported event with the entry's own time, whole seconds (the fixed log_line_prefix
`%t:%r:%u@%d:[%p]:`, %t having no milliseconds), so every entry of a busy second shares one timestamp. Neither
way of reading them back orders events further: Logs Insights' `sort @timestamp` sorts by that field alone
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html), and FilterLogEvents by
timestamp, ingestion time and PutLogEvents request
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html), which one
export batch shares. So the events of one second come back in any order (moto, the emulator, keeps the order
they were put in). Read as they come, a statement's records can be split by another statement's and judged twice.

The order is recovered from what the entries say, as a total, deterministic order of the events, whatever order
they came in:

1. by timestamp, then log stream (a backend's entries are all in its instance's stream);
2. within one stream and timestamp, by backend: its session id, or its pid and client (`%r`: host and port,
   which tell two backends apart on a pid reused within the second). Of two backends on one pid, the one that
   disconnects in that second comes first, the one that connects last;
3. within a backend: `connection received`, `connection authorized`, its pgAudit records by statement and
   substatement id (ties, one record per relation, by their text), other entries, `disconnection`;
4. events the prefix does not read (the halves of an entry cut by a newline in a role name), last in the
   second, each first half followed by a second half;
5. entries that belong to another's place: a parallel worker's record (no user where the prefix shows users,
   or a `leader_pid`) right after its leader's record of the same statement text in that second, or first in
   the second when the leader's record is older; RAISE's CONTEXT (`... at RAISE`, the sign of a record RAISE
   wrote) right after a record of its backend in that second.

Where the log's order is not in the entries, the order chosen fails closed, never losing a statement nor
counting one twice: records of one backend keep their statements whole whatever came between them; a second
that holds k CONTEXT entries of RAISE for a backend marks k of its records, the last k in this order, so each
RAISE is reported as tampering once even when which record it wrote cannot be told.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pgaudit_monitor.entries.formats import parse_jsonlog
from pgaudit_monitor.entries.model import LogEntry
from pgaudit_monitor.entries.prefix import CompiledPrefix
from pgaudit_monitor.entries.splitting import RAISE_CONTEXT_MESSAGE

Event = tuple[int, str, str]
"""A CloudWatch Logs event: (timestamp in epoch milliseconds, log stream, message)."""

_IDS = re.compile(r"AUDIT: [A-Z]+,(\d+),(\d+),")
_RECEIVED, _AUTHORIZED, _OTHER, _DISCONNECTED, _AFTER = 0, 1, 2, 3, 4
_NO_ID = 1 << 62  # after every statement id: an entry of the backend that is not a record
_WORKERS, _BACKENDS, _UNREAD = 0, 1, 2  # the bands of one second of one stream

Key = tuple[Any, ...]
"""(timestamp, stream, band, pid, pid's backend order, backend, rank, statement id, substatement id, message,
placed after it (0 none, 1 worker, 2 CONTEXT), the placed entry's message)"""


class _Facts:
    """What the order needs to know of one event."""

    __slots__ = ("backend", "context", "ids", "key", "rank", "same_text", "worker")

    def __init__(self) -> None:
        self.backend: tuple[str, str] | None = None  # (pid, client) or ("", session id); None: not read
        self.rank = _OTHER
        self.ids = (_NO_ID, 0)  # a record's statement and substatement ids
        self.worker = False  # a parallel worker's record, placed after its leader's
        self.context = False  # RAISE's CONTEXT, placed after a record of its backend
        self.same_text = ""  # a record's message without its ids: a worker's and its leader's are alike
        self.key: Key = ()


def log_order(events: Sequence[Event], prefix: CompiledPrefix) -> list[int]:
    """The indices of `events` in the log's order (see the module's docstring): the same events in any order
    give the same events in the same order."""
    facts = [_facts(message, prefix) for _, _, message in events]
    seen: dict[tuple[int, str, tuple[str, str]], set[int]] = defaultdict(set)
    for (millis, stream, _), fact in zip(events, facts, strict=True):
        if fact.backend is not None:
            seen[(millis, stream, fact.backend)].add(fact.rank)
    _place_unread(events, facts, prefix)
    for (millis, stream, message), fact in zip(events, facts, strict=True):
        if fact.backend is None:
            continue
        ranks = seen[(millis, stream, fact.backend)]
        # two backends on one pid in one second (a pid reused): who disconnects first, who connects last
        order = 2 if _RECEIVED in ranks else 0 if _DISCONNECTED in ranks else 1
        pid, backend = fact.backend
        fact.key = (millis, stream, _BACKENDS, pid, order, backend, fact.rank, *fact.ids, message, 0, "")
    _place_workers(events, facts)
    _place_contexts(events, facts)
    return sorted(range(len(events)), key=lambda index: facts[index].key)


def _facts(message: str, prefix: CompiledPrefix) -> _Facts:
    fact = _Facts()
    entry = _entry(message, prefix)
    if entry is None:  # not an entry the prefix reads: after the second's backends
        return fact
    body = entry.message
    fact.backend = ("", entry.session_id) if entry.session_id else (f"{entry.pid or 0:>12}", entry.remote or "")
    if body.startswith("connection received:"):
        fact.rank = _RECEIVED
    elif body.startswith("connection authorized:"):
        fact.rank = _AUTHORIZED
    elif body.startswith("disconnection:"):
        fact.rank = _DISCONNECTED
    elif entry.level == "CONTEXT" and RAISE_CONTEXT_MESSAGE.match(body):
        fact.context = True
    elif (match := _IDS.match(body)) is not None:
        fact.ids = (int(match.group(1)), int(match.group(2)))
        fact.same_text = body[: match.start(1)] + body[match.end(2) :]
        no_user = "user" in prefix.fields and not entry.user and entry.session_id is None
        fact.worker = entry.leader_pid is not None or no_user
    return fact


def _entry(message: str, prefix: CompiledPrefix) -> LogEntry | None:
    if message.lstrip()[:1] == "{":
        parsed = parse_jsonlog(message.encode("utf-8", errors="surrogateescape"), source="", line=0)
        return parsed if isinstance(parsed, LogEntry) else None
    match = prefix.regex.match(message)
    if match is None:
        return None
    fields = match.groupdict()
    pid, leader = fields.get("pid"), fields.get("leader_pid")
    return LogEntry(
        message=fields["message"],
        level=fields["level"],
        source="",
        line=0,
        user=fields.get("user") or None,
        pid=int(pid) if pid else None,
        remote=fields.get("remote") or fields.get("remote_host"),
        session_id=fields.get("session_id") or None,
        leader_pid=int(leader) if leader else None,
    )


def _place_unread(events: Sequence[Event], facts: list[_Facts], prefix: CompiledPrefix) -> None:
    """Events the prefix does not read, after the second's backends: an entry cut in two by a newline in a name
    (the reader joins a first half, which starts like an entry, with the event after it), the first halves and
    the rest each by their text, paired off one after the other so that every half finds one to join."""
    halves: dict[tuple[int, str, bool], list[int]] = defaultdict(list)
    for index, ((millis, stream, message), fact) in enumerate(zip(events, facts, strict=True)):
        if fact.backend is None:
            lead = prefix.lead
            first = lead is not None and lead.match(message.encode("utf-8", "surrogateescape")) is not None
            halves[(millis, stream, first)].append(index)
    for (millis, stream, is_first), indices in halves.items():
        indices.sort(key=lambda index: events[index][2])
        for pair, index in enumerate(indices):
            facts[index].key = (
                millis,
                stream,
                _UNREAD,
                "",
                0,
                "",
                pair,
                0 if is_first else 1,
                0,
                events[index][2],
                0,
                "",
            )


def _place_workers(events: Sequence[Event], facts: list[_Facts]) -> None:
    """A worker's record right after its leader's record of the same text in that second (the first such in
    the order, when several); first in its second when there is none (the leader's record is older)."""
    leaders: dict[tuple[int, str, str], Key] = {}
    for (millis, stream, _), fact in zip(events, facts, strict=True):
        if fact.same_text and not fact.worker:
            place = (millis, stream, fact.same_text)
            if place not in leaders or fact.key < leaders[place]:
                leaders[place] = fact.key
    for (millis, stream, message), fact in zip(events, facts, strict=True):
        if fact.worker:
            leader = leaders.get((millis, stream, fact.same_text))
            fact.key = (*leader[:10], 1, message) if leader else (millis, stream, _WORKERS, *fact.key[3:])


def _place_contexts(events: Sequence[Event], facts: list[_Facts]) -> None:
    """Each CONTEXT of RAISE right after one record of its backend in that second: k of them after the last k
    records in the order, so that each marks one record; any more after the backend's entries, marking none."""
    contexts: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    records: dict[tuple[Any, ...], list[Key]] = defaultdict(list)
    for index, ((millis, stream, _), fact) in enumerate(zip(events, facts, strict=True)):
        place = (millis, stream, fact.backend)
        if fact.context:
            contexts[place].append(index)
        elif fact.same_text and not fact.worker:
            records[place].append(fact.key)
    for place, indices in contexts.items():
        indices.sort(key=lambda index: events[index][2])
        marked = sorted(records.get(place, []))[-len(indices) :]
        for position, index in enumerate(indices):
            fact = facts[index]
            if position < len(marked):
                fact.key = (*marked[position][:10], 2, events[index][2])
            else:
                fact.key = (*fact.key[:6], _AFTER, *fact.key[7:])
