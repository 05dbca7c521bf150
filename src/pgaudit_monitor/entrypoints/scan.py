"""`pgaudit-monitor scan FILE...`: print the detections found in PostgreSQL log files."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from typing import Any

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.entries.reader import STDIN
from pgaudit_monitor.errors import ExitCode, InputError
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.sinks.console import ScanReport

DESCRIPTION = """\
Read PostgreSQL logs ('-' or nothing for standard input) and print every statement in which a human ran DML on
application tables, or read a sensitive catalog. Files in one directory are one server's log: give rotated
files in the order they were written.

Formats read, detected from the content (never from the file's name):
  stderr with any log_line_prefix (--log-line-prefix; Aurora/RDS's by default), csvlog, jsonlog;
  a CloudWatch Logs export to S3 (`<time> <message>` lines of RDS's entries);
  a Logs Insights result saved as JSON (get-query-results, the console's export) or CSV (@message column);
each plain or compressed with gzip, bzip2, xz or zstd. A file in which no entry of any of these is recognised
is an error (exit 2), not a log without detections."""


def register(commands: Any, add_policy_options: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "scan",
        help="print the detections in PostgreSQL log files",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 nothing detected, 1 detections found, 2 bad usage or unreadable input.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files (compressed too); '-' for standard input")
    add_policy_options(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a table and a summary (default); json: one JSON object per detection per line, nothing else",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also list the statements the policy excluded and the rule that excluded each, with counts "
        "(on stderr with --format json)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, service_accounts=args.service_accounts, log_line_prefix=args.log_line_prefix)
    pipeline = Pipeline(settings, report_excluded=args.explain)
    # Everything built so far (modules, the parser, the policy) lives as long as the process: the collector need
    # not walk it again and again while a large log is read.
    gc.freeze()
    report = ScanReport("scan", as_json=args.format == "json", explain=args.explain, out=sys.stdout, err=sys.stderr)
    files = args.files or [STDIN]
    unreadable = 0
    try:
        for path in files:
            try:
                for item in pipeline.scan_file(path):
                    report.take(item)
                    if path == STDIN:  # perhaps a live stream: each detection as soon as it is known
                        report.flush()
            except InputError as exc:
                unreadable += 1
                print(f"pgaudit-monitor scan: {exc}", file=sys.stderr)
        for item in pipeline.finish():
            report.take(item)
    finally:
        report.flush()  # what was found before an interruption is not lost
    if unreadable < len(files):  # an empty table would say "nothing found" about logs nobody read
        report.finish()
    if unreadable:
        return ExitCode.USAGE
    return ExitCode.FOUND if report.found else ExitCode.OK
