#!/usr/bin/env python3
# ruff: noqa: S608 - SQL text is built here to be written into a log, never run against a database
"""Build a large, realistic, deterministic Aurora PostgreSQL stderr log for the scan benchmark.

Why synthetic: a real production log cannot be published, and a benchmark must be reproducible byte for byte.
Why realistic: the scan's cost is set by what it must look at (pgAudit records and connection entries) and by what
it may skip (everything else), so the mix, the sizes and the shapes of entries follow a busy Aurora cluster:

* the prefix is Aurora's fixed `%t:%r:%u@%d:[%p]:`; a newline inside a message is followed by a TAB;
* about 5% of the entries are pgAudit records (`AUDIT: SESSION,...`), half of them from people in psql or DBeaver
  (alice, bob, ...), half from the service account `app_svc`, audited by mistake;
* the other 95% are what such a server writes anyway: `duration:` lines for every statement (simple protocol, and
  parse/bind/execute with their `DETAIL:  parameters:` for drivers), connection received/authorized and
  disconnection entries of every backend, ERROR with DETAIL and STATEMENT, checkpoints, multi-line autovacuum and
  analyze reports, temporary files, failed logins, Aurora's own `rdsadmin` sessions;
* statements repeat with other literals, as real traffic does (which is what the monitor's SQL caches rely on);
  the texts of psql's catalog queries (`\\dt`, `\\d`, `\\l`, `\\du`, `\\dn`, `\\dt+`) and the record shapes of a
  function call with substatements were captured from PostgreSQL 15 with pgAudit 1.7;
* pgAudit's CSV quoting: a field holding a comma, a double quote, CR or LF is wrapped in double quotes, inner
  double quotes doubled;
* every backend has its own pgAudit statement ids, counting from 1.

The generator knows, for every statement it writes, what the monitor must say about it, and writes the expected
numbers of detections next to the log (`<log>.expected.json`) so that the benchmark can check the scan's count,
not just its speed. Same seed and size, same bytes: a smaller log is a prefix of a larger one.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

LOG_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"
SERVICE_ACCOUNT = "app_svc"
HUMANS = ("alice", "bob", "carol", "dave", "erin", "frank")
QUIET_APP_USERS = ("app_ro", "etl", "reporting")  # service accounts that are not audited: no AUDIT records
AUDIT_SHARE = 0.05
APP_DML = "app-dml"
SENSITIVE = "sensitive-catalog"
START_EPOCH = 1795564800  # 2026-11-25 00:00:00 UTC
FLUSH_CHARS = 8 << 20  # write in big chunks: one write() per ~8 MB keeps generation CPU-bound, not syscall-bound
GENERATOR_VERSION = 1


# ---------------------------------------------------------------------------------------------------------------
# What a statement looks like to pgAudit and to the monitor
# ---------------------------------------------------------------------------------------------------------------
class Rec(NamedTuple):
    """One pgAudit record of a statement; its substatement id is its position in the statement, from 1."""

    audit_class: str
    command: str
    text: str
    object_type: str = ""
    object_name: str = ""


@dataclass(frozen=True, slots=True)
class Statement:
    """One pgAudit statement id: its records, and the detection the monitor must report when a human ran it."""

    records: tuple[Rec, ...]
    category: str | None = None


@dataclass(slots=True)
class Action:
    """One request of a client, and everything it makes the server log.

    `statements` are the audited statements, in order (empty when the request fails before execution, e.g. a
    syntax error: pgAudit logs at executor start). `error` is (message, detail or None) when it fails; its records,
    if any, were logged before the error. `params` are the bind parameters of an extended-protocol request.
    """

    sql: str
    statements: tuple[Statement, ...]
    error: tuple[str, str | None] | None = None
    params: tuple[str, ...] = ()
    extended: bool = False


def csv_field(value: str) -> str:
    """pgAudit's append_valid_csv: quote a field holding a comma, a double quote, CR or LF; double inner quotes."""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def one(audit_class: str, command: str, sql: str, category: str | None = None) -> tuple[Statement, ...]:
    """The common case: a request that is one statement with one record."""
    return (Statement((Rec(audit_class, command, sql),), category),)


# ---------------------------------------------------------------------------------------------------------------
# Statement repertoires. Each maker takes the random source and returns one Action.
# ---------------------------------------------------------------------------------------------------------------
Maker = Callable[[random.Random], Action]

# psql's catalog queries, as psql 15 sends them (psql -E), captured with pgAudit.
PSQL_DT = """SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' \
WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' \
WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"""

PSQL_DT_PLUS = """SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' \
WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' \
WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END \
as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"""

PSQL_D_TABLE = """SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^({table})$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;"""

PSQL_D_COLUMNS = """SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"""

PSQL_L = """SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;"""

PSQL_DU = """SELECT r.rolname, r.rolsuper, r.rolinherit,
  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname
        FROM pg_catalog.pg_auth_members m
        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof
, r.rolreplication
, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1;"""

PSQL_DN = """SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;"""

APP_TABLES = ("accounts", "orders", "customers", "payments", "order_items", "sessions", "billing.invoices")
FIRST_NAMES = ("Ana", "Bruno", "Chloé", "Dmitri", "Eva", "Farah", "Grace", "Hiro", "Inès", "José", "Kai", "Lena")
LAST_NAMES = ("Smith", "Müller", "O''Brien", "García", "Nguyen", "Kowalski", "Dubois", "Rossi", "Yılmaz", "Kim")


def _money(rng: random.Random) -> str:
    return f"{rng.randrange(1, 500000) / 100:.2f}"


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES).lower()}.{rng.randrange(1, 99999)}@example.com"


def _ticket(rng: random.Random) -> int:
    return rng.randrange(1000, 99999)


# -- people, in psql (simple protocol) ----------------------------------------------------------------------------
def h_select_account(rng: random.Random) -> Action:
    sql = f"SELECT * FROM accounts WHERE id = {rng.randrange(1, 2_000_000)};"
    return Action(sql, one("READ", "SELECT", sql, APP_DML))


def h_select_join(rng: random.Random) -> Action:
    sql = (
        "SELECT o.id, o.amount, o.created_at, c.email\n"
        "FROM orders o\n"
        "JOIN customers c ON c.id = o.customer_id\n"
        f"WHERE c.email = '{_email(rng)}'\n"
        "ORDER BY o.created_at DESC\n"
        f"LIMIT {rng.choice((10, 20, 50, 100))};"
    )
    return Action(sql, one("READ", "SELECT", sql, APP_DML))


def h_count_orders(rng: random.Random) -> Action:
    sql = f"select count(*) from public.orders where created_at > now() - interval '{rng.randrange(1, 48)} hours'"
    return Action(sql, one("READ", "SELECT", sql, APP_DML))


def h_update_balance(rng: random.Random) -> Action:
    sql = f"UPDATE accounts SET balance = {_money(rng)} WHERE id = {rng.randrange(1, 2_000_000)};"
    return Action(sql, one("WRITE", "UPDATE", sql, APP_DML))


def h_update_commented(rng: random.Random) -> Action:
    sql = (
        f"/* ticket OPS-{_ticket(rng)}: refund */ UPDATE billing.invoices SET status = 'void', "
        f"amount = 0 WHERE id = {rng.randrange(1, 900_000)};"
    )
    return Action(sql, one("WRITE", "UPDATE", sql, APP_DML))


def h_update_name(rng: random.Random) -> Action:
    # Non-ASCII, a doubled single quote, and a double quote: pgAudit doubles the latter inside its quoted field.
    name = f'{rng.choice(FIRST_NAMES)} "{rng.choice(FIRST_NAMES)}" {rng.choice(LAST_NAMES)}'
    sql = f"UPDATE customers SET name = '{name}' WHERE id = {rng.randrange(1, 500_000)};"
    return Action(sql, one("WRITE", "UPDATE", sql, APP_DML))


def h_update_note_multiline(rng: random.Random) -> Action:
    # A newline inside a string literal: the record is quoted, and the log line continues after a TAB.
    sql = (
        f"UPDATE orders SET note = 'customer called {rng.randrange(1, 28)}/11\n"
        f"agreed to refund, see OPS-{_ticket(rng)}' WHERE id = {rng.randrange(1, 5_000_000)};"
    )
    return Action(sql, one("WRITE", "UPDATE", sql, APP_DML))


def h_insert_order(rng: random.Random) -> Action:
    sql = (
        "INSERT INTO orders (account_id, amount, note) VALUES "
        f"({rng.randrange(1, 2_000_000)}, {_money(rng)}, 'manual fix, see \"OPS-{_ticket(rng)}\"');"
    )
    return Action(sql, one("WRITE", "INSERT", sql, APP_DML))


def h_delete_session(rng: random.Random) -> Action:
    sql = f"DELETE FROM sessions WHERE user_id = {rng.randrange(1, 500_000)};"
    return Action(sql, one("WRITE", "DELETE", sql, APP_DML))


def h_archive_function(rng: random.Random) -> Action:
    # As pgAudit logs `SELECT f(...)` of a PL/pgSQL function: the SELECT, the function, then its inner statements.
    sql = f"SELECT archive_account({rng.randrange(1, 2_000_000)});"
    records = (
        Rec("READ", "SELECT", sql),
        Rec("FUNCTION", "EXECUTE", sql, "FUNCTION", "public.archive_account"),
        Rec("WRITE", "DELETE", "DELETE FROM orders WHERE account_id = p_id"),
        Rec("WRITE", "UPDATE", "UPDATE accounts SET balance = 0 WHERE id = p_id"),
    )
    return Action(sql, (Statement(records, APP_DML),))


def h_multi_statement(rng: random.Random) -> Action:
    # psql -c 'SELECT 1; UPDATE ...': one string, two statement ids, each record carrying the whole string.
    sql = f"SELECT 1; UPDATE accounts SET balance=0 WHERE id={rng.randrange(1, 2_000_000)}"
    return Action(
        sql,
        (
            Statement((Rec("READ", "SELECT", sql),)),
            Statement((Rec("WRITE", "UPDATE", sql),), APP_DML),
        ),
    )


def h_division_by_zero(rng: random.Random) -> Action:
    # Audited at executor start, then fails: still a human's DML on application data.
    sql = f"UPDATE accounts SET balance = balance / 0 WHERE id = {rng.randrange(1, 2_000_000)};"
    return Action(sql, one("WRITE", "UPDATE", sql, APP_DML), error=("division by zero", None))


def h_syntax_error(rng: random.Random) -> Action:
    sql = f"UPDTE accounts SET balance = 0 WHERE id = {rng.randrange(1, 2_000_000)};"
    return Action(sql, (), error=('syntax error at or near "UPDTE" at character 1', None))


def h_missing_relation(rng: random.Random) -> Action:
    sql = f"SELECT * FROM acounts WHERE id = {rng.randrange(1, 2_000_000)};"
    return Action(sql, (), error=('relation "acounts" does not exist at character 15', None))


def h_read_authid(rng: random.Random) -> Action:
    sql = "SELECT rolname, rolpassword FROM pg_authid WHERE rolcanlogin;"
    return Action(sql, one("READ", "SELECT", sql, SENSITIVE))


def h_psql_dt(rng: random.Random) -> Action:
    return Action(PSQL_DT, one("READ", "SELECT", PSQL_DT))


def h_psql_dt_plus(rng: random.Random) -> Action:
    # \dt+ : pg_table_size() runs a substatement that pgAudit logs with an empty text.
    records = (Rec("READ", "SELECT", PSQL_DT_PLUS), Rec("READ", "SELECT", ""))
    return Action(PSQL_DT_PLUS, (Statement(records),))


def h_psql_d_table(rng: random.Random) -> Action:
    sql = PSQL_D_TABLE.format(table=rng.choice(APP_TABLES).rpartition(".")[2])
    return Action(sql, one("READ", "SELECT", sql))


def h_psql_d_columns(rng: random.Random) -> Action:
    sql = PSQL_D_COLUMNS.format(oid=rng.randrange(16384, 17000))
    return Action(sql, one("READ", "SELECT", sql))


def h_psql_l(rng: random.Random) -> Action:
    return Action(PSQL_L, one("READ", "SELECT", PSQL_L))


def h_psql_du(rng: random.Random) -> Action:
    return Action(PSQL_DU, one("READ", "SELECT", PSQL_DU))


def h_psql_dn(rng: random.Random) -> Action:
    return Action(PSQL_DN, one("READ", "SELECT", PSQL_DN))


def h_activity(rng: random.Random) -> Action:
    sql = "SELECT pid, usename, state, query FROM pg_stat_activity WHERE state <> 'idle';"
    return Action(sql, one("READ", "SELECT", sql))


def h_select_1(rng: random.Random) -> Action:
    return Action("SELECT 1", one("READ", "SELECT", "SELECT 1"))


def h_select_now(rng: random.Random) -> Action:
    sql = rng.choice(("SELECT now();", "SELECT version();", "select current_user;"))
    return Action(sql, one("READ", "SELECT", sql))


def h_set_config(rng: random.Random) -> Action:
    sql = "SELECT pg_catalog.set_config('search_path', '', false);"
    return Action(sql, one("READ", "SELECT", sql))


def h_begin(rng: random.Random) -> Action:
    return Action("BEGIN;", one("MISC", "BEGIN", "BEGIN;"))


def h_commit(rng: random.Random) -> Action:
    return Action("COMMIT;", one("MISC", "COMMIT", "COMMIT;"))


def h_rollback(rng: random.Random) -> Action:
    return Action("ROLLBACK;", one("MISC", "ROLLBACK", "ROLLBACK;"))


def h_set(rng: random.Random) -> Action:
    sql = f"SET statement_timeout = '{rng.choice((5, 30, 60))}s';"
    return Action(sql, one("MISC", "SET", sql))


def h_show(rng: random.Random) -> Action:
    return Action("SHOW search_path;", one("MISC", "SHOW", "SHOW search_path;"))


HUMAN_REPERTOIRE: tuple[tuple[Maker, int], ...] = (
    (h_select_account, 12),
    (h_select_join, 6),
    (h_count_orders, 3),
    (h_update_balance, 7),
    (h_update_commented, 2),
    (h_update_name, 2),
    (h_update_note_multiline, 2),
    (h_insert_order, 4),
    (h_delete_session, 3),
    (h_archive_function, 3),
    (h_multi_statement, 2),
    (h_division_by_zero, 1),
    (h_syntax_error, 1),
    (h_missing_relation, 1),
    (h_read_authid, 1),
    (h_psql_dt, 6),
    (h_psql_dt_plus, 2),
    (h_psql_d_table, 3),
    (h_psql_d_columns, 3),
    (h_psql_l, 2),
    (h_psql_du, 2),
    (h_psql_dn, 1),
    (h_activity, 2),
    (h_select_1, 4),
    (h_select_now, 3),
    (h_set_config, 1),
    (h_begin, 5),
    (h_commit, 4),
    (h_rollback, 1),
    (h_set, 1),
    (h_show, 1),
)


# -- applications, through a driver (extended protocol, $n parameters) -------------------------------------------
def a_get_account(rng: random.Random) -> Action:
    sql = "SELECT id, balance, owner, status FROM accounts WHERE id = $1"
    return Action(sql, one("READ", "SELECT", sql), params=(str(rng.randrange(1, 2_000_000)),), extended=True)


def a_list_orders(rng: random.Random) -> Action:
    sql = (
        "SELECT o.id, o.amount, o.created_at FROM orders o WHERE o.account_id = $1 ORDER BY o.created_at DESC LIMIT 50"
    )
    return Action(sql, one("READ", "SELECT", sql), params=(str(rng.randrange(1, 2_000_000)),), extended=True)


def a_debit(rng: random.Random) -> Action:
    sql = "UPDATE accounts SET balance = balance - $1, updated_at = now() WHERE id = $2"
    params = (_money(rng), str(rng.randrange(1, 2_000_000)))
    return Action(sql, one("WRITE", "UPDATE", sql), params=params, extended=True)


def a_insert_order(rng: random.Random) -> Action:
    sql = "INSERT INTO orders (account_id, amount, note) VALUES ($1, $2, $3) RETURNING id"
    params = (str(rng.randrange(1, 2_000_000)), _money(rng), f"web checkout {rng.randrange(1, 10**9)}")
    return Action(sql, one("WRITE", "INSERT", sql), params=params, extended=True)


def a_duplicate_order(rng: random.Random) -> Action:
    sql = "INSERT INTO order_items (order_id, sku, quantity) VALUES ($1, $2, $3)"
    order_id = str(rng.randrange(1, 5_000_000))
    params = (order_id, f"SKU-{rng.randrange(1, 99999):05d}", str(rng.randrange(1, 5)))
    error = (
        'duplicate key value violates unique constraint "order_items_pkey"',
        f"Key (order_id, sku)=({order_id}, {params[1]}) already exists.",
    )
    return Action(sql, one("WRITE", "INSERT", sql), error=error, params=params, extended=True)


def a_pay(rng: random.Random) -> Action:
    sql = "SELECT process_payment($1, $2)"
    records = (
        Rec("READ", "SELECT", sql),
        Rec("FUNCTION", "EXECUTE", sql, "FUNCTION", "public.process_payment"),
        Rec("WRITE", "INSERT", "INSERT INTO payments (invoice_id, amount) VALUES (p_invoice, p_amount)"),
        Rec("WRITE", "UPDATE", "UPDATE billing.invoices SET status = 'paid' WHERE id = p_invoice"),
    )
    params = (str(rng.randrange(1, 900_000)), _money(rng))
    return Action(sql, (Statement(records),), params=params, extended=True)


def a_expire_sessions(rng: random.Random) -> Action:
    sql = "DELETE FROM sessions WHERE expires_at < now() - $1::interval"
    return Action(sql, one("WRITE", "DELETE", sql), params=(f"{rng.randrange(1, 72)} hours",), extended=True)


def a_begin(rng: random.Random) -> Action:
    return Action("BEGIN", one("MISC", "BEGIN", "BEGIN"))


def a_commit(rng: random.Random) -> Action:
    return Action("COMMIT", one("MISC", "COMMIT", "COMMIT"))


def a_health(rng: random.Random) -> Action:
    return Action("SELECT 1", one("READ", "SELECT", "SELECT 1"))


def a_recent_orders(rng: random.Random) -> Action:
    sql = f"SELECT count(*) FROM orders WHERE created_at > now() - interval '{rng.randrange(1, 60)} minutes'"
    return Action(sql, one("READ", "SELECT", sql))


APP_REPERTOIRE: tuple[tuple[Maker, int], ...] = (
    (a_get_account, 20),
    (a_list_orders, 10),
    (a_debit, 8),
    (a_insert_order, 8),
    (a_duplicate_order, 1),
    (a_pay, 3),
    (a_expire_sessions, 1),
    (a_begin, 6),
    (a_commit, 6),
    (a_health, 3),
    (a_recent_orders, 2),
)


# -- reporting: long multi-line queries, simple protocol ----------------------------------------------------------
def r_revenue(rng: random.Random) -> Action:
    sql = (
        "WITH daily AS (\n"
        "    SELECT date_trunc('day', p.paid_at) AS day, sum(p.amount) AS revenue\n"
        "    FROM payments p\n"
        "    JOIN billing.invoices i ON i.id = p.invoice_id\n"
        f"    WHERE p.paid_at >= now() - interval '{rng.randrange(7, 90)} days'\n"
        "    GROUP BY 1\n"
        ")\n"
        "SELECT day, revenue, avg(revenue) OVER (ORDER BY day ROWS 6 PRECEDING) AS rolling_7d\n"
        "FROM daily\n"
        "ORDER BY day"
    )
    return Action(sql, one("READ", "SELECT", sql))


def r_top_customers(rng: random.Random) -> Action:
    sql = (
        "SELECT c.id, c.email, count(o.id) AS orders, sum(o.amount) AS total\n"
        "FROM customers c\n"
        "LEFT JOIN orders o ON o.customer_id = c.id\n"
        f"WHERE o.created_at >= DATE '2026-{rng.randrange(1, 12):02d}-01'\n"
        "GROUP BY c.id, c.email\n"
        "ORDER BY total DESC NULLS LAST\n"
        f"LIMIT {rng.choice((100, 500, 1000))}"
    )
    return Action(sql, one("READ", "SELECT", sql))


def r_timeout(rng: random.Random) -> Action:
    action = r_top_customers(rng)
    action.error = ("canceling statement due to statement timeout", None)
    return action


REPORTING_REPERTOIRE: tuple[tuple[Maker, int], ...] = ((r_revenue, 5), (r_top_customers, 5), (r_timeout, 1))


class Repertoire:
    """Weighted choice among makers, with cumulative weights computed once (random.choices would redo it)."""

    def __init__(self, items: tuple[tuple[Maker, int], ...]) -> None:
        self.makers = [maker for maker, _ in items]
        total = 0
        self.cumulative: list[int] = []
        for _, weight in items:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> Action:
        point = rng.random() * self.total
        for maker, bound in zip(self.makers, self.cumulative, strict=True):
            if point < bound:
                return maker(rng)
        return self.makers[-1](rng)


# ---------------------------------------------------------------------------------------------------------------
# The log being written
# ---------------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Backend:
    """One server process serving one client connection. Statement ids are per backend, from 1."""

    pid: int
    user: str
    database: str
    host: str
    port: int
    application: str
    audited: bool
    remaining: int  # requests left before the client disconnects
    started_ms: int
    statement_id: int = 0
    tail: str = ""  # the prefix after %t: ":host(port):user@db:[pid]:"

    def __post_init__(self) -> None:
        remote = f"{self.host}({self.port})" if self.host != "[local]" else "[local]"
        self.tail = f":{remote}:{self.user}@{self.database}:[{self.pid}]:"


@dataclass
class Totals:
    """What was written, by kind of entry, and what the monitor must report."""

    entries: Counter[str] = field(default_factory=Counter)
    audit_entries: int = 0
    all_entries: int = 0
    human_records: int = 0
    service_records: int = 0
    human_statements: int = 0
    expected: Counter[str] = field(default_factory=Counter)


class LogWriter:
    """Formats entries with Aurora's prefix into a big in-memory buffer, written out in ~8 MB chunks."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.now_ms = 0
        self.bytes_written = 0
        self.totals = Totals()
        self._parts: list[str] = []
        self._pending = 0
        self._second = -1
        self._stamp = ""

    def stamp(self) -> str:
        """%t for the current time; formatted once per second of log time."""
        second = self.now_ms // 1000
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(START_EPOCH + second))
        return self._stamp

    def entry(self, tail: str, level: str, message: str, kind: str) -> None:
        """One entry; a newline in the message is followed by a TAB, as PostgreSQL writes it in stderr format."""
        if "\n" in message:
            message = message.replace("\n", "\n\t")
        text = f"{self.stamp()}{tail}{level}:  {message}\n"
        self._parts.append(text)
        self._pending += len(text)
        totals = self.totals
        totals.entries[kind] += 1
        totals.all_entries += 1
        if self._pending >= FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            data = "".join(self._parts).encode("utf-8")
            self.out.write(data)
            self.bytes_written += len(data)
            self._parts.clear()
            self._pending = 0

    @property
    def size(self) -> int:
        """Bytes written so far, counting the buffer (characters: close enough to decide when to stop)."""
        return self.bytes_written + self._pending


BACKGROUND = "::@:"  # after %t, Aurora's prefix for processes without a client: empty %r, %u and %d
VACUUM_TABLES = ("appdb.public.orders", "appdb.public.sessions", "appdb.public.accounts", "appdb.billing.invoices")


class Server:
    """Plays a day of a busy Aurora writer: which backend does what, in log order."""

    def __init__(self, rng: random.Random, log: LogWriter) -> None:
        self.rng = rng
        self.log = log
        self.next_pid = 2400
        self.human_repertoire = Repertoire(HUMAN_REPERTOIRE)
        self.app_repertoire = Repertoire(APP_REPERTOIRE)
        self.reporting_repertoire = Repertoire(REPORTING_REPERTOIRE)
        self.checkpointer_pid = 2399
        self.humans = [self._connect(self._new_human()) for _ in range(6)]
        self.services = [self._connect(self._new_service()) for _ in range(16)]
        self.quiet = [self._connect(self._new_quiet()) for _ in range(40)]

    # -- backends --------------------------------------------------------------------------------------------
    def _pid(self) -> int:
        self.next_pid += 1 + int(self.rng.random() * 30)
        if self.next_pid > 4_194_000:  # pid_max on a 64-bit Linux: pids wrap and are reused
            self.next_pid = 500
        return self.next_pid

    def _new_human(self) -> Backend:
        rng = self.rng
        app = rng.choice(("psql", "psql", "psql", "DBeaver 23.2.0 - SQLEditor <Script-3.sql>", "pgAdmin 4 - CONN:12"))
        return Backend(
            pid=self._pid(),
            user=rng.choice(HUMANS),
            database=rng.choice(("appdb", "appdb", "appdb", "postgres")),
            host=f"10.20.{rng.randrange(0, 4)}.{rng.randrange(2, 250)}",
            port=rng.randrange(32768, 61000),
            application=app,
            audited=True,
            remaining=rng.randrange(3, 60),
            started_ms=self.log.now_ms,
        )

    def _new_service(self) -> Backend:
        rng = self.rng
        return Backend(
            pid=self._pid(),
            user=SERVICE_ACCOUNT,
            database="appdb",
            host=f"10.0.{rng.randrange(1, 4)}.{rng.randrange(2, 250)}",
            port=rng.randrange(32768, 61000),
            application="PostgreSQL JDBC Driver",
            audited=True,
            remaining=rng.randrange(200, 3000),
            started_ms=self.log.now_ms,
        )

    def _new_quiet(self) -> Backend:
        rng = self.rng
        user = rng.choice(QUIET_APP_USERS)
        return Backend(
            pid=self._pid(),
            user=user,
            database="appdb",
            host=f"10.0.{rng.randrange(4, 8)}.{rng.randrange(2, 250)}",
            port=rng.randrange(32768, 61000),
            application="metabase" if user == "reporting" else "node-postgres",
            audited=False,
            remaining=rng.randrange(100, 2000) if user != "reporting" else rng.randrange(5, 80),
            started_ms=self.log.now_ms,
        )

    def _connect(self, b: Backend, ssl: bool = True) -> Backend:
        remote = f"{b.host}({b.port})" if b.host != "[local]" else "[local]"
        host = f"host={b.host} port={b.port}" if b.host != "[local]" else "host=[local]"
        self.log.entry(f":{remote}:[unknown]@[unknown]:[{b.pid}]:", "LOG", f"connection received: {host}", "connection")
        authorized = f"connection authorized: user={b.user} database={b.database} application_name={b.application}"
        if ssl:
            authorized += " SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)"
        self.log.entry(b.tail, "LOG", authorized, "connection")
        return b

    def _disconnect(self, b: Backend) -> None:
        ms = self.log.now_ms - b.started_ms
        hours, rest = divmod(ms, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        session_time = f"{hours}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
        host = f" host={b.host} port={b.port}" if b.host != "[local]" else " host=[local]"
        message = f"disconnection: session time: {session_time} user={b.user} database={b.database}{host}"
        self.log.entry(b.tail, "LOG", message, "connection")

    # -- requests --------------------------------------------------------------------------------------------
    def _duration(self, scale: float) -> str:
        return f"{self.rng.expovariate(1.0 / scale):.3f}"

    def _run(self, b: Backend, action: Action, scale: float = 0.4) -> None:
        """Log one request of backend `b`: duration lines, its AUDIT records (if the role is audited), errors."""
        log, tail = self.log, b.tail
        log.now_ms += int(self.rng.random() * 12)
        parameters = ""
        if action.extended:
            log.entry(tail, "LOG", f"duration: {self._duration(0.05)} ms  parse <unnamed>: {action.sql}", "duration")
            log.entry(tail, "LOG", f"duration: {self._duration(0.05)} ms  bind <unnamed>: {action.sql}", "duration")
            parameters = ", ".join(f"${i} = '{v}'" for i, v in enumerate(action.params, 1))
            if parameters:
                log.entry(tail, "DETAIL", f"parameters: {parameters}", "detail")
        if b.audited:
            self._audit(b, action)
        if action.error is not None:
            message, detail = action.error
            log.entry(tail, "ERROR", message, "error")
            if detail is not None:
                log.entry(tail, "DETAIL", detail, "detail")
            log.entry(tail, "STATEMENT", action.sql, "error")
        elif action.extended:
            log.entry(tail, "LOG", f"duration: {self._duration(scale)} ms  execute <unnamed>: {action.sql}", "duration")
            if parameters:
                log.entry(tail, "DETAIL", f"parameters: {parameters}", "detail")
        else:
            log.entry(tail, "LOG", f"duration: {self._duration(scale)} ms  statement: {action.sql}", "duration")

    def _audit(self, b: Backend, action: Action) -> None:
        log, totals = self.log, self.log.totals
        human = b.user != SERVICE_ACCOUNT
        for statement in action.statements:
            b.statement_id += 1
            for sub, rec in enumerate(statement.records, 1):
                message = (
                    f"AUDIT: SESSION,{b.statement_id},{sub},{rec.audit_class},{rec.command},"
                    f"{rec.object_type},{csv_field(rec.object_name)},{csv_field(rec.text)},<not logged>"
                )
                log.entry(b.tail, "LOG", message, "audit")
            count = len(statement.records)
            totals.audit_entries += count
            if human:
                totals.human_records += count
                totals.human_statements += 1
                if statement.category is not None:
                    totals.expected[statement.category] += 1
            else:
                totals.service_records += count

    def _step_pool(self, pool: list[Backend], index: int, action: Action, new: Callable[[], Backend]) -> None:
        b = pool[index]
        self._run(b, action)
        b.remaining -= 1
        if b.remaining <= 0:
            self._disconnect(b)
            pool[index] = self._connect(new())

    # -- background ------------------------------------------------------------------------------------------
    def _background(self) -> None:
        rng, log = self.rng, self.log
        point = rng.random()
        if point < 0.45:  # Aurora's own monitoring connects over the local socket, often
            b = Backend(self._pid(), "rdsadmin", "rdsadmin", "[local]", 0, "", False, 2, log.now_ms)
            self._connect(b, ssl=False)
            self._run(b, Action("SELECT pg_catalog.pg_is_in_recovery()", ()), scale=0.02)
            self._run(b, Action("select setting from pg_settings where name='rds.extensions'", ()), scale=0.2)
            log.now_ms += int(rng.random() * 40)
            self._disconnect(b)
        elif point < 0.65:
            pid = self._pid()
            table = rng.choice(VACUUM_TABLES)
            pages = rng.randrange(1000, 900_000)
            log.entry(f"{BACKGROUND}[{pid}]:", "LOG", _vacuum_report(rng, table, pages), "autovacuum")
            if rng.random() < 0.7:
                log.entry(f"{BACKGROUND}[{pid}]:", "LOG", _analyze_report(rng, table), "autovacuum")
        elif point < 0.70:
            tail = f"{BACKGROUND}[{self.checkpointer_pid}]:"
            log.entry(tail, "LOG", "checkpoint starting: time", "checkpoint")
            log.now_ms += int(rng.random() * 50)
            log.entry(tail, "LOG", _checkpoint_complete(rng), "checkpoint")
        elif point < 0.80:  # a typo in a password: the backend ends without a disconnection entry
            b = Backend(self._pid(), rng.choice(HUMANS), "appdb", f"10.20.1.{rng.randrange(2, 250)}",
                        rng.randrange(32768, 61000), "psql", False, 0, log.now_ms)  # fmt: skip
            log.entry(f":{b.host}({b.port}):[unknown]@[unknown]:[{b.pid}]:", "LOG",
                      f"connection received: host={b.host} port={b.port}", "connection")  # fmt: skip
            log.entry(b.tail, "FATAL", f'password authentication failed for user "{b.user}"', "error")
            log.entry(b.tail, "DETAIL", 'Connection matched pg_hba.conf line 12: "host all all 0.0.0.0/0 md5"',
                      "detail")  # fmt: skip
        elif point < 0.90:  # a report that spilled to disk
            reporting = [b for b in self.quiet if b.user == "reporting"] or self.quiet
            b = reporting[int(rng.random() * len(reporting))]
            size = rng.randrange(1 << 20, 1 << 30)
            log.entry(b.tail, "LOG", f'temporary file: path "base/pgsql_tmp/pgsql_tmp{b.pid}.{rng.randrange(0, 9)}", '
                      f"size {size}", "tempfile")  # fmt: skip
            log.entry(b.tail, "STATEMENT", r_top_customers(rng).sql, "tempfile")
        else:
            b = self.quiet[int(rng.random() * len(self.quiet))]
            log.entry(b.tail, "LOG", "could not receive data from client: Connection reset by peer", "error")

    # -- one step --------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Log the next request, choosing its kind so that the shares stay at their targets."""
        rng, totals = self.rng, self.log.totals
        if totals.audit_entries < AUDIT_SHARE * totals.all_entries:
            if totals.human_records <= totals.service_records:
                index = int(rng.random() * len(self.humans))
                self._step_pool(self.humans, index, self.human_repertoire.draw(rng), self._new_human)
            else:
                index = int(rng.random() * len(self.services))
                self._step_pool(self.services, index, self.app_repertoire.draw(rng), self._new_service)
        elif rng.random() < 0.003:
            self._background()
        else:
            index = int(rng.random() * len(self.quiet))
            reporting = self.quiet[index].user == "reporting"
            action = (self.reporting_repertoire if reporting else self.app_repertoire).draw(rng)
            self._step_pool(self.quiet, index, action, self._new_quiet)


def _vacuum_report(rng: random.Random, table: str, pages: int) -> str:
    removed, remain = rng.randrange(0, 200_000), rng.randrange(100_000, 50_000_000)
    hits, misses, dirtied = rng.randrange(1000, 10**6), rng.randrange(0, 10**5), rng.randrange(0, 10**4)
    user, system = rng.randrange(0, 900) / 100, rng.randrange(0, 300) / 100
    return (
        f'automatic vacuum of table "{table}": index scans: 1\n'
        f"pages: 0 removed, {pages} remain, {pages // 3} scanned ({100 / 3:.2f}% of total)\n"
        f"tuples: {removed} removed, {remain} remain, 0 are dead but not yet removable\n"
        f"removable cutoff: {rng.randrange(10**6, 10**8)}, which was 3 XIDs old when operation ended\n"
        f"index scan needed: {pages // 7} pages from table (14.29% of total) had {removed} dead item identifiers "
        "removed\n"
        f'index "{table.rpartition(".")[2]}_pkey": pages: {pages // 20} in total, 0 newly deleted, '
        "0 currently deleted, 0 reusable\n"
        f"avg read rate: {rng.random() * 50:.3f} MB/s, avg write rate: {rng.random() * 20:.3f} MB/s\n"
        f"buffer usage: {hits} hits, {misses} misses, {dirtied} dirtied\n"
        f"WAL usage: {rng.randrange(100, 10**6)} records, {rng.randrange(0, 5000)} full page images, "
        f"{rng.randrange(10**4, 10**9)} bytes\n"
        f"system usage: CPU: user: {user:.2f} s, system: {system:.2f} s, elapsed: {user + system + 0.5:.2f} s"
    )


def _analyze_report(rng: random.Random, table: str) -> str:
    return (
        f'automatic analyze of table "{table}"\n'
        f"avg read rate: {rng.random() * 50:.3f} MB/s, avg write rate: {rng.random() * 5:.3f} MB/s\n"
        f"buffer usage: {rng.randrange(100, 10**5)} hits, {rng.randrange(0, 10**4)} misses, "
        f"{rng.randrange(0, 100)} dirtied\n"
        f"system usage: CPU: user: 0.{rng.randrange(10, 99)} s, system: 0.0{rng.randrange(1, 9)} s, elapsed: "
        f"{rng.random() * 3:.2f} s"
    )


def _checkpoint_complete(rng: random.Random) -> str:
    buffers = rng.randrange(1000, 400_000)
    write = rng.random() * 270
    return (
        f"checkpoint complete: wrote {buffers} buffers ({buffers / 40960:.1f}%); 0 WAL file(s) added, 0 removed, "
        f"{rng.randrange(0, 40)} recycled; write={write:.3f} s, sync=0.0{rng.randrange(10, 99)} s, "
        f"total={write + 0.1:.3f} s; sync files={rng.randrange(10, 400)}, longest=0.00{rng.randrange(1, 9)} s, "
        f"average=0.001 s; distance={rng.randrange(10**4, 10**6)} kB, estimate={rng.randrange(10**5, 10**6)} kB"
    )


# ---------------------------------------------------------------------------------------------------------------
def expected_path(log_path: Path) -> Path:
    """Where the expected counts of a log are written: next to it."""
    return log_path.with_name(log_path.name + ".expected.json")


def reusable(path: Path, size_bytes: int, seed: int) -> dict[str, object] | None:
    """The summary of an existing log built with these settings by this generator, or None (then build it)."""
    try:
        summary = json.loads(expected_path(path).read_text())
    except (OSError, ValueError):
        return None
    same = (summary.get("requested_bytes"), summary.get("seed"), summary.get("generator_version")) == (
        size_bytes,
        seed,
        GENERATOR_VERSION,
    )
    if not same or not path.is_file() or path.stat().st_size != summary.get("bytes"):
        return None
    return summary


def build(path: Path, size_bytes: int, seed: int) -> dict[str, object]:
    """Write the log to `path` (stopping at the first request boundary past `size_bytes`) and its expectations."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        log = LogWriter(out)
        server = Server(rng, log)
        while log.size < size_bytes:
            server.step()
        log.flush()
    tmp.replace(path)  # a log that exists is a complete log: an interrupted run leaves only the .part file
    totals = log.totals
    expected = dict(sorted(totals.expected.items()))
    summary: dict[str, object] = {
        "file": str(path),
        "bytes": log.bytes_written,
        "requested_bytes": size_bytes,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "log_line_prefix": LOG_LINE_PREFIX,
        "service_accounts": [SERVICE_ACCOUNT],
        "entries": totals.all_entries,
        "entries_by_kind": dict(totals.entries.most_common()),
        "audit_records": totals.audit_entries,
        "audit_share": round(totals.audit_entries / max(totals.all_entries, 1), 4),
        "audit_records_human": totals.human_records,
        "audit_records_service": totals.service_records,
        "human_statements": totals.human_statements,
        "expected_detections": expected,
        "expected_detections_total": sum(expected.values()),
        "expected_app_dml": expected.get(APP_DML, 0),
        "expected_sensitive_catalog": expected.get(SENSITIVE, 0),
        "generation_seconds": round(time.monotonic() - started, 1),
    }
    expected_path(path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the log in MiB (default 1024)")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed (default 20261125)")
    parser.add_argument("--output", "-o", type=Path, help="log file to write (default bench/out/pgaudit-<size>mb.log)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an existing log built with the same size, seed and generator version instead of rebuilding it",
    )
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")
    path = args.output or Path(__file__).resolve().parent / "out" / f"pgaudit-{args.size_mb:g}mb.log"
    size_bytes = int(args.size_mb * (1 << 20))
    summary = (reusable(path, size_bytes, args.seed) if args.reuse else None) or build(path, size_bytes, args.seed)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
