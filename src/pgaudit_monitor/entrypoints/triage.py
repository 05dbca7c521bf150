"""`pgaudit-monitor triage --log-group G --at TIME`: the audit records around an alert, through the same policy.

The responder's first step after the alarm: fetch +-N minutes of the cluster's log from CloudWatch Logs
(FilterLogEvents, narrowed to pgAudit records server-side where the prefix names the user) and print who did what
to which table, from where, exactly as `scan` would from the log files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from pgaudit_monitor.aws.insights import kept_messages
from pgaudit_monitor.aws.windows import parse_time
from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.event_order import Event
from pgaudit_monitor.entries.prefix import compile_prefix
from pgaudit_monitor.errors import ConfigError, ExitCode
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.sinks.console import ScanReport

DESCRIPTION = """\
Fetch the pgAudit records logged around TIME (the alarm's time) from a CloudWatch Logs log group and print every
statement in which a person ran DML on application tables, with the same policy as `scan`. AWS credentials and
region come from the usual places (AWS_PROFILE, AWS_REGION, ...); AWS_ENDPOINT_URL is honoured."""


def register(commands: Any, add_policy_options: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "triage",
        help="print the detections around an alert, from CloudWatch Logs",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 nothing detected, 1 detections found, 2 bad usage or unreadable input.",
    )
    parser.add_argument("--log-group", required=True, metavar="G", help="e.g. /aws/rds/cluster/NAME/postgresql")
    parser.add_argument("--at", required=True, metavar="TIME", help="ISO-8601 time (2026-11-25T10:05:00Z) or epoch")
    parser.add_argument("--minutes", type=int, default=15, metavar="N", help="fetch TIME-N to TIME+N (default 15)")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    add_policy_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="as for scan")
    parser.add_argument("--explain", action="store_true", help="also list what the policy excluded, as for scan")
    parser.set_defaults(handler=run)


def fetch_events(logs: Any, group: str, start_ms: int, end_ms: int, pattern: str | None) -> list[Event]:
    """(timestamp ms, log stream, message) of every event in [start_ms, end_ms], all pages: events of one
    timestamp in the service's order, which the pipeline does not rely on (entries.event_order)."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
    if pattern:
        kwargs["filterPattern"] = pattern
    events: list[Event] = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        events.extend((e["timestamp"], e["logStreamName"], e["message"]) for e in page.get("events", []))
    return events


def run(args: argparse.Namespace) -> int:
    name = "pgaudit-monitor triage"
    try:
        settings = load_settings(
            args.config, service_accounts=args.service_accounts, log_line_prefix=args.log_line_prefix
        )
        at = parse_time(args.at)
    except (ConfigError, ValueError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if args.minutes < 1:
        print(f"{name}: --minutes must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        print(f"{name}: needs boto3: pip install 'pgaudit-monitor[aws]'", file=sys.stderr)
        return ExitCode.USAGE
    logs = boto3.client("logs", region_name=args.region) if args.region else boto3.client("logs")
    # what the Lambda's query keeps (pgAudit records, RAISE's CONTEXT: a forged record's tell), as a filter pattern
    # (`?"a" ?"b"`: either term); with a prefix without the user, everything (the connection entries name users)
    has_user = compile_prefix(settings.log_line_prefix).has_user
    pattern = " ".join(f'?"{kept}"' for kept in kept_messages(has_user)) if has_user else None
    start, end = (at - 60 * args.minutes) * 1000, (at + 60 * args.minutes) * 1000
    pipeline = Pipeline(settings, report_excluded=args.explain)
    report = ScanReport("triage", as_json=args.format == "json", explain=args.explain, out=sys.stdout, err=sys.stderr)
    try:
        for item in pipeline.scan_events(fetch_events(logs, args.log_group, start, end, pattern), args.log_group):
            report.take(item)
    except (BotoCoreError, ClientError) as exc:
        print(f"{name}: {args.log_group}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    finally:
        report.flush()  # the detections found before an error are printed all the same
    report.finish()
    return ExitCode.FOUND if report.found else ExitCode.OK
