"""A throwaway PostgreSQL 15 with pgAudit, on loopback, in a temporary directory: the real thing, for tests.

initdb refuses to run as root, so when the tests run as root the server's files belong to the `postgres` OS user
and its programs run through `runuser`. Used by the test fixtures, the demo and the sample-capture script.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
AURORA_PREFIX = "%t:%r:%u@%d:[%p]:"


def postgres_available() -> bool:
    return (PG_BINDIR / "initdb").exists() and (PG_BINDIR / "pg_ctl").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster with the logging collector on, pgAudit preloaded (unless told otherwise)."""

    def __init__(
        self,
        *,
        log_line_prefix: str = AURORA_PREFIX,
        log_destination: str = "stderr,csvlog,jsonlog",
        preload_pgaudit: bool = True,
        settings: dict[str, str] | None = None,
        base: str | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgaudit-monitor-pg-", dir=base))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.log_line_prefix = log_line_prefix
        self.conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "logging_collector": "on",
            "log_destination": f"'{log_destination}'",
            "log_directory": "'log'",
            "log_filename": "'postgresql-%Y-%m-%d_%H%M%S.log'",
            "log_rotation_age": "0",
            "log_rotation_size": "0",
            "log_line_prefix": "'" + log_line_prefix.replace("'", "''") + "'",
            "log_connections": "on",
            "log_disconnections": "on",
            "lc_messages": "'C'",
            "fsync": "off",
            "shared_buffers": "'32MB'",
        }
        if preload_pgaudit:
            self.conf["shared_preload_libraries"] = "'pgaudit'"
        self.conf.update(settings or {})
        self._as_postgres = os.geteuid() == 0

    # -- process control -------------------------------------------------------------------------------------
    def _run(self, args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]

    def start(self) -> PgServer:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([str(PG_BINDIR / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync", "--locale=C"])  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# pgaudit-monitor test server\n")
            for key, value in self.conf.items():
                conf.write(f"{key} = {value}\n")
        self._run([str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "startup.log"), "-w",
                   "-t", "60", "start"])  # fmt: skip
        return self

    def stop(self) -> None:
        """Fast shutdown: the logging collector writes out everything before it exits."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def restart(self) -> None:
        """Restart (what shared_preload_libraries needs)."""
        self._run([str(PG_BINDIR / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "startup.log"), "-m", "fast",
                   "-w", "-t", "60", "restart"])  # fmt: skip

    def reload(self, **settings: str) -> None:
        """Change settings with ALTER SYSTEM and reload (log_line_prefix, log_destination...)."""
        for key, value in settings.items():
            self.sql(f"ALTER SYSTEM SET {key} = {value}")
        self.sql("SELECT pg_reload_conf()")
        time.sleep(0.3)

    def rotate(self) -> None:
        """Ask the logging collector for new files (names carry the second, so wait for a new one)."""
        time.sleep(1.05)
        self.sql("SELECT pg_rotate_logfile()")
        time.sleep(0.3)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- clients ---------------------------------------------------------------------------------------------
    def dsn(self, user: str = "postgres", dbname: str = "postgres", **params: str) -> str:
        extra = " ".join(f"{k}='{v}'" for k, v in params.items())
        return f"host={self.host} port={self.port} user={user} dbname={dbname} {extra}".strip()

    def psql(
        self, *args: str, user: str = "postgres", dbname: str = "postgres", stdin: str | None = None,
        check: bool = True, env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run the real psql client (-X: no psqlrc), as a human would."""
        cmd = ["psql", "-X", "-q", "-h", self.host, "-p", str(self.port), "-U", user, "-d", dbname, *args]
        full_env = {**os.environ, "PGCONNECT_TIMEOUT": "10", **(env or {})}
        return subprocess.run(cmd, input=stdin, text=True, capture_output=True, check=check, env=full_env)

    def sql(self, statement: str, *, user: str = "postgres", dbname: str = "postgres") -> str:
        """One statement through psql -c (as the superuser by default); its unaligned output."""
        return self.psql("-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement, user=user, dbname=dbname).stdout

    # -- logs ------------------------------------------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.data / "log"

    def log_files(self, suffix: str = ".log") -> list[Path]:
        return sorted(self.log_dir.glob(f"*{suffix}"))

    def wait_for_log(self, needle: str, suffix: str = ".log", timeout: float = 10.0) -> None:
        """Wait until `needle` reaches a log file: the collector writes asynchronously."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in self.log_files(suffix):
                if needle in path.read_text(errors="replace"):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{needle!r} did not reach the {suffix} log within {timeout}s")


def require_postgres() -> None:
    """Skip the test where PostgreSQL 15 is not installed; fail it in CI, where .ci/run must have installed it."""
    import pytest  # here: the scripts that start a server with this module do not need it

    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL 15 binaries missing: .ci/run must install postgresql-15 and postgresql-15-pgaudit")
        pytest.skip("PostgreSQL 15 not installed")


def only(directory: Path, suffix: str) -> Path:
    """The one log file of a format (by its suffix) in a server's log directory."""
    files = sorted(directory.glob(f"*{suffix}"))
    assert len(files) == 1, files
    return files[0]
