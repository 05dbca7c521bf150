"""The database side against a real PostgreSQL 15 + pgAudit in each broken state, then healed by the doctor's own
fixes: the verdicts, the exit codes, and the fixes that make it healthy."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgserver import PgServer, require_postgres

CLI = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli"]
SERVICE = "postgres,app_*"  # the doctor connects as the superuser, declared a service account here

pytestmark = pytest.mark.postgres


def run(*args: str, check_code: int | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    if check_code is not None:
        assert proc.returncode == check_code, proc.stdout + proc.stderr
    return proc


def doctor(server: PgServer, *extra: str) -> tuple[int, dict[str, dict]]:
    proc = run("doctor", "--dsn", server.dsn(), "--service-accounts", SERVICE, "--log-directory",
               str(server.log_dir), "--format", "json", *extra)  # fmt: skip
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["healthy"] == (proc.returncode == 0)
    return proc.returncode, {f["check"]: f for f in report["findings"]}


def apply_fix(server: PgServer, fix: str) -> None:
    """Apply a fix exactly as the doctor printed it: its SQL, then a restart where it says so."""
    statement = fix.split(" then restart")[0].split("  --")[0].rstrip(";") + ";"
    server.sql(statement)
    if "restart" in fix:
        server.restart()


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    require_postgres()
    with PgServer(log_destination="stderr") as srv:
        srv.sql("CREATE ROLE alice LOGIN")
        srv.sql("CREATE ROLE app_api LOGIN")
        yield srv


def test_broken_states_are_found_and_the_printed_fixes_heal_them(server: PgServer) -> None:
    # Extension missing, a human not audited: FAIL; the probe still proves records reach the log.
    code, findings = doctor(server)
    assert code == 1
    assert findings["shared_preload_libraries"]["status"] == "ok"
    assert findings["extension:postgres"]["status"] == "fail"
    assert findings["role:alice"]["status"] == "fail"
    assert findings["probe"]["status"] == "ok"
    for check in ("extension:postgres", "role:alice"):
        apply_fix(server, findings[check]["fix"])
    code, findings = doctor(server)
    assert code == 0, findings
    assert {f["status"] for f in findings.values()} == {"ok"}


def test_audited_service_account_is_a_warning_and_a_coverage_gap(server: PgServer) -> None:
    server.sql("ALTER ROLE app_api SET pgaudit.log TO 'all'")
    try:
        code, findings = doctor(server)
        assert code == 0  # noise and cost, not blindness: healthy, with a warning
        assert findings["role:app_api"]["status"] == "warn"
        cov = run("coverage", "--dsn", server.dsn(), "--service-accounts", SERVICE, "--format", "json", check_code=1)
        assert [g["check"] for g in json.loads(cov.stdout)] == ["role:app_api"]
        apply_fix(server, findings["role:app_api"]["fix"])
        run("coverage", "--dsn", server.dsn(), "--service-accounts", SERVICE, check_code=0)
    finally:
        server.sql("ALTER ROLE app_api RESET pgaudit.log")


def test_a_database_or_role_in_database_setting_that_silences_a_human_fails(server: PgServer) -> None:
    # PostgreSQL applies a role's setting in one database before the role's own, and a database's before the
    # server's: either can turn auditing off in that database while the role looks audited everywhere else.
    server.sql("CREATE ROLE dana LOGIN")
    server.sql("ALTER SYSTEM SET pgaudit.log = 'all'")
    server.sql("SELECT pg_reload_conf()")
    try:
        code, findings = doctor(server)
        assert findings["role:dana"]["status"] == "ok"
        assert "role:dana@postgres" not in findings
        server.sql("ALTER DATABASE postgres SET pgaudit.log = 'none'")
        server.sql("ALTER ROLE alice IN DATABASE postgres SET pgaudit.log = 'read'")
        code, findings = doctor(server)
        assert code == 1
        assert findings["role:dana@postgres"]["status"] == "fail"  # no setting of its own: the database's wins
        assert findings["role:dana@postgres"]["fix"] == 'ALTER DATABASE "postgres" RESET pgaudit.log;'
        assert findings["role:alice@postgres"]["status"] == "fail"  # its own setting in that database wins
        assert "misc, write in database postgres" in findings["role:alice@postgres"]["summary"]
        assert findings["role:alice"]["status"] == "ok"  # audited everywhere else
        for check in ("role:dana@postgres", "role:alice@postgres"):
            apply_fix(server, findings[check]["fix"])
        code, findings = doctor(server)
        assert [c for c in findings if "@" in c] == []
    finally:
        server.sql("ALTER SYSTEM RESET pgaudit.log")
        server.sql("SELECT pg_reload_conf()")
        server.sql("DROP ROLE dana")


def test_prefix_without_user_and_no_connection_log_fails(server: PgServer) -> None:
    server.reload(log_line_prefix="'%m [%p] '", log_connections="off")
    try:
        code, findings = doctor(server)
        assert code == 1
        assert findings["log_line_prefix"]["status"] == "fail"
        server.reload(log_connections="on")
        code, findings = doctor(server)
        assert findings["log_line_prefix"]["status"] == "warn"
        server.sql(findings["log_line_prefix"]["fix"].split(";")[0])
        server.sql("SELECT pg_reload_conf()")
        code, findings = doctor(server)
        assert findings["log_line_prefix"]["status"] == "ok"
    finally:
        server.reload(log_line_prefix="'%t:%r:%u@%d:[%p]:'", log_connections="on")


def test_enable_and_disable_user(server: PgServer) -> None:
    dry = run("enable-user", "Bob Smith", "--dry-run", check_code=0)
    assert dry.stdout.strip() == """ALTER ROLE "Bob Smith" SET pgaudit.log TO 'all';"""
    server.sql('CREATE ROLE "Bob Smith" LOGIN')
    run("enable-user", "Bob Smith", "--dsn", server.dsn(), check_code=0)
    assert "pgaudit.log=all" in server.sql("""SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r
        ON r.oid = s.setrole WHERE r.rolname = 'Bob Smith'""")
    run("disable-user", "Bob Smith", "--dsn", server.dsn(), check_code=0)
    assert "pgaudit.log=none" in server.sql("""SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r
        ON r.oid = s.setrole WHERE r.rolname = 'Bob Smith'""")
    server.sql('DROP ROLE "Bob Smith"')
    missing = run("enable-user", "nobody_here", "--dsn", server.dsn(), check_code=2)
    assert "does not exist" in missing.stderr


def test_probe_command_as_an_audited_canary(server: PgServer) -> None:
    server.sql("CREATE ROLE canary LOGIN")
    server.sql("ALTER ROLE canary SET pgaudit.log TO 'read'")
    ok = run("probe", "--dsn", server.dsn("canary"), "--log-directory", str(server.log_dir), check_code=0)
    assert "found in" in ok.stdout
    server.sql("ALTER ROLE canary SET pgaudit.log TO 'none'")  # the silent failure the canary exists for
    lost = run("probe", "--dsn", server.dsn("canary"), "--log-directory", str(server.log_dir),
               "--probe-timeout", "1", check_code=1)  # fmt: skip
    assert "pgAudit logs nothing" in lost.stderr


def test_errors_are_one_line_with_distinct_exit_codes(server: PgServer) -> None:
    unreachable = run("doctor", "--dsn", "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2", check_code=3)
    assert unreachable.stderr.startswith("pgaudit-monitor doctor: cannot connect:")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    server.sql("CREATE ROLE nopriv LOGIN")
    denied = run("doctor", "--dsn", server.dsn("nopriv"), check_code=4)
    assert "permission denied reading server settings" in denied.stderr
    bad = run("doctor", "--dsn", "this is not a dsn", check_code=2)
    assert "invalid connection string" in bad.stderr


def test_wrong_password_is_a_connection_error(server: PgServer) -> None:
    server.sql("CREATE ROLE pwuser LOGIN PASSWORD 'right-secret'")
    hba = server.data / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("host all pwuser 127.0.0.1/32 scram-sha-256\n" + original)
    server.sql("SELECT pg_reload_conf()")
    try:
        wrong = run("coverage", "--dsn", server.dsn("pwuser", password="wrong-secret"), check_code=3)
        assert "password authentication failed" in wrong.stderr
        assert "wrong-secret" not in wrong.stderr  # a secret is never echoed
        assert len(wrong.stderr.strip().splitlines()) == 1
    finally:
        hba.write_text(original)
        server.sql("SELECT pg_reload_conf()")


def test_library_not_preloaded_is_a_failure_healed_by_its_fix(tmp_path: Path) -> None:
    require_postgres()
    with PgServer(log_destination="stderr", preload_pgaudit=False) as srv:
        srv.sql("CREATE ROLE alice LOGIN")
        code, findings = doctor(srv, "--probe-timeout", "2")
        assert code == 1
        assert findings["shared_preload_libraries"]["status"] == "fail"
        assert findings["probe"]["status"] == "fail"  # nothing is audited: the probe proves it
        apply_fix(srv, findings["shared_preload_libraries"]["fix"])
        code, findings = doctor(srv)
        assert findings["shared_preload_libraries"]["status"] == "ok"
        apply_fix(srv, findings["extension:postgres"]["fix"])
        apply_fix(srv, findings["role:alice"]["fix"])
        code, findings = doctor(srv)
        assert code == 0, findings


def test_setup_sql_runs_clean_on_a_fresh_server(tmp_path: Path) -> None:
    require_postgres()
    setup = Path(__file__).resolve().parents[2] / "sql" / "pgaudit-setup.sql"
    with PgServer(log_destination="stderr") as srv:
        out = srv.psql("-v", "ON_ERROR_STOP=1", "-f", str(setup))
        assert "pgaudit" in out.stdout
        assert srv.sql("SELECT extname FROM pg_extension WHERE extname = 'pgaudit'").strip() == "pgaudit"
