"""What every sink shares: the one verb (`Sink.send`), the message an alarm transition sends (`Notification`),
and how a detection reads in one line (`describe`).

The alarm decides when to speak; this module decides what is said, once, so that the webhook, the email and the
console all say the same thing: who did what to which table, when, and from where. A sink that fails raises
errors.DeliveryError; whoever holds the message (the watcher's outbox) tries again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pgaudit_monitor.detections.model import Detection

ALARM, OK, REMINDER = "ALARM", "OK", "REMINDER"
MAX_LISTED = 20  # detections listed in one notification; the count says how many there were

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
    """One alarm transition (or re-notification), self-contained so that it can wait in the outbox for days."""

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
                lines.append(f"    {statement[:500]}")
            if self.count > len(self.detections):
                lines.append(f"- ... and {self.count - len(self.detections)} more (see the detections file)")
        lines += ["", f"incident {self.incident}"]
        return "\n".join(lines) + "\n"


def describe(detection: Detection) -> str:
    """`alice UPDATE accounts at <time> from 10.0.0.5(5432) on database shop`: who, what, which table, when, where."""
    d = detection
    relations = ", ".join(d.relations) or "?"
    category = {
        "sensitive-catalog": " (sensitive catalog)",
        "audit-tamper": f" (audit tampering: {d.rule})",
    }.get(str(d.category), "")
    return (
        f"{d.user} {d.command} {relations}{category} at {d.time or '?'} from {d.client or '?'} "
        f"on database {d.database or '?'}"
    )
