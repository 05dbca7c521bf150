"""Read a statement's text with PostgreSQL's own grammar (pglast / libpg_query): which rows it touches, and how.

Nothing here looks at substrings of the SQL. A comment, a string literal or a column alias that spells
`pg_catalog` or `SELECT 1` changes nothing, because only the parse tree is read: the relations it names
(RangeVar nodes), and the kind of each statement, including data-modifying statements nested in a CTE.

The hot path is the C parser: `parse_sql_json` and `normalize` cost microseconds, where building pglast's Python
node objects costs about a hundred. Results are cached twice: by exact text, and by shape: the normalized text, in
which libpg_query replaces constants with `$n` and keeps everything else as written, without its comments (found
by PostgreSQL's own scanner), so `UPDATE t SET x=1 WHERE id=7` and `/* ticket 9 */ ... id=8` share one analysis.
(Not by fingerprint: it ignores schema names, so `pg_temp.t` and `public.t` would share one.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from pglast import parser as pg_parser

from pgaudit_monitor.policy.catalog import AUDIT_SETTINGS, PG_CATALOG_RELATIONS, TAMPER_FUNCTIONS

# Severity order when one statement does several things (a SELECT whose CTE deletes is a DELETE).
COMMAND_ORDER: tuple[str, ...] = ("TRUNCATE", "DELETE", "MERGE", "UPDATE", "INSERT", "COPY", "SELECT")
_DML_NODES = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
}
# Command tags as PostgreSQL (and so pgAudit) writes them, for the statements records are matched against. A kind
# not listed keeps its node name as tag: it fits only a record of an unknown command (`???`).
_TAGS = {
    "SelectStmt": "SELECT",
    "CopyStmt": "COPY",
    "TruncateStmt": "TRUNCATE TABLE",
    "ExplainStmt": "EXPLAIN",
    "PrepareStmt": "PREPARE",
    "ExecuteStmt": "EXECUTE",
    "DeallocateStmt": "DEALLOCATE",
    "LockStmt": "LOCK TABLE",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "FetchStmt": "FETCH",
    "ClosePortalStmt": "CLOSE CURSOR",
    "VariableShowStmt": "SHOW",
    "DoStmt": "DO",
    "CallStmt": "CALL",
    "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
    "AlterSystemStmt": "ALTER SYSTEM",
    "AlterDatabaseSetStmt": "ALTER DATABASE",
    "AlterExtensionStmt": "ALTER EXTENSION",
    "DiscardStmt": "DISCARD",
    "ListenStmt": "LISTEN",
    "NotifyStmt": "NOTIFY",
    "VacuumStmt": "VACUUM",
    "CheckPointStmt": "CHECKPOINT",
    "CreateStmt": "CREATE TABLE",
    "ViewStmt": "CREATE VIEW",
    "IndexStmt": "CREATE INDEX",
    "CreateFunctionStmt": "CREATE FUNCTION",
    "CreateExtensionStmt": "CREATE EXTENSION",
    "AlterTableStmt": "ALTER TABLE",
    "AlterFunctionStmt": "ALTER FUNCTION",
    **_DML_NODES,
}
_TRANSACTION_TAGS = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}
_DROP_TAGS = {
    "OBJECT_TABLE": "DROP TABLE",
    "OBJECT_VIEW": "DROP VIEW",
    "OBJECT_MATVIEW": "DROP MATERIALIZED VIEW",
    "OBJECT_EXTENSION": "DROP EXTENSION",
    "OBJECT_FUNCTION": "DROP FUNCTION",
    "OBJECT_EVENT_TRIGGER": "DROP EVENT TRIGGER",
}
KNOWN_TAGS: frozenset[str] = frozenset(
    {*_TAGS.values(), *_TRANSACTION_TAGS.values(), *_DROP_TAGS.values(), "SET", "RESET", "ALTER ROLE",
     "ALTER EVENT TRIGGER", "CREATE TABLE AS", "CREATE MATERIALIZED VIEW"}
)  # fmt: skip
"""The command tags this module gives parts (a kind not listed keeps its node name)."""
_FALSE_WORDS = frozenset({"false", "off", "0", "no"})
SESSION_SETTINGS = frozenset({"search_path", "standard_conforming_strings"})
"""Settings whose value changes how the server reads a later statement of the session (policy.session)."""
RESET = None
"""A setting's value after RESET or SET ... TO DEFAULT: the session's default, which the log does not show."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation a statement names: schema None when unqualified (resolved later by the policy)."""

    schema: str | None
    name: str
    object_type: str | None = None  # pgAudit's OBJECT_TYPE when the name came from the record (TABLE, VIEW...)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True, slots=True)
class Access:
    """What running a statement does to rows: the command, in its severest form, and the relations it names."""

    command: str
    relations: tuple[Relation, ...]


@dataclass(frozen=True, slots=True)
class SessionChange:
    """A change a statement makes to its session's state: a setting (`values` RESET for its default; `local` for
    SET LOCAL, undone when its transaction ends), `*` for every setting (RESET ALL, DISCARD ALL), `drop` of the
    relations in `values` (DROP TABLE, a rename; DISCARD TEMP: `*`), `uncertain` for temporary relations that may
    not hold only rows, `new-role` for a role created or renamed, `savepoint` for ROLLBACK TO SAVEPOINT.
    """

    name: str
    values: tuple[str, ...] | None
    local: bool = False


@dataclass(slots=True)
class ParsedStatement:
    """One statement of a query string, as the grammar sees it. Treated as immutable (the analyzer's caches share
    them), not `frozen`: one is made for every new statement text, and a frozen constructor costs four times more.

    `access` is None when running it touches no rows; `rule` then says why. A PREPARE touches no rows, but its
    later EXECUTE does: that access is kept in `deferred`. `inner_tag` is the tag of a wrapped statement
    (EXPLAIN's, PREPARE's), which pgAudit writes on the executor's record of the wrapper. `tamper` says how the
    statement changes what is audited or logged; `session` what it changes in the session's state; `functions`
    the functions it calls by name, as written.
    """

    tag: str
    text: str
    access: Access | None
    rule: str | None = None
    deferred: Access | None = None
    inner_tag: str | None = None
    tamper: str | None = None
    session: tuple[SessionChange, ...] = ()
    functions: tuple[str, ...] = ()


@dataclass(slots=True)
class _Scan:
    relations: list[Relation]
    commands: set[str]
    functions: list[str]
    calls: list[dict[str, Any]]  # FuncCall nodes


def _scan(tree: Any) -> _Scan:
    """The relations a tree reads or writes, the DML commands it holds and the functions it calls.

    Names are resolved with SQL's scoping: a CTE name hides a table of that name only inside the statement whose
    WITH defines it, and never as the target of INSERT, UPDATE, DELETE or MERGE (the grammar takes a table there).
    A SELECT INTO's new table is written, not read: left out.
    """
    found = _Scan([], set(), [], [])
    empty: frozenset[str] = frozenset()
    stack: list[tuple[Any, frozenset[str]]] = [(tree, empty)]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, list):
            stack.extend((item, scope) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        with_clause = node.get("withClause")
        if with_clause is not None:
            ctes = [cte["CommonTableExpr"] for cte in with_clause.get("ctes", ()) if "CommonTableExpr" in cte]
            names = [cte["ctename"] for cte in ctes]
            recursive = bool(with_clause.get("recursive"))
            for index, cte in enumerate(ctes):  # a CTE sees the ones before it (all of them WITH RECURSIVE)
                stack.append((cte, scope.union(names if recursive else names[:index])))
            scope = scope.union(names)
        if "relname" in node:  # RangeVar: the only node with a relname field
            schema = node.get("schemaname")
            if schema is not None or node["relname"] not in scope:
                relation = Relation(schema, node["relname"])
                if relation not in found.relations:
                    found.relations.append(relation)
            continue
        for key, value in node.items():
            if key in _DML_NODES:
                found.commands.add(_DML_NODES[key])
                target = value.get("relation")
                if target is not None:
                    stack.append((target, empty))  # the target is a table, whatever CTE shares its name
                # its own WITH is in `value`, taken when it is popped; the target is left out of it here
                stack.append(({k: v for k, v in value.items() if k != "relation"}, scope))
            elif key == "FuncCall":
                found.calls.append(value)
                found.functions.append(".".join(_strings(value.get("funcname", ()))))
                stack.append((value, scope))
            elif key in ("intoClause", "withClause"):
                continue  # SELECT INTO's new table is not read; the WITH was taken above
            elif isinstance(value, dict | list):
                stack.append((value, scope))
    return found


def _strings(nodes: Any) -> list[str]:
    return [n["String"]["sval"] for n in nodes if isinstance(n, dict) and "String" in n]


def _severest(commands: set[str]) -> str:
    return next(c for c in COMMAND_ORDER if c in commands)


def _access(scan: _Scan, base: str) -> Access | None:
    if not scan.relations:
        return None
    return Access(_severest(scan.commands | {base}), tuple(scan.relations))


def _explain_analyzes(body: dict[str, Any]) -> bool:
    """Whether EXPLAIN runs its statement. PostgreSQL takes the last occurrence of an option."""
    analyzes = False
    for option in body.get("options", []):
        elem = option.get("DefElem", {})
        if elem.get("defname") == "analyze":
            arg = elem.get("arg")
            analyzes = arg is None or _value_word(arg).lower() not in _FALSE_WORDS
    return analyzes


def _value_word(node: dict[str, Any]) -> str:
    """The word of a value node (`{"String": {"sval": "off"}}`, `{"Integer": {}}` for 0)."""
    kind, inner = next(iter(node.items()))
    if kind == "Integer":
        return str(inner.get("ival", 0))
    if kind == "Boolean":
        return "true" if inner.get("boolval") else "false"
    if kind == "Float":
        return str(inner.get("fval", "0"))
    return str(inner.get("sval", ""))


_CONST_DEFAULTS: dict[str, Any] = {"sval": "", "ival": 0, "fval": "0", "boolval": False}


def _const(node: Any) -> str | None:
    """The text of a constant (`'x'`, `1`, `true`), None for NULL or an expression."""
    if not isinstance(node, dict):
        return None
    if "String" in node:
        return str(node["String"]["sval"])
    const = node.get("A_Const")
    if const is None:
        return None
    for key, default in _CONST_DEFAULTS.items():
        if key in const:
            value = const[key].get(key, default)
            return ("true" if value else "false") if key == "boolval" else str(value)
    return None  # NULL


def _set_values(setstmt: dict[str, Any]) -> tuple[str, ...] | None:
    if setstmt.get("kind") in ("VAR_RESET", "VAR_SET_DEFAULT", "VAR_RESET_ALL"):
        return RESET
    return tuple(v if (v := _const(arg)) is not None else "?" for arg in setstmt.get("args", ()))


def _function_setting(setstmt: dict[str, Any], where: str) -> str | None:
    """A function's own SET clause: an audit setting, or standard_conforming_strings (its body's text would then be
    read otherwise than the server runs it)."""
    if (setstmt.get("name") or "").lower() == "standard_conforming_strings":
        return f"{where} standard_conforming_strings"
    return _tamper_setting(setstmt, where)


def _tamper_setting(setstmt: dict[str, Any], where: str) -> str | None:
    name = setstmt.get("name")
    if name is None:  # RESET ALL
        return f"{where} RESET ALL" if where != "SET" else None
    return f"{where} {name}" if is_audit_setting(name) else None


def is_audit_setting(name: str) -> bool:
    """Whether changing this setting changes what pgAudit records or where, and how, the log holds it."""
    name = name.lower()
    return name.startswith("pgaudit.") or name in AUDIT_SETTINGS


def _set_config(call: dict[str, Any]) -> tuple[str | None, SessionChange | None]:
    """set_config(name, value, is_local): the tamper it is, and the session change it makes."""
    args = call.get("args", ())
    name = _const(args[0]) if args else None
    if name is None:
        return "set_config of a computed setting", None  # cannot tell which: fail closed
    value = _const(args[1]) if len(args) > 1 else None
    tamper = f"set_config {name}" if is_audit_setting(name) else None
    change = (
        SessionChange(name.lower(), (value if value is not None else "?",))
        if name.lower() in SESSION_SETTINGS
        else None
    )
    return tamper, change


_SCANNED = frozenset({"ExplainStmt", "PrepareStmt", "CreateTableAsStmt", "DeclareCursorStmt", "SelectStmt", "CallStmt",
                      "CopyStmt", "TruncateStmt", *_DML_NODES})  # fmt: skip
"""Statements whose whole tree is read for the functions they call (and, for some, what they access)."""


def _statement(node: dict[str, Any], text: str) -> ParsedStatement:
    kind = next(iter(node))
    scan = _scan(node) if kind in _SCANNED else None  # one walk of the tree, for the access and the calls
    parsed = _kind_statement(node, text, scan)
    if scan is not None:
        tampers, changes = [], []
        for call in scan.calls:
            name = ".".join(_strings(call.get("funcname", ()))).lower().removeprefix("pg_catalog.")
            if name == "set_config":
                tamper, change = _set_config(call)
                tampers.append(tamper)
                changes.append(change)
            elif name in TAMPER_FUNCTIONS:
                tampers.append(name)
        parsed.functions = tuple(scan.functions)
        parsed.tamper = parsed.tamper or next((t for t in tampers if t), None)
        parsed.session = parsed.session + tuple(c for c in changes if c is not None)
    return parsed


def _kind_statement(node: dict[str, Any], text: str, scan: _Scan | None) -> ParsedStatement:
    kind, body = next(iter(node.items()))
    tag = _TAGS.get(kind, kind)
    if kind == "SelectStmt":
        access = _access(scan or _scan(node), "SELECT")
        return ParsedStatement(tag, text, access, None if access else "no-relation")
    if kind in _DML_NODES:
        access = _access(scan or _scan(node), _DML_NODES[kind])
        return ParsedStatement(tag, text, access, tamper=_catalog_write(body, tag))
    if kind in ("CopyStmt", "TruncateStmt"):
        command = "COPY" if kind == "CopyStmt" else "TRUNCATE"
        access = _access(scan or _scan(node), command)
        # COPY (query) TO: pgAudit writes the query's tag on the executor's record
        inner_tag = _statement(body["query"], text).tag if body.get("query") else None
        if kind == "CopyStmt" and body.get("is_program"):
            tamper: str | None = "COPY PROGRAM"  # a shell command as the server's OS user: it can rewrite anything
        elif kind == "CopyStmt" and body.get("filename") and not body.get("is_from"):
            tamper = "COPY TO a server file"  # postgresql.auto.conf among them
        else:
            tamper = _catalog_write(body, "TRUNCATE") if kind == "TruncateStmt" else None
        return ParsedStatement(tag, text, access, None if access else "no-relation", inner_tag=inner_tag,
                               tamper=tamper)  # fmt: skip
    if kind == "ExplainStmt":
        inner = _statement(body["query"], text)
        # the executor's record carries the command that runs: a CREATE ... AS's is its query's
        inner_tag = inner.inner_tag if inner.tag in ("CREATE TABLE AS", "CREATE MATERIALIZED VIEW") else inner.tag
        if _explain_analyzes(body):
            return ParsedStatement(tag, text, inner.access, inner.rule, inner.deferred, inner_tag)
        return ParsedStatement(tag, text, None, "explain-only", inner_tag=inner_tag)
    if kind == "PrepareStmt":
        inner = _statement(body["query"], text)
        return ParsedStatement(tag, text, None, "prepare", deferred=inner.access, inner_tag=inner.tag)
    if kind == "CreateTableAsStmt":
        # CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW read the rows of their query, unless WITH NO DATA
        tag = "CREATE MATERIALIZED VIEW" if body.get("objtype") == "OBJECT_MATVIEW" else "CREATE TABLE AS"
        inner = _statement(body["query"], text)
        if body.get("into", {}).get("onCommit") == "ONCOMMIT_DROP":
            changes = (SessionChange("uncertain", (body["into"]["rel"]["relname"],)),)
            return ParsedStatement(tag, text, inner.access, inner.rule, inner_tag=inner.tag, session=changes)
        if body.get("into", {}).get("skipData"):
            return ParsedStatement(tag, text, None, "no-data", inner_tag=inner.tag)
        return ParsedStatement(tag, text, inner.access, inner.rule, inner_tag=inner.tag)
    if kind == "DeclareCursorStmt":
        inner = _statement(body["query"], text)
        return ParsedStatement(tag, text, inner.access, inner.rule, inner_tag=inner.tag)
    if kind == "RefreshMatViewStmt":
        # Reads the view's query (which the text does not show) into the view: the view stands for what it reads.
        view = body["relation"]
        relation = Relation(view.get("schemaname"), view["relname"])
        access = None if body.get("skipData") else Access("SELECT", (relation,))
        return ParsedStatement(tag, text, access, None if access else "no-data")
    if kind == "LockStmt":
        return ParsedStatement(tag, text, None, "lock")
    if kind == "TransactionStmt":
        savepoint = (SessionChange("savepoint", None),) if body.get("kind") == "TRANS_STMT_ROLLBACK_TO" else ()
        return ParsedStatement(_TRANSACTION_TAGS.get(body.get("kind", ""), kind), text, None, "not-dml",
                               session=savepoint)  # fmt: skip
    if kind == "VariableSetStmt":
        name = body.get("name")
        reset = body.get("kind") in ("VAR_RESET", "VAR_RESET_ALL")
        session: tuple[SessionChange, ...] = ()
        if name is None and body.get("kind") == "VAR_RESET_ALL":
            session = (SessionChange("*", RESET),)
        elif name is not None and name.lower() in SESSION_SETTINGS:
            session = (SessionChange(name.lower(), _set_values(body), bool(body.get("is_local"))),)
        return ParsedStatement("RESET" if reset else "SET", text, None, "not-dml",
                               tamper=_tamper_setting(body, "SET"), session=session)  # fmt: skip
    if kind in ("AlterRoleSetStmt", "AlterDatabaseSetStmt", "AlterSystemStmt"):
        where = {"AlterRoleSetStmt": "ALTER ROLE", "AlterDatabaseSetStmt": "ALTER DATABASE"}.get(kind, "ALTER SYSTEM")
        tag = "ALTER ROLE" if kind == "AlterRoleSetStmt" else tag
        return ParsedStatement(tag, text, None, "not-dml", tamper=_tamper_setting(body.get("setstmt", {}), where))
    if kind in ("AlterExtensionStmt", "AlterExtensionContentsStmt"):
        tamper = "ALTER EXTENSION pgaudit" if body.get("extname") == "pgaudit" else None
        return ParsedStatement("ALTER EXTENSION", text, None, "not-dml", tamper=tamper)
    if kind == "AlterEventTrigStmt":
        tamper = "ALTER EVENT TRIGGER " + body["trigname"] if body.get("trigname", "").startswith("pgaudit") else None
        return ParsedStatement("ALTER EVENT TRIGGER", text, None, "not-dml", tamper=tamper)
    if kind == "DropStmt":
        return _drop(body, text)
    if kind in ("CreateFunctionStmt", "AlterFunctionStmt"):
        # `CREATE FUNCTION ... SET pgaudit.log = 'none'`: every call then runs unaudited
        where = "CREATE FUNCTION" if kind == "CreateFunctionStmt" else "ALTER FUNCTION"
        tamper = next(
            (t for option in body.get("options", body.get("actions", ()))
             if (elem := option.get("DefElem", {})).get("defname") == "set"
             and (t := _function_setting(elem.get("arg", {}).get("VariableSetStmt", {}), where)) is not None),
            None,
        )  # fmt: skip
        if tamper is None and kind == "CreateFunctionStmt":
            tamper = _plpgsql_tamper(text)
        return ParsedStatement(tag if kind == "CreateFunctionStmt" else "ALTER FUNCTION", text, None, "not-dml",
                               tamper=tamper)  # fmt: skip
    if kind == "DoStmt":
        return ParsedStatement(tag, text, None, "not-dml", tamper=_plpgsql_tamper(text))
    if kind == "CreateRoleStmt" and body.get("stmt_type") != "ROLESTMT_GROUP":
        return ParsedStatement(
            "CREATE ROLE", text, None, "not-dml", session=(SessionChange("new-role", (body["role"],)),)
        )
    if kind == "RenameStmt" and body.get("renameType") == "OBJECT_ROLE":
        return ParsedStatement("ALTER ROLE", text, None, "not-dml",
                               session=(SessionChange("new-role", (body.get("newname", ""),)),))  # fmt: skip
    if kind == "CreateStmt" and body.get("oncommit") == "ONCOMMIT_DROP":
        name = body["relation"]["relname"]  # gone when its transaction ends: never surely there
        return ParsedStatement(tag, text, None, "not-dml", session=(SessionChange("uncertain", (name,)),))
    if kind in ("RenameStmt", "AlterObjectSchemaStmt") and isinstance(body.get("relation"), dict):
        # a relation renamed or moved: its old name is no longer a temporary table's (nor surely its new one)
        rename = (SessionChange("drop", (body["relation"]["relname"],)),)
        return ParsedStatement(tag, text, None, "not-dml", session=rename)
    if kind == "RuleStmt":
        # a rule makes a statement on its relation do something else: a temporary one no longer only holds rows
        return ParsedStatement("CREATE RULE", text, None, "not-dml",
                               session=(SessionChange("uncertain", (body["relation"]["relname"],)),))  # fmt: skip
    if kind == "DiscardStmt":
        target = body.get("target")
        discarded: list[SessionChange] = []
        if target in ("DISCARD_ALL", "DISCARD_TEMP"):
            discarded.append(SessionChange("drop", ("*",)))
        if target == "DISCARD_ALL":
            discarded.append(SessionChange("*", RESET))
        return ParsedStatement(tag, text, None, "not-dml", session=tuple(discarded))
    return ParsedStatement(tag, text, None, "not-dml")


def _catalog_write(body: dict[str, Any], tag: str) -> str | None:
    """A DML statement's write to a catalog (`UPDATE pg_settings`, `UPDATE pg_event_trigger`): tampering."""
    targets = [body["relation"]] if "relation" in body else [r for r in body.get("relations", ()) if "relname" in r]
    for target in targets:
        schema, name = target.get("schemaname"), target.get("relname", "")
        if schema == "pg_catalog" or (schema is None and name in PG_CATALOG_RELATIONS):
            return f"{tag} pg_catalog.{name}"
    return None


def _plpgsql_tamper(text: str) -> str | None:
    """Tampering inside a PL/pgSQL body (a DO block, a function): `SET pgaudit.log = 'none'` there runs unaudited
    and leaves no record of its own. Its static SQL statements, and an EXECUTE of a constant string, are read; a
    computed EXECUTE cannot be (README: known limits)."""
    try:
        tree = orjson.loads(pg_parser.parse_plpgsql_json(text))
    except (pg_parser.ParseError, ValueError, RecursionError):
        return None
    for node in _walk(tree):
        expr = node.get("PLpgSQL_expr")
        if not isinstance(expr, dict) or not isinstance(expr.get("query"), str):
            continue
        query: str = expr["query"]
        if expr.get("parseMode", 0) != 0:  # an expression: the constant string of an EXECUTE is the one read
            targets = _parse_quietly(f"SELECT {query}", statements=False)
            constant = _const(targets[0].get("val")) if len(targets) == 1 else None
            if constant is None:
                continue
            query = constant
        for stmt in _parse_quietly(query, statements=True):
            tamper = _statement(stmt, query).tamper
            if tamper is not None:
                return tamper
    return None


def _parse_quietly(sql: str, *, statements: bool) -> list[dict[str, Any]]:
    """The statements of `sql` (or the targets of its one SELECT), [] when it does not parse."""
    try:
        stmts = orjson.loads(pg_parser.parse_sql_json(sql)).get("stmts", [])
    except (pg_parser.ParseError, ValueError, RecursionError):
        return []
    if statements:
        return [raw["stmt"] for raw in stmts]
    targets = stmts[0]["stmt"].get("SelectStmt", {}).get("targetList", []) if len(stmts) == 1 else []
    return [t.get("ResTarget", {}) for t in targets]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree, depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _drop(body: dict[str, Any], text: str) -> ParsedStatement:
    remove = body.get("removeType", "")
    tag = _DROP_TAGS.get(remove, "DropStmt")
    names: list[str] = []
    for obj in body.get("objects", ()):
        parts = _strings(obj.get("List", {}).get("items", ())) if isinstance(obj, dict) and "List" in obj else []
        if not parts and isinstance(obj, dict) and "String" in obj:
            parts = [obj["String"]["sval"]]
        if parts:
            names.append(parts[-1])
    tamper = None
    if remove == "OBJECT_EXTENSION" and "pgaudit" in names:
        tamper = "DROP EXTENSION pgaudit"
    elif remove == "OBJECT_EVENT_TRIGGER" and any(n.startswith("pgaudit") for n in names):
        tamper = "DROP EVENT TRIGGER pgaudit"
    session = (
        (SessionChange("drop", tuple(names)),) if remove in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW") else ()
    )
    return ParsedStatement(tag, text, None, "not-dml", tamper=tamper, session=session)


_Known = tuple[str | None, tuple[ParsedStatement, ...] | None, bool]


class SqlAnalyzer:
    """Parse query strings into ParsedStatements, with bounded caches by text and by statement shape."""

    def __init__(self, cache_size: int = 8192) -> None:
        self._cache_size = cache_size
        # text -> (shape, statements, own): shape is the key of a single statement's analysis, else None; `own`
        # is False while the one statement is still another text's of the same shape (see analyze)
        self._by_text: OrderedDict[str, _Known] = OrderedDict()
        # normalized text, and the same without comments -> (shape, statements as parsed from one such text)
        self._by_shape: OrderedDict[str, tuple[str | None, tuple[ParsedStatement, ...]]] = OrderedDict()

    def analyze(self, text: str) -> tuple[ParsedStatement, ...] | None:
        """The statements of `text`, in order; None when PostgreSQL's grammar cannot parse it."""
        shape, statements, own = self._lookup(text)
        if own or statements is None:
            return statements
        # Made when first asked for: most texts are only asked for their shape (Judge decides once per shape).
        mine = _retexted(statements, text)
        self._by_text[text] = (shape, mine, True)
        return mine

    def shape(self, text: str) -> str | None:
        """A key for the analysis of `text` when it is one statement, else None: its normalized text (constants
        as `$n`) without its comments.

        Two texts with the same shape have the same analysis but for their `text` fields: a key for caching
        decisions taken from the analysis (Judge does).
        """
        return self._lookup(text)[0]

    def _lookup(self, text: str) -> _Known:
        cached = self._by_text.get(text)
        if cached is not None:
            self._by_text.move_to_end(text)
            return cached
        result = self._analyze_uncached(text)
        self._remember(self._by_text, text, result)
        return result

    def _analyze_uncached(self, text: str) -> _Known:
        try:
            normalized = pg_parser.normalize(text)
            known = self._by_shape.get(normalized)
            if known is None:
                # Comments are whitespace to the grammar, but normalize keeps them: a ticket number in a comment
                # would make every statement a new shape. The key drops them, as PostgreSQL's own scanner finds them.
                key = _without_comments(normalized)
                known = self._by_shape.get(key) if key is not normalized else None
                if known is None:
                    return (*self._parse(text, key), True)
                self._remember(self._by_shape, normalized, known)
            shape, statements = known
            if len(statements) == 1:
                return shape, statements, False  # its own text put in when asked for (analyze)
            again = _retexted(statements, text)
            if again is None:  # the text is cut into parts otherwise than the one parsed: parse it
                return (*self._parse(text, None), True)
            return shape, again, True
        except (pg_parser.ParseError, ValueError, RecursionError):
            # Not SQL PostgreSQL's grammar accepts, or nested deeper than the JSON reader goes (orjson's limit is
            # 1,024 levels, a ValueError): the caller treats it as unreadable, which fails closed.
            return None, None, True
        except (KeyError, TypeError, AttributeError, IndexError):
            # A parse tree of a shape this module does not expect (a newer grammar): unreadable too, never a crash
            # of the watcher or the Lambda that asked.
            return None, None, True

    def _parse(self, text: str, key: str | None) -> tuple[str | None, tuple[ParsedStatement, ...]]:
        """Parse `text` in full; remember its analysis under `key` (its shape) when other texts can reuse it."""
        tree = orjson.loads(pg_parser.parse_sql_json(text))
        parsed = tuple(self._split(tree.get("stmts", []), text))
        statements = _retexted(parsed, text) if parsed else None
        if statements is None or _reads_constants(statements):
            # no statement, parts the scanner cuts otherwise, or an analysis that reads constants: not reusable
            return None, statements or parsed
        shape = key if len(statements) == 1 else None  # only one statement's decision is cached by shape (Judge)
        if key is not None:
            self._remember(self._by_shape, key, (shape, statements))
        return shape, statements

    @staticmethod
    def _split(raw_statements: list[dict[str, Any]], text: str) -> Iterator[ParsedStatement]:
        encoded = text.encode("utf-8")  # libpg_query's locations are byte offsets
        for raw in raw_statements:
            start = raw.get("stmt_location", 0)
            length = raw.get("stmt_len", 0) or len(encoded) - start
            own_text = encoded[start : start + length].decode("utf-8", errors="replace").strip()
            yield _statement(raw["stmt"], own_text)

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)


def _without_comments(normalized: str) -> str:
    """`normalized` with each comment replaced by a space (the same object when it has none)."""
    if "/*" not in normalized and "--" not in normalized:
        return normalized
    kept: list[str] = []
    at = 0
    for token in pg_parser.scan(normalized):  # offsets in characters, `end` inclusive
        if token.name in ("C_COMMENT", "SQL_COMMENT"):
            kept.append(normalized[at : token.start])
            kept.append(" ")
            at = token.end + 1
    if not kept:
        return normalized  # the markers were inside a quoted name or a string
    kept.append(normalized[at:])
    return "".join(kept)


def _retexted(statements: tuple[ParsedStatement, ...], text: str) -> tuple[ParsedStatement, ...] | None:
    """The analysis of another text of the same shape, with this text's own statements put in; None when the
    text is not cut into as many statements (the scanner and the grammar disagree on where they end).

    A statement's text is what the log holds, comments included, without the `;` and the spaces around it:
    all of the text for a single statement, the scanner's cut for each part of a multi-statement string."""
    if len(statements) == 1:
        first = statements[0]
        own = text.strip().rstrip(";").rstrip()
        return (_with_text(first, own),)
    slices = pg_parser.split(text, with_parser=False, only_slices=True)
    if len(slices) != len(statements):
        return None
    return tuple(_with_text(s, text[cut]) for s, cut in zip(statements, slices, strict=True))


def _with_text(s: ParsedStatement, text: str) -> ParsedStatement:
    return ParsedStatement(s.tag, text, s.access, s.rule, s.deferred, s.inner_tag, s.tamper, s.session, s.functions)


_BODY_TAGS = frozenset({"DO", "CREATE FUNCTION", "ALTER FUNCTION"})  # a body is a constant to the shape


def _reads_constants(statements: tuple[ParsedStatement, ...]) -> bool:
    """Whether an analysis depends on the statement's constants, which its shape replaces with `$n`: the value of a
    session setting (`SET search_path = ...`), the name given to set_config. Such analyses are never shared."""
    return any(
        s.tag in _BODY_TAGS
        or (s.tamper is not None and s.tamper.startswith("set_config"))
        or any(c.name in SESSION_SETTINGS for c in s.session)
        or any(f.lower().endswith("set_config") for f in s.functions)
        for s in statements
    )


_CONSTANT_TOKENS = frozenset({"SCONST", "USCONST", "ICONST", "FCONST", "BCONST", "XCONST"})
_COMMENT_TOKENS = frozenset({"C_COMMENT", "SQL_COMMENT"})


def normalized_statement(text: str) -> str | None:
    """`text` with every constant replaced by `$n` and its comments dropped; None when the grammar cannot read it.

    What a notification may show of a statement: its shape (tables, columns, operators) without the values (a
    name, a card number). libpg_query's normalize replaces the constants of queries and most utility statements;
    those it leaves (COPY's file name, EXECUTE's arguments, a column's DEFAULT, COMMENT ON's text) and the
    comments (a ticket, a customer's name) are found by PostgreSQL's own scanner and replaced too, numbered after
    the highest `$n` already there. Nothing that the scanner calls a constant or a comment is left.
    """
    try:
        normalized = pg_parser.normalize(text)
        tokens = pg_parser.scan(normalized)  # offsets in characters, `end` inclusive
    except (pg_parser.ParseError, ValueError, RecursionError):
        return None
    params = [int(normalized[t.start + 1 : t.end + 1]) for t in tokens if t.name == "PARAM"]
    number = max(params, default=0)
    kept: list[str] = []
    at = 0
    for token in tokens:
        if token.name in _CONSTANT_TOKENS or token.name in _COMMENT_TOKENS:
            kept.append(normalized[at : token.start])
            if token.name in _COMMENT_TOKENS:
                kept.append(" ")
            else:
                number += 1
                kept.append(f"${number}")
            at = token.end + 1
    kept.append(normalized[at:])
    return "".join(kept).strip()
