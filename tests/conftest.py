"""Fixtures: the real PostgreSQL 15 + pgAudit server, run through the scripted workload once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgserver import PgServer, require_postgres
from workload import run_workload


@pytest.fixture(scope="session")
def workload_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The Aurora-prefix server's logs (stderr, csvlog, jsonlog) after the whole workload, copied out."""
    require_postgres()
    out = tmp_path_factory.mktemp("workload-logs")
    with PgServer() as server:
        run_workload(server)
        server.stop()
        for path in server.log_dir.iterdir():
            shutil.copy(path, out / path.name)
    return out


@pytest.fixture(scope="session")
def default_prefix_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same workload on a server with PostgreSQL's default prefix '%m [%p] ', which names no user."""
    require_postgres()
    out = tmp_path_factory.mktemp("default-prefix-logs")
    with PgServer(log_line_prefix="%m [%p] ", log_destination="stderr") as server:
        run_workload(server)
        server.stop()
        for path in server.log_dir.iterdir():
            shutil.copy(path, out / path.name)
    return out
