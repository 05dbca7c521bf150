"""The detections must match, exactly, what each scripted session did: every format, both log_relation settings,
and a prefix without the user."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.pipeline import Pipeline
from pgserver import only
from workload import CASES, SERVICE_ACCOUNTS, expected_detections, in_log_order, normalize, scan_in_process

CLI = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli"]
SUFFIXES = {"stderr": ".log", "csvlog": ".csv", "jsonlog": ".json"}


def scan_json(*args: str, stdin: bytes | None = None) -> tuple[int, list[dict], str]:
    """Run the real command; its JSON lines, exit code and stderr."""
    proc = subprocess.run([*CLI, "scan", "--format", "json", *args], input=stdin, capture_output=True, check=False)
    lines = proc.stdout.decode().splitlines()
    return proc.returncode, [json.loads(line) for line in lines], proc.stderr.decode()


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", SUFFIXES)
def test_detections_match_the_sessions_exactly(workload_logs: Path, fmt: str) -> None:
    code, detections, stderr = scan_json(
        "--service-accounts", SERVICE_ACCOUNTS, str(only(workload_logs, SUFFIXES[fmt]))
    )
    assert stderr == ""
    assert code == 1
    assert in_log_order(detections) == expected_detections()


@pytest.mark.postgres
def test_formats_agree_on_every_field(workload_logs: Path) -> None:
    # The same statements, whatever the log format: csvlog/jsonlog add only milliseconds and session ids.
    results = {fmt: scan_in_process(only(workload_logs, suffix)) for fmt, suffix in SUFFIXES.items()}
    keys = ("user", "database", "pid", "statement_id", "command", "relations", "statement", "category")
    shapes = {fmt: sorted(tuple(str(d[k]) for k in keys) for d in dets) for fmt, (dets, _) in results.items()}
    assert shapes["stderr"] == shapes["csvlog"] == shapes["jsonlog"]
    assert all(not malformed for _, malformed in results.values())


@pytest.mark.postgres
def test_json_lines_carry_who_what_where(workload_logs: Path) -> None:
    _, detections, _ = scan_json("--service-accounts", SERVICE_ACCOUNTS, str(only(workload_logs, ".json")))
    first = min(detections, key=lambda d: d["line"])
    for key in ("time", "user", "database", "client", "pid", "statement_id", "command", "relations", "statement",
                "category"):  # fmt: skip
        assert key in first
    assert first["user"] == "alice"
    assert first["database"] == "postgres"
    assert first["client"].startswith("127.0.0.1(")
    assert first["statement"] == "UPDATE accounts SET balance = 0 WHERE id = 1"  # its part, not the whole string
    assert isinstance(first["pid"], int)
    assert first["severity"] == "high"  # the default, no [severity] configured


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["stderr", "jsonlog"])
def test_severity_follows_the_configured_relations(workload_logs: Path, tmp_path: Path, fmt: str) -> None:
    # accounts is low wherever it is; audit_t is critical in public, and a log that names it without its schema
    # may mean public's: critical too. Tampering is critical whatever it touched; anything else takes the default.
    conf = tmp_path / "m.toml"
    conf.write_text('[severity]\naccounts = "low"\n"public.audit_t" = "critical"\n')
    code, detections, stderr = scan_json(
        "--config", str(conf), "--service-accounts", SERVICE_ACCOUNTS, str(only(workload_logs, SUFFIXES[fmt]))
    )
    assert (code, stderr) == (1, "")
    levels = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    for d in detections:
        names = {r.rpartition(".")[2] for r in d["relations"]}
        if d["category"] == "audit-tamper" or "audit_t" in names:
            expected = "critical"
        elif names and names <= {"accounts"}:
            expected = "low"
        else:
            expected = "high"
        assert d["severity"] == expected, d
    assert {d["severity"] for d in detections} >= {"low", "high", "critical"}
    assert all(d["severity"] in levels for d in detections)


@pytest.mark.postgres
def test_prefix_without_user_takes_users_from_connection_entries(default_prefix_logs: Path) -> None:
    path = only(default_prefix_logs, ".log")
    code, detections, stderr = scan_json("--service-accounts", SERVICE_ACCOUNTS, "--log-line-prefix", "%m [%p] ",
                                         str(path))  # fmt: skip
    assert stderr == ""
    assert code == 1
    assert in_log_order(detections) == expected_detections()
    assert all(d["database"] == "postgres" for d in detections)


@pytest.mark.postgres
def test_unknown_user_fails_closed(default_prefix_logs: Path, tmp_path: Path) -> None:
    # Without its `connection authorized` entry, a backend's user is unknown: reported as '?', never dropped.
    lines = only(default_prefix_logs, ".log").read_text().splitlines(keepends=True)
    cut = tmp_path / "no-connection-lines.log"
    cut.write_text("".join(line for line in lines if "connection authorized" not in line))
    _, detections, _ = scan_json("--service-accounts", SERVICE_ACCOUNTS, "--log-line-prefix", "%m [%p] ", str(cut))
    users = {d["user"] for d in detections}
    assert users == {"?"}
    # etl_svc's UPDATE, excluded when its user is known, is now reported too.
    assert len(detections) == len(expected_detections()) + 1


@pytest.mark.postgres
def test_gzip_and_stdin_read_like_plain_files(workload_logs: Path, tmp_path: Path) -> None:
    plain = only(workload_logs, ".log")
    packed = tmp_path / "postgresql.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    _, from_gzip, _ = scan_json("--service-accounts", SERVICE_ACCOUNTS, str(packed))
    _, from_stdin, _ = scan_json("--service-accounts", SERVICE_ACCOUNTS, "-", stdin=plain.read_bytes())
    expected = expected_detections()
    assert in_log_order(from_gzip) == expected
    assert in_log_order(from_stdin) == expected


@pytest.mark.postgres
def test_cloudwatch_events_read_like_the_file(workload_logs: Path) -> None:
    # RDS exports one CloudWatch event per entry, newlines (and their TABs) inside.
    from pgaudit_monitor.entries.splitting import EntrySplitter

    data = only(workload_logs, ".log").read_bytes()
    splitter = EntrySplitter(None, continuation=b"\t")
    raws = [*splitter.feed(data), *splitter.finish()]
    events = [(n, "instance-1", raw.data.decode().rstrip("\n")) for n, raw in enumerate(raws)]  # times in order
    pipeline = Pipeline(load_settings(env={}, service_accounts=SERVICE_ACCOUNTS))
    outcomes = [
        o for o in pipeline.scan_events(events, source="/aws/rds/cluster/c/postgresql") if not isinstance(o, Malformed)
    ]
    assert in_log_order([o.detection().to_dict() for o in outcomes if o.detected]) == expected_detections()


@pytest.mark.postgres
@pytest.mark.parametrize("logs", ["workload_logs", "default_prefix_logs"])
def test_cloudwatch_events_give_the_same_detections_in_any_order_within_a_second(
    logs: str, request: pytest.FixtureRequest
) -> None:
    # RDS stamps whole seconds and the services order events of one second no further: any order must do.
    directory = request.getfixturevalue(logs)
    prefix = None if logs == "workload_logs" else "%m [%p] "
    data = only(directory, ".log").read_text()
    entries = re.split(r"\n(?=[^\t])", data.rstrip("\n"))  # one event per entry, as RDS exports them
    events = [(_second(entry) * 1000, "instance-1", entry) for entry in entries]
    settings = load_settings(env={}, service_accounts=SERVICE_ACCOUNTS, log_line_prefix=prefix)

    def detections(given: list[tuple[int, str, str]]) -> list[tuple[Any, ...]]:
        found = []
        for item in Pipeline(settings).scan_events(given, source="cloudwatch"):
            assert not isinstance(item, Malformed), item
            if item.detected:
                detection = item.detection().to_dict()
                event = given[detection.pop("line") - 1]  # its event, wherever it was given
                found.append((event, json.dumps(detection, sort_keys=True)))
        return sorted(found)

    in_log_order = detections(events)
    # one record per relation of a substatement (log_relation) carries no order: they are listed by their text
    # (within a second the log's order of two backends' statements is not known: compared apart)
    assert sorted(found_in(in_log_order)) == sorted(relations_sorted(d) for d in expected_detections())
    rng = random.Random(15)
    for attempt in range(SHUFFLES):
        shuffled = within_each_second_shuffled(events, rng)
        if attempt % 2:
            rng.shuffle(shuffled)  # and the seconds themselves in any order
        assert detections(shuffled) == in_log_order, f"attempt {attempt}"


SHUFFLES = 200
"""Orders tried of each second's events."""


def _second(entry: str) -> int:
    from datetime import UTC, datetime

    stamp = datetime.strptime(entry[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(stamp.timestamp())


def within_each_second_shuffled(events: list[tuple[int, str, str]], rng: random.Random) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    for _, same in itertools.groupby(events, key=lambda event: event[0]):
        group = list(same)
        rng.shuffle(group)
        out.extend(group)
    return out


def found_in(found: list[tuple[Any, ...]]) -> list[tuple[str, str, tuple[str, ...], str]]:
    return [relations_sorted(normalize(json.loads(detection))) for _, detection in found]


def relations_sorted(detection: tuple[str, str, tuple[str, ...], str]) -> tuple[str, str, tuple[str, ...], str]:
    user, command, relations, category = detection
    return (user, command, tuple(sorted(relations)), category)


@pytest.mark.postgres
def test_malformed_entries_are_reported_and_the_scan_goes_on(workload_logs: Path, tmp_path: Path) -> None:
    lines = only(workload_logs, ".log").read_text().splitlines(keepends=True)
    broken = tmp_path / "broken.log"
    garbage = [
        # Looks like an audit record (a message after ':  ') but has no prefix: reported, never guessed at.
        "this line has no prefix:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<not logged>\n",
        lines[0].split("LOG:")[0] + "LOG:  AUDIT: SESSION,one,1,READ,SELECT,,,SELECT 1,<not logged>\n",
    ]
    broken.write_text("".join(lines[:10] + garbage + lines[10:]))
    code, detections, stderr = scan_json("--service-accounts", SERVICE_ACCOUNTS, str(broken))
    assert code == 1
    assert in_log_order(detections) == expected_detections()
    assert f"{broken}:11: does not match log_line_prefix" in stderr
    assert f"{broken}:12: statement ids are not numbers" in stderr
    assert "2 malformed entries skipped" in stderr


def test_unreadable_file_exits_2_and_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    code, detections, stderr = scan_json(str(missing))
    assert code == 2
    assert detections == []
    assert str(missing) in stderr
    assert "cannot read" in stderr


def test_bad_prefix_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("")
    code, _, stderr = scan_json("--log-line-prefix", "%t %y", str(log))
    assert code == 2
    assert "unknown escape %y" in stderr


@pytest.mark.postgres
def test_nothing_detected_exits_0(workload_logs: Path, tmp_path: Path) -> None:
    # Only service-account traffic: every audited user is declared a service account.
    code, detections, _ = scan_json("--service-accounts", "*", str(only(workload_logs, ".log")))
    assert (code, detections) == (0, [])


@pytest.mark.postgres
def test_text_table_and_explain(workload_logs: Path) -> None:
    proc = subprocess.run([*CLI, "scan", "--service-accounts", SERVICE_ACCOUNTS, "--explain",
                           str(only(workload_logs, ".log"))], capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 1
    out = proc.stdout
    assert out.splitlines()[0].split() == ["TIME", "USER", "DATABASE", "CLIENT", "COMMAND", "RELATIONS", "STATEMENT"]
    assert f"{len(expected_detections())} statements detected" in out
    excluded = out.split("Excluded:")[1]
    for rule in ("service-account", "catalog-only", "explain-only", "prepare", "lock", "no-relation", "sequence-only",
                 "not-dml"):  # fmt: skip
        assert rule in excluded, rule


def test_every_case_id_is_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
