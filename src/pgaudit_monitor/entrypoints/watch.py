"""`pgaudit-monitor watch PATH...` and `pgaudit-monitor status`: local mode, on one machine, no cloud service.

Secrets never come from the command line (other users see it in `ps`): the webhook key and the SMTP password are
read from an environment variable or a file, and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.errors import ConfigError, ExitCode
from pgaudit_monitor.sinks.base import NORMALIZED, STATEMENT_MODES, Notification, Sink, describe
from pgaudit_monitor.sinks.console import ConsoleNotifier
from pgaudit_monitor.sinks.email import EmailConfig, EmailSink
from pgaudit_monitor.sinks.webhook import SHAPES, WebhookConfig, WebhookSink
from pgaudit_monitor.timestamps import iso
from pgaudit_monitor.watch.alarm import AlarmRule
from pgaudit_monitor.watch.follower import FollowOptions
from pgaudit_monitor.watch.outbox import Backoff
from pgaudit_monitor.watch.state import DB_NAME, StateStore, connect
from pgaudit_monitor.watch.watcher import LOCK_NAME, WatchConfig, Watcher

WEBHOOK_URL_ENV = "PGAUDIT_MONITOR_WEBHOOK_URL"
WEBHOOK_KEY_ENV = "PGAUDIT_MONITOR_WEBHOOK_KEY"
SMTP_PASSWORD_ENV = "PGAUDIT_MONITOR_SMTP_PASSWORD"  # noqa: S105 - a variable name

WATCH_DESCRIPTION = f"""\
Follow PostgreSQL log files (stderr, csvlog or jsonlog) as they are written, through rotation and truncation,
and alarm within seconds when a human runs DML on application tables. PATH is a log file or PostgreSQL's log
directory (new files are picked up; in a directory, one format is followed: *.json, else *.csv, else *.log).
State (positions, alarm, outbox) is kept in SQLite in the state directory; every detection is appended to a
JSON-lines file. Stops cleanly on SIGTERM; resumes where it stopped.

Alarm: ALARM as soon as the current window counts THRESHOLD detections; OK after a whole window below it; one
notification per transition (re-notification while in ALARM only with --renotify-seconds).

Secrets: the webhook key from ${WEBHOOK_KEY_ENV} or --webhook-key-file, the SMTP password from
${SMTP_PASSWORD_ENV} or --smtp-password-file. The webhook URL may come from ${WEBHOOK_URL_ENV}."""


def default_state_dir() -> str:
    """systemd's StateDirectory= when run as a service, else a per-user directory."""
    if os.environ.get("STATE_DIRECTORY"):
        return os.environ["STATE_DIRECTORY"].split(":")[0]
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "pgaudit-monitor")


def register(commands: Any, add_policy_options: Callable[[argparse.ArgumentParser], None]) -> None:
    watch = commands.add_parser(
        "watch",
        help="follow PostgreSQL's log on this machine and alert in seconds",
        description=WATCH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument("paths", nargs="+", metavar="PATH", help="a log file, or PostgreSQL's log directory")
    _state_dir_option(watch)
    add_policy_options(watch)
    watch.add_argument(
        "--detections-file", metavar="FILE", help="JSON lines of every detection (default: STATE_DIR/detections.jsonl)"
    )
    alarm = watch.add_argument_group("alarm")
    alarm.add_argument("--window-seconds", type=int, default=60, metavar="N", help="window length (default 60)")
    alarm.add_argument("--threshold", type=int, default=1, metavar="N", help="detections per window (default 1)")
    alarm.add_argument(
        "--renotify-seconds",
        type=int,
        default=0,
        metavar="N",
        help="while in ALARM, send a reminder with new detections at most every N seconds "
        "(default 0: one notification per transition)",
    )
    alarm.add_argument("--alarm-name", default="pgaudit-monitor-human-dml", help="named in every notification")
    alarm.add_argument(
        "--notify-statement",
        choices=STATEMENT_MODES,
        default=NORMALIZED,
        help="what notifications show of a statement: its text with literals replaced by $n (default), the full "
        "text, or none; the detections file always holds the full text",
    )
    hook = watch.add_argument_group("webhook")
    hook.add_argument(
        "--webhook-url",
        metavar="URL",
        default=os.environ.get(WEBHOOK_URL_ENV),
        help=f"https:// (or http:// to loopback) receiver (default: ${WEBHOOK_URL_ENV})",
    )
    hook.add_argument(
        "--webhook-format",
        choices=SHAPES,
        default="generic",
        help="generic JSON, PagerDuty Events v2 (routing key as key), Opsgenie Alert API (API key)",
    )
    hook.add_argument("--webhook-key-file", metavar="FILE", help=f"file holding the key (default: ${WEBHOOK_KEY_ENV})")
    hook.add_argument("--webhook-ca-file", metavar="FILE", help="trust this CA (PEM) for a self-signed receiver")
    mail = watch.add_argument_group("email (SMTP with STARTTLS)")
    mail.add_argument("--smtp-host", metavar="HOST")
    mail.add_argument("--smtp-port", type=int, default=587, metavar="PORT", help="default 587")
    mail.add_argument("--smtp-user", metavar="USER")
    mail.add_argument("--smtp-password-file", metavar="FILE", help=f"default: ${SMTP_PASSWORD_ENV}")
    mail.add_argument("--smtp-from", metavar="ADDRESS", default="pgaudit-monitor@localhost")
    mail.add_argument("--smtp-to", metavar="LIST", help="comma-separated recipients")
    mail.add_argument("--smtp-ca-file", metavar="FILE", help="trust this CA (PEM) for the SMTP server")
    tuning = watch.add_argument_group("tuning")
    tuning.add_argument("--no-console", action="store_true", help="do not print notifications on standard output")
    tuning.add_argument(
        "--start-at-end",
        action="store_true",
        help="first run only: skip what the files already hold (default: read them)",
    )
    tuning.add_argument("--pattern", metavar="GLOB", help="which files of a directory to follow (default: auto)")
    tuning.add_argument("--poll-seconds", type=float, default=0.1, metavar="S", help="default 0.1")
    tuning.add_argument(
        "--retry-max-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="longest wait between two delivery attempts (default 300)",
    )
    tuning.add_argument(
        "--detach-grace-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="how long a renamed or deleted file is still read after it stops growing (default 5)",
    )
    watch.set_defaults(handler=run_watch)

    status = commands.add_parser("status", help="the watcher's health: files, lag, last detection, alarm, outbox")
    _state_dir_option(status)
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(handler=run_status)


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        default=default_state_dir(),
        help="where the SQLite state lives (default: $STATE_DIRECTORY, else ~/.local/state/pgaudit-monitor)",
    )


def read_secret(path: str | None, env_name: str) -> str | None:
    """A secret from its file (first line) or its environment variable; None if neither is given."""
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.readline().strip()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read secret file: {exc.strerror or exc}") from exc
        if not value:
            raise ConfigError(f"{path}: secret file is empty")
        if os.stat(path).st_mode & 0o077:
            print(f"pgaudit-monitor watch: warning: {path} is readable by other users", file=sys.stderr)
        return value
    return os.environ.get(env_name) or None


def build_sinks(args: argparse.Namespace) -> list[Sink[Notification]]:
    sinks: list[Sink[Notification]] = []
    if args.webhook_url:
        key = read_secret(args.webhook_key_file, WEBHOOK_KEY_ENV)
        config = WebhookConfig(args.webhook_url, args.webhook_format, key, args.webhook_ca_file)
        sinks.append(WebhookSink(config))
    if args.smtp_host:
        password = read_secret(args.smtp_password_file, SMTP_PASSWORD_ENV)
        recipients = tuple(r.strip() for r in (args.smtp_to or "").split(",") if r.strip())
        try:
            email = EmailConfig(
                args.smtp_host, args.smtp_from, recipients, args.smtp_port, args.smtp_user, password, args.smtp_ca_file
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        sinks.append(EmailSink(email))
    if not args.no_console:
        sinks.append(ConsoleNotifier(sys.stdout))
    return sinks


def _log(message: str) -> None:
    print(f"pgaudit-monitor watch: {message}", file=sys.stderr, flush=True)


def run_watch(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            args.config, service_accounts=args.service_accounts, log_line_prefix=args.log_line_prefix
        )
        sinks = build_sinks(args)
        rule = AlarmRule(args.window_seconds, args.threshold, args.renotify_seconds)
    except (ConfigError, ValueError) as exc:
        print(f"pgaudit-monitor watch: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    state_dir = os.path.abspath(args.state_dir)
    config = WatchConfig(
        paths=tuple(args.paths),
        state_dir=state_dir,
        detections_file=args.detections_file or os.path.join(state_dir, "detections.jsonl"),
        rule=rule,
        follow=FollowOptions(
            detach_grace_seconds=args.detach_grace_seconds, start_at_end=args.start_at_end, pattern=args.pattern
        ),
        backoff=Backoff(cap=args.retry_max_seconds),
        poll_seconds=args.poll_seconds,
        alarm_name=args.alarm_name,
        statement_mode=args.notify_statement,
    )
    watcher = Watcher(config, settings, sinks, _log)  # AlreadyRunning when another watcher has the state

    def stop(signum: int, _frame: object) -> None:
        _log(f"{signal.Signals(signum).name}: stopping after this step")
        watcher.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    names = ", ".join(s.name for s in sinks) or "none"
    _log(
        f"watching {', '.join(args.paths)}; state in {state_dir}; notifications: {names} "
        f"(statements: {args.notify_statement})"
    )
    watcher.run()
    _log("stopped")
    return ExitCode.OK


# -- status ------------------------------------------------------------------------------------------------
def collect_status(state_dir: str) -> dict[str, Any]:
    """Everything `status` shows, read from the state database without disturbing the watcher."""
    conn = connect(state_dir, readonly=True)
    try:
        store = StateStore(conn)
        now = time.time()
        files = []
        for p in store.positions():
            try:
                st = os.stat(p.path)
                size = st.st_size if f"{st.st_dev}:{st.st_ino}" == p.key else None
            except OSError:
                size = None
            files.append(
                {
                    "path": p.path,
                    "checkpoint": p.offset,
                    "read": p.read_offset,
                    "size": size,
                    "lag_bytes": None if size is None else max(0, size - p.offset),
                    "updated": iso(p.updated, milliseconds=True),
                    "seconds_since_update": round(now - p.updated, 1),
                }
            )
        outbox = []
        depths, delivered = store.outbox_depth(), store.delivered_counts()
        for channel in store.channels():
            row = store.next_undelivered(channel)
            outbox.append(
                {
                    "channel": channel,
                    "pending": depths.get(channel, 0),
                    "delivered": delivered.get(channel, 0),
                    "attempts": row.attempts if row else 0,
                    "last_error": row.last_error if row else None,
                    "next_attempt_in": round(max(0.0, row.next_attempt - now), 1) if row else None,
                }
            )
        heartbeat = store.get("heartbeat")
        return {
            "state_dir": state_dir,
            "running": _running(state_dir),
            "pid": store.get("pid"),
            "heartbeat_seconds_ago": None if heartbeat is None else round(now - heartbeat, 1),
            "paths": store.get("paths", []),
            "alarm": store.get("alarm") or {"state": "OK"},
            "rule": store.get("rule", {}),
            "detections_total": store.get("detections_total", 0),
            "malformed_total": store.get("malformed_total", 0),
            "last_detection": store.get("last_detection"),
            "files": files,
            "outbox": outbox,
        }
    finally:
        conn.close()


def _running(state_dir: str) -> bool:
    try:
        fd = os.open(os.path.join(state_dir, LOCK_NAME), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def write_status(status: dict[str, Any], out: Any) -> None:
    running = "running" if status["running"] else "NOT running"
    beat = status["heartbeat_seconds_ago"]
    out.write(f"watcher:    {running} (pid {status['pid']}, last heartbeat {beat}s ago)\n")
    out.write(f"paths:      {', '.join(status['paths'])}\n")
    alarm, rule = status["alarm"], status["rule"]
    since = iso(alarm["since"], milliseconds=True) if alarm.get("since") else "start"
    line = f"alarm:      {alarm['state']} since {since}"
    if alarm["state"] == "ALARM":
        line += f", incident {alarm.get('incident')}, {alarm.get('episode_count', 0)} detection(s)"
    out.write(line + "\n")
    out.write(
        f"rule:       >= {rule.get('threshold')} per {rule.get('window_seconds')}s window; "
        f"re-notify every {rule.get('renotify_seconds') or 'never'}"
        f"{'s' if rule.get('renotify_seconds') else ''}\n"
    )
    last = status["last_detection"]
    out.write(
        f"detections: {status['detections_total']} in all; malformed entries skipped: {status['malformed_total']}\n"
    )
    seen = f"{describe(Detection.from_dict(last))} (seen {last['detected_at']})" if last else "none"
    out.write(f"last:       {seen}\n")
    out.write("files:\n")
    for f in status["files"]:
        lag = "gone" if f["lag_bytes"] is None else f"{f['lag_bytes']} bytes behind"
        out.write(
            f"  {f['path']}  at {f['checkpoint']} of {f['size']}  {lag}, updated {f['seconds_since_update']}s ago\n"
        )
    out.write("outbox:\n")
    for o in status["outbox"]:
        line = f"  {o['channel']:<8} {o['pending']} pending, {o['delivered']} delivered"
        if o["pending"] and o["last_error"]:
            line += f"; {o['attempts']} failed attempt(s), last: {o['last_error']}; next in {o['next_attempt_in']}s"
        out.write(line + "\n")
    if not status["outbox"]:
        out.write("  empty\n")


def run_status(args: argparse.Namespace) -> int:
    state_dir = os.path.abspath(args.state_dir)
    if not os.path.exists(os.path.join(state_dir, DB_NAME)):
        print(f"pgaudit-monitor status: no watcher state in {state_dir}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        status = collect_status(state_dir)
    except sqlite3.Error as exc:
        print(f"pgaudit-monitor status: {state_dir}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if args.format == "json":
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        with contextlib.suppress(BrokenPipeError):
            write_status(status, sys.stdout)
    return ExitCode.FOUND if status["alarm"].get("state") == "ALARM" else ExitCode.OK
