"""Parse the pgAudit payload of a log message: `AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<not logged>`.

pgAudit writes its fields as one CSV row, quoting a field that holds a comma, a double quote, a CR or a newline:

    AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER[,ROWS]

The trailing ROWS field appears with `pgaudit.log_rows = on`. OBJECT_TYPE and OBJECT_NAME are empty on SESSION
READ and WRITE records unless `pgaudit.log_relation = on`; then there is one record per relation, all with the same
statement and substatement id.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Any

from pgaudit_monitor.entries.splitting import AUDIT_MARKER
from pgaudit_monitor.errors import RecordError

PREVIOUSLY_LOGGED = "<previously logged>"  # pgaudit.log_statement_once: the text is on an earlier record
NOT_LOGGED = "<not logged>"
_FIXED_FIELDS = 9
_AUDIT_TYPES = frozenset({"SESSION", "OBJECT"})


@dataclass(slots=True)
class AuditRecord:
    """One pgAudit record. Ids are per backend: statement_id counts the backend's statements from 1.

    Treated as immutable; not `frozen` for the hot path's sake (see LogEntry)."""

    audit_type: str
    statement_id: int
    substatement_id: int
    audit_class: str
    command: str
    object_type: str
    object_name: str
    statement: str
    parameter: str
    rows: str | None = None

    @property
    def statement_logged(self) -> bool:
        """False when pgAudit left the text out (log_statement_once) or it was empty."""
        text = self.statement  # (`not text.isspace()` is `text.strip() != ""` without building a string)
        return text != "" and not text.isspace() and text != PREVIOUSLY_LOGGED


def is_audit_message(message: str) -> bool:
    return message.startswith(AUDIT_MARKER)


# The whole record as pgAudit writes it, in one match: the fixed head (never quoted but for OBJECT_NAME), then
# STATEMENT, PARAMETER and the optional ROWS, each either CSV-quoted (`""` inside) or plain (no comma, no quote).
_FIELD = r'("[^"]*(?:""[^"]*)*"|[^,"]*)'
_HEAD = r"(SESSION|OBJECT),(\d{1,18}),(\d{1,18}),([^,\"]*),([^,\"]*),([^,\"]*),"
_RECORD = re.compile(_HEAD + ",".join([_FIELD] * 3) + f"(?:,{_FIELD})?\\Z")


def _unquote(field: str) -> str:
    return field[1:-1].replace('""', '"') if field[:1] == '"' else field


def parse_record(message: str) -> AuditRecord:
    """Parse an `AUDIT: ...` message. Raises RecordError when it is one but its fields cannot be read."""
    return AuditRecord(*record_fields(message))


def record_fields(message: str) -> tuple[Any, ...]:
    """The fields of parse_record's AuditRecord, in declaration order: `AuditRecord(*record_fields(m))`.

    A tuple, for the background reader, which parses records in its own process and sends them over as tuples.
    """
    if not message.startswith(AUDIT_MARKER):
        raise RecordError("not a pgAudit record")
    if '"' not in message:  # no quoted field: a split on commas is exact, and the pattern would find the same
        return _parse_fields(message[len(AUDIT_MARKER) :])
    match = _RECORD.match(message, len(AUDIT_MARKER))
    if match is None:  # the general reader says what is wrong
        return _parse_fields(message[len(AUDIT_MARKER) :])
    audit_type, statement_id, substatement_id, audit_class, command, object_type, name, text, param, rows = (
        match.groups()
    )
    return (
        audit_type,
        int(statement_id),
        int(substatement_id),
        audit_class,
        command,
        object_type,
        _unquote(name),
        _unquote(text),
        _unquote(param),
        None if rows is None else _unquote(rows),
    )


def _parse_fields(payload: str) -> tuple[Any, ...]:
    """The general reader, for what the pattern does not take: it names what is wrong with a malformed record."""
    if '"' in payload:
        try:
            rows = list(csv.reader([payload], strict=True))
        except csv.Error as exc:
            raise RecordError(f"pgAudit fields are not valid CSV ({exc})") from exc
        fields = rows[0] if len(rows) == 1 else []
    else:  # pgAudit quotes every field holding a comma, a quote or a newline: none here, a plain split is exact
        fields = payload.split(",")
    if len(fields) < _FIXED_FIELDS:
        raise RecordError(f"pgAudit record with {len(fields)} fields, expected at least {_FIXED_FIELDS}")
    audit_type = fields[0]
    if audit_type not in _AUDIT_TYPES:
        raise RecordError(f"unknown pgAudit audit type {audit_type!r}")
    try:
        statement_id, substatement_id = int(fields[1]), int(fields[2])
    except ValueError as exc:
        raise RecordError(f"statement ids are not numbers: {fields[1]!r},{fields[2]!r}") from exc
    return (
        audit_type,
        statement_id,
        substatement_id,
        fields[3],
        fields[4],
        fields[5],
        fields[6],
        fields[7],
        fields[8],
        fields[9] if len(fields) > _FIXED_FIELDS else None,
    )
