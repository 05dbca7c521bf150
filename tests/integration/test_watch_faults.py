"""The watcher, as a separate process, follows a log file through every fault a log file meets, and counts each
human statement exactly once: rotation in the middle of an entry, SIGKILL and restart, a malformed line, the file
deleted and recreated, truncation in place. The log is the real server's output for the whole scripted workload,
written into the followed file piece by piece, cut in the middle of entries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.pipeline import Pipeline
from pgserver import only
from watchkit import WatcherProcess, wait_for
from workload import SERVICE_ACCOUNTS, expected_detections, normalize

# What `RAISE LOG 'AUDIT: SESSION,broken'` writes: a valid prefix, an audit record that cannot be read.
MALFORMED = b"2026-01-01 00:00:00 UTC:127.0.0.1(1):alice@postgres:[99999]:LOG:  AUDIT: SESSION,broken\n"


def entry_starts(data: bytes) -> list[int]:
    return [i + 1 for i in range(len(data) - 1) if data[i] == 10 and data[i + 1] != 9]


def audit_entry_middles(data: bytes, count: int) -> list[int]:
    """Offsets in the middle of audit entries, spread over the log: where a rotation hurts most."""
    starts = [s for s in entry_starts(data) if b"AUDIT: " in data[s : data.find(b"\n", s)]]
    picked = [starts[(i + 1) * len(starts) // (count + 1)] for i in range(count)]
    return [p + 25 for p in picked]


def next_entry(data: bytes, offset: int) -> int:
    return next(s for s in entry_starts(data) if s > offset)


def read_to(watcher: WatcherProcess, path: Path, size: int) -> None:
    """Wait until the watcher has read the file now at `path` up to `size` bytes (and committed it)."""
    st = os.stat(path)
    key = f"{st.st_dev}:{st.st_ino}"
    rows = lambda: watcher.query(f"SELECT read_offset FROM files WHERE key = '{key}'")  # noqa: E731
    wait_for(lambda: any(r[0] >= size for r in rows()), f"{path} read to {size}")


@pytest.mark.postgres
def test_every_fault_of_a_followed_file_counts_each_statement_once(workload_logs: Path, tmp_path: Path) -> None:
    data = only(workload_logs, ".log").read_bytes()
    cut1, cut2, cut3, cut4 = audit_entry_middles(data, 4)
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    log = log_dir / "postgresql.log"
    watcher = WatcherProcess(
        [str(log), "--service-accounts", SERVICE_ACCOUNTS, "--window-seconds", "3600", "--no-console",
         "--detach-grace-seconds", "0.5", "--log-line-prefix", "%t:%r:%u@%d:[%p]:"],
        tmp_path / "state",
    )  # fmt: skip

    try:
        # A first piece ending in the middle of an audit entry: that entry waits for its end.
        log.write_bytes(data[:cut1])
        watcher.start()
        read_to(watcher, log, cut1)

        # Rotation in the middle of that entry: the writer still holds the renamed file and ends the entry (and a few
        # more) there, then writes to a new file at the old name.
        boundary = next_entry(data, cut1 + 2000)
        with open(log, "ab") as old:
            os.rename(log, log_dir / "postgresql.log.1")
            old.write(data[cut1:boundary])
            old.flush()
            log.write_bytes(data[boundary:cut2])
        # SIGKILL at once, whatever the watcher was doing, and a restart: it finds the renamed file beside its path.
        watcher.kill()
        watcher.start()
        read_to(watcher, log, cut2 - boundary)

        # A malformed line between two entries, and another kill while the next piece is being read.
        middle = next_entry(data, cut2)
        with open(log, "ab") as current:
            current.write(data[cut2:middle] + MALFORMED + data[middle:cut3])
        watcher.kill()
        watcher.start()
        written = (cut3 - boundary) + len(MALFORMED)
        read_to(watcher, log, written)

        # The file deleted (once read: what nobody read is gone) and recreated at the same path.
        start = next_entry(data, cut3)
        with open(log, "ab") as current:
            current.write(data[cut3:start])
        read_to(watcher, log, written + start - cut3)
        log.unlink()
        log.write_bytes(data[start:cut4])
        read_to(watcher, log, cut4 - start)

        # Truncated in place (copytruncate), then written again at once.
        end = next_entry(data, cut4)
        with open(log, "ab") as current:
            current.write(data[cut4:end])
        read_to(watcher, log, end - start)
        with open(log, "r+b") as current:
            current.truncate(0)
        with open(log, "ab") as current:
            current.write(data[end:])

        expected = sorted(expected_detections())
        wait_for(lambda: len(watcher.journal()) >= len(expected), "every detection")
        read_to(watcher, log, len(data) - end)
        wait_for(lambda: watcher.meta("detections_total") == len(watcher.journal()), "the last commit")
        assert watcher.terminate() == 0

        # A clean restart reads nothing again.
        watcher.start()
        wait_for(lambda: (watcher.meta("heartbeat") or 0) > 0 and watcher.meta("pid") == watcher.proc.pid, "restart")
        assert watcher.terminate() == 0

    finally:
        watcher.ensure_stopped()

    journal = watcher.journal()
    assert sorted(normalize(d) for d in journal) == expected
    assert watcher.meta("detections_total") == len(expected)
    alarm = watcher.meta("alarm")
    assert alarm["state"] == "ALARM"
    assert alarm["episode_count"] == len(expected)
    assert watcher.meta("malformed_total") >= 1
    assert "pgAudit record with 2 fields" in watcher.output()


@pytest.mark.postgres
def test_start_at_end_skips_what_the_file_held_on_the_first_run(workload_logs: Path, tmp_path: Path) -> None:
    data = only(workload_logs, ".log").read_bytes()
    boundary = next(s for s in entry_starts(data) if s > len(data) // 2 and b"connection received" in data[s : s + 200])
    first_new_line = data[:boundary].count(b"\n") + 1
    settings = load_settings(env={}, service_accounts=SERVICE_ACCOUNTS)
    pipeline = Pipeline(settings, report_excluded=False)
    whole = [o for o in [*pipeline.scan_file(str(only(workload_logs, ".log"))), *pipeline.finish()]]
    expected = sorted(normalize(o.detection().to_dict()) for o in whole if getattr(o, "line", 0) >= first_new_line)
    assert expected
    log = tmp_path / "postgresql.log"
    log.write_bytes(data[:boundary])
    watcher = WatcherProcess([str(log), "--service-accounts", SERVICE_ACCOUNTS, "--no-console", "--start-at-end"],
                             tmp_path / "state")  # fmt: skip
    try:
        watcher.start()
        read_to(watcher, log, boundary)
        with open(log, "ab") as handle:
            handle.write(data[boundary:])
        wait_for(lambda: len(watcher.journal()) >= len(expected), "the new detections")
        read_to(watcher, log, len(data))
        assert watcher.terminate() == 0
    finally:
        watcher.ensure_stopped()
    assert sorted(normalize(d) for d in watcher.journal()) == expected
