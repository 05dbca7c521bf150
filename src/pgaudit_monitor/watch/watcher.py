"""The watch loop: read what the log files gained, run it through the shared pipeline, count, alarm, notify.

Each step ends in one SQLite transaction holding everything the step decided (positions, detections counted,
alarm state, notifications), written after the detections were appended to the journal. Delivery runs in its own
thread from the outbox, so a slow or dead receiver never delays reading the log.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pgaudit_monitor.config import Settings
from pgaudit_monitor.detections.model import Detection, Outcome
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.errors import AlreadyRunning
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.sinks.base import NORMALIZED, Notification, Sink, describe, notified
from pgaudit_monitor.timestamps import iso
from pgaudit_monitor.watch.alarm import Alarm, AlarmRule, AlarmState, Transition
from pgaudit_monitor.watch.follower import Follower, FollowOptions
from pgaudit_monitor.watch.journal import Journal
from pgaudit_monitor.watch.outbox import Backoff, Dispatcher
from pgaudit_monitor.watch.state import FilePosition, StateStore, connect

Log = Callable[[str], None]
LOCK_NAME = "watch.lock"
HEARTBEAT_SECONDS = 2.0


@dataclass(frozen=True)
class WatchConfig:
    paths: tuple[str, ...]
    state_dir: str
    detections_file: str
    rule: AlarmRule = field(default_factory=AlarmRule)
    follow: FollowOptions = field(default_factory=FollowOptions)
    backoff: Backoff = field(default_factory=Backoff)
    poll_seconds: float = 0.1
    idle_seconds: float = 0.5  # a statement with no record for this long is complete (pgAudit writes in bursts)
    alarm_name: str = "pgaudit-monitor-human-dml"
    host: str = field(default_factory=socket.gethostname)
    statement_mode: str = NORMALIZED  # what notifications show of a statement (sinks.base.shown_statement)


def lock_state_dir(state_dir: str) -> int:
    """Hold the state directory for this process's lifetime (released by the kernel, even after SIGKILL)."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"{state_dir}: another watcher is running on this state directory") from None
    return fd


class Watcher:
    def __init__(self, config: WatchConfig, settings: Settings, sinks: list[Sink[Notification]], log: Log) -> None:
        self.config, self.sinks, self.log = config, sinks, log
        self.pipeline = Pipeline(settings, report_excluded=False)
        self._lock = lock_state_dir(config.state_dir)
        self.store = StateStore(connect(config.state_dir))
        store = self.store
        first_run = store.get("started") is None
        self.journal = Journal(config.detections_file)
        if store.get("journal_path") == os.path.abspath(config.detections_file):
            self.journal.recover(store.get("journal_size"))
        self.seen = store.seen()
        self.alarm = Alarm(config.rule, AlarmState.from_dict(store.get("alarm")) if store.get("alarm") else None)
        self.suffixes: dict[str, str] = store.get("suffixes", {})
        self.follower = Follower(
            list(config.paths),
            self.pipeline.prefix,
            config.follow,
            store.positions(),
            first_run=first_run,
            suffixes=dict(self.suffixes),
            log=log,
        )
        self.detections_total = int(store.get("detections_total", 0))
        self.malformed_total = int(store.get("malformed_total", 0))
        self._last_heartbeat = 0.0
        with store.transaction():
            if first_run:
                store.put("started", time.time())
            store.put("journal_path", os.path.abspath(config.detections_file))
            store.put("pid", os.getpid())
            store.put("paths", [os.path.abspath(p) for p in config.paths])
            store.put(
                "rule",
                {
                    "window_seconds": config.rule.window_seconds,
                    "threshold": config.rule.threshold,
                    "renotify_seconds": config.rule.renotify_seconds,
                },
            )
            store.put("channels", [s.name for s in sinks])
        self.stop = threading.Event()
        self.dispatcher = Dispatcher(config.state_dir, sinks, config.backoff, self.stop, log)

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Until `stop` is set (SIGTERM): every step commits, so stopping between two loses nothing."""
        self.dispatcher.start()
        try:
            while not self.stop.is_set():
                self.step()
                self.stop.wait(self.config.poll_seconds)
        finally:
            self.stop.set()
            self.dispatcher.wake()
            self.dispatcher.join(timeout=30)
            self.close()

    def step(self) -> int:
        """One turn of the loop, in named steps: read, judge, deduplicate, alarm, then (when anything changed)
        journal, commit, tell, wake. The number of new detections.

        Nothing is committed before the journal holds the detections, and nothing is notified before the commit:
        a watcher killed at any point counts each detection once and loses no notification when it restarts.
        """
        monotonic, now = time.monotonic(), time.time()
        items, resets = self._read(monotonic)
        outcomes, malformed = self._judge(items)
        new, new_keys = self._count(outcomes)
        transitions = self._alarm(new, now)
        positions, forgotten = self.follower.checkpoint(self.pipeline.assembler.open_entries(), now)
        heartbeat = now - self._last_heartbeat >= HEARTBEAT_SECONDS
        if not (new or transitions or positions or forgotten or resets or malformed or heartbeat):
            return 0
        journal_size = self.journal.append(new)
        self._commit(now, new, new_keys, transitions, positions, forgotten, resets, malformed, journal_size)
        self._tell(new, transitions)
        if transitions:
            self.dispatcher.wake()
        return len(new)

    def _read(self, monotonic: float) -> tuple[list[LogEntry | Malformed], list[str]]:
        """What the follower read since the last step, and the files it found replaced (their keys)."""
        items = self.follower.poll(monotonic)
        resets = self.follower.take_resets()
        if resets:
            self.seen = {k for k in self.seen if k[0] not in resets}
        return items, resets

    def _judge(self, items: list[LogEntry | Malformed]) -> tuple[list[Outcome], int]:
        """The statements completed by these entries (or idle long enough), and how many entries were malformed:
        each is logged and skipped, none stops the watcher."""
        outcomes: list[Outcome] = []
        malformed = 0
        for item in self.pipeline.feed(items):
            if isinstance(item, Malformed):
                malformed += 1
                self.log(f"skipped malformed entry: {item}")
            else:
                outcomes.append(item)
        outcomes += self.pipeline.assembler.complete_idle(self.config.idle_seconds)
        return outcomes, malformed

    def _alarm(self, new: list[Detection], now: float) -> list[Transition]:
        transitions: list[Transition] = []
        for detection in new:
            transitions += self.alarm.observe(detection, now)
        return transitions + self.alarm.tick(now)

    def _commit(
        self,
        now: float,
        new: list[Detection],
        new_keys: list[tuple[str, int]],
        transitions: list[Transition],
        positions: list[FilePosition],
        forgotten: list[str],
        resets: list[str],
        malformed: int,
        journal_size: int,
    ) -> None:
        """One transaction: the positions read up to, the detections counted, the alarm's state, the journal's
        size, and a notification per transition for each channel's outbox."""
        self.detections_total += len(new)
        self.malformed_total += malformed
        store = self.store
        with store.transaction():
            for key in resets:
                store.prune_seen(key, 1 << 62)
            for key in forgotten:
                store.forget_file(key)
            for position in positions:
                store.save_position(position)
                store.prune_seen(position.key, position.line)
            store.add_seen(new_keys)
            store.put("alarm", self.alarm.state.to_dict())
            store.put("journal_size", journal_size)
            store.put("detections_total", self.detections_total)
            store.put("malformed_total", self.malformed_total)
            if self.follower.suffixes != self.suffixes:
                self.suffixes = dict(self.follower.suffixes)
                store.put("suffixes", self.suffixes)
            if new:
                store.put("last_detection", {**new[-1].to_dict(), "detected_at": iso(now, milliseconds=True)})
            for transition in transitions:
                payload = self._notification(transition).to_dict()
                for sink in self.sinks:
                    store.enqueue(sink.name, payload, now)
            store.put("heartbeat", now)
        self._last_heartbeat = now
        if positions:
            lines = {p.key: p.line for p in positions}
            self.seen = {k for k in self.seen if k[0] not in lines or k[1] >= lines[k[0]]}

    def _tell(self, new: list[Detection], transitions: list[Transition]) -> None:
        """The watcher's own log: each detection and each transition, once committed."""
        for detection in new:
            self.log(f"detected: {describe(detection)}: {' '.join(detection.statement.split())[:200]}")
        for transition in transitions:
            self.log(f"alarm {transition.kind} (incident {transition.incident}, {transition.count} detection(s))")

    def _count(self, outcomes: list[Outcome]) -> tuple[list[Detection], list[tuple[str, int]]]:
        """Detections not counted before: a replay after a restart meets again those after the checkpoint."""
        new: list[Detection] = []
        keys: list[tuple[str, int]] = []
        for outcome in outcomes:
            if not outcome.detected:
                continue
            tracked = self.follower.file_for(outcome.source)
            key = (tracked.key if tracked is not None else outcome.source, outcome.line)
            if key in self.seen:
                continue
            self.seen.add(key)
            keys.append(key)
            new.append(outcome.detection())
        return new, keys

    def _notification(self, t: Transition) -> Notification:
        rule = self.config.rule
        return Notification(
            kind=t.kind,
            alarm=self.config.alarm_name,
            incident=t.incident,
            host=self.config.host,
            at=iso(t.at, milliseconds=True),
            count=t.count,
            window_seconds=rule.window_seconds,
            threshold=rule.threshold,
            detections=tuple(notified(d, self.config.statement_mode) for d in t.detections),
        )

    def close(self) -> None:
        self.follower.close()
        self.journal.close()
        self.store.conn.close()
        os.close(self._lock)
