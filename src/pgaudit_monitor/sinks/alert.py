"""What an alarm transition tells people: one message model, rendered by every notification sink of local mode.

The alarm decides when to speak; this module decides what is said, once, so that the webhook, the email and the
console all say the same thing: who did what to which table, when, and from where.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ALARM, OK, REMINDER = "ALARM", "OK", "REMINDER"
MAX_LISTED = 20  # detections listed in one notification; the count says how many there were


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
    detections: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_LISTED, as Outcome.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(**data)

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
                statement = " ".join(str(detection.get("statement") or "").split())
                lines.append(f"    {statement[:500]}")
            if self.count > len(self.detections):
                lines.append(f"- ... and {self.count - len(self.detections)} more (see the detections file)")
        lines += ["", f"incident {self.incident}"]
        return "\n".join(lines) + "\n"


def describe(detection: dict[str, Any]) -> str:
    """`alice UPDATE accounts at <time> from 10.0.0.5(5432) on database shop`: who, what, which table, when, where."""
    relations = ", ".join(detection.get("relations") or ()) or "?"
    category = {
        "sensitive-catalog": " (sensitive catalog)",
        "audit-tamper": f" (audit tampering: {detection.get('rule')})",
    }.get(str(detection.get("category")), "")
    return (
        f"{detection.get('user')} {detection.get('command')} {relations}{category} "
        f"at {detection.get('time') or '?'} from {detection.get('client') or '?'} "
        f"on database {detection.get('database') or '?'}"
    )
