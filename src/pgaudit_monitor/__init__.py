"""pgaudit-monitor: detect a human's DML on application tables in pgAudit logs.

The package is a pipeline whose stages are its subpackages, each importing only from the ones before it:

    entries      PostgreSQL log formats (stderr + log_line_prefix, csvlog, jsonlog, CloudWatch events) -> LogEntry
    records      the pgAudit payload of an entry                                                -> AuditRecord
    policy       who is human, what is application data, parsed with PostgreSQL's own grammar  -> Verdict
    detections   records grouped into statements, each judged once                              -> Detection
    sinks        where detections go (console table, JSON lines)
    entrypoints  the command line (and, later, the Lambda handler and the watcher)
"""

__version__ = "0.1.0"
