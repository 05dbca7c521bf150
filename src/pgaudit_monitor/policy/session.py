"""What one backend's own records say about its state, as the server uses it to read its later statements.

A statement's text names relations the way the server resolves them at that moment: an unqualified `orders` is
the session's temporary table when it made one, `pg_settings` is the user's own table when `search_path` puts a
schema before pg_catalog, and with `standard_conforming_strings = off` a backslash in a string literal means what
our parser (which follows the default) does not read. A Session follows those from the backend's records, and the
multi-statement cursor (which part of a query string a record belongs to) lives here too: one per backend.

Where the log cannot tell (a temporary table made in a transaction that may have rolled back, a search_path set to
an expression) the answer is "application", the fail-closed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from pgaudit_monitor.policy.catalog import PG_CATALOG_RELATIONS, SESSION_SCHEMA_PREFIXES
from pgaudit_monitor.policy.sql import KNOWN_TAGS, RESET, SessionChange

if TYPE_CHECKING:
    from pgaudit_monitor.policy.sql import ParsedStatement
    from pgaudit_monitor.records.pgaudit import AuditRecord


class NameLeads(StrEnum):
    """Where an unqualified relation name leads in a session (`Session.resolve`)."""

    APP = "app"  # a schema of the search_path that may hold the application's tables
    CATALOG = "catalog"  # pg_catalog's own relation of that name
    TEMP = "temp"  # the session's own temporary relation


APP, CATALOG, TEMP = NameLeads.APP, NameLeads.CATALOG, NameLeads.TEMP
UNKNOWN_PATH: tuple[str, ...] = ("?", "pg_catalog")
"""A search_path the log does not show: a schema of unknown tables comes before pg_catalog (fail closed)."""
_BLOCK_STARTS = frozenset({"BEGIN", "START TRANSACTION"})
_BLOCK_ENDS = frozenset({"COMMIT", "ROLLBACK", "PREPARE TRANSACTION"})
BLOCK_TAGS = _BLOCK_STARTS | _BLOCK_ENDS
"""Statements that open or close a transaction block (which decides whether a temporary table surely exists)."""
_FALSE = frozenset({"off", "false", "0", "no"})
UNKNOWN_TAG = "???"  # pgAudit 1.7 does not know MERGE's tag, nor some view records'


@dataclass(slots=True)
class Session:
    """One backend's state as far as its records show it. Starts at the server's defaults."""

    search_path: tuple[str, ...] | None = None  # None: the default; ("?",): set to something the log does not show
    standard_strings: bool = True  # standard_conforming_strings
    temp: dict[str, bool] = field(default_factory=dict)  # temporary relation -> whether it surely exists
    in_block: bool = False  # inside BEGIN ... COMMIT
    before_block: tuple[tuple[str, ...] | None, bool] = (None, True)  # search_path and strings when BEGIN ran
    local_changes: bool = False  # SET LOCAL inside the current block
    relations_logged: bool = False  # its READ/WRITE records name relations (pgaudit.log_relation is on)
    last_text: str = ""  # the text of the backend's previous statement
    cursor_text: str | None = None  # multi-statement cursor: the string and the part last matched in it
    cursor_part: int = -1
    key: tuple[object, ...] = (None, ())  # what resolution depends on, for caches keyed by statement shape
    order: tuple[str, ...] = ("pg_temp", "pg_catalog", "$user", "public")  # where unqualified names are looked up

    # -- reading names ---------------------------------------------------------------------------------------
    @property
    def texts_trusted(self) -> bool:
        """Whether the server read this backend's statements as our parser does."""
        return self.standard_strings

    def resolve(self, name: str) -> str:
        """Where an unqualified relation name leads: APP, CATALOG or TEMP, searched as the server searches
        (`order`). A schema of the path may hold any name: reaching one is APP (the log cannot show its tables).
        """
        for schema in self.order:
            if schema == "pg_temp":
                if name in self.temp:
                    return TEMP if self.temp[name] else APP
            elif schema == "pg_catalog":
                if name in PG_CATALOG_RELATIONS:
                    return CATALOG
            else:
                return APP
        return APP

    # -- following the backend ---------------------------------------------------------------------------------
    def match_part(self, record: AuditRecord, text: str, parts: Sequence[ParsedStatement]) -> int | None:
        """The part of a multi-statement string that `record` (a statement's first record) belongs to.

        pgAudit writes the whole string on the record of each part, with the part's command tag: the first part
        after the last one matched whose tag fits, and from the start again when none does (the same string sent
        a second time). None when no part fits: the caller fails closed.
        """
        if len(parts) == 1:
            self.cursor_text, self.cursor_part = text, 0
            return 0
        start = self.cursor_part + 1 if text == self.cursor_text else 0
        for index in (*range(start, len(parts)), *range(0, start)):
            if fits(record.command, parts[index]):
                self.cursor_text, self.cursor_part = text, index
                return index
        return None

    def apply(self, record: AuditRecord, part: ParsedStatement | None, *, top_level: bool = True) -> None:
        """Take what one record of a completed statement changed in the session (`top_level`: the record is the
        statement's own, not one of a function or DO block it ran, whose subtransaction may roll back)."""
        if record.object_name and record.audit_class in ("READ", "WRITE"):
            # pgaudit.log_relation is on: a READ or WRITE record without a relation touched none. Until a change
            # of pgaudit.* (reported as tampering) says otherwise.
            self.relations_logged = True
        if record.audit_class == "DDL" and record.object_name:
            schema, _, name = record.object_name.rpartition(".")
            if schema.startswith(SESSION_SCHEMA_PREFIXES) and record.command.startswith(("CREATE", "SELECT INTO")):
                # Sure to exist only when nothing can roll it back (a transaction block, the implicit one of a
                # multi-statement string, a function's subtransaction), and only a table holds nothing but rows
                # already read: a temporary view reads through to its tables.
                self.temp[name] = (
                    record.object_type == "TABLE" and top_level and not self.in_block and self._single(record)
                )
                self._rekey()
        if part is None:
            return
        if part.tag in _BLOCK_STARTS:
            self.in_block, self.before_block, self.local_changes = (
                True,
                (self.search_path, self.standard_strings),
                False,
            )
        elif part.tag in _BLOCK_ENDS and not any(c.name == "savepoint" for c in part.session):
            self._end_block(rolled_back=part.tag == "ROLLBACK")
        for change in part.session:
            if change.name == "savepoint":  # ROLLBACK TO: what was set since the savepoint may be back
                self._end_block(rolled_back=False, keep_open=True)
                continue
            self._change(change)
            self.local_changes = self.local_changes or change.local
        if part.tamper is not None:
            self.relations_logged = False  # what pgAudit logs may have changed: infer it again

    def _end_block(self, *, rolled_back: bool, keep_open: bool = False) -> None:
        """A transaction block ends. A temporary table made inside may be gone (ROLLBACK, or the COMMIT of a block
        that failed, which the log does not show); ROLLBACK puts the settings back, SET LOCAL's go back anyway;
        after a COMMIT the settings are the block's, or, if it failed, the ones before it: the one of the two that
        reads more names as the application's is kept (fail closed)."""
        self.in_block = keep_open
        self.temp = {name: False for name in self.temp}
        before_path, before_strings = self.before_block
        if rolled_back or (self.local_changes and not keep_open):
            self.search_path, self.standard_strings = before_path, before_strings
        elif (before_path, before_strings) != (self.search_path, self.standard_strings):
            if _ambiguous(before_path) and not _ambiguous(self.search_path):
                self.search_path = before_path
            self.standard_strings = self.standard_strings and before_strings
        self._rekey()

    @staticmethod
    def _single(record: AuditRecord) -> bool:
        """Whether the record's text is one statement (a multi-statement string is one transaction)."""
        return ";" not in record.statement.strip().rstrip(";")

    def _change(self, change: SessionChange) -> None:
        if change.name == "uncertain":
            for name in change.values or ():
                if name in self.temp:
                    self.temp[name] = False
        elif change.name == "new-role":
            pass  # the policy's to judge (a role named like a service account)
        elif change.name == "drop":
            if change.values == ("*",):
                self.temp.clear()
            else:
                for name in change.values or ():
                    self.temp.pop(name, None)
        elif change.name == "*":
            self.search_path, self.standard_strings = None, True
        elif change.name == "search_path":
            values = change.values
            # `SET search_path = a, b` gives two values, set_config('search_path', 'a, b') one: the server splits it
            names = [n.strip().strip('"') for v in values or ("?",) for n in v.split(",")]
            self.search_path = None if values is RESET else (UNKNOWN_PATH if "?" in names else tuple(names))
        elif change.name == "standard_conforming_strings":
            self.standard_strings = change.values is RESET or (change.values or ("on",))[0].lower() not in _FALSE
        self._rekey()

    def _rekey(self) -> None:
        self.key = (self.search_path, tuple(sorted(self.temp.items())))
        self.order = _search_order(self.search_path)


def _search_order(search_path: tuple[str, ...] | None) -> tuple[str, ...]:
    """The schemas an unqualified relation name is looked up in: the temporary schema first unless the path places
    it, then pg_catalog unless placed, then the path."""
    path = search_path or ()
    implicit = (*(() if "pg_temp" in path else ("pg_temp",)), *(() if "pg_catalog" in path else ("pg_catalog",)))
    return (*implicit, *(path or ("$user", "public")))


def _ambiguous(search_path: tuple[str, ...] | None) -> bool:
    """Whether a search path puts a schema of unknown tables before pg_catalog (catalog names are then not sure)."""
    if search_path is None or "pg_catalog" not in search_path:
        return False
    return any(schema not in ("pg_temp",) for schema in search_path[: search_path.index("pg_catalog")])


def fits(command: str, part: ParsedStatement) -> bool:
    """Whether a record of this command tag can be the record of this part."""
    if command == UNKNOWN_TAG:  # MERGE, and statements whose tag pgAudit does not know
        return part.tag not in KNOWN_TAGS or part.tag == "MERGE" or part.inner_tag == "MERGE"
    return command in (part.tag, part.inner_tag) or (part.access is not None and command == part.access.command)
