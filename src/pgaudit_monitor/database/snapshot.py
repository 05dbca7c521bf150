"""Read everything the checks need from a live server, once, into a plain ServerSnapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pgaudit_monitor.database.connection import permission_error
from pgaudit_monitor.errors import DatabaseError

SETTINGS = (
    "shared_preload_libraries",
    "pgaudit.log",
    "pgaudit.log_catalog",
    "pgaudit.log_relation",
    "pgaudit.log_parameter",
    "log_line_prefix",
    "log_destination",
    "log_connections",
    "logging_collector",
    "log_directory",
    "data_directory",
)


@dataclass(frozen=True)
class Role:
    name: str
    can_login: bool
    superuser: bool
    settings: dict[str, str] = field(default_factory=dict)  # role-level settings for all databases


@dataclass(frozen=True)
class ServerSnapshot:
    """What the server says about its auditing. `extension` maps each database to pgAudit's version (None: not
    installed); `database_errors` holds the databases that could not be checked, and why."""

    version_num: int
    current_user: str
    settings: dict[str, str]
    server_pgaudit_log: str | None
    roles: tuple[Role, ...]
    extension: dict[str, str | None]
    database_errors: dict[str, str]
    database_settings: dict[str, dict[str, str]]  # ALTER DATABASE ... SET, per database
    role_database_settings: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """ALTER ROLE ... IN DATABASE ... SET, per (role, database): the setting a session gets before any other."""


def _settings(cur: Any) -> dict[str, str]:
    cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),))
    found = dict(cur.fetchall())
    if "shared_preload_libraries" not in found:
        cur.execute("SELECT current_setting('shared_preload_libraries')")  # raises for lack of privilege
        found["shared_preload_libraries"] = cur.fetchone()[0]
    return found


def _server_pgaudit_log(cur: Any) -> str | None:
    """The server-wide pgaudit.log (config file or parameter group), without this session's role or database.

    None when the setting does not exist: the library is not loaded.
    """
    cur.execute("SELECT setting, source FROM pg_settings WHERE name = 'pgaudit.log'")
    row = cur.fetchone()
    if row is None:
        return None
    setting, source = row
    if source not in ("user", "database", "database user", "session"):
        return setting
    import psycopg

    try:
        cur.execute("SELECT setting FROM pg_file_settings WHERE name = 'pgaudit.log' AND applied ORDER BY seqno DESC")
        file_row = cur.fetchone()
    except psycopg.errors.InsufficientPrivilege:  # needs pg_read_all_settings: assume pgAudit's default
        return "none"
    return file_row[0] if file_row else "none"


def _config_map(items: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        result[key] = value
    return result


def take_snapshot(conn: Any, connect_db: Callable[[str], Any], databases: list[str] | None = None) -> ServerSnapshot:
    """Query the server. `connect_db(name)` opens a connection to another database (for the extension check).

    Raises DatabaseError with exit code 4 when the role may not read the settings the checks need.
    """
    import psycopg

    with conn.cursor() as cur:
        try:
            settings = _settings(cur)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise permission_error(exc, "server settings (needs superuser or pg_read_all_settings)") from exc
        cur.execute("SELECT current_setting('server_version_num')::int, current_user, current_database()")
        version_num, current_user, current_db = cur.fetchone()
        server_log = _server_pgaudit_log(cur)
        cur.execute(
            "SELECT r.rolname, r.rolcanlogin, r.rolsuper, s.setconfig FROM pg_roles r "
            "LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0 "
            "WHERE r.rolname !~ '^pg_' ORDER BY r.rolname"
        )
        roles = tuple(Role(name, login, superuser, _config_map(cfg)) for name, login, superuser, cfg in cur.fetchall())
        cur.execute(
            "SELECT d.datname, s.setconfig FROM pg_database d "
            "LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0 "
            "WHERE d.datallowconn AND NOT d.datistemplate ORDER BY d.datname"
        )
        db_rows = cur.fetchall()
        cur.execute(
            "SELECT r.rolname, d.datname, s.setconfig FROM pg_db_role_setting s "
            "JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase "
            "ORDER BY r.rolname, d.datname"
        )
        role_database_settings = {(role, db): _config_map(cfg) for role, db, cfg in cur.fetchall()}
    database_settings = {name: _config_map(cfg) for name, cfg in db_rows}
    wanted = databases or [name for name, _ in db_rows if name not in ("rdsadmin",)]
    extension: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in wanted:
        try:
            other = conn if name == current_db else connect_db(name)
        except DatabaseError as exc:
            errors[name] = str(exc)
            continue
        try:
            with other.cursor() as cur:
                cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgaudit'")
                row = cur.fetchone()
                extension[name] = row[0] if row else None
        finally:
            if other is not conn:
                other.close()
    return ServerSnapshot(
        version_num=version_num,
        current_user=current_user,
        settings=settings,
        server_pgaudit_log=server_log,
        roles=roles,
        extension=extension,
        database_errors=errors,
        database_settings=database_settings,
        role_database_settings=role_database_settings,
    )
