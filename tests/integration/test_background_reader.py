"""Reading a large file in a second process changes the wall time, nothing else: the same entries in the same
order with the same line numbers, the same malformed entries, the same errors, and the same detections."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pgaudit_monitor.background import MIN_BACKGROUND_BYTES, _worth_a_process, read_entries
from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import AURORA_PREFIX, POSTGRES_DEFAULT_PREFIX, compile_prefix
from pgaudit_monitor.entries.reader import read_file
from pgaudit_monitor.errors import InputError, RecordError
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.policy.accounts import ServiceAccounts
from pgaudit_monitor.records.pgaudit import is_audit_message, parse_record
from pgserver import only
from workload import SERVICE_ACCOUNTS, expected_detections, in_log_order

pytestmark = pytest.mark.postgres
ALWAYS = 0  # min_bytes: read every file in a child, however small
FORKS: list[int] = []
os.register_at_fork(after_in_parent=lambda: FORKS.append(os.getpid()))  # counts the children this process starts


def _skip_service(user: bytes) -> bool:
    return not ServiceAccounts(tuple(SERVICE_ACCOUNTS.split(","))).is_human(user.decode())


def _unparsed(items: list[LogEntry | Malformed]) -> list[LogEntry | Malformed]:
    """The entries as read_file yields them, after checking the record the child parsed for each audit record."""
    records = 0
    for item in items:
        if isinstance(item, LogEntry) and item.record is not None:
            assert item.record == parse_record(item.message)
            item.record, records = None, records + 1
        elif isinstance(item, LogEntry) and is_audit_message(item.message):
            with pytest.raises(RecordError):  # only what does not parse is left to the pipeline
                parse_record(item.message)
    assert records > 0
    return items


@pytest.mark.parametrize("suffix", [".log", ".csv", ".json"])
@pytest.mark.parametrize("skip", [None, _skip_service])
def test_child_yields_what_read_file_yields(workload_logs: Path, suffix: str, skip: object) -> None:
    path, prefix = str(only(workload_logs, suffix)), compile_prefix(AURORA_PREFIX)
    in_process = list(read_file(path, prefix, skip_user=skip))  # type: ignore[arg-type]
    forks = len(FORKS)
    through_child = list(read_entries(path, prefix, skip_user=skip, min_bytes=ALWAYS))  # type: ignore[arg-type]
    assert len(FORKS) == forks + 1  # it really was read by another process
    assert _unparsed(through_child) == in_process
    assert len(in_process) > 100
    assert not multiprocessing.active_children()


def test_child_reads_a_prefix_without_user_too(default_prefix_logs: Path) -> None:
    path, prefix = str(only(default_prefix_logs, ".log")), compile_prefix(POSTGRES_DEFAULT_PREFIX)
    assert _unparsed(list(read_entries(path, prefix, min_bytes=ALWAYS))) == list(read_file(path, prefix))


def test_detections_are_the_same_through_a_child(workload_logs: Path) -> None:
    settings = load_settings(env={}, service_accounts=SERVICE_ACCOUNTS)
    results = []
    for min_bytes in (ALWAYS, 1 << 40):
        pipeline = Pipeline(settings, report_excluded=False, background_min_bytes=min_bytes)
        path = str(only(workload_logs, ".log"))
        results.append([o.detection().to_dict() for o in [*pipeline.scan_file(path), *pipeline.finish()]])
    assert results[0] == results[1]
    assert in_log_order(results[0]) == expected_detections()


def test_a_lone_surrogate_in_a_jsonlog_message_crosses_unchanged(workload_logs: Path, tmp_path: Path) -> None:
    # A jsonlog `\\ud800` escape decodes to a lone surrogate: it must cross between the processes as it is.
    lines = only(workload_logs, ".json").read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'"user":"alice"' in line and b"AUDIT: SESSION," in line)
    entry = json.loads(lines[at])
    entry["message"] = "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT '\\ud800' FROM accounts,<not logged>"
    # as PostgreSQL writes it, compact, with the escape itself in the JSON (not an escaped backslash)
    odd = json.dumps(entry, separators=(",", ":")).replace("\\\\ud800", "\\ud800").encode() + b"\n"
    path = tmp_path / "surrogate.json"
    path.write_bytes(b"".join(lines[:at]) + odd + b"".join(lines[at:]))
    prefix = compile_prefix(AURORA_PREFIX)
    through_child = list(read_entries(str(path), prefix, min_bytes=ALWAYS))
    assert _unparsed(through_child) == list(read_file(str(path), prefix))
    assert any(isinstance(e, LogEntry) and "\ud800" in e.message for e in through_child)


def test_malformed_entries_come_through_in_place(workload_logs: Path, tmp_path: Path) -> None:
    lines = only(workload_logs, ".log").read_bytes().splitlines(keepends=True)
    garbage = b"this line has no prefix:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>\n"
    path = tmp_path / "mixed.log"
    path.write_bytes(b"".join(lines[:40]) + garbage + b"".join(lines[40:]))
    prefix = compile_prefix(AURORA_PREFIX)
    through_child = list(read_entries(str(path), prefix, min_bytes=ALWAYS))
    assert _unparsed(through_child) == list(read_file(str(path), prefix))
    (bad,) = [item for item in through_child if isinstance(item, Malformed)]
    assert (bad.source, bad.line) == (str(path), 41)


def test_a_record_the_child_cannot_parse_is_reported_by_the_pipeline_in_place(
    workload_logs: Path, tmp_path: Path
) -> None:
    lines = only(workload_logs, ".log").read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b"alice@" in line and b":  AUDIT: SESSION," in line)
    head = lines[at].split(b"AUDIT: ")[0]
    path = tmp_path / "bad-record.log"
    bad_record = head + b"AUDIT: SESSION,one,1,READ,SELECT,,,SELECT 1,<not logged>\n"
    path.write_bytes(b"".join(lines[:at]) + bad_record + b"".join(lines[at:]))
    settings = load_settings(env={}, service_accounts=SERVICE_ACCOUNTS)
    results = []
    for min_bytes in (ALWAYS, 1 << 40):
        pipeline = Pipeline(settings, report_excluded=False, background_min_bytes=min_bytes)
        results.append([*pipeline.scan_file(str(path)), *pipeline.finish()])
    assert results[0] == results[1]
    (bad,) = [item for item in results[0] if isinstance(item, Malformed)]
    assert (bad.line, bad.reason) == (at + 1, "statement ids are not numbers: 'one','1'")


def test_a_read_error_in_the_child_is_the_callers_input_error(workload_logs: Path, tmp_path: Path) -> None:
    data = gzip.compress(only(workload_logs, ".log").read_bytes())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])  # a gzip stream that ends in the middle
    prefix = compile_prefix(AURORA_PREFIX)
    with pytest.raises(InputError) as in_process:
        list(read_file(str(path), prefix))
    with pytest.raises(InputError) as through_child:
        list(read_entries(str(path), prefix, min_bytes=ALWAYS))
    assert str(through_child.value) == str(in_process.value)
    assert not multiprocessing.active_children()


def test_stopping_early_ends_the_child(workload_logs: Path) -> None:
    entries = read_entries(str(only(workload_logs, ".log")), compile_prefix(AURORA_PREFIX), min_bytes=ALWAYS)
    next(entries)
    entries.close()
    assert not multiprocessing.active_children()


def test_a_reading_process_that_dies_is_an_input_error_that_says_how(workload_logs: Path, tmp_path: Path) -> None:
    # The child killed in the middle of a file (as the OOM killer would): the caller gets the InputError that names
    # the file and the signal, not a hang, a traceback or a silently short scan.
    log = only(workload_logs, ".log").read_bytes()
    path = tmp_path / "big.log"
    path.write_bytes(log * (4 * MIN_BACKGROUND_BYTES // len(log)))
    entries = read_entries(str(path), compile_prefix(AURORA_PREFIX))
    next(entries)
    (child,) = multiprocessing.active_children()  # blocked on a full pipe: the parent has read one entry only
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(InputError, match=r"big\.log: the reading process ended unexpectedly \(killed by SIGKILL\)"):
        for _ in entries:
            pass
    assert not multiprocessing.active_children()


def test_small_files_and_stdin_stay_in_process(workload_logs: Path) -> None:
    forks = len(FORKS)
    assert list(read_entries(str(only(workload_logs, ".log")), compile_prefix(AURORA_PREFIX)))
    assert len(FORKS) == forks
    assert not _worth_a_process("-", ALWAYS)  # standard input is read where it is
    assert not _worth_a_process("-", ALWAYS)  # standard input is read where it is


@pytest.mark.parametrize("suffix", [".log", ".csv", ".json"])
def test_dropping_service_records_unread_drops_exactly_those(workload_logs: Path, suffix: str) -> None:
    # skip_user removes a service account's audit records (stderr: before they are even cut out) and nothing else.
    path, prefix = str(only(workload_logs, suffix)), compile_prefix(AURORA_PREFIX)
    everything = list(read_file(path, prefix))
    kept = list(read_file(path, prefix, skip_user=_skip_service))
    service_records = [
        e
        for e in everything
        if not isinstance(e, Malformed) and e.message.startswith("AUDIT: ") and _skip_service(e.user.encode())
    ]
    if suffix == ".log":
        assert service_records  # the workload's service account audited by mistake
        assert kept == [e for e in everything if e not in service_records]
    else:  # csvlog and jsonlog are read whole: the pipeline drops them instead
        assert kept == everything


def test_interrupting_a_scan_ends_both_processes_quietly(workload_logs: Path, tmp_path: Path) -> None:
    # ^C during a scan read by two processes: exit code 130, no traceback from either process, no process left.
    log = only(workload_logs, ".log").read_bytes()
    path = tmp_path / "big.log"
    path.write_bytes(log * (8 * MIN_BACKGROUND_BYTES // len(log)))  # read in a child, for a few seconds
    scan = subprocess.Popen(
        [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli", "scan", "--format", "json", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, which a terminal's ^C reaches as a whole
    )
    assert scan.stdout is not None
    scan.stdout.readline()  # the scan is under way: a first detection came out
    os.killpg(scan.pid, signal.SIGINT)
    _, stderr = scan.communicate(timeout=60)
    assert scan.returncode == 130
    assert b"Traceback" not in stderr, stderr.decode()
    with pytest.raises(ProcessLookupError):
        os.killpg(scan.pid, 0)  # nobody left in the group: the reading process ended too


def test_several_large_files_print_each_detection_once(workload_logs: Path, tmp_path: Path) -> None:
    # The real command on two files, each read in its own child: the JSON lines are those of a one-process scan,
    # none lost and none written twice (a child must not flush a copy of the parent's pending output).
    log = only(workload_logs, ".log").read_bytes()
    paths = [tmp_path / "a" / "postgresql.log", tmp_path / "b" / "postgresql.log"]
    for path in paths:
        path.parent.mkdir()
        path.write_bytes(log * (MIN_BACKGROUND_BYTES // len(log) + 1))
    scan = subprocess.run(
        [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli", "scan", "--format", "json",
         "--service-accounts", SERVICE_ACCOUNTS, *map(str, paths)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert scan.returncode == 1, scan.stderr.decode()
    pipeline = Pipeline(load_settings(env={}, service_accounts=SERVICE_ACCOUNTS), report_excluded=False,
                        background_min_bytes=1 << 40)  # fmt: skip
    outcomes = [o for path in paths for o in pipeline.scan_file(str(path))] + list(pipeline.finish())
    expected = [o.detection().to_dict() for o in outcomes]
    assert [json.loads(line) for line in scan.stdout.decode().splitlines()] == expected
    assert len(expected) >= 2 * len(expected_detections()) * (MIN_BACKGROUND_BYTES // len(log))
