"""Stage 2: the pgAudit record inside a log entry."""

from pgaudit_monitor.errors import RecordError
from pgaudit_monitor.records.pgaudit import AuditRecord, is_audit_message, parse_record

__all__ = ["AuditRecord", "RecordError", "is_audit_message", "parse_record"]
