"""Judge one statement: a human's DML on application data, a read of sensitive catalogs, tampering with the audit
trail, or none of these?

A statement reaches here as its pgAudit records (all sharing one statement id in one backend: substatements of
functions and triggers, one record per relation with log_relation on), with its backend's Session (policy.session:
what the backend's earlier statements changed, and the multi-statement cursor). The policy looks at:

1. tampering, first and whoever did it: a change of what pgAudit records or of where the log goes (policy.sql
   reads it from the grammar; policy.catalog lists the settings);
2. who: a service account's statement is excluded, nothing else is (an unknown user is a human);
3. what rows the READ and WRITE records touched, by evidence in this order (`Verdict.evidence`): pgAudit's own
   OBJECT_NAME when log_relation is on (the server resolved the names); else the record's own text, read by
   PostgreSQL's grammar and its names resolved as the session would; else nothing can tell, and the record
   counts as application DML (fail closed). A record without text never borrows another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pgaudit_monitor.policy.accounts import ServiceAccounts
from pgaudit_monitor.policy.builtins import BUILTIN_FUNCTIONS
from pgaudit_monitor.policy.catalog import (
    DEFAULT_SENSITIVE_CATALOGS,
    INFORMATION_SCHEMA_RELATIONS,
    NON_TABLE_OBJECT_TYPES,
    SERVER_FILE_READERS,
    SESSION_SCHEMA_PREFIXES,
    SYSTEM_SCHEMAS,
)
from pgaudit_monitor.policy.rules import (
    APP_DML,
    AUDIT_TAMPER,
    EXCLUSION_ORDER,
    FAIL_CLOSED,
    FORGED,
    OBJECTS,
    SENSITIVE_CATALOG,
    TEXT,
    RelationKind,
)
from pgaudit_monitor.policy.session import APP, BLOCK_TAGS, TEMP, UNKNOWN_TAG, Session, fits
from pgaudit_monitor.policy.severity import Severities
from pgaudit_monitor.policy.sql import COMMAND_ORDER, Access, ParsedStatement, Relation, SqlAnalyzer
from pgaudit_monitor.records.pgaudit import PREVIOUSLY_LOGGED, AuditRecord

DATA_CLASSES = frozenset({"READ", "WRITE"})
APP_RELATION, SENSITIVE, SYSTEM, SEQUENCE = (
    RelationKind.APP, RelationKind.SENSITIVE, RelationKind.SYSTEM, RelationKind.SEQUENCE,
)  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """Everything the classification depends on, as data."""

    service_accounts: ServiceAccounts = field(default_factory=ServiceAccounts)
    sensitive_catalogs: frozenset[str] = DEFAULT_SENSITIVE_CATALOGS
    system_schemas: frozenset[str] = SYSTEM_SCHEMAS
    severities: Severities = field(default_factory=Severities)


@dataclass(slots=True)
class Verdict:
    """The outcome for one statement: a category when it is reported, else the rule that excluded it.

    Treated as immutable (the judge keeps decisions and shares them), but not `frozen`: one is made per audited
    statement, and a frozen dataclass's constructor costs four times as much (1.2 us against 0.3 us here)."""

    category: str | None
    rule: str
    command: str
    relations: tuple[str, ...] = ()
    statement: str = ""
    evidence: str = TEXT
    severity: str | None = None  # policy.severity's level of a reported statement

    @property
    def detected(self) -> bool:
        return self.category is not None


class _Reading:
    """What the records of one statement say, gathered before deciding. (A plain class: a dataclass's default
    factories cost more than the rest of a simple statement's reading.)"""

    __slots__ = ("app", "app_commands", "app_evidence", "parts", "records", "rules", "sensitive", "sequence",
                 "system", "tamper", "unresolved")  # fmt: skip

    def __init__(self, records: Sequence[AuditRecord], parts: Sequence[ParsedStatement | None]) -> None:
        self.records, self.parts = records, parts
        self.app: list[str] = []
        self.sensitive: list[str] = []
        self.system = False
        self.sequence = False
        self.app_commands: set[str] = set()
        self.app_evidence: set[str] = set()
        self.unresolved: str | None = None  # the rule of a data record nobody could read (fail closed)
        self.rules: list[str] = []
        self.tamper: str | None = None

    def under_system_view(self, relation: Relation) -> bool:
        """Whether pgAudit lists `relation` because the statement read a system view over it (pg_roles over
        pg_authid), and no text of the statement names it itself."""
        if not any(
            r.object_type == "VIEW" and r.object_name.startswith(("pg_catalog.", "information_schema."))
            for r in self.records
        ):
            return False
        for part in self.parts:
            access = None if part is None else (part.access or part.deferred)
            if access is not None and any(r.name == relation.name for r in access.relations):
                return False
        return True


class Judge:
    """Applies a Policy to statements. Holds the SQL analyzer (and its caches); each backend's state (its Session,
    with the multi-statement cursor) is handed in with its statements."""

    def __init__(self, policy: Policy, analyzer: SqlAnalyzer | None = None, memo_size: int = 8192) -> None:
        self.policy = policy
        self.analyzer = analyzer or SqlAnalyzer()
        # (service account, the first record's class, command, object type and object name, statement shape, session
        # key, then the other records' four fields) -> the verdict on a statement whose records carry one text, the
        # part whose changes to the session it makes (None: none), and which records session.apply takes again
        self._memo: dict[tuple[object, ...], tuple[Verdict, ParsedStatement | None, tuple[int, ...]]] = {}
        self._memo_size = memo_size

    # -- relations -------------------------------------------------------------------------------------------
    def relation_kind(self, relation: Relation, session: Session | None = None) -> RelationKind:
        """What one relation is to the policy (an unqualified one resolved in `session`)."""
        if relation.object_type in NON_TABLE_OBJECT_TYPES:
            return SEQUENCE if relation.object_type == "SEQUENCE" else SYSTEM
        schema = relation.schema
        if schema is None:
            where = (session or _DEFAULT_SESSION).resolve(relation.name)
            if where is APP:
                return APP_RELATION
            if where is TEMP:
                return SYSTEM
            schema = "pg_catalog"
        if schema == "information_schema" and relation.name not in INFORMATION_SCHEMA_RELATIONS:
            return APP_RELATION  # an ordinary schema: a table moved there, or a view made there, is the application's
        if schema in self.policy.system_schemas or schema.startswith(SESSION_SCHEMA_PREFIXES):
            return SENSITIVE if schema == "pg_catalog" and relation.name in self.policy.sensitive_catalogs else SYSTEM
        return APP_RELATION

    # -- statements ------------------------------------------------------------------------------------------
    def judge(self, user: str | None, records: Sequence[AuditRecord], session: Session | None = None) -> Verdict:
        """Decide one statement from all of its records, and take what it changed into its backend's `session`.

        Statements of one backend must be judged in the order they ran (the session follows them); without a
        session, the statement is judged alone, in a session at the server's defaults.
        """
        session = Session() if session is None else session
        top = records[0]
        if top.statement_logged and session.texts_trusted and (len(records) == 1 or _one_text(records)):
            shape = self.analyzer.shape(top.statement)
            if shape is not None:  # one statement of a known shape: decided once per shape
                return self._judge_shape(user, records, shape, session)
        return self._judge_records(user, records, session)

    def forged(self, record: AuditRecord) -> Verdict:
        """A record that RAISE wrote, not pgAudit: tampering with the audit trail, never DML."""
        text = record.statement if record.statement_logged else ""
        return self._rated(Verdict(AUDIT_TAMPER, "forged-record", record.command, (), text, FORGED))

    def _judge_shape(self, user: str | None, records: Sequence[AuditRecord], shape: str, session: Session) -> Verdict:
        """The common statement, all of its records carrying its one text: decided once per shape (the same
        statement with other constants).

        Most statements have one record; with pgaudit.log_relation on, one per relation the statement touched, all
        with the same text. The decision reads only each record's class, command and object fields, the statement's
        analysis (the same for every text of one shape: SqlAnalyzer.shape) and the session's names (its key); only
        the text is put back. What the statement changes in its session (BEGIN, a DROP, a temporary table, a
        tampering that makes the logged relations uncertain) is kept beside the decision and taken again each time,
        record by record, as `_judge_records` takes it.
        """
        top = records[0]
        statement = top.statement
        service = self.policy.service_accounts.matches(user) is not None
        key: tuple[object, ...] = (
            service,
            top.audit_class,
            top.command,
            top.object_type,
            top.object_name,
            shape,
            session.key,
        )
        if len(records) > 1:  # (the first record's fields in the key itself: no tuple per one-record statement)
            key += tuple((r.audit_class, r.command, r.object_type, r.object_name) for r in records[1:])
        known = self._memo.get(key)
        if known is None:
            verdict = self._judge_records(user, records, session)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            part = (self.analyzer.analyze(statement) or (None,))[0]
            changes = part if part is not None and (part.session or part.tag in BLOCK_TAGS or part.tamper) else None
            # the records whose session.apply does something (a temporary table made, relations logged): none for
            # most statements, which then take nothing again
            applied = tuple(i for i, r in enumerate(records) if changes is not None or r.object_name)
            # kept without its text: the cache holds decisions, not the statements of the log
            self._memo[key] = (Verdict(verdict.category, verdict.rule, verdict.command, verdict.relations, "",
                                       verdict.evidence, verdict.severity), changes, applied)  # fmt: skip
            return verdict
        decided, changes, applied = known
        if applied:  # (the test first: a loop over nothing costs more, on the commonest statement)
            for index in applied:
                session.apply(records[index], changes)
        session.last_text = statement
        session.cursor_text, session.cursor_part = statement, 0
        if len(records) > 1:  # shown as _judge_records shows it (a `;` inside the text: its own part's text)
            statement = _shown_text(records, (self.analyzer.analyze(statement) or (None,)) * len(records))
        return Verdict(
            decided.category, decided.rule, decided.command, decided.relations, statement, decided.evidence,
            decided.severity,
        )  # fmt: skip

    def _judge_records(self, user: str | None, records: Sequence[AuditRecord], session: Session) -> Verdict:
        return self._rated(self._classify(user, records, session))

    def _rated(self, verdict: Verdict) -> Verdict:
        """A reported verdict with its severity (a verdict just made, not yet shared: set in place)."""
        if verdict.category is not None:
            verdict.severity = self.policy.severities.of(verdict.category, verdict.relations)
        return verdict

    def _classify(self, user: str | None, records: Sequence[AuditRecord], session: Session) -> Verdict:
        top = records[0]
        parts = self._parts(records, session)
        statement = _shown_text(records, parts)
        reading = self._read(records, parts, session)
        for record, part in zip(records, parts, strict=True):
            session.apply(record, part, top_level=record.statement == top.statement)
        session.last_text = next((r.statement for r in records if r.statement_logged), "")
        if reading.tamper is not None:  # by anyone: an application has no business turning auditing off
            return Verdict(AUDIT_TAMPER, reading.tamper, top.command, tuple(reading.app), statement, TEXT)
        if self.policy.service_accounts.matches(user) is not None:
            return Verdict(None, "service-account", top.command, (), statement)
        return self._decide(reading, top, statement)

    def _parts(self, records: Sequence[AuditRecord], session: Session) -> list[ParsedStatement | None]:
        """The part of its text each record belongs to; None for a record without text, or an unreadable one.

        The statement's first record goes through the session's multi-statement cursor; a record carrying the
        same text belongs to the same part; a substatement's own multi-statement text (rare) to its first part
        that fits. A record without text never borrows another's.
        """
        chosen: list[ParsedStatement | None] = []
        top_text, top_part = None, None
        by_substatement: dict[int, ParsedStatement | None] = {}
        for record in records:
            if not record.statement_logged:
                # log_statement_once: the text is on the substatement's first record; otherwise there is none
                once = record.statement == PREVIOUSLY_LOGGED
                chosen.append(by_substatement.get(record.substatement_id) if once else None)
                continue
            text = record.statement
            if text == top_text:
                by_substatement.setdefault(record.substatement_id, top_part)
                chosen.append(top_part)
                continue
            analyzed = self.analyzer.analyze(text)
            if analyzed is None and record.command == "SELECT":
                # a PL/pgSQL expression (`format(...)`, `x > (SELECT ...)`): the server ran it as `SELECT <expr>`
                analyzed = self.analyzer.analyze("SELECT " + text)
            part: ParsedStatement | None = None
            if analyzed:
                if top_text is None:
                    index = session.match_part(record, text, analyzed)
                else:
                    index = next((i for i, p in enumerate(analyzed) if fits(record.command, p)), None)
                part = analyzed[index] if index is not None else _Unmatched(analyzed)
            if top_text is None:
                top_text, top_part = text, part
            by_substatement.setdefault(record.substatement_id, part)
            chosen.append(part)
        return chosen

    def _read(
        self, records: Sequence[AuditRecord], parts: Sequence[ParsedStatement | None], session: Session
    ) -> _Reading:
        reading = _Reading(records, parts)
        trusted = session.texts_trusted
        explain = False
        for part in parts:
            if part is not None:
                # (even a garbled text that says it changes audit settings is one)
                reading.tamper = reading.tamper or part.tamper or (self._service_named(part) if part.session else None)
                explain = explain or part.rule == "explain-only"
        if explain and self._explain_only(parts, trusted):
            reading.rules.append("explain-only")
            return reading
        texts_with_objects = {r.statement for r in records if r.object_name and _is_data(r)}
        for index, (record, part) in enumerate(zip(records, parts, strict=True)):
            if not _is_data(record):
                if part is not None and part.rule is not None:
                    reading.rules.append(part.rule)  # what explains it (a LOCK, a PREPARE)
                continue
            if record.object_type and record.object_name:  # the server's own resolution
                if record.audit_class not in DATA_CLASSES and record.object_type in _VIEW_TYPES:
                    continue  # pgAudit's `???` beside the READ records of a view's or a refresh's tables
                command = part.access.command if part is not None and trusted and part.access else record.command
                self._add(reading, _object_relation(record), command, OBJECTS, session, objects=True)
                continue
            if record.statement_logged and record.statement in texts_with_objects:
                continue  # another record of the same text lists what it touched
            access, rule = self._text_access(record, part, trusted)
            if access is None:
                if rule == "function-body" and session.relations_logged:
                    reading.rules.append("no-relation")  # log_relation is on: pgAudit would have named any
                elif rule == "function-body" and self._builtin_body(records, index, session):
                    reading.rules.append("builtin-function-body")
                elif rule in _FAIL_CLOSED_RULES:
                    reading.unresolved = reading.unresolved or rule
                    reading.app_commands.add(record.command or UNKNOWN_TAG)
                else:
                    reading.rules.append(rule)
                continue
            if not access.relations or rule in _FAIL_CLOSED_RULES:
                reading.unresolved = reading.unresolved or rule
                reading.app_commands.add(access.command)
            for relation in access.relations:
                self._add(reading, relation, access.command, TEXT, session)
        return reading

    def _add(
        self, reading: _Reading, relation: Relation, command: str, evidence: str, session: Session,
        *, objects: bool = False,
    ) -> None:  # fmt: skip
        kind = self.relation_kind(relation, session)
        if kind is SENSITIVE and objects and reading.under_system_view(relation):
            kind = SYSTEM  # listed under a system view the statement read (pg_roles), not named by it
        if kind is APP_RELATION:
            if relation.qualified not in reading.app:
                reading.app.append(relation.qualified)
            reading.app_commands.add(command)
            reading.app_evidence.add(evidence)
        elif kind is SENSITIVE:
            if relation.qualified not in reading.sensitive:
                reading.sensitive.append(relation.qualified)
        elif kind is SYSTEM:
            reading.system = True
        else:
            reading.sequence = True

    def _service_named(self, part: ParsedStatement) -> str | None:
        """A role created or renamed into the service-account patterns: what it does is never reported again."""
        for change in part.session:
            if change.name == "new-role" and self.policy.service_accounts.matches((change.values or ("",))[0]):
                return "role named like a service account"
        return None

    @staticmethod
    def _text_access(record: AuditRecord, part: ParsedStatement | None, trusted: bool) -> tuple[Access | None, str]:
        """What a data record's own text says it did, and the rule that explains a None."""
        if part is None and not record.statement_logged:
            return None, "function-body" if record.statement == "" else "empty-statement"
        if not trusted:
            return None, "untrusted-text"
        if part is None:
            return None, "unparsable"
        if isinstance(part, _Unmatched):
            return part.severest(), "unmatched-part"
        if part.tag == "PREPARE" and record.command != "PREPARE":
            return part.deferred, part.rule or "no-relation"  # the executor record of an EXECUTE: its PREPARE's query
        if not fits(record.command, part):
            return part.access, "command-mismatch"  # pgAudit's tag says otherwise than our reading: fail closed
        if part.functions and _reads_files(part.functions):
            return part.access, "server-file-read"  # a data file holds rows no text names
        return part.access, part.rule or "no-relation"

    @staticmethod
    def _explain_only(parts: Sequence[ParsedStatement | None], trusted: bool) -> bool:
        """A plain EXPLAIN runs nothing, though pgAudit lists what it would read. Plain means: an EXPLAIN part
        without ANALYZE, and no record of the statement whose text is anything but that EXPLAIN or a PREPARE
        (an EXPLAIN EXECUTE's executor record carries the PREPARE's text)."""
        if not trusted:
            return False
        explain = next((p for p in parts if p is not None and p.tag == "EXPLAIN" and p.rule == "explain-only"), None)
        if explain is None:
            return False
        return all(part is not None and (part.text == explain.text or part.tag == "PREPARE") for part in parts)

    def _builtin_body(self, records: Sequence[AuditRecord], index: int, session: Session) -> bool:
        """Whether a data record without text is the body of one of PostgreSQL's own SQL functions, which the
        planner runs for any caller (`lpad`, `log`, `xpath`...): the nearest text before it (in its statement, or
        the backend's previous statement) calls built-in functions only, and no record of the statement says a
        function of another schema ran."""
        if any(r.audit_class == "FUNCTION" and r.object_name and not _in_system_schema(r.object_name)
               for r in records):  # fmt: skip
            return False
        before = next((r.statement for r in reversed(records[:index]) if r.statement_logged), session.last_text)
        if not before:
            return False
        parts = self.analyzer.analyze(before)
        if not parts:
            return False
        return all(_builtin(name) for part in parts for name in part.functions)

    def _decide(self, reading: _Reading, top: AuditRecord, statement: str) -> Verdict:
        if reading.app or reading.unresolved:
            if reading.app:
                evidence = OBJECTS if OBJECTS in reading.app_evidence else TEXT
                rule = "application-relation"
            else:
                evidence, rule = FAIL_CLOSED, "unreadable-statement"
            return Verdict(APP_DML, rule, _severest(reading.app_commands), tuple(reading.app), statement, evidence)
        if reading.sensitive:
            return Verdict(SENSITIVE_CATALOG, "sensitive-catalog", "SELECT", tuple(reading.sensitive), statement)
        if reading.system:
            rule = "catalog-only"
        elif reading.sequence:
            rule = "sequence-only"
        else:
            rule = _first_rule(reading.rules)
        return Verdict(None, rule, top.command, (), statement)


_DEFAULT_SESSION = Session()
_VIEW_TYPES = frozenset({"VIEW", "MATERIALIZED VIEW"})
# A data record whose reading says this is reported (fail closed); other rules explain a statement with no rows.
_FAIL_CLOSED_RULES = frozenset(
    {"function-body", "empty-statement", "untrusted-text", "unparsable", "command-mismatch", "server-file-read"}
)


class _Unmatched(ParsedStatement):
    """A multi-statement string none of whose parts fits the record: it stands for all of them (fail closed)."""

    __slots__ = ("parts",)

    def __init__(self, parts: Sequence[ParsedStatement]) -> None:
        super().__init__("?", "", None, "unmatched-part")
        self.parts = tuple(parts)

    def severest(self) -> Access | None:
        accesses = [a for p in self.parts if (a := p.access or p.deferred) is not None]
        return _merge(accesses) if accesses else None


def _one_text(records: Sequence[AuditRecord]) -> bool:
    """Whether every record of a statement carries its first record's text (one record; or one per relation)."""
    text = records[0].statement
    return all(record.statement == text for record in records)


def _is_data(record: AuditRecord) -> bool:
    """Records that read or write rows: pgAudit's READ and WRITE classes, and MERGE's `???`."""
    return record.audit_class in DATA_CLASSES or record.command == UNKNOWN_TAG


def _shown_text(records: Sequence[AuditRecord], parts: Sequence[ParsedStatement | None]) -> str:
    """The statement as a detection shows it: its own part of a multi-statement string, else its first text as
    the log has it."""
    for record, part in zip(records, parts, strict=True):
        if record.statement_logged:
            if part is not None and not isinstance(part, _Unmatched) and ";" in record.statement.rstrip(" \t\r\n;"):
                return part.text or record.statement
            return record.statement
    return ""


@lru_cache(maxsize=4096)
def _reads_files(functions: tuple[str, ...]) -> bool:
    """Whether a statement calls a function that reads server files (asked per record: answered once per set)."""
    return any(f.lower().removeprefix("pg_catalog.") in SERVER_FILE_READERS for f in functions)


def _builtin(name: str) -> bool:
    schema, _, bare = name.rpartition(".")
    return schema in ("", "pg_catalog") and bare in BUILTIN_FUNCTIONS


def _in_system_schema(object_name: str) -> bool:
    schema, _ = split_qualified(object_name)
    return schema in SYSTEM_SCHEMAS


def _merge(accesses: list[Access]) -> Access:
    relations: list[Relation] = []
    for access in accesses:
        relations.extend(r for r in access.relations if r not in relations)
    return Access(_severest({a.command for a in accesses}), tuple(relations))


def _severest(commands: set[str]) -> str:
    for command in COMMAND_ORDER:
        if command in commands:
            return command
    return sorted(commands)[0] if commands else UNKNOWN_TAG


def _first_rule(rules: list[str]) -> str:
    for rule in EXCLUSION_ORDER:
        if rule in rules:
            return rule
    return rules[0] if rules else "not-dml"


def split_qualified(name: str) -> tuple[str | None, str]:
    """Split pgAudit's `schema.relation` (identifiers double-quoted where needed) into its two names."""
    if '"' not in name:  # the common name: no quoted identifier, every dot a separator
        schema, dot, relation = name.rpartition(".")
        return (schema.rpartition(".")[2] if dot else None), relation
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            if quoted and name[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            else:
                quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    if len(parts) == 1:
        return None, parts[0]
    return parts[-2], parts[-1]


def _object_relation(record: AuditRecord) -> Relation:
    schema, name = split_qualified(record.object_name)
    return Relation(schema, name, record.object_type)
