"""The doctor's checks: pure functions from a ServerSnapshot to Findings, each with a verdict and the exact fix.

The most dangerous failure of an audit monitor is silence: pgAudit not loaded, the extension missing, a human
role nobody audits. Each of those is a FAIL here; what only costs noise or precision is a WARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pgaudit_monitor.database.snapshot import Role, ServerSnapshot
from pgaudit_monitor.policy.accounts import ServiceAccounts

ALL_CLASSES = frozenset({"read", "write", "function", "role", "ddl", "misc", "misc_set"})
REQUIRED_CLASSES = frozenset({"read", "write", "misc"})
"""What the detector needs: READ and WRITE for DML, MISC because pgAudit 1.7 logs MERGE as `MISC,???`."""
READABLE_DESTINATIONS = frozenset({"stderr", "csvlog", "jsonlog"})


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    summary: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status.value, "summary": self.summary, "fix": self.fix}


def audit_classes(value: str | None) -> frozenset[str]:
    """The classes a pgaudit.log value turns on: `all, -misc_set` -> everything but misc_set."""
    classes: set[str] = set()
    for raw in (value or "").split(","):
        item = raw.strip().lower()
        negate = item.startswith("-")
        name = item.lstrip("-").strip()
        chosen = ALL_CLASSES if name == "all" else ({name} & ALL_CLASSES)
        if negate:
            classes -= chosen
        else:
            classes |= chosen
    return frozenset(classes)


def quote_ident(name: str) -> str:
    """An identifier quoted for SQL, by psycopg's rules: always double-quoted, so keywords and odd names are safe."""
    from psycopg import sql

    return sql.Identifier(name).as_string(None)


def effective_log(role: Role, snapshot: ServerSnapshot, database: str | None = None) -> str:
    """pgaudit.log as the role's sessions get it, in `database` or (None) wherever no database sets it.

    PostgreSQL's order: the role's setting in that database (ALTER ROLE ... IN DATABASE), the role's own, the
    database's (ALTER DATABASE), the server's.
    """
    if database is not None:
        value = snapshot.role_database_settings.get((role.name, database), {}).get("pgaudit.log")
        if value is not None:
            return value
    if "pgaudit.log" in role.settings:
        return role.settings["pgaudit.log"]
    if database is not None and "pgaudit.log" in snapshot.database_settings.get(database, {}):
        return snapshot.database_settings[database]["pgaudit.log"]
    return snapshot.server_pgaudit_log or "none"


def preload_libraries(snapshot: ServerSnapshot) -> list[str]:
    raw = snapshot.settings.get("shared_preload_libraries", "")
    return [item.strip().strip('"') for item in raw.split(",") if item.strip()]


def check_preload(snapshot: ServerSnapshot) -> Finding:
    libraries = preload_libraries(snapshot)
    if "pgaudit" in libraries:
        return Finding("shared_preload_libraries", Status.OK, "pgaudit is loaded at server start")
    wanted = ",".join([*libraries, "pgaudit"])
    return Finding(
        "shared_preload_libraries",
        Status.FAIL,
        "pgaudit is not in shared_preload_libraries: no statement is audited, silently",
        f"ALTER SYSTEM SET shared_preload_libraries = '{wanted}'; then restart PostgreSQL "
        "(Aurora/RDS: add pgaudit to shared_preload_libraries in the parameter group, then reboot)",
    )


def check_extension(snapshot: ServerSnapshot) -> list[Finding]:
    findings = []
    for database, version in sorted(snapshot.extension.items()):
        check = f"extension:{database}"
        if version is not None:
            findings.append(Finding(check, Status.OK, f"pgAudit {version} installed in database {database}"))
        else:
            findings.append(
                Finding(
                    check,
                    Status.FAIL,
                    f"the pgaudit extension is not installed in database {database}: DDL records lose their object "
                    "names here, and on Aurora nothing is logged at all",
                    f"CREATE EXTENSION pgaudit;  -- in database {database}",
                )
            )
    for database, error in sorted(snapshot.database_errors.items()):
        findings.append(Finding(f"extension:{database}", Status.WARN, f"could not check database {database}: {error}"))
    return findings


def check_roles(snapshot: ServerSnapshot, accounts: ServiceAccounts) -> list[Finding]:
    """Humans must be audited (READ, WRITE and MISC); service accounts audited by mistake cost noise and money."""
    findings = []
    for role in snapshot.roles:
        if not role.can_login:
            continue
        value = effective_log(role, snapshot)
        classes = audit_classes(value)
        name = quote_ident(role.name)
        if accounts.is_human(role.name):
            missing = REQUIRED_CLASSES - classes
            if not missing:
                findings.append(Finding(f"role:{role.name}", Status.OK, f"human role {role.name} is audited ({value})"))
            else:
                findings.append(
                    Finding(
                        f"role:{role.name}",
                        Status.FAIL,
                        f"human role {role.name} is not audited for {', '.join(sorted(missing))} "
                        f"(pgaudit.log = {value!r}): its DML is never seen",
                        f"ALTER ROLE {name} SET pgaudit.log TO 'all';"
                        + ("" if role.name != snapshot.current_user else " (or declare it a service account)"),
                    )
                )
            findings += _database_overrides(role, snapshot)
        elif classes and role.name != "rdsadmin":
            findings.append(
                Finding(
                    f"role:{role.name}",
                    Status.WARN,
                    f"service account {role.name} is audited (pgaudit.log = {value!r}): log volume and cost, "
                    "no detection (its DML is excluded)",
                    f"ALTER ROLE {name} SET pgaudit.log TO 'none';",
                )
            )
    return findings


def _database_overrides(role: Role, snapshot: ServerSnapshot) -> list[Finding]:
    """A human audited in general but not in one database: a setting of that database, or of the role in it,
    turns the classes off there (`ALTER DATABASE shop SET pgaudit.log = 'none'` silences everyone without a
    setting of their own)."""
    findings = []
    name = quote_ident(role.name)
    databases = sorted(
        set(snapshot.database_settings) | {db for r, db in snapshot.role_database_settings if r == role.name}
    )
    for database in databases:
        value = effective_log(role, snapshot, database)
        missing = REQUIRED_CLASSES - audit_classes(value)
        if not missing:
            continue
        own = "pgaudit.log" in snapshot.role_database_settings.get((role.name, database), {})
        fix = (f"ALTER ROLE {name} IN DATABASE {quote_ident(database)} RESET pgaudit.log;" if own
               else f"ALTER DATABASE {quote_ident(database)} RESET pgaudit.log;")  # fmt: skip
        where = f"role {role.name} in database {database}" if own else f"database {database}"
        findings.append(
            Finding(
                f"role:{role.name}@{database}",
                Status.FAIL,
                f"human role {role.name} is not audited for {', '.join(sorted(missing))} in database {database} "
                f"(pgaudit.log = {value!r}, set for {where}): its DML there is never seen",
                fix,
            )
        )
    return findings


def check_log_settings(snapshot: ServerSnapshot) -> list[Finding]:
    s = snapshot.settings
    findings = []
    prefix = s.get("log_line_prefix", "")
    connections = s.get("log_connections", "off") == "on"
    if "%u" in prefix:
        findings.append(Finding("log_line_prefix", Status.OK, f"log_line_prefix {prefix!r} names the user"))
    elif connections:
        findings.append(
            Finding(
                "log_line_prefix",
                Status.WARN,
                f"log_line_prefix {prefix!r} has no %u: users come from 'connection authorized' entries; a log "
                "read without them reports user '?'",
                "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();",
            )
        )
    else:
        findings.append(
            Finding(
                "log_line_prefix",
                Status.FAIL,
                f"log_line_prefix {prefix!r} has no %u and log_connections is off: no record names its user, "
                "every detection says user '?' and service accounts cannot be excluded",
                "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();",
            )
        )
    if "%p" not in prefix and "%c" not in prefix:
        findings.append(
            Finding(
                "log_line_prefix:backend",
                Status.WARN,
                "log_line_prefix has neither %p nor %c: statements of concurrent sessions cannot be told apart",
                "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();",
            )
        )
    destinations = {d.strip() for d in s.get("log_destination", "stderr").split(",")}
    if destinations & READABLE_DESTINATIONS:
        findings.append(Finding("log_destination", Status.OK, f"log_destination {s.get('log_destination')!r}"))
    else:
        findings.append(
            Finding(
                "log_destination",
                Status.FAIL,
                f"log_destination {s.get('log_destination')!r}: the monitor reads stderr, csvlog or jsonlog files",
                "ALTER SYSTEM SET log_destination = 'stderr'; SELECT pg_reload_conf();",
            )
        )
    if s.get("logging_collector", "on") == "off":
        findings.append(
            Finding(
                "logging_collector",
                Status.WARN,
                "logging_collector is off: stderr goes wherever the server's stderr goes (a service manager's "
                "journal, a terminal); csvlog and jsonlog are not written",
                "ALTER SYSTEM SET logging_collector = on; then restart PostgreSQL",
            )
        )
    return findings


PREFIX_DELIMITERS = frozenset("@:[]")
"""What separates the fields of a log_line_prefix (Aurora's `%t:%r:%u@%d:[%p]:`): a name holding one can shift
where a stderr reader sees the user end."""
STRUCTURED_DESTINATIONS = frozenset({"csvlog", "jsonlog"})


def forging_trait(name: str) -> str | None:
    """What in a role name can forge a stderr log prefix, or None.

    PostgreSQL writes %u raw into each stderr line's prefix: a newline starts a line that reads as another
    entry (another user's), a delimiter moves where the user seems to end. csvlog and jsonlog quote every field,
    so there the same name is just a name.
    """
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "a control character"
    if any(char in PREFIX_DELIMITERS for char in name):
        return "a log prefix delimiter (@ : [ ])"
    return None


def check_role_names(snapshot: ServerSnapshot) -> Finding:
    """LOGIN roles whose names can forge a stderr log prefix, and the log format that makes them harmless.

    FAIL when a name holds a control character and only stderr is written (such a name can make a person's
    record read as a service account's, or cut it in two); WARN for delimiters, or where csvlog or jsonlog is
    written already (the monitor must read those files, not the stderr ones).
    """
    risky = [(role.name, trait) for role in snapshot.roles if role.can_login and (trait := forging_trait(role.name))]
    if not risky:
        return Finding("role_names", Status.OK, "no LOGIN role name holds a control character or @ : [ ]")
    destinations = {d.strip() for d in snapshot.settings.get("log_destination", "stderr").split(",")}
    structured = bool(destinations & STRUCTURED_DESTINATIONS)
    listed = "; ".join(f"{name!r} ({trait})" for name, trait in risky)
    control = any(trait == "a control character" for _, trait in risky)
    status = Status.FAIL if control and not structured else Status.WARN
    renames = " ".join(f"ALTER ROLE {quote_ident(name)} RENAME TO <plain name>;" for name, _ in risky)
    if structured:
        fix = "read the csvlog or jsonlog files (every field quoted there), not the stderr ones; or rename: " + renames
    else:
        fix = (
            "ALTER SYSTEM SET log_destination = 'stderr,jsonlog'; SELECT pg_reload_conf(); then read the .json "
            "files, where every field is quoted (or csvlog); or rename: " + renames
        )
    return Finding(
        "role_names",
        status,
        f"LOGIN role names that can forge a stderr log prefix: {listed}; in stderr their records can read as "
        "another user's (the monitor reports what it cannot tell apart with user '?')",
        fix,
    )


def check_all(snapshot: ServerSnapshot, accounts: ServiceAccounts) -> list[Finding]:
    return [
        check_preload(snapshot),
        *check_extension(snapshot),
        *check_log_settings(snapshot),
        *check_roles(snapshot, accounts),
        check_role_names(snapshot),
    ]


def healthy(findings: list[Finding]) -> bool:
    return all(f.status is not Status.FAIL for f in findings)
