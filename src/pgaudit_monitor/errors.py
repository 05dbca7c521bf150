"""Every error the monitor raises on purpose, and the exit code each one means, in one place.

Domain modules raise these and never choose an exit code or print; the entry points (the CLI's commands, the
Lambda, the watcher) catch them and decide what a person sees: `pgaudit-monitor COMMAND: message` on stderr and
`error.exit_code`. Messages are one line, name the file, setting or host at fault, and never hold a secret.

Exit codes, for every command: 0 nothing to report, 1 something reported, 2 bad usage or unreadable input; the
database commands add 3 (cannot connect) and 4 (permission denied).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FOUND = 1  # detections, problems found, an alarm in ALARM
    USAGE = 2  # bad usage, bad configuration, unreadable input
    CONNECT = 3  # the database cannot be reached, or refused the login
    PERMISSION = 4  # the database refused to show what was asked
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class MonitorError(Exception):
    """The base of the errors above: a failure a person can act on, with the exit code that tells it apart."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigError(MonitorError, ValueError):
    """A setting that is missing, of the wrong type, or not understood; the message names where it came from."""


class PrefixError(ConfigError):
    """A log_line_prefix the compiler does not understand."""


class WebhookConfigError(ConfigError):
    """A webhook that would not be safe or could not work: plain http off loopback, an unknown shape, no key."""


class InputError(MonitorError, OSError):
    """A log that cannot be opened or read at all (as opposed to one with malformed entries, which are reported
    one by one and skipped)."""


class UnrecognisedInput(InputError):
    """A log that is not empty, in which no entry of any format the reader knows was recognised: a file that is
    not a PostgreSQL log, or one written with another log_line_prefix than the one given. Raised after the
    entries read (all Malformed), so that a scan never says "nothing found" about a log it could not read."""


class RecordError(ValueError):
    """An AUDIT message whose fields cannot be read: the caller reports the entry as malformed and goes on."""


class DeliveryError(MonitorError):
    """A notification that did not reach its receiver; the outbox tries again later."""


class DatabaseError(MonitorError):
    """A failure to talk to the server, with a one-line message and the exit code that tells it apart."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.CONNECT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class AlreadyRunning(MonitorError):
    """Another watcher holds the state directory: two would count everything twice."""


class CheckpointError(MonitorError):
    """The checkpoint parameter holds something that is not a time: a person must look, the monitor will not
    guess."""


class QueryError(MonitorError):
    """A Logs Insights query that failed, was cancelled, timed out, or did not finish before the run's deadline."""
