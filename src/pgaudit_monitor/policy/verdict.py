"""Judge one statement: is it a human's DML on application data, a human reading sensitive catalogs, or neither?

A statement reaches here as its pgAudit records (all sharing one statement id in one backend: substatements of
functions and triggers, one record per relation with log_relation on). The policy looks at:

1. who: a service account's statement is excluded, nothing else is (an unknown user is a human);
2. what each record does to rows, read from its text by PostgreSQL's grammar (policy.sql). A record of an
   EXECUTE carries its PREPARE's text; a record of one part of a multi-statement string carries the whole string,
   and is matched to its part by command tag, in order;
3. which relations: pgAudit's own OBJECT_NAME when log_relation is on (resolved by the server, search_path and
   all), otherwise the names in the text, an unqualified catalog name being the catalog's.

Fail closed: a READ or WRITE record whose text cannot be parsed, or is missing, counts as application DML unless
pgAudit's own fields show it touched only system relations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pgaudit_monitor.policy.accounts import ServiceAccounts
from pgaudit_monitor.policy.catalog import (
    DEFAULT_SENSITIVE_CATALOGS,
    NON_TABLE_OBJECT_TYPES,
    PG_CATALOG_RELATIONS,
    SESSION_SCHEMA_PREFIXES,
    SYSTEM_SCHEMAS,
)
from pgaudit_monitor.policy.sql import COMMAND_ORDER, Access, ParsedStatement, Relation, SqlAnalyzer
from pgaudit_monitor.records.pgaudit import AuditRecord

APP_DML = "app-dml"
SENSITIVE_CATALOG = "sensitive-catalog"
DATA_CLASSES = frozenset({"READ", "WRITE"})
UNKNOWN_COMMAND_TAG = "???"  # pgAudit 1.7 does not know MERGE's tag, nor some view records'


@dataclass(frozen=True)
class Policy:
    """Everything the classification depends on, as data."""

    service_accounts: ServiceAccounts = field(default_factory=ServiceAccounts)
    sensitive_catalogs: frozenset[str] = DEFAULT_SENSITIVE_CATALOGS
    system_schemas: frozenset[str] = SYSTEM_SCHEMAS


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

    @property
    def detected(self) -> bool:
        return self.category is not None


class Judge:
    """Applies a Policy to statements. Holds the SQL analyzer (and its caches) and the multi-statement cursor."""

    def __init__(self, policy: Policy, analyzer: SqlAnalyzer | None = None, memo_size: int = 8192) -> None:
        self.policy = policy
        self.analyzer = analyzer or SqlAnalyzer()
        # (class, command, object type, object name, statement shape) -> the verdict on a one-record statement
        self._memo: dict[tuple[str, str, str, str, str], Verdict] = {}
        self._memo_size = memo_size

    # -- relations -------------------------------------------------------------------------------------------
    def relation_kind(self, relation: Relation) -> str:
        """`app`, `sensitive`, `system` or `sequence` for one relation."""
        schema = relation.schema
        if relation.object_type in NON_TABLE_OBJECT_TYPES:
            return "sequence" if relation.object_type == "SEQUENCE" else "system"
        if schema is None:
            schema = "pg_catalog" if relation.name in PG_CATALOG_RELATIONS else None
        if schema in self.policy.system_schemas or (schema or "").startswith(SESSION_SCHEMA_PREFIXES):
            return (
                "sensitive" if schema == "pg_catalog" and relation.name in self.policy.sensitive_catalogs else "system"
            )
        return "app"

    # -- records ---------------------------------------------------------------------------------------------
    def record_access(self, record: AuditRecord, text: str, part_index: int | None) -> tuple[Access | None, str]:
        """What one record's statement does to rows, and the rule that explains a None.

        `part_index` picks the part of a multi-statement string this record belongs to (None: match by tag).
        """
        parts = self.analyzer.analyze(text) if text.strip() else None
        if not parts:
            return self._unreadable(record, "empty-statement" if not text.strip() else "unparsable")
        part = self._part_for(record, parts, part_index)
        if part is None:  # no part fits the record: take the severest of all parts (fail closed)
            accesses = [a for p in parts if (a := p.access or p.deferred) is not None]
            if accesses:
                return _merge(accesses), "unmatched-part"
            return None, parts[0].rule or "not-dml"
        if part.tag == "PREPARE" and record.command != "PREPARE":
            return part.deferred, "no-relation"  # the executor record of an EXECUTE: its PREPARE's query runs
        return part.access, part.rule or "no-relation"

    def _unreadable(self, record: AuditRecord, rule: str) -> tuple[Access | None, str]:
        if record.audit_class in DATA_CLASSES or record.command == UNKNOWN_COMMAND_TAG:
            return Access(record.command or UNKNOWN_COMMAND_TAG, ()), rule
        return None, "not-dml"

    @staticmethod
    def _part_for(
        record: AuditRecord, parts: Sequence[ParsedStatement], part_index: int | None
    ) -> ParsedStatement | None:
        if len(parts) == 1:
            return parts[0]
        if part_index is not None and 0 <= part_index < len(parts):
            return parts[part_index]
        return None

    def match_part(self, record: AuditRecord, text: str, start: int) -> int | None:
        """Index of the first part at or after `start` whose tag fits the record's command (multi-statement)."""
        parts = self.analyzer.analyze(text) if text.strip() else None
        if not parts or len(parts) == 1:
            return None
        for index in range(start, len(parts)):
            if _fits(record.command, parts[index]):
                return index
        return None

    # -- statements ------------------------------------------------------------------------------------------
    def judge(
        self,
        user: str | None,
        records: Sequence[AuditRecord],
        part_index: int | None = None,
    ) -> Verdict:
        """Decide one statement from all of its records."""
        top = records[0]
        if len(records) == 1:
            statement = top.statement if top.statement_logged else ""
        else:
            statement = next((r.statement for r in records if r.statement_logged), "")
        if self.policy.service_accounts.matches(user) is not None:
            return Verdict(None, "service-account", top.command, (), statement)
        if len(records) == 1 and part_index is None and statement:
            return self._judge_one(top, statement)
        return self._judge_records(records, part_index, statement)

    def _judge_one(self, record: AuditRecord, statement: str) -> Verdict:
        """The common statement, one record: decided once per shape (the same statement with other constants).

        The decision reads only the record's class, command and object fields and the statement's analysis,
        which is the same for every text of one shape (SqlAnalyzer.shape); only the text itself is put back.
        """
        shape = self.analyzer.shape(statement)
        if shape is None:  # unparsable, or several statements: decided in full each time
            return self._judge_records((record,), None, statement)
        key = (record.audit_class, record.command, record.object_type, record.object_name, shape)
        known = self._memo.get(key)
        if known is None:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            verdict = self._judge_records((record,), None, statement)
            # kept without its text: the cache holds decisions, not the statements of the log
            self._memo[key] = Verdict(verdict.category, verdict.rule, verdict.command, verdict.relations)
            return verdict
        return Verdict(known.category, known.rule, known.command, known.relations, statement)

    def _judge_records(self, records: Sequence[AuditRecord], part_index: int | None, statement: str) -> Verdict:
        top = records[0]
        accesses: list[Access] = []
        rules: list[str] = []
        for record in records:
            text = record.statement if record.statement_logged else statement
            access, rule = self.record_access(record, text, part_index if record.substatement_id == 1 else None)
            if access is None:
                rules.append(rule)
                continue
            if record.object_type and record.object_name:  # log_relation: the server's own resolution
                access = Access(access.command, (_object_relation(record),))
            accesses.append(access)
        if part_index is not None:
            parts = self.analyzer.analyze(statement) or ()
            if 0 <= part_index < len(parts):
                statement = parts[part_index].text
        return self._decide(accesses, rules, top, statement)

    def _decide(self, accesses: list[Access], rules: list[str], top: AuditRecord, statement: str) -> Verdict:
        by_kind: dict[str, list[str]] = {"app": [], "sensitive": [], "system": [], "sequence": []}
        app_commands: set[str] = set()
        unresolved = False
        for access in accesses:
            if not access.relations:
                unresolved = True  # fail closed: rows were read or written, we cannot tell which
                app_commands.add(access.command)
            for relation in access.relations:
                kind = self.relation_kind(relation)
                if relation.qualified not in by_kind[kind]:
                    by_kind[kind].append(relation.qualified)
                if kind == "app":
                    app_commands.add(access.command)
        if by_kind["app"] or unresolved:
            rule = "application-relation" if by_kind["app"] else "unreadable-statement"
            return Verdict(APP_DML, rule, _severest(app_commands), tuple(by_kind["app"]), statement)
        if by_kind["sensitive"]:
            return Verdict(SENSITIVE_CATALOG, "sensitive-catalog", "SELECT", tuple(by_kind["sensitive"]), statement)
        if by_kind["system"]:
            rule = "catalog-only"
        elif by_kind["sequence"]:
            rule = "sequence-only"
        else:
            rule = _first_rule(rules)
        return Verdict(None, rule, top.command, (), statement)


def _fits(command: str, part: ParsedStatement) -> bool:
    if command == UNKNOWN_COMMAND_TAG:
        return True
    return command in (part.tag, part.inner_tag) or (part.access is not None and command == part.access.command)


def _merge(accesses: list[Access]) -> Access:
    relations: list[Relation] = []
    for access in accesses:
        relations.extend(r for r in access.relations if r not in relations)
    return Access(_severest({a.command for a in accesses}), tuple(relations))


def _severest(commands: set[str]) -> str:
    for command in COMMAND_ORDER:
        if command in commands:
            return command
    return sorted(commands)[0] if commands else UNKNOWN_COMMAND_TAG


_RULE_ORDER = ("explain-only", "prepare", "lock", "no-relation", "not-dml")


def _first_rule(rules: list[str]) -> str:
    for rule in _RULE_ORDER:
        if rule in rules:
            return rule
    return rules[0] if rules else "not-dml"


def split_qualified(name: str) -> tuple[str | None, str]:
    """Split pgAudit's `schema.relation` (identifiers double-quoted where needed) into its two names."""
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
