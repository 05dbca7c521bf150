"""`pgaudit-monitor triage`: the records around an alert, fetched from the emulated CloudWatch Logs by the real
command, judged by the same policy as scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from awskit import aws, log_entries, moto_endpoint, put_events
from pgaudit_monitor.timestamps import iso
from pgserver import only
from workload import SERVICE_ACCOUNTS, expected_detections, in_log_order

__all__ = ["aws", "moto_endpoint"]  # fixtures

GROUP = "/aws/rds/cluster/test-cluster/postgresql"
CLI = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli", "triage", "--log-group", GROUP]


def triage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, env=os.environ.copy())


@pytest.mark.postgres
def test_triage_prints_what_the_sessions_did_around_the_alert(aws: str, workload_logs: Path) -> None:
    entries = log_entries(only(workload_logs, ".log"))
    # each second's events put shuffled: FilterLogEvents orders the events of one timestamp in no documented way
    put_events(boto3.client("logs"), GROUP, "instance-1", entries, shuffle_seed=15)
    alert = entries[-1][0] // 1000
    proc = triage("--at", iso(alert), "--service-accounts", SERVICE_ACCOUNTS, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    detections = [json.loads(line) for line in proc.stdout.splitlines()]
    # `line` is the event's place as fetched, so the order is compared apart; the records of one substatement,
    # one per relation (log_relation), carry no order: listed by their text
    found = [
        (user, command, tuple(sorted(relations)), category)
        for user, command, relations, category in in_log_order(detections)
    ]
    assert sorted(found) == sorted((u, c, tuple(sorted(r)), k) for u, c, r, k in expected_detections())

    text = triage("--at", iso(alert), "--service-accounts", SERVICE_ACCOUNTS)
    assert "alice" in text.stdout
    assert f"{len(expected_detections())} statements detected" in text.stdout


@pytest.mark.postgres
def test_triage_outside_the_window_finds_nothing(aws: str, workload_logs: Path) -> None:
    entries = log_entries(only(workload_logs, ".log"))
    put_events(boto3.client("logs"), GROUP, "instance-1", entries)
    proc = triage("--at", iso(entries[0][0] // 1000 - 3600), "--minutes", "15")
    assert proc.returncode == 0, proc.stderr
    assert "0 statements detected" in proc.stdout


def test_triage_names_a_missing_log_group_and_a_bad_time(aws: str) -> None:
    missing = triage("--at", "2026-11-25T10:00:00Z")
    assert missing.returncode == 2
    assert GROUP in missing.stderr
    bad = triage("--at", "yesterday")
    assert bad.returncode == 2
    assert "yesterday" in bad.stderr
