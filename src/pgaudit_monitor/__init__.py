"""pgaudit-monitor: detect a human's DML on application tables in pgAudit logs.

The package is a pipeline whose stages are its subpackages, each importing only from the ones before it (the
import-linter contract in pyproject.toml holds it to that):

    errors       every error raised on purpose, and its exit code
    entries      PostgreSQL log formats (stderr + log_line_prefix, csvlog, jsonlog, CloudWatch events) -> LogEntry
    records      the pgAudit payload of an entry                                                -> AuditRecord
    policy       who is human, what is application data, parsed with PostgreSQL's own grammar  -> Verdict
    detections   records grouped into statements, each judged once               -> Outcome, Detection
    sinks        where detections go: console, JSON lines, webhook, email, metric, SNS (one protocol)
    pipeline     the core every entry point shares (with config and the background reader)
    watch, aws, database   local mode, the AWS pipeline, the database side
    entrypoints  the command line and the Lambda handler
"""

__version__ = "0.1.0"
