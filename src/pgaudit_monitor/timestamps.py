"""Times as the monitor writes them: ISO 8601 in UTC with a `Z`, one function for every output (the Lambda's
windows and checkpoint, the watcher's state and notifications, the console links of the detail message)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch_seconds: float, *, milliseconds: bool = False) -> str:
    """`2026-12-02T15:44:26Z`, or `2026-12-02T15:44:26.123Z` with `milliseconds`."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace("+00:00", "Z")
