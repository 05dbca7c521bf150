"""What every sink shares: the one verb (`Sink.send`), the message an alarm transition sends (`Notification`),
and how a detection reads in one line (`describe`).

The alarm decides when to speak; this module decides what is said, once, so that the webhook, the email and the
console all say the same thing: who did what to which table, when, and from where. A sink that fails raises
errors.DeliveryError; whoever holds the message (the watcher's outbox) tries again later.

What a notification shows of a statement is decided here too (`shown_statement`, `notified`), for every channel
of both modes: by default its normalized text, literals replaced by `$n`, because a notification leaves the
machine and is kept in mailboxes and incident platforms, and a literal can be a name or a card number. The full
text stays in the record of each detection: scan's output, the watcher's journal, the Lambda's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.errors import ConfigError
from pgaudit_monitor.policy.severity import most_severe
from pgaudit_monitor.policy.sql import normalized_statement
from pgaudit_monitor.records.pgaudit import NOT_LOGGED, PREVIOUSLY_LOGGED

ALARM, OK, REMINDER = "ALARM", "OK", "REMINDER"
MAX_LISTED = 20  # detections listed in one notification; the count says how many there were

NORMALIZED, FULL, NONE = "normalized", "full", "none"
STATEMENT_MODES = (NORMALIZED, FULL, NONE)  # NOTIFY_STATEMENT (the Lambda), --notify-statement (watch)
NOT_NORMALIZED = "<statement not shown: could not be normalized>"
_MARKERS = frozenset({"", NOT_LOGGED, PREVIOUSLY_LOGGED})  # pgAudit's stand-ins for a text: no data in them


def statement_mode(value: str, where: str = "NOTIFY_STATEMENT") -> str:
    """`value` as a statement mode (empty: the default, normalized); a ConfigError naming `where` otherwise."""
    mode = value.strip().lower() or NORMALIZED
    if mode not in STATEMENT_MODES:
        raise ConfigError(f"{where}: expected one of {', '.join(STATEMENT_MODES)}, got {value!r}")
    return mode


def shown_statement(statement: str, mode: str) -> str:
    """What a notification shows of `statement`: its normalized text (the default), all of it, or nothing.

    Fails closed: a text PostgreSQL's grammar cannot read (cut short, a RAISE's message, another dialect) cannot be
    normalized, and is replaced by NOT_NORMALIZED rather than shown with its literals.
    """
    if mode == FULL:
        return statement
    if mode == NONE:
        return ""
    if statement in _MARKERS:
        return statement
    normalized = normalized_statement(statement)
    return NOT_NORMALIZED if normalized is None else normalized


def notified(detection: Detection, mode: str) -> Detection:
    """The detection as a notification carries it: its statement as `shown_statement` says, the rest unchanged."""
    return replace(detection, statement=shown_statement(detection.statement, mode))


Message = TypeVar("Message", contravariant=True)


class Sink(Protocol[Message]):
    """Where detections or their consequences go: a name (for the outbox and the logs) and `send`.

    The notification sinks of local mode (webhook, email, console) send a Notification; the Lambda's sinks send
    what their service takes (the metric sink a set of counts, the detail sink a batch of detections).
    """

    name: str

    def send(self, message: Message) -> None: ...


@dataclass(frozen=True)
class Notification:
    """One alarm transition (or re-notification), self-contained so that it can wait in the outbox for days.

    Its detections are as `notified` made them: the outbox holds no more of a statement than the receivers get."""

    kind: str  # ALARM, OK or REMINDER
    alarm: str  # the alarm's name; with `incident`, the key incident platforms deduplicate on
    incident: str  # one id per ALARM episode: its ALARM, reminders and OK share it
    host: str
    at: str  # ISO 8601, UTC
    count: int  # detections in the window that tripped the alarm, or in the whole episode for OK
    window_seconds: int
    threshold: int
    detections: tuple[Detection, ...] = field(default=())  # the first MAX_LISTED

    def to_dict(self) -> dict[str, Any]:
        """As stored in the outbox and posted to a generic webhook."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**fields, "detections": [d.to_dict() for d in self.detections]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(**{**data, "detections": tuple(Detection.from_dict(d) for d in data.get("detections", ()))})

    @property
    def severity(self) -> str | None:
        """The most severe level among its detections (None when it lists none): what pages, and how loudly."""
        level = most_severe(d.severity for d in self.detections)
        return level.value if level else None

    @property
    def title(self) -> str:
        if self.kind == OK:
            return f"[OK] {self.alarm}: no human DML for {self.window_seconds}s ({self.count} during the alarm)"
        first = self.detections[0] if self.detections else None
        what = f": {describe(first)}" if first else ""
        more = f" (+{self.count - 1} more)" if self.count > 1 else ""
        label = "ALARM" if self.kind == ALARM else "ALARM (still)"
        return f"[{label}] {self.alarm}{what}{more}"

    def text(self) -> str:
        """The body for people (email, console): a line per detection, the statement beneath it."""
        lines = [self.title, ""]
        if self.kind == OK:
            lines.append(f"The alarm went back to OK at {self.at}: a whole {self.window_seconds}s window without a")
            lines.append(f"human's DML on application tables. {self.count} detection(s) while it was in ALARM.")
        else:
            intro = "went to ALARM" if self.kind == ALARM else "is still in ALARM"
            lines.append(
                f"The alarm {intro} at {self.at} on {self.host}: {self.count} detection(s) "
                f"(threshold {self.threshold} per {self.window_seconds}s window)."
            )
            lines.append("")
            for detection in self.detections:
                lines.append(f"- {describe(detection)}")
                statement = " ".join(detection.statement.split())
                if statement:
                    lines.append(f"    {statement[:500]}")
            if self.count > len(self.detections):
                lines.append(f"- ... and {self.count - len(self.detections)} more (see the detections file)")
        lines += ["", f"incident {self.incident}"]
        return "\n".join(lines) + "\n"


def describe(detection: Detection) -> str:
    """`[high] alice UPDATE accounts at <time> from 10.0.0.5(5432) on database shop`: how severe, who, what, which
    table, when, where."""
    d = detection
    relations = ", ".join(d.relations) or "?"
    category = {
        "sensitive-catalog": " (sensitive catalog)",
        "audit-tamper": f" (audit tampering: {d.rule})",
    }.get(str(d.category), "")
    severity = f"[{d.severity}] " if d.severity else ""
    return (
        f"{severity}{d.user} {d.command} {relations}{category} at {d.time or '?'} from {d.client or '?'} "
        f"on database {d.database or '?'}"
    )
