"""How much a detection matters: `low`, `medium`, `high` or `critical`, from the relations it touched.

Not every table is payroll. The `[severity]` table of the config file (or `SEVERITY` in the environment) maps
relation globs to a level; a detection takes the most severe level of its relations, and a relation no glob names
takes the default, `high`. Tampering with the audit trail is always `critical`, whatever it touched.

A glob with a dot matches the schema-qualified name (`billing.*`, `hr.salar*`); one without matches the relation's
own name in any schema (`payroll`). A relation the log names without its schema could be in any schema, so it
takes the most severe of what it might be: the default, or a level a glob gives that name in some schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from pgaudit_monitor.errors import ConfigError
from pgaudit_monitor.policy.rules import AUDIT_TAMPER


class Severity(StrEnum):
    """Ordered from least to most severe (`max(..., key=_rank)` picks the most severe)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


_RANK = {level: rank for rank, level in enumerate(Severity)}
DEFAULT_SEVERITY = Severity.HIGH
ALWAYS_CRITICAL: frozenset[str] = frozenset({AUDIT_TAMPER})
"""Categories that are critical whatever they touched: nobody has a harmless reason to silence the audit trail."""


def parse_severity(value: object, origin: str) -> Severity:
    """`"high"` -> Severity.HIGH; anything else is an error naming `origin` and the levels there are."""
    try:
        return Severity(str(value).strip().lower())
    except ValueError:
        levels = ", ".join(level.value for level in Severity)
        raise ConfigError(f"{origin}: unknown severity {value!r}; expected one of {levels}") from None


@dataclass(frozen=True)
class Severities:
    """The `[severity]` table as data: (relation glob, level) pairs, and the level of a relation no glob names."""

    rules: tuple[tuple[str, Severity], ...] = ()
    default: Severity = DEFAULT_SEVERITY

    def of(self, category: str | None, relations: Iterable[str]) -> Severity:
        """A detection's severity: critical for tampering, else its most severe relation (the default if none)."""
        if category in ALWAYS_CRITICAL:
            return Severity.CRITICAL
        levels = [self.of_relation(relation) for relation in relations]
        return max(levels, key=_rank) if levels else self.default

    def of_relation(self, relation: str) -> Severity:
        _, dot, name = relation.rpartition(".")
        matched: list[Severity] = []
        named_anywhere = False  # a glob without a dot named it: its level holds in every schema
        for pattern, level in self.rules:
            if "." not in pattern:
                if fnmatchcase(name, pattern):
                    matched.append(level)
                    named_anywhere = True
            elif dot:
                if fnmatchcase(relation, pattern):
                    matched.append(level)
            elif fnmatchcase(name, pattern.rpartition(".")[2]):  # no schema in the log: it may be this one
                matched.append(level)
        if matched and not dot and not named_anywhere:  # ... or in a schema no glob names
            matched.append(self.default)
        return max(matched, key=_rank) if matched else self.default


def _rank(level: Severity) -> int:
    return _RANK[level]


def most_severe(levels: Iterable[str | None]) -> Severity | None:
    """The most severe of these levels (unknown values and None ignored), or None if there is none."""
    known = [Severity(level) for level in levels if level in _RANK]
    return max(known, key=_rank) if known else None
