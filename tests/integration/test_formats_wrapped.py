"""Logs as they reach people: compressed (gzip, bzip2, xz, zstd), exported to S3 by CloudWatch Logs, or saved from
a Logs Insights query (JSON, CSV). A real server's log, wrapped each way, must give exactly the detections of the
log itself; the format is told from the content; a file in which nothing is recognised is an error."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from captures import DATA
from formatkit import (
    COMPRESS,
    STREAM,
    insights_cli_json,
    insights_console_json,
    insights_csv,
    insights_rows,
    s3_export,
)
from pgaudit_monitor.background import read_entries
from pgaudit_monitor.entries import AURORA_PREFIX, POSTGRES_DEFAULT_PREFIX, LogEntry, Malformed, compile_prefix
from pgaudit_monitor.entries.reader import LogFormat, entry_splitter, read_file, sniff_input
from pgaudit_monitor.entries.wrapped import Row, UnwrappingSplitter, events_in_time_order
from pgaudit_monitor.errors import InputError, PrefixError, UnrecognisedInput
from pgserver import only
from workload import SERVICE_ACCOUNTS

CLI = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli"]
AURORA_LOG = DATA / "aurora.log"  # real server output, Aurora's prefix (tests/data/prefixes)
ALWAYS = 0  # min_bytes that sends every file to the background reader


def scan(*args: str, stdin: bytes | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """The real command's exit code, JSON lines and stderr."""
    proc = subprocess.run([*CLI, "scan", "--format", "json", *args], input=stdin, capture_output=True, check=False)
    return proc.returncode, [json.loads(line) for line in proc.stdout.decode().splitlines()], proc.stderr.decode()


def placed(detections: list[dict[str, Any]], lines: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """Every field of every detection but its file, in log order; `lines` maps a wrapped file's line (a Logs
    Insights row) back to the line of the log it came from."""
    out = []
    for detection in detections:
        detection = {key: value for key, value in detection.items() if key != "source"}
        if lines is not None:
            detection["line"] = lines[detection["line"]]
        out.append(detection)
    return sorted(out, key=lambda d: d["line"])


@pytest.fixture(scope="module")
def plain(workload_logs: Path) -> tuple[bytes, list[dict[str, Any]]]:
    """The workload's stderr log and its detections, scanned as it is."""
    path = only(workload_logs, ".log")
    code, detections, stderr = scan("--service-accounts", SERVICE_ACCOUNTS, str(path))
    assert (code, stderr) == (1, "")
    return path.read_bytes(), placed(detections)


# -- the same detections, whatever the wrapping ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["bzip2", "xz", "zstd"])
def test_compressed_log_reads_like_the_log(
    plain: tuple[bytes, list[dict[str, Any]]], tmp_path: Path, kind: str
) -> None:
    log, expected = plain
    path = tmp_path / "postgresql.log.1"  # no telling suffix: the magic number decides
    path.write_bytes(COMPRESS[kind](log))
    code, detections, stderr = scan("--service-accounts", SERVICE_ACCOUNTS, str(path))
    assert (code, stderr) == (1, "")
    assert placed(detections) == expected


@pytest.mark.postgres
def test_compressed_standard_input_reads_like_the_log(plain: tuple[bytes, list[dict[str, Any]]]) -> None:
    log, expected = plain
    code, detections, stderr = scan("--service-accounts", SERVICE_ACCOUNTS, "-", stdin=COMPRESS["xz"](log))
    assert (code, stderr) == (1, "")
    assert placed(detections) == expected


@pytest.mark.postgres
def test_s3_export_reads_like_the_log(plain: tuple[bytes, list[dict[str, Any]]], tmp_path: Path) -> None:
    # CreateExportTask's layout: <prefix>/<task>/<log stream>/000000.gz, each event `<time> <message>`.
    log, expected = plain
    folder = tmp_path / "exportedlogs" / "0f1e2d3c" / STREAM
    folder.mkdir(parents=True)
    (folder / "000000.gz").write_bytes(s3_export(log))
    code, detections, stderr = scan("--service-accounts", SERVICE_ACCOUNTS, str(folder / "000000.gz"))
    assert (code, stderr) == (1, "")
    assert placed(detections) == expected  # lines too: the export keeps every line where it was


@pytest.mark.postgres
@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
@pytest.mark.parametrize("shape", ["cli-json", "console-json", "csv"])
def test_insights_result_reads_like_the_log(
    plain: tuple[bytes, list[dict[str, Any]]], tmp_path: Path, shape: str, newest_first: bool
) -> None:
    log, expected = plain
    rows, row_lines = insights_rows(log, newest_first=newest_first)
    if shape == "csv":
        data, starts = insights_csv(rows)
        lines = {starts[number]: line for number, line in row_lines.items()}
    else:
        data = insights_cli_json(rows) if shape == "cli-json" else insights_console_json(rows)
        lines = row_lines
    path = tmp_path / "logs-insights-results.txt"
    path.write_bytes(data)
    code, detections, stderr = scan("--service-accounts", SERVICE_ACCOUNTS, str(path))
    assert (code, stderr) == (1, "")
    assert placed(detections, lines) == expected


def test_insights_csv_with_a_byte_order_mark_reads_like_the_log(tmp_path: Path) -> None:
    # (oldest first: every entry of this capture has the same second, so newest first cannot be told from it)
    rows, row_lines = insights_rows(AURORA_LOG.read_bytes(), newest_first=False)
    data, starts = insights_csv(rows)
    path = tmp_path / "result.csv"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    code, detections, stderr = scan(str(path))
    assert (code, stderr) == (1, "")
    lines = {starts[number]: line for number, line in row_lines.items()}
    assert placed(detections, lines) == placed(scan(str(AURORA_LOG))[1])


@pytest.mark.parametrize("wrap", ["xz", "s3-export", "insights-json", "insights-csv"])
def test_background_reader_reads_wrapped_logs_as_read_file_does(tmp_path: Path, wrap: str) -> None:
    log = AURORA_LOG.read_bytes()
    path = tmp_path / "wrapped"
    if wrap == "xz":
        path.write_bytes(COMPRESS["xz"](log))
    elif wrap == "s3-export":
        path.write_bytes(s3_export(log))
    elif wrap == "insights-json":
        path.write_bytes(insights_cli_json(insights_rows(log, newest_first=True)[0]))
    else:
        path.write_bytes(insights_csv(insights_rows(log, newest_first=True)[0])[0])
    prefix = compile_prefix(AURORA_PREFIX)
    in_process = list(read_file(str(path), prefix))
    through_child = [
        item if isinstance(item, Malformed) else LogEntry(*item.fields()[:-1], None)
        for item in read_entries(str(path), prefix, min_bytes=ALWAYS)
    ]
    assert through_child == in_process
    assert sum(isinstance(item, LogEntry) for item in in_process) > 10


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_unwrapping_ignores_where_blocks_end(block: int) -> None:
    # A wrapper cut in two by the end of a block is still taken off.
    prefix = compile_prefix(AURORA_PREFIX)
    export = gzip.decompress(s3_export(AURORA_LOG.read_bytes()))

    def read(size: int) -> list[Any]:
        splitter = entry_splitter(LogFormat.STDERR, prefix, None, source="x", stream="s")
        unwrapping = UnwrappingSplitter(splitter)
        out = []
        for at in range(0, len(export), size):
            out += unwrapping.feed(export[at : at + size])
        return out + unwrapping.finish()

    whole = read(len(export))
    assert read(block) == whole
    assert [(e.line, e.message) for e in whole if isinstance(e, LogEntry)] == [
        (e.line, e.message) for e in read_file(str(AURORA_LOG), prefix, needles=None) if isinstance(e, LogEntry)
    ]


ORDER_CASES = [
    # (case, @timestamp of each row in the file's order, the rows' numbers in the order read)
    ("oldest-first", ["1", "2", "2", "3"], [1, 2, 3, 4]),
    ("newest-first", ["3", "2", "2", "1"], [4, 3, 2, 1]),  # reversed whole: rows of one time too
    ("mixed", ["2", "1", "3", "1"], [2, 4, 1, 3]),  # sorted, stably
    ("one-time", ["5", "5", "5"], [1, 2, 3]),  # nothing tells newest first: the file's order
    ("insights-text-times", ["2026-11-25 10:00:01.000", "2026-11-25 10:00:00.500"], [2, 1]),
    ("iso-and-epoch", ["2026-11-25T10:00:01.000Z", "1795600800000"], [2, 1]),
]


@pytest.mark.parametrize(("times", "order"), [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES])
def test_insights_rows_are_read_in_time_order(times: list[str], order: list[int]) -> None:
    rows = [Row(number, {"@timestamp": time, "@message": f"m{number}"}) for number, time in enumerate(times, 1)]
    events, bad = events_in_time_order(rows, source="r.json", stream="s")
    assert bad == []
    assert [number for number, _, _ in events] == order


# -- telling the format ------------------------------------------------------------------------------------------

AURORA_LINE = (
    b"2026-11-25 09:53:22 UTC:127.0.0.1(34992):alice@shop:[6850]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>\n"
)
DEFAULT_LINE = b"2026-11-25 09:53:22.123 UTC [6850] LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>\n"
EXPORT_TIME = b"2026-11-25T09:53:22.000Z "
SNIFF_CASES = [
    # (case, first bytes, log_line_prefix, format)
    ("aurora-stderr", AURORA_LINE * 3, AURORA_PREFIX, LogFormat.STDERR),
    ("default-stderr", DEFAULT_LINE * 3, POSTGRES_DEFAULT_PREFIX, LogFormat.STDERR),
    ("bracket-first-stderr", b"[6850] LOG:  AUDIT: x\n", "[%p] ", LogFormat.STDERR),
    ("csvlog", (DATA / "aurora.csv").read_bytes()[:4096], AURORA_PREFIX, LogFormat.CSVLOG),
    ("jsonlog", (DATA / "aurora.json").read_bytes()[:4096], AURORA_PREFIX, LogFormat.JSONLOG),
    (
        "s3-export",
        EXPORT_TIME + AURORA_LINE + b"\tcontinued\n" + EXPORT_TIME + AURORA_LINE,
        AURORA_PREFIX,
        LogFormat.S3_EXPORT,
    ),
    # The export's wrapper is told by its shape: the wrong prefix given is reported later, as nothing recognised.
    ("s3-export-wrong-prefix", (EXPORT_TIME + AURORA_LINE) * 2, POSTGRES_DEFAULT_PREFIX, LogFormat.S3_EXPORT),
    ("s3-export-default-prefix", (EXPORT_TIME + DEFAULT_LINE) * 2, POSTGRES_DEFAULT_PREFIX, LogFormat.S3_EXPORT),
    # A stderr log whose prefix itself reads the time (here as %h, which takes any word): read as configured.
    ("iso-time-read-by-the-prefix", (EXPORT_TIME + DEFAULT_LINE) * 2, "%h %m [%p] ", LogFormat.STDERR),
    # ISO times that are not the export's (other precision, no Z, no T): not an export.
    ("nanosecond-iso-times", (b"2026-11-25T09:53:22.123456789Z " + AURORA_LINE) * 2, AURORA_PREFIX, LogFormat.STDERR),
    ("iso-without-zone", (b"2026-11-25T09:53:22.123 " + AURORA_LINE) * 2, AURORA_PREFIX, LogFormat.STDERR),
    ("one-wrapped-line-of-many", EXPORT_TIME + AURORA_LINE + AURORA_LINE * 5, AURORA_PREFIX, LogFormat.STDERR),
    (
        "insights-cli-json",
        b'{\n    "results": [\n        [\n            {\n                "field": "@timestamp"',
        AURORA_PREFIX,
        LogFormat.INSIGHTS_JSON,
    ),
    ("insights-cli-json-no-rows", b'{"results": [], "status": "Complete"}', AURORA_PREFIX, LogFormat.INSIGHTS_JSON),
    (
        "insights-cli-json-status-first",
        b'{"status": "Complete", "results": []}',
        AURORA_PREFIX,
        LogFormat.INSIGHTS_JSON,
    ),
    (
        "insights-console-json",
        b'[\n  {\n    "@timestamp": "2026-11-25 09:53:22.000"',
        AURORA_PREFIX,
        LogFormat.INSIGHTS_JSON,
    ),
    ("insights-rows-json", b'[[{"field": "@message", "value": "x"}]]', AURORA_PREFIX, LogFormat.INSIGHTS_JSON),
    (
        "insights-csv",
        b"@timestamp,@message,@logStream,@log\r\n2026-11-25 09:53:22.000,x,s,l\r\n",
        AURORA_PREFIX,
        LogFormat.INSIGHTS_CSV,
    ),
    ("insights-csv-quoted", b'"@timestamp","@message"\n', AURORA_PREFIX, LogFormat.INSIGHTS_CSV),
    ("insights-csv-with-bom", b"\xef\xbb\xbf@timestamp,@message\n", AURORA_PREFIX, LogFormat.INSIGHTS_CSV),
    ("insights-json-with-bom", b'\xef\xbb\xbf[{"@message": "x"}]', AURORA_PREFIX, LogFormat.INSIGHTS_JSON),
    ("csv-without-message", b"@timestamp,@logStream\n", AURORA_PREFIX, LogFormat.STDERR),
    (
        "jsonlog-is-not-a-result",
        b'{"timestamp":"2026-11-25 09:53:22.123 UTC","message":"x"}\n',
        AURORA_PREFIX,
        LogFormat.JSONLOG,
    ),
]


@pytest.mark.parametrize(("head", "prefix", "fmt"), [case[1:] for case in SNIFF_CASES], ids=[c[0] for c in SNIFF_CASES])
def test_the_format_is_told_from_the_content(head: bytes, prefix: str, fmt: LogFormat) -> None:
    assert sniff_input(head, compile_prefix(prefix)) is fmt


# -- what is not a log, and bad input ----------------------------------------------------------------------------


def _random_text() -> bytes:
    return b"".join(os.urandom(40).hex().encode() + b"\n" for _ in range(200))


NOT_LOGS = [
    ("random-text", _random_text, ()),
    ("random-bytes", lambda: os.urandom(70000), ()),
    ("wrong-prefix", AURORA_LOG.read_bytes, ("--log-line-prefix", POSTGRES_DEFAULT_PREFIX)),
    ("s3-export-wrong-prefix", lambda: s3_export(AURORA_LOG.read_bytes()), ("--log-line-prefix", "%m [%p] ")),
    ("json-not-a-log", lambda: b'{"name": "not a log"}\n{"x": 1}\n', ()),
    ("compressed-random-text", lambda: COMPRESS["zstd"](_random_text()), ()),
]


@pytest.mark.parametrize(("make", "options"), [case[1:] for case in NOT_LOGS], ids=[case[0] for case in NOT_LOGS])
def test_a_file_with_nothing_recognised_exits_2_and_says_what_was_tried(
    tmp_path: Path, make: Any, options: tuple[str, ...]
) -> None:
    path = tmp_path / "input.log"
    path.write_bytes(make())
    code, detections, stderr = scan(*options, str(path))
    assert (code, detections) == (2, [])
    assert f"{path}: no PostgreSQL log entry recognised; tried stderr with log_line_prefix" in stderr
    for tried in ("csvlog", "jsonlog", "CloudWatch Logs export to S3", "Logs Insights results", "zstd"):
        assert tried in stderr


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["empty", "blank"])
def test_an_empty_file_is_an_empty_log(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(content)
    assert scan(str(path)) == (0, [], "")


def test_a_log_without_audit_records_is_still_a_log(tmp_path: Path) -> None:
    # Recognised, nothing to report: 0, not 2.
    path = tmp_path / "quiet.log"
    path.write_bytes(b"".join(line for line in AURORA_LOG.read_bytes().splitlines(True) if b"AUDIT" not in line))
    assert scan(str(path)) == (0, [], "")


def test_nothing_recognised_is_the_readers_input_error(tmp_path: Path) -> None:
    # The reader decides; in the background reader's child too (the entry point maps it to exit 2).
    path = tmp_path / "random.txt"
    path.write_bytes(_random_text())
    prefix = compile_prefix(AURORA_PREFIX)
    with pytest.raises(UnrecognisedInput, match="no PostgreSQL log entry recognised"):
        list(read_file(str(path), prefix))
    with pytest.raises(InputError, match="no PostgreSQL log entry recognised"):
        list(read_entries(str(path), prefix, min_bytes=ALWAYS))


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_compressed_log_is_a_clear_error(tmp_path: Path, kind: str, damage: str) -> None:
    data = COMPRESS[kind](AURORA_LOG.read_bytes() * 20)
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0x55 for b in data[middle : middle + 64]) + data[middle + 64 :]
    path = tmp_path / "postgresql.log"
    path.write_bytes(data)
    code, _, stderr = scan(str(path))
    assert code == 2
    assert f"{path}: read failed: not valid {kind} data, truncated or corrupt (" in stderr


def test_s3_export_line_that_does_not_parse_is_reported_at_its_line(tmp_path: Path) -> None:
    lines = gzip.decompress(s3_export(AURORA_LOG.read_bytes())).splitlines(keepends=True)
    lines.insert(5, EXPORT_TIME + b"no prefix here:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>\n")
    path = tmp_path / "000000"
    path.write_bytes(b"".join(lines))
    code, _, stderr = scan(str(path))
    assert code == 1
    assert f"{path}:6: does not match log_line_prefix" in stderr
    assert "'no prefix here:  AUDIT: SESSION" in stderr  # the line as PostgreSQL wrote it, unwrapped


def test_insights_rows_without_an_event_are_reported_at_their_row(tmp_path: Path) -> None:
    rows, _ = insights_rows(AURORA_LOG.read_bytes(), newest_first=False)
    del rows[3]["@message"]
    path = tmp_path / "result.json"
    path.write_bytes(insights_cli_json(rows))
    code, _, stderr = scan(str(path))
    assert code == 1
    assert f"{path}:4: Logs Insights row without @message" in stderr


def test_insights_rows_without_a_time_are_reported_and_read_in_file_order(tmp_path: Path) -> None:
    rows, _ = insights_rows(AURORA_LOG.read_bytes(), newest_first=False)
    rows[0]["@timestamp"] = "yesterday"
    path = tmp_path / "result.json"
    path.write_bytes(insights_console_json(rows))
    expected = scan(str(AURORA_LOG))[1]
    code, detections, stderr = scan(str(path))
    assert code == 1
    assert f"{path}:1: Logs Insights row without a readable @timestamp" in stderr
    assert len(detections) == len(expected)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"results": [[{"field": "@message", "value": "x"}]', "line 1: not a Logs Insights result in JSON"),
        (b'{"status": "Complete", "results": 3}', 'no list of "results"'),
    ],
)
def test_a_broken_insights_result_is_a_clear_error(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(data)
    code, _, stderr = scan(str(path))
    assert code == 2
    assert f"{path}: " in stderr
    assert reason in stderr


# -- log_line_prefix escapes of PostgreSQL forks -------------------------------------------------------------------

YUGABYTE_PREFIX = "%m [%p %l %c] %q[%C %R %Z %H] [%r%a %u %d] "  # YugabyteDB's documented audit-logging example


@pytest.mark.parametrize(
    ("prefix", "line"),
    [
        (YUGABYTE_PREFIX, "2026-11-25 09:53:22.123 UTC [6850 3 6745a1b2.1ac2] [aws us-east-1 us-east-1a "
         "yb-node-2.internal] [10.0.0.7(51234)psql alice shop] LOG:  AUDIT: SESSION,1,1,WRITE,UPDATE,,,x,<none>"),
        ("%m [%p] %U %N %u@%d ", "2026-11-25 09:53:22.123 UTC [6850] 3f1c9a2e-1d7b-4f3e-9a41-0c2b7d5e8f10 "
         "node-2 alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,UPDATE,,,x,<none>"),
    ],
    ids=["yugabyte-documented", "cluster-uuid-and-node"],
)  # fmt: skip
def test_fork_escapes_are_read_as_opaque_text(tmp_path: Path, prefix: str, line: str) -> None:
    path = tmp_path / "yb.log"
    path.write_text(line + "\n")
    (entry,) = read_file(str(path), compile_prefix(prefix))
    assert isinstance(entry, LogEntry)
    assert (entry.user, entry.database, entry.pid, entry.level) == ("alice", "shop", 6850, "LOG")
    assert entry.message == "AUDIT: SESSION,1,1,WRITE,UPDATE,,,x,<none>"


def test_unknown_escapes_are_still_refused() -> None:
    with pytest.raises(PrefixError, match="unknown escape %y"):
        compile_prefix("%m %y ")
