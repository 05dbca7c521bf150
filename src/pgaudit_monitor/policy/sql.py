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

# Severity order when one statement does several things (a SELECT whose CTE deletes is a DELETE).
COMMAND_ORDER: tuple[str, ...] = ("TRUNCATE", "DELETE", "MERGE", "UPDATE", "INSERT", "COPY", "SELECT")
_DML_NODES = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
}
# Command tags as pgAudit writes them, for the utility statements we match records against.
_TAGS = {
    "SelectStmt": "SELECT",
    "CopyStmt": "COPY",
    "TruncateStmt": "TRUNCATE TABLE",
    "ExplainStmt": "EXPLAIN",
    "PrepareStmt": "PREPARE",
    "ExecuteStmt": "EXECUTE",
    "LockStmt": "LOCK TABLE",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "DoStmt": "DO",
    "CallStmt": "CALL",
    **_DML_NODES,
}
_FALSE_WORDS = frozenset({"false", "off", "0", "no"})


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


@dataclass(slots=True)
class ParsedStatement:
    """One statement of a query string, as the grammar sees it. Treated as immutable (the analyzer's caches share
    them), not `frozen`: one is made for every new statement text, and a frozen constructor costs four times more.

    `access` is None when running it touches no rows; `rule` then says why. A PREPARE touches no rows, but its
    later EXECUTE does: that access is kept in `deferred`. `inner_tag` is the tag of a wrapped statement
    (EXPLAIN's, PREPARE's), which pgAudit writes on the executor's record of the wrapper.
    """

    tag: str
    text: str
    access: Access | None
    rule: str | None = None
    deferred: Access | None = None
    inner_tag: str | None = None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON parse tree, depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _relations_and_commands(tree: Any) -> tuple[tuple[Relation, ...], set[str]]:
    cte_names: set[str] = set()
    range_vars: list[dict[str, Any]] = []
    commands: set[str] = set()
    for node in _walk(tree):
        if "relname" in node:  # RangeVar: the only node with a relname field
            range_vars.append(node)
        if "ctename" in node:
            cte_names.add(node["ctename"])
        for key in node.keys() & _DML_NODES.keys():
            commands.add(_DML_NODES[key])
    relations: list[Relation] = []
    for rv in range_vars:
        schema = rv.get("schemaname")
        if schema is None and rv["relname"] in cte_names:
            continue  # a reference to a CTE of the statement, not a table
        relation = Relation(schema, rv["relname"])
        if relation not in relations:
            relations.append(relation)
    return tuple(relations), commands


def _severest(commands: set[str]) -> str:
    return next(c for c in COMMAND_ORDER if c in commands)


def _access(tree: Any, base: str) -> Access | None:
    relations, commands = _relations_and_commands(tree)
    if not relations:
        return None
    return Access(_severest(commands | {base}), relations)


def _explain_analyzes(body: dict[str, Any]) -> bool:
    for option in body.get("options", []):
        elem = option.get("DefElem", {})
        if elem.get("defname") != "analyze":
            continue
        arg = elem.get("arg")
        if arg is None:
            return True
        value: dict[str, Any] = next(iter(arg.values()), {})
        word = str(value.get("sval", value.get("ival", value.get("boolval", 0)))).lower()
        return word not in _FALSE_WORDS
    return False


def _statement(node: dict[str, Any], text: str) -> ParsedStatement:
    kind, body = next(iter(node.items()))
    tag = _TAGS.get(kind, kind)
    if kind == "SelectStmt":
        access = _access(body, "SELECT")
        return ParsedStatement(tag, text, access, None if access else "no-relation")
    if kind in _DML_NODES:
        return ParsedStatement(tag, text, _access(body, _DML_NODES[kind]))
    if kind in ("CopyStmt", "TruncateStmt"):
        command = "COPY" if kind == "CopyStmt" else "TRUNCATE"
        access = _access(body, command)
        return ParsedStatement(tag, text, access, None if access else "no-relation")
    if kind == "ExplainStmt":
        inner = _statement(body["query"], text)
        if _explain_analyzes(body):
            return ParsedStatement(tag, text, inner.access, inner.rule, inner_tag=inner.tag)
        return ParsedStatement(tag, text, None, "explain-only", inner_tag=inner.tag)
    if kind == "PrepareStmt":
        inner = _statement(body["query"], text)
        return ParsedStatement(tag, text, None, "prepare", deferred=inner.access, inner_tag=inner.tag)
    if kind in ("CreateTableAsStmt", "DeclareCursorStmt"):
        # CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW and cursors read the rows of their query.
        inner = _statement(body["query"], text)
        tag = "CREATE TABLE AS" if kind == "CreateTableAsStmt" else tag
        return ParsedStatement(tag, text, inner.access, inner.rule, inner_tag=inner.tag)
    if kind == "LockStmt":
        return ParsedStatement(tag, text, None, "lock")
    return ParsedStatement(tag, text, None, "not-dml")


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

    def _parse(self, text: str, key: str | None) -> tuple[str | None, tuple[ParsedStatement, ...]]:
        """Parse `text` in full; remember its analysis under `key` (its shape) when other texts can reuse it."""
        tree = orjson.loads(pg_parser.parse_sql_json(text))
        parsed = tuple(self._split(tree.get("stmts", []), text))
        statements = _retexted(parsed, text) if parsed else None
        if statements is None:  # no statement, or parts the scanner cuts otherwise: not reusable for other texts
            return None, parsed
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
        return (ParsedStatement(first.tag, own, first.access, first.rule, first.deferred, first.inner_tag),)
    slices = pg_parser.split(text, with_parser=False, only_slices=True)
    if len(slices) != len(statements):
        return None
    return tuple(
        ParsedStatement(s.tag, text[cut], s.access, s.rule, s.deferred, s.inner_tag)
        for s, cut in zip(statements, slices, strict=True)
    )
