"""The watcher's state in one SQLite database: where it is in each file, the alarm, the outbox, what it counted.

One transaction per read of the log moves everything at once: the new positions, the detections counted (their
keys), the alarm's state and the notifications it decided. A watcher killed at any moment restarts from the last
transaction: what came after it is read again, and what was already counted is recognized by its key.
WAL mode lets `pgaudit-monitor status` and the delivery thread read while the watcher writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DB_NAME = "state.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,           -- device:inode, the file's identity whatever its name
    path TEXT NOT NULL,             -- where it was last seen
    root TEXT NOT NULL,             -- the PATH argument it was found under
    offset INTEGER NOT NULL,        -- checkpoint: every entry before it is done
    line INTEGER NOT NULL,          -- line number of the byte at `offset`
    head_len INTEGER NOT NULL,      -- the fingerprint of its first bytes, which tells a reused inode apart
    head_hash TEXT NOT NULL,
    read_offset INTEGER NOT NULL,   -- how far it has been read (>= offset)
    size INTEGER NOT NULL,          -- its size at that read
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (   -- detections counted at or after a checkpoint: a replay skips them
    file_key TEXT NOT NULL,
    line INTEGER NOT NULL,
    PRIMARY KEY (file_key, line)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,          -- a Notification as JSON; never a secret (sinks add keys when they send)
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    delivered REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, id) WHERE delivered IS NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FilePosition:
    key: str
    path: str
    root: str
    offset: int
    line: int
    head_len: int
    head_hash: str
    read_offset: int
    size: int
    updated: float


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    payload: dict[str, Any]
    attempts: int
    next_attempt: float
    last_error: str | None


def connect(state_dir: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and create, unless read-only) the state database in `state_dir`."""
    path = os.path.join(state_dir, DB_NAME)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, isolation_level=None)
    else:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a crash of the process
        conn.executescript(_SCHEMA)
    conn.row_factory = sqlite3.Row
    return conn


class StateStore:
    """Typed access to the state database. Writes go through `transaction()`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- files ---------------------------------------------------------------------------------------------
    def positions(self) -> list[FilePosition]:
        rows = self.conn.execute("SELECT * FROM files ORDER BY updated, key").fetchall()
        return [FilePosition(**dict(row)) for row in rows]

    def save_position(self, p: FilePosition) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.key, p.path, p.root, p.offset, p.line, p.head_len, p.head_hash, p.read_offset, p.size, p.updated),
        )

    def forget_file(self, key: str) -> None:
        self.conn.execute("DELETE FROM files WHERE key = ?", (key,))
        self.conn.execute("DELETE FROM seen WHERE file_key = ?", (key,))

    # -- detections already counted --------------------------------------------------------------------------
    def seen(self) -> set[tuple[str, int]]:
        return {(row[0], row[1]) for row in self.conn.execute("SELECT file_key, line FROM seen")}

    def add_seen(self, keys: Iterable[tuple[str, int]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", keys)

    def prune_seen(self, file_key: str, before_line: int) -> None:
        """Keys before a file's checkpoint can never be read again."""
        self.conn.execute("DELETE FROM seen WHERE file_key = ? AND line < ?", (file_key, before_line))

    # -- meta: alarm state, counters, heartbeat ------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- outbox --------------------------------------------------------------------------------------------
    def enqueue(self, channel: str, payload: dict[str, Any], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.conn.execute(
            "INSERT INTO outbox (channel, payload, created, next_attempt) VALUES (?, ?, ?, ?)",
            (channel, json.dumps(payload), now, now),
        )

    def next_undelivered(self, channel: str) -> OutboxRow | None:
        """The oldest notification of a channel not yet delivered: a channel delivers in order."""
        row = self.conn.execute(
            "SELECT id, channel, payload, attempts, next_attempt, last_error FROM outbox "
            "WHERE channel = ? AND delivered IS NULL ORDER BY id LIMIT 1",
            (channel,),
        ).fetchone()
        if row is None:
            return None
        return OutboxRow(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5])

    def mark_delivered(self, row: OutboxRow, now: float) -> None:
        """Delivered: counted for good (`delivered_counts`), its row kept a while for a person to look at."""
        self.conn.execute("UPDATE outbox SET delivered = ?, last_error = NULL WHERE id = ?", (now, row.id))
        counts = self.delivered_counts()
        self.put("delivered", {**counts, row.channel: counts.get(row.channel, 0) + 1})

    def mark_failed(self, row_id: int, error: str, next_attempt: float) -> None:
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE id = ?",
            (error[:500], next_attempt, row_id),
        )

    def outbox_depth(self) -> dict[str, int]:
        """Notifications waiting, per channel."""
        rows = self.conn.execute("SELECT channel, count(*) FROM outbox WHERE delivered IS NULL GROUP BY channel")
        return {row[0]: row[1] for row in rows}

    def delivered_counts(self) -> dict[str, int]:
        """Notifications delivered since the state was made, per channel (pruned rows included)."""
        return dict(self.get("delivered", {}))

    def channels(self) -> list[str]:
        """Every channel that has had a notification, in name order."""
        rows = self.conn.execute("SELECT DISTINCT channel FROM outbox")
        return sorted({row[0] for row in rows} | set(self.delivered_counts()))

    def prune_outbox(self, older_than: float) -> None:
        """Forget notifications delivered before `older_than`: the outbox stays small on a watcher that runs for
        years; the counts stay in `delivered_counts`."""
        self.conn.execute("DELETE FROM outbox WHERE delivered IS NOT NULL AND delivered < ?", (older_than,))
