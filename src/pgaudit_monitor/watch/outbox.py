"""Deliver the outbox: each channel's notifications in order, retried with backoff, across restarts.

The watcher writes a notification to the outbox in the same transaction as the detections that caused it, so a
notification decided is never lost. This thread delivers them: per channel, the oldest first, and the next only
once it got through, so that an OK never overtakes its ALARM. A failure waits `backoff(attempts)` before the next
try (doubling, capped); the attempt count and the time of the next try are in the database, so a restart keeps the
schedule. Nothing is ever dropped: a webhook down for an hour gets every notification when it is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pgaudit_monitor.errors import DeliveryError
from pgaudit_monitor.sinks.base import Notification, Sink
from pgaudit_monitor.watch.state import StateStore, connect

Log = Callable[[str], None]
KEEP_DELIVERED_SECONDS = 7 * 86400
"""How long a delivered notification stays in the outbox (for a person reading the state); then it is pruned."""


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    cap: float = 300.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: 1, 2, 4, ... up to the cap."""
        return float(min(self.cap, self.first * (2 ** min(attempts - 1, 30))))


class Dispatcher(threading.Thread):
    """The delivery thread. `wake()` after enqueueing; `stop` ends it between two attempts."""

    def __init__(
        self, state_dir: str, sinks: list[Sink[Notification]], backoff: Backoff, stop: threading.Event, log: Log
    ) -> None:
        super().__init__(name="pgaudit-monitor-outbox", daemon=True)
        self.state_dir, self.sinks, self.backoff, self.stop_event, self.log = state_dir, sinks, backoff, stop, log
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        store = StateStore(connect(self.state_dir))
        try:
            while not self.stop_event.is_set():
                self._wake.clear()
                wait = self.deliver_due(store, time.time())
                self._wake.wait(wait)
        finally:
            store.conn.close()

    def deliver_due(self, store: StateStore, now: float) -> float:
        """Try each channel's oldest undelivered notification if it is due; seconds until the next is due."""
        wait = 1.0
        for sink in self.sinks:
            while not self.stop_event.is_set():
                row = store.next_undelivered(sink.name)
                if row is None:
                    break
                if row.next_attempt > now:
                    wait = min(wait, row.next_attempt - now)
                    break
                try:
                    sink.send(Notification.from_dict(row.payload))
                except DeliveryError as exc:
                    attempts = row.attempts + 1
                    delay = self.backoff.delay(attempts)
                    with store.transaction():
                        store.mark_failed(row.id, str(exc), now + delay)
                    self.log(f"{sink.name}: delivery failed ({exc}); attempt {attempts}, next in {delay:.0f}s")
                    wait = min(wait, delay)
                    break
                except Exception as exc:  # a bug in a sink must not stop the others
                    attempts = row.attempts + 1
                    delay = self.backoff.delay(attempts)
                    with store.transaction():
                        store.mark_failed(row.id, f"{type(exc).__name__}", now + delay)
                    self.log(f"{sink.name}: delivery failed ({type(exc).__name__}); next in {delay:.0f}s")
                    break
                now = time.time()
                with store.transaction():
                    store.mark_delivered(row, now)
                    store.prune_outbox(now - KEEP_DELIVERED_SECONDS)
                kind = row.payload.get("kind")
                self.log(f"{sink.name}: delivered {kind} {row.payload.get('incident')} (after {row.attempts} failures)")
        return max(0.05, wait)
