"""The `pgaudit-monitor` command. Each subcommand lives in its own module; this file only wires them up.

Exit codes, for every subcommand: 0 nothing to report, 1 something reported, 2 bad usage or unreadable input;
the database commands add 3 (cannot connect) and 4 (permission denied).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pgaudit_monitor import __version__
from pgaudit_monitor.entrypoints import database, scan, triage, watch

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgaudit-monitor",
        description="Detect a human's DML on application tables in pgAudit logs.",
        epilog="Exit codes: 0 nothing to report, 1 something found (detections, problems, an alarm), 2 bad usage or "
        "unreadable input; the database commands also use 3 (cannot connect) and 4 (permission denied).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    scan.register(commands, add_policy_options)
    database.register(commands, add_policy_options)
    watch.register(commands, add_policy_options)
    triage.register(commands, add_policy_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pgaudit-monitor scan ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
