"""Windows that never lose or double-count an event: aligned to the schedule, planned from a checkpoint.

Time is cut into windows of `window` seconds aligned to the epoch (10:00-10:05, 10:05-10:10...). A run at time T
(the scheduled event's `time`, so that a late or retried run plans what its schedule said) may process a window
once its end lies `delay + grace` seconds before T:

* `delay` (INGESTION_DELAY_SECONDS) is how late CloudWatch may ingest an event and still be counted;
* `grace` (STATEMENT_GRACE_SECONDS) is how long a statement's records may keep coming after its first one (a
  function's inner statements, one record per relation): a window is read with `grace` seconds of context on each
  side, and a statement belongs to the window of its first record, so that it is judged whole, once.

The checkpoint is the end of the last window whose results were published. A run plans every window from the
checkpoint to the last one due, in chunks of at most `max_windows` windows (one query each, split further when a
result reaches the row limit); after a gap it catches up, and a retried run finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pgaudit_monitor.timestamps import iso


@dataclass(frozen=True, order=True)
class Span:
    """[start, end) in epoch seconds."""

    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{iso(self.start)}/{iso(self.end)}"


def parse_time(text: str) -> int:
    """An ISO-8601 time (`2026-11-25T10:05:00Z`, EventBridge's format) or epoch seconds, as epoch seconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def last_due_end(now: int, window: int, delay: int, grace: int) -> int:
    """The end of the latest window that a run at `now` may process."""
    if window <= 0:
        raise ValueError("window must be positive")
    return (now - delay - grace) // window * window


def plan(checkpoint: int | None, due_end: int, window: int, max_windows: int) -> list[Span]:
    """The chunks a run must process, oldest first.

    Without a checkpoint (the first run, or checkpointing turned off) only the last due window is planned: there
    is nothing to catch up on, and nothing is known to be processed.
    """
    if max_windows < 1:
        raise ValueError("max_windows must be at least 1")
    start = due_end - window if checkpoint is None else checkpoint
    chunks: list[Span] = []
    while start < due_end:
        # chunk ends are aligned, so that an unaligned checkpoint (the window length was changed) realigns at once
        end = min(due_end, (start // window + max_windows) * window)
        chunks.append(Span(start, end))
        start = end
    return chunks


def split(span: Span) -> tuple[Span, Span]:
    """Two halves of a span of at least two seconds (queries take whole seconds)."""
    middle = span.start + span.seconds // 2
    return Span(span.start, middle), Span(middle, span.end)
