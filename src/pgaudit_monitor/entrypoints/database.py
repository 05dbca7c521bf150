"""The database-side commands: doctor, probe, coverage, enable-user, disable-user.

Exit codes: 0 healthy / nothing to fix, 1 problems found, 2 bad usage, 3 cannot connect, 4 permission denied.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from pgaudit_monitor.config import Settings, load_settings
from pgaudit_monitor.database.checks import (
    Finding,
    Status,
    check_all,
    check_role_names,
    check_roles,
    healthy,
    quote_ident,
)
from pgaudit_monitor.database.connection import connect
from pgaudit_monitor.database.probe import (
    CloudWatchLogSource,
    FileLogSource,
    LogSource,
    new_marker,
    send_probe,
    wait_for,
)
from pgaudit_monitor.database.snapshot import ServerSnapshot, take_snapshot
from pgaudit_monitor.entries.prefix import AURORA_PREFIX, compile_prefix
from pgaudit_monitor.errors import ExitCode, PrefixError

CONNECTION_HELP = "libpq connection string or URI (default: the PGHOST, PGPORT, PGUSER, PGDATABASE... variables)"
EXIT_EPILOG = "Exit codes: 0 healthy, 1 problems found, 2 bad usage, 3 cannot connect, 4 permission denied."


def register(commands: Any, add_policy_options: Callable[[argparse.ArgumentParser], None]) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check that pgAudit really audits the humans, and prove it with a live probe",
        description="Check the server's pgAudit setup (library, extension in each database, per-role settings, the "
        "log settings the monitor depends on), each with a verdict and the exact fix, then send an audited "
        "statement and confirm that its record reached the log (with --log-file, --log-directory or --log-group).",
        epilog=EXIT_EPILOG,
    )
    doctor.add_argument("--dsn", help=CONNECTION_HELP)
    doctor.add_argument("--databases", metavar="LIST", help="databases to check for the extension (default: all)")
    _add_log_source_options(doctor)
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    add_policy_options(doctor)
    doctor.set_defaults(handler=run_doctor)

    probe = commands.add_parser(
        "probe",
        help="the canary: run one harmless audited statement as a dedicated audited role",
        description="Connect (as the canary role the AWS pipeline's CANARY_USER names, audited with "
        "ALTER ROLE ... SET pgaudit.log TO 'read') and run one harmless audited statement. Run it on a schedule: "
        "when its records stop arriving, pgAudit logs nothing, and the canary alarm fires.",
        epilog="Exit codes: 0 sent (and found, with a log option), 1 not found in the log, 3 cannot connect.",
    )
    probe.add_argument("--dsn", help=CONNECTION_HELP)
    _add_log_source_options(probe)
    probe.add_argument(
        "--log-line-prefix",
        metavar="PREFIX",
        help="the server's log_line_prefix, to find the probe's record in a stderr log (default: the server's own)",
    )
    probe.set_defaults(handler=run_probe)

    coverage = commands.add_parser(
        "coverage",
        help="list human roles pgAudit does not audit, and service accounts it audits by mistake",
        description="The LOGIN roles that are humans (not service accounts) and are not audited for READ, WRITE "
        "and MISC, and the service accounts that are audited (noise and cost), each with the SQL that fixes it; and "
        "the LOGIN roles whose names can forge a stderr log prefix (a control character, or @ : [ ]).",
        epilog="Exit codes: 0 full coverage, 1 gaps found, 2 bad usage, 3 cannot connect, 4 permission denied.",
    )
    coverage.add_argument("--dsn", help=CONNECTION_HELP)
    coverage.add_argument("--format", choices=("text", "json"), default="text")
    add_policy_options(coverage)
    coverage.set_defaults(handler=run_coverage)

    for name, verb, value in (("enable-user", "audit", "all"), ("disable-user", "stop auditing", "none")):
        cmd = commands.add_parser(
            name,
            help=f"{verb} a role: ALTER ROLE ... SET pgaudit.log TO '{value}'",
            description=f"Run (or print, with --dry-run) ALTER ROLE NAME SET pgaudit.log TO '{value}'. Needs a "
            "superuser (rds_superuser on Aurora/RDS). New sessions of the role pick it up.",
        )
        cmd.add_argument("role", metavar="NAME")
        cmd.add_argument("--dsn", help=CONNECTION_HELP)
        cmd.add_argument("--dry-run", action="store_true", help="print the statement, do not run it")
        cmd.set_defaults(handler=run_set_role, pgaudit_log=value)


def _add_log_source_options(parser: argparse.ArgumentParser) -> None:
    """Where the probe's record is looked for: the same choices for `doctor` and `probe`."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--log-file", metavar="PATH", help="the server's log file, for the live probe")
    where.add_argument("--log-directory", metavar="DIR", help="the server's log directory, for the live probe")
    where.add_argument("--log-group", metavar="NAME", help="the CloudWatch Logs group, for the live probe")
    parser.add_argument(
        "--probe-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for the probe's record (default: 15, or 180 with --log-group)",
    )


# -- shared helpers ----------------------------------------------------------------------------------------------
def _fail(command: str, message: str, code: int) -> int:
    print(f"pgaudit-monitor {command}: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, service_accounts=args.service_accounts, log_line_prefix=args.log_line_prefix)


def _snapshot(args: argparse.Namespace, conn: Any) -> ServerSnapshot:
    databases = (
        [d.strip() for d in args.databases.split(",") if d.strip()] if getattr(args, "databases", None) else None
    )
    return take_snapshot(conn, lambda name: connect(args.dsn, dbname=name), databases)


def _log_source(args: argparse.Namespace, prefix_text: str) -> LogSource | None:
    try:
        prefix = compile_prefix(prefix_text)
    except PrefixError:
        prefix = compile_prefix(AURORA_PREFIX)
    if args.log_file:
        return FileLogSource(args.log_file, prefix)
    if args.log_directory:
        return FileLogSource(args.log_directory, prefix)
    if args.log_group:
        return CloudWatchLogSource(args.log_group, prefix)
    return None


def _probe_finding(args: argparse.Namespace, conn: Any, snapshot: ServerSnapshot) -> Finding:
    source = _log_source(args, snapshot.settings.get("log_line_prefix", AURORA_PREFIX))
    marker = new_marker()
    if source is not None:
        source.mark()
    elevated = send_probe(conn, marker, elevate=True)
    if source is None:
        return Finding("probe", Status.WARN, "live probe sent but not verified: give --log-file, --log-directory or "
                       "--log-group to prove that audit records reach the log")  # fmt: skip
    timeout = _probe_timeout(args)
    outcome = wait_for(source, marker, timeout)
    if outcome.found:
        return Finding("probe", Status.OK, f"the probe's audit record reached {source.describe()} "
                       f"in {outcome.waited:.1f}s")  # fmt: skip
    how = "" if elevated else f" (role {snapshot.current_user} could not turn auditing on for its session)"
    return Finding(
        "probe",
        Status.FAIL,
        f"the probe's audit record did not reach {source.describe()} within {timeout:g}s{how}: "
        "pgAudit is not logging, or the log goes elsewhere",
        "fix the failures above; check log_destination, log_directory and (Aurora/RDS) the log export to "
        "CloudWatch Logs",
    )


def _print_findings(findings: list[Finding], as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        print(json.dumps({"healthy": healthy(findings), **(extra or {}),
                          "findings": [f.to_dict() for f in findings]}, indent=2))  # fmt: skip
        return
    width = max((len(f.check) for f in findings), default=10)
    for f in findings:
        print(f"{f.status.value.upper():<5} {f.check:<{width}}  {f.summary}")
        if f.fix and f.status is not Status.OK:
            print(f"{'':<5} {'':<{width}}  fix: {f.fix}")
    failures = sum(f.status is Status.FAIL for f in findings)
    warnings = sum(f.status is Status.WARN for f in findings)
    verdict = "healthy" if not failures else "UNHEALTHY"
    print(f"\n{verdict}: {failures} failure(s), {warnings} warning(s)")


# -- commands ----------------------------------------------------------------------------------------------------
def _reports_errors(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn psycopg's own errors (a permission refused, the server gone mid-way) into one line on stderr and their
    exit code, never a traceback; the monitor's errors are reported by the CLI's main."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        import psycopg

        try:
            return run(args)
        except psycopg.errors.InsufficientPrivilege as exc:
            return _fail(args.command, f"permission denied: {str(exc).splitlines()[0]}", ExitCode.PERMISSION)
        except psycopg.Error as exc:  # the server went away mid-way, a statement failed: one line, not a traceback
            return _fail(args.command, (str(exc).strip() or type(exc).__name__).splitlines()[0], ExitCode.CONNECT)

    return wrapped


def _probe_timeout(args: argparse.Namespace) -> float:
    if args.probe_timeout is not None:
        return float(args.probe_timeout)
    return 180.0 if args.log_group else 15.0  # RDS exports to CloudWatch with a delay


@_reports_errors
def run_doctor(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with connect(args.dsn) as conn:
        snapshot = _snapshot(args, conn)
        findings = check_all(snapshot, settings.policy().service_accounts)
        findings.append(_probe_finding(args, conn, snapshot))
    _print_findings(findings, args.format == "json", {"server_version_num": snapshot.version_num})
    return ExitCode.OK if healthy(findings) else ExitCode.FOUND


@_reports_errors
def run_probe(args: argparse.Namespace) -> int:
    with connect(args.dsn) as conn:
        prefix = args.log_line_prefix or conn.execute("SHOW log_line_prefix").fetchone()[0]
        source = _log_source(args, prefix or AURORA_PREFIX)
        marker = new_marker()
        if source is not None:
            source.mark()
        send_probe(conn, marker, elevate=False)
    print(f"sent: {marker}")
    if source is None:
        return ExitCode.OK
    timeout = _probe_timeout(args)
    outcome = wait_for(source, marker, timeout)
    if outcome.found:
        print(f"found in {source.describe()} after {outcome.waited:.1f}s")
        return ExitCode.OK
    return _fail("probe", f"not found in {source.describe()} within {timeout:g}s: pgAudit logs nothing", ExitCode.FOUND)


@_reports_errors
def run_coverage(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with connect(args.dsn) as conn:
        snapshot = take_snapshot(conn, lambda name: connect(args.dsn, dbname=name), databases=[])
    findings = [*check_roles(snapshot, settings.policy().service_accounts), check_role_names(snapshot)]
    gaps = [f for f in findings if f.status is not Status.OK]
    if args.format == "json":
        print(json.dumps([f.to_dict() for f in gaps], indent=2))
    elif not gaps:
        print("full coverage: every human LOGIN role is audited, no service account is")
    else:
        for f in gaps:
            print(f"{f.status.value.upper():<5} {f.summary}\n      fix: {f.fix}")
    return ExitCode.FOUND if gaps else ExitCode.OK


@_reports_errors
def run_set_role(args: argparse.Namespace) -> int:
    statement = f"ALTER ROLE {quote_ident(args.role)} SET pgaudit.log TO '{args.pgaudit_log}';"
    if args.dry_run:
        print(statement)
        return ExitCode.OK
    import psycopg

    with connect(args.dsn) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.UndefinedObject as exc:
            return _fail(args.command, str(exc).splitlines()[0], ExitCode.USAGE)
    print(statement)
    return ExitCode.OK
