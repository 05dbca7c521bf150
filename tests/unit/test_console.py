"""The console sink's JSON lines: what `scan --format json` and `triage --format json` print."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.policy.verdict import APP_DML, Verdict
from pgaudit_monitor.sinks.console import ScanReport


def json_line(outcome: Outcome) -> bytes:
    return outcome.detection().json_line()


def _outcome(statement: str, line: int = 7) -> Outcome:
    verdict = Verdict(APP_DML, "application-relation", "UPDATE", ("accounts",), statement)
    return Outcome(verdict, "2026-12-01 10:00:00 UTC", "alice", "appdb", "10.0.0.1(5432)", "psql", 42, None, 3,
                   "postgresql.log", line, "/var/log")  # fmt: skip


def test_a_json_line_is_one_compact_object_with_the_documented_fields() -> None:
    statement = "UPDATE accounts SET note = 'é, \"x\"' WHERE id = 1"
    line = json_line(_outcome(statement))
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert json.loads(line) == _outcome(statement).detection().to_dict()
    assert b", " not in line.split(b'"statement"')[0]  # compact between fields


def test_a_statement_that_is_not_valid_unicode_is_escaped_not_lost() -> None:
    # A jsonlog `\ud800` escape decodes to a lone surrogate, which orjson refuses: the line is written all the same.
    line = json_line(_outcome("SELECT '\ud800' FROM accounts"))
    assert line.isascii()
    assert json.loads(line)["statement"] == "SELECT '\ud800' FROM accounts"


def test_json_lines_are_held_then_written_in_order_and_nothing_is_lost() -> None:
    out = io.StringIO()
    report = ScanReport("scan", as_json=True, explain=False, out=out, err=io.StringIO())
    for n in range(ScanReport.JSON_LINES_HELD + 3):
        report.take(_outcome(f"UPDATE accounts SET n = {n}", line=n))
        if n == ScanReport.JSON_LINES_HELD - 2:
            assert out.getvalue() == ""  # held: standard output may cost a system call per write
    assert out.getvalue().count("\n") == ScanReport.JSON_LINES_HELD
    report.finish()
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["line"] for line in lines] == list(range(ScanReport.JSON_LINES_HELD + 3))
    assert report.found == len(lines)


def test_json_lines_go_to_the_byte_stream_in_utf8_after_the_text_written_before() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    out.write("written first\n")
    report = ScanReport("scan", as_json=True, explain=False, out=out, err=io.StringIO())
    report.take(_outcome("UPDATE accounts SET note = 'é' WHERE id = 1"))
    report.finish()
    out.flush()
    first, line = raw.getvalue().decode("utf-8").splitlines()
    assert first == "written first"
    assert json.loads(line)["statement"] == "UPDATE accounts SET note = 'é' WHERE id = 1"


def test_a_detection_is_exactly_one_line_in_every_output(tmp_path: Path) -> None:
    # U+2028, U+2029 and U+0085 are valid raw in JSON, but splitlines() and many log shippers end a line there;
    # a lone surrogate (a jsonlog `\ud800` escape) made the watcher's journal raise and the watcher stop for good.
    from pgaudit_monitor.aws.monitor import emit
    from pgaudit_monitor.watch.journal import Journal

    for statement in ("UPDATE accounts SET note = 'a\u2028b\u2029c\x85d' WHERE id = 1",
                      "SELECT '\ud800' FROM accounts /* \u2028 */"):  # fmt: skip
        outcome = _outcome(statement)
        journal = Journal(str(tmp_path / "detections.jsonl"))
        journal.append([outcome.detection()])
        journal.close()
        written = (tmp_path / "detections.jsonl").read_bytes()
        lambda_log = io.StringIO()
        emit(outcome.detection().to_dict(), lambda_log)
        for line in (json_line(outcome), written, lambda_log.getvalue().encode("utf-8")):
            assert len(line.decode("utf-8").splitlines()) == 1, line
            assert line.endswith(b"\n")
            assert json.loads(line)["statement"] == statement
        (tmp_path / "detections.jsonl").unlink()


def test_a_detection_is_written_as_its_dict_byte_for_byte() -> None:
    # Detection.json_line lets orjson write the dataclass itself: the same bytes, fields in the same order, as
    # the dict every other reader of a detection gets (the fallback included: a lone surrogate, U+2028).
    from pgaudit_monitor.detections.model import json_line as line_of

    for statement in ("UPDATE accounts SET note = 'é' WHERE id = 1", "SELECT '\ud800' FROM accounts /* \u2028 */"):
        detection = _outcome(statement).detection()
        assert detection.json_line() == line_of(detection.to_dict())
        assert list(json.loads(detection.json_line())) == list(detection.to_dict())
