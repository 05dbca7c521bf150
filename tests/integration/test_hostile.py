"""The detections of hostile and unusual SQL (hostile.py) must match the cases exactly, in every log format and
with log_relation both off and on; each detection says which evidence decided it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hostile import SERVICE_ACCOUNTS, Case, expected, normalize, run_hostile
from pgaudit_monitor.entries.model import Malformed
from pgserver import PgServer, only, require_postgres
from workload import scan_in_process

SUFFIXES = {"stderr": ".log", "csvlog": ".csv", "jsonlog": ".json"}


@pytest.fixture(scope="module")
def hostile_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, Case]]]:
    require_postgres()
    out = tmp_path_factory.mktemp("hostile-logs")
    with PgServer() as server:
        ran = run_hostile(server)
        server.stop()
        for path in server.log_dir.iterdir():
            shutil.copy(path, out / path.name)
    return out, ran


def scan(path: Path) -> tuple[list[dict], list[Malformed]]:
    detections, malformed = scan_in_process(path, service_accounts=SERVICE_ACCOUNTS)
    return sorted(detections, key=lambda d: d["line"]), malformed


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", SUFFIXES)
def test_hostile_detections_match_the_cases(hostile_logs: tuple[Path, list], fmt: str) -> None:
    logs, ran = hostile_logs
    detections, malformed = scan(only(logs, SUFFIXES[fmt]))
    assert malformed == []
    assert [normalize(d) for d in detections if d["user"] != "postgres"] == expected(ran)


@pytest.mark.postgres
def test_each_detection_names_its_evidence(hostile_logs: tuple[Path, list]) -> None:
    # log_relation on: pgAudit's objects decided; off: the text, or nothing could (fail closed).
    detections, _ = scan(only(hostile_logs[0], ".log"))
    by_user_statement = {(d["user"], d["statement"]): d["evidence"] for d in detections}
    assert by_user_statement[("rita", "SELECT f_atomic()")] == "pgaudit-objects"
    assert by_user_statement[("hank", "SELECT f_atomic()")] == "fail-closed"
    assert by_user_statement[("hank", "WITH orders AS (SELECT 1) DELETE FROM orders WHERE id = 5")] == "statement-text"
    forged = [d for d in detections if d["rule"] == "forged-record"]
    assert {d["evidence"] for d in forged} == {"forged-record"}
    assert all(d["category"] == "audit-tamper" for d in forged)
    assert {d["user"] for d in detections} <= {"hank", "rita", "app_svc"}  # no parallel worker as `?`
