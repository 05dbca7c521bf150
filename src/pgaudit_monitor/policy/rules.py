"""The policy's vocabulary: the categories a detection falls in, the evidence that decided it, and every named
rule with what it covers.

This is the one list: `--explain` counts excluded statements by these names, detections carry them, and the
README's tables are generated from here (`markdown_table`) and checked against it by the test suite. A verdict
names a rule that is not here only for tampering, whose rule says what was tampered with (`SET pgaudit.log`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What kind of security event a detection is; an excluded statement has none."""

    APP_DML = "app-dml"  # a person's DML on application data
    SENSITIVE_CATALOG = "sensitive-catalog"  # a person reading password hashes or column statistics
    AUDIT_TAMPER = "audit-tamper"  # anyone changing, silencing or forging the audit trail


class Evidence(StrEnum):
    """Which evidence decided a verdict, in order of precedence."""

    OBJECTS = "pgaudit-objects"  # pgAudit's own OBJECT_NAME (log_relation = on): the server resolved the names
    TEXT = "statement-text"  # the statement's text, read by PostgreSQL's grammar and resolved as the session would
    FAIL_CLOSED = "fail-closed"  # neither could tell: rows were read or written, we cannot say which
    FORGED = "forged-record"  # a record that pgAudit did not write (RAISE left its CONTEXT)


class RelationKind(StrEnum):
    """What one relation a statement touched is, to the policy (`Judge.relation_kind`)."""

    APP = "app"  # application data: reported when a person reads or writes it
    SENSITIVE = "sensitive"  # a sensitive catalog (pg_authid, ...): reported in a category of its own
    SYSTEM = "system"  # a system relation, or the session's own temporary one: metadata, not reported
    SEQUENCE = "sequence"  # a sequence (or another object that holds no rows): not an application table


APP_DML, SENSITIVE_CATALOG, AUDIT_TAMPER = Category.APP_DML, Category.SENSITIVE_CATALOG, Category.AUDIT_TAMPER
OBJECTS, TEXT, FAIL_CLOSED, FORGED = Evidence.OBJECTS, Evidence.TEXT, Evidence.FAIL_CLOSED, Evidence.FORGED


@dataclass(frozen=True)
class Rule:
    name: str
    category: Category | None  # what a statement it decides is reported as; None: excluded
    description: str  # Markdown, as the README shows it


RULES: tuple[Rule, ...] = (
    # -- reported ----------------------------------------------------------------------------------------------
    Rule(
        "application-relation",
        APP_DML,
        "reads or writes an application relation (pgAudit's objects or the text say which)",
    ),
    Rule(
        "unreadable-statement",
        APP_DML,
        "a `READ` or `WRITE` record whose relations nobody can tell: reported, failing closed",
    ),
    Rule(
        "sensitive-catalog",
        SENSITIVE_CATALOG,
        "reads `pg_authid`, `pg_shadow`, `pg_user_mapping(s)` or `pg_statistic` by name",
    ),
    Rule("forged-record", AUDIT_TAMPER, "a line made to look like a pgAudit record (written by `RAISE`)"),
    # -- excluded ----------------------------------------------------------------------------------------------
    Rule("service-account", None, "the user matches a service-account pattern"),
    Rule(
        "catalog-only",
        None,
        "only system relations (or the session's temporary ones): psql's `\\d` family, "
        "DBeaver/DataGrip/pgAdmin and driver metadata queries",
    ),
    Rule(
        "no-relation", None, "no relation at all: `SELECT 1`, `SELECT now()`, pool health checks, `SELECT nextval('s')`"
    ),
    Rule("sequence-only", None, "only sequences (known with `log_relation = on`)"),
    Rule("explain-only", None, "plain `EXPLAIN` (and `EXPLAIN EXECUTE`), which does not run the query"),
    Rule("builtin-function-body", None, "the body of one of PostgreSQL's own SQL functions, logged without text"),
    Rule("prepare", None, "`PREPARE` (its `EXECUTE` is counted)"),
    Rule("lock", None, "`LOCK TABLE`"),
    Rule("no-data", None, "`CREATE TABLE ... AS` or `CREATE MATERIALIZED VIEW ... AS` with `WITH NO DATA`"),
    Rule(
        "not-dml",
        None,
        "everything else: DDL, `SET`, `SHOW`, `BEGIN`, `COMMIT`, `DO`/`CALL` themselves (their inner DML counts)",
    ),
)
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}

EXCLUSION_ORDER: tuple[str, ...] = ("explain-only", "builtin-function-body", "prepare", "lock", "no-data",
                                    "no-relation", "not-dml")  # fmt: skip
"""Which rule names a statement excluded for several reasons at once (a PREPARE and a LOCK in one string...)."""


def known(name: str) -> str:
    """`name`, once it is checked to be a registered rule: how the policy spells the rules it decides by."""
    if name not in BY_NAME:
        raise KeyError(f"not a registered rule: {name}")
    return name


def markdown_table(*, reported: bool) -> str:
    """The README's table of the rules that report (`reported`) or exclude a statement."""
    lines = ["| rule | what it covers |", "|---|---|"]
    lines += [f"| `{r.name}` | {r.description} |" for r in RULES if (r.category is not None) == reported]
    return "\n".join(lines) + "\n"
