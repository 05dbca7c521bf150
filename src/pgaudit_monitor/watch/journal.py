"""The record of every detection: one JSON object per line, in a local file, each detection exactly once.

Lines are appended (and flushed) before the transaction that counts them commits, and that transaction stores the
file's new size. A watcher killed in between finds lines past the stored size at its restart: they belong to
detections it will count again, so the file is cut back to the stored size first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pgaudit_monitor.detections.model import Detection


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._handle = open(path, "ab")  # noqa: SIM115 - lives as long as the watcher
        self.size = self._handle.tell()

    def recover(self, committed_size: int | None) -> None:
        """Cut off lines written after the last committed transaction (none if the file was replaced since)."""
        if committed_size is not None and self.size > committed_size:
            self._handle.truncate(committed_size)
            self._handle.seek(committed_size)
            self.size = committed_size

    def append(self, detections: Iterable[Detection]) -> int:
        """Write detections, flush them to the OS; the new size, to be committed with them."""
        data = b"".join(d.json_line() for d in detections)  # never raises: a log line cannot stop the watcher
        if data:
            self._handle.write(data)
            self._handle.flush()
        self.size = self._handle.tell()
        return self.size

    def close(self) -> None:
        self._handle.close()
