"""The alarm: a count of detections per window, a threshold, and OK/ALARM transitions.

The semantics are those of the AWS path's CloudWatch alarm (`UserDMLOperationCount >= threshold` per period,
missing data not breaching), with one difference that matters locally: ALARM is raised as soon as the current
window's count reaches the threshold, not when the window ends. OK comes when a whole window closes below the
threshold. Each transition yields one notification; while the alarm stays in ALARM nothing more is sent, unless
re-notification is turned on (`renotify_seconds`): then a reminder listing the new detections goes out at most that
often, and only when there are new detections. Windows are aligned on the Unix epoch (a 60 s window starts on the
minute) and measured on the watcher's clock when it reads the detection: a log read late after an outage still
raises the alarm, at once.

Pure logic on a small state record, so that the watcher can persist the state in the same transaction as the log
positions the detections came from.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.sinks.base import ALARM, MAX_LISTED, OK, REMINDER


@dataclass
class AlarmState:
    """Everything the alarm remembers between two reads of the log, and across restarts."""

    state: str = OK
    window_start: float = 0.0
    window_count: int = 0
    window_detections: list[Detection] = field(default_factory=list)  # the first MAX_LISTED of the window
    incident: str = ""
    since: float = 0.0  # when the current state began
    episode_count: int = 0  # detections since the ALARM transition
    unsent: list[Detection] = field(default_factory=list)  # detections since the last notification
    unsent_count: int = 0
    last_notified: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        listed = {name: [d.to_dict() for d in getattr(self, name)] for name in _LISTS}
        return {**fields, **listed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmState:
        listed = {name: [Detection.from_dict(d) for d in data.get(name, ())] for name in _LISTS}
        return cls(**{**data, **listed})


_LISTS = ("window_detections", "unsent")  # AlarmState's lists of detections, stored as their dicts


@dataclass(frozen=True)
class Transition:
    """What the alarm decided at one moment: a kind (ALARM, OK, REMINDER), the detections that caused it."""

    kind: str
    incident: str
    at: float
    count: int
    detections: tuple[Detection, ...] = ()


@dataclass(frozen=True)
class AlarmRule:
    window_seconds: int = 60
    threshold: int = 1
    renotify_seconds: int = 0  # 0: one notification per transition, never a reminder

    def __post_init__(self) -> None:
        if self.window_seconds < 1 or self.threshold < 1 or self.renotify_seconds < 0:
            raise ValueError("window and threshold must be at least 1, re-notification 0 (off) or more")


class Alarm:
    """Feed detections with `observe`, call `tick` regularly; each returns the transitions that happened."""

    def __init__(self, rule: AlarmRule, state: AlarmState | None = None) -> None:
        self.rule = rule
        self.state = state or AlarmState()

    def observe(self, detection: Detection, now: float) -> list[Transition]:
        transitions = self._roll(now)
        s = self.state
        s.window_count += 1
        if len(s.window_detections) < MAX_LISTED:
            s.window_detections.append(detection)
        if s.state == ALARM:
            s.episode_count += 1
            s.unsent_count += 1
            if len(s.unsent) < MAX_LISTED:
                s.unsent.append(detection)
        elif s.window_count >= self.rule.threshold:
            s.state, s.since, s.incident = ALARM, now, f"{int(now)}-{uuid.uuid4().hex[:8]}"
            s.episode_count, s.unsent, s.unsent_count, s.last_notified = s.window_count, [], 0, now
            transitions.append(Transition(ALARM, s.incident, now, s.window_count, tuple(s.window_detections)))
        return transitions

    def tick(self, now: float) -> list[Transition]:
        transitions = self._roll(now)
        s = self.state
        renotify = self.rule.renotify_seconds
        if s.state == ALARM and renotify and s.unsent_count and now - s.last_notified >= renotify:
            transitions.append(Transition(REMINDER, s.incident, now, s.unsent_count, tuple(s.unsent)))
            s.unsent, s.unsent_count, s.last_notified = [], 0, now
        return transitions

    def _roll(self, now: float) -> list[Transition]:
        """Close the windows that ended before `now`; a closed window below the threshold ends an ALARM."""
        width = self.rule.window_seconds
        current = math.floor(now / width) * width
        s = self.state
        if current <= s.window_start:
            return []
        transitions: list[Transition] = []
        if s.state == ALARM:
            breached = s.window_count >= self.rule.threshold
            # The window that just closed was below the threshold, or an empty window followed it.
            if not breached or current >= s.window_start + 2 * width:
                ended = s.window_start + (width if not breached else 2 * width)
                transitions.append(Transition(OK, s.incident, ended, s.episode_count))
                s.state, s.since, s.unsent, s.unsent_count = OK, ended, [], 0
        s.window_start, s.window_count, s.window_detections = current, 0, []
        return transitions
