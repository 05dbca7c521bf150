"""Connecting with libpq's own rules (a DSN, or the PG* environment variables), and errors a person can act on."""

from __future__ import annotations

from typing import Any

from pgaudit_monitor.errors import DatabaseError, ExitCode


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0]


def connect(dsn: str | None, *, dbname: str | None = None, user: str | None = None, autocommit: bool = True) -> Any:
    """A psycopg connection. `dsn` None or empty uses PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD...

    Raises DatabaseError (exit code 3) for an unreachable server or refused login, never a traceback.
    """
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the `db` extra is missing
        raise DatabaseError("psycopg is not installed: pip install 'pgaudit-monitor[db]'", ExitCode.USAGE) from exc
    params: dict[str, Any] = {"connect_timeout": 10, "autocommit": autocommit, "application_name": "pgaudit-monitor"}
    if dbname:
        params["dbname"] = dbname
    if user:
        params["user"] = user
    try:
        return psycopg.connect(dsn or "", **params)
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect: {_first_line(exc)}") from exc
    except psycopg.ProgrammingError as exc:  # a malformed DSN
        raise DatabaseError(f"invalid connection string: {_first_line(exc)}", ExitCode.USAGE) from exc


def permission_error(exc: BaseException, what: str) -> DatabaseError:
    return DatabaseError(f"permission denied reading {what}: {_first_line(exc)}", ExitCode.PERMISSION)
