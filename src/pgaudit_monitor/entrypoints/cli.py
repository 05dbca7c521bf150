"""The `pgaudit-monitor` command. Each subcommand lives in its own module; this file only wires them up.

Exit codes: see pgaudit_monitor.errors. A command returns its code; an error it does not handle itself reaches
`main`, which prints its one-line message and exits with the error's code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pgaudit_monitor import __version__
from pgaudit_monitor.errors import ExitCode, MonitorError

MODULES = ("scan", "database", "watch", "triage")
"""The modules of pgaudit_monitor.entrypoints that define the commands, in the order `--help` lists them."""
COMMANDS = {
    "scan": "scan",
    "doctor": "database",
    "probe": "database",
    "coverage": "database",
    "enable-user": "database",
    "disable-user": "database",
    "watch": "watch",
    "status": "watch",
    "triage": "triage",
}
"""Each command and the module that defines it. Only that module is imported when the command line names it: a
scan starts 50 ms sooner without the watcher's SQLite and SSL, or the database commands' modules."""


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that applies the policy takes."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $PGAUDIT_MONITOR_CONFIG, if set)",
    )
    parser.add_argument(
        "--service-accounts",
        metavar="LIST",
        help="comma-separated users or glob patterns whose DML is expected, e.g. 'app_*,etl' "
        "(default: $SERVICE_ACCOUNTS; rdsadmin is always one unless the config file says otherwise)",
    )
    parser.add_argument(
        "--log-line-prefix",
        metavar="PREFIX",
        help="the server's log_line_prefix for stderr-format logs (default: $LOG_LINE_PREFIX, "
        "else Aurora/RDS's '%%t:%%r:%%u@%%d:[%%p]:'); csvlog and jsonlog need none",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, for a known `command`, the top level and the commands of its module only."""
    parser = argparse.ArgumentParser(
        prog="pgaudit-monitor",
        description="Detect a human's DML on application tables in pgAudit logs.",
        epilog="Exit codes: 0 nothing to report, 1 something found (detections, problems, an alarm), 2 bad usage or "
        "unreadable input; the database commands also use 3 (cannot connect) and 4 (permission denied).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (COMMANDS[command],) if command in COMMANDS else MODULES:
        importlib.import_module(f"pgaudit_monitor.entrypoints.{name}").register(commands, add_policy_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MonitorError as exc:
        print(f"pgaudit-monitor {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `pgaudit-monitor scan ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
