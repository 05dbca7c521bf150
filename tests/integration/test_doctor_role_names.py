"""Role names that can forge a stderr log prefix, found by `doctor` and `coverage` on a real server.

PostgreSQL writes %u raw into each stderr line: a newline or one of `@ : [ ]` in a LOGIN role's name can make a
person's record read as another user's. The monitor reads what it cannot tell apart as `?`'s; the doctor names
the roles and recommends csvlog or jsonlog, where every field is quoted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pgaudit_monitor.database.checks import forging_trait
from pgserver import PgServer, require_postgres

CLI = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli"]
SERVICE = "postgres,app_*"
NEWLINE = "x\n2026-11-25 09:00:00 UTC:127.0.0.1(1):app_svc"
SHIFT = "app_svc@appdb:[1]:LOG:  x"
NOLOGIN = "reports@corp"  # cannot log in: never in a prefix's %u

pytestmark = pytest.mark.postgres


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    require_postgres()
    with PgServer(log_destination="stderr") as srv:
        srv.sql("CREATE EXTENSION pgaudit")
        for role in ("alice", NEWLINE, SHIFT):
            srv.sql(f"CREATE ROLE {_quoted(role)} LOGIN")
            srv.sql(f"ALTER ROLE {_quoted(role)} SET pgaudit.log TO 'all'")
        srv.sql(f"CREATE ROLE {_quoted(NOLOGIN)} NOLOGIN")
        yield srv


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)


def _doctor(server: PgServer) -> tuple[int, dict[str, dict[str, str]]]:
    proc = _run("doctor", "--dsn", server.dsn(), "--service-accounts", SERVICE, "--log-directory",
                str(server.log_dir), "--format", "json")  # fmt: skip
    assert proc.stderr == ""
    return proc.returncode, {f["check"]: f for f in json.loads(proc.stdout)["findings"]}


def test_doctor_names_the_roles_and_recommends_a_quoted_format(server: PgServer) -> None:
    code, findings = _doctor(server)
    finding = findings["role_names"]
    # stderr only, and a name with a newline: a person's record can read as app_svc's there.
    assert code == 1
    assert finding["status"] == "fail"
    assert repr(NEWLINE) in finding["summary"]
    assert repr(SHIFT) in finding["summary"]
    assert "a control character" in finding["summary"]
    assert "a log prefix delimiter" in finding["summary"]
    assert NOLOGIN not in finding["summary"]
    assert "alice" not in finding["summary"]
    assert "jsonlog" in finding["fix"]
    assert 'ALTER ROLE "app_svc@appdb:[1]:LOG:  x" RENAME TO' in finding["fix"]
    # Its fix, as printed (its first statement): jsonlog is written too; the names stay a warning, the monitor
    # must read the quoted files.
    server.sql(finding["fix"].split(";")[0] + ";")
    server.sql("SELECT pg_reload_conf()")
    _, findings = _doctor(server)
    assert findings["role_names"]["status"] == "warn"
    assert "read the csvlog or jsonlog files" in findings["role_names"]["fix"]


def test_coverage_lists_them_too(server: PgServer) -> None:
    proc = _run("coverage", "--dsn", server.dsn(), "--service-accounts", SERVICE, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    gaps = {gap["check"]: gap for gap in json.loads(proc.stdout)}
    assert repr(SHIFT) in gaps["role_names"]["summary"]
    text = _run("coverage", "--dsn", server.dsn(), "--service-accounts", SERVICE).stdout
    assert "role names that can forge a stderr log prefix" in text


@pytest.mark.parametrize(
    ("name", "trait"),
    [
        ("alice", None),
        ("joe user", None),
        ("o'brien-2", None),
        ("[ops]", "a log prefix delimiter (@ : [ ])"),
        ("ann@corp.example", "a log prefix delimiter (@ : [ ])"),
        ("a:b", "a log prefix delimiter (@ : [ ])"),
        ("tab\there", "a control character"),
        ("bell\x07", "a control character"),
        ("del\x7f", "a control character"),
    ],
)
def test_what_makes_a_name_forge_a_prefix(name: str, trait: str | None) -> None:
    assert forging_trait(name) == trait
