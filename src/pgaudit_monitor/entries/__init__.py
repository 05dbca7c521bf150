"""Stage 1: PostgreSQL log entries, from any of its log formats, as LogEntry records."""

from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import (
    AURORA_PREFIX,
    DEBIAN_PREFIX,
    POSTGRES_DEFAULT_PREFIX,
    CompiledPrefix,
    compile_prefix,
)
from pgaudit_monitor.entries.reader import LogFormat, read_events, read_file, sniff_format
from pgaudit_monitor.errors import InputError, PrefixError

__all__ = [
    "AURORA_PREFIX",
    "DEBIAN_PREFIX",
    "POSTGRES_DEFAULT_PREFIX",
    "CompiledPrefix",
    "InputError",
    "LogEntry",
    "LogFormat",
    "Malformed",
    "PrefixError",
    "compile_prefix",
    "read_events",
    "read_file",
    "sniff_format",
]
