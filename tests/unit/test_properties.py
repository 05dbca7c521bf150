"""Property-based tests (hypothesis) of the parsers, the splitters and the SQL analyzer.

1. Nothing a log can hold makes a parser raise: each returns a value or its own documented error, on arbitrary
   bytes and text, and on real captured entries with a piece replaced by junk.
2. Splitting does not depend on how the input arrives: cut into pieces at arbitrary points and fed one by one, a
   stream gives the same entries (bytes and line numbers) as fed whole; the needle fast path gives exactly the
   entries of the slow path that hold a needle.
3. Round trips: a pgAudit record, its statement quoted as pgAudit quotes it, written into a stderr line as
   PostgreSQL writes it (TAB after each newline), a csvlog row or a jsonlog object, reads back to the same text;
   a line written with any log_line_prefix made of PostgreSQL's escapes reads back to its level and message.

Examples that once broke a parser are pinned with @example or listed in the tests at the end.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from captures import CAPTURES, DATA, RICH_PREFIX
from pgaudit_monitor.entries import AURORA_PREFIX, LogEntry, LogFormat, Malformed, compile_prefix, sniff_format
from pgaudit_monitor.entries.formats import parse_csvlog, parse_jsonlog, parse_stderr
from pgaudit_monitor.entries.reader import PIPELINE_NEEDLES
from pgaudit_monitor.entries.splitting import (
    AUDIT_NEEDLE,
    CONNECTION_NEEDLE,
    CsvSplitter,
    EntrySplitter,
    RawEntry,
    _RareNeedles,
)
from pgaudit_monitor.errors import PrefixError, RecordError
from pgaudit_monitor.policy import ParsedStatement, SqlAnalyzer
from pgaudit_monitor.records import AuditRecord, parse_record
from pgaudit_monitor.records.pgaudit import _parse_fields

LOG_FIELDS = frozenset(
    {"time", "user", "database", "pid", "remote", "remote_host", "application_name", "session_id", "session_line",
     "backend_type", "epoch", "command_tag", "sqlstate", "session_start", "vxid", "xid", "query_id"}
)  # fmt: skip

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- real samples, cut out of the captures without the project's code --------------------------------------------------
def _stderr_entries(data: bytes) -> list[bytes]:
    return re.findall(rb"[^\t\n][^\n]*\n(?:\t[^\n]*\n)*", data)


def _csv_rows(data: bytes) -> list[bytes]:
    rows, pending, quotes = [], b"", 0
    for line in data.splitlines(keepends=True):
        pending += line
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            rows.append(pending)
            pending, quotes = b"", 0
    return rows


STDERR_SAMPLES = {name: _stderr_entries((DATA / f"{name}.log").read_bytes()) for name in CAPTURES}
CSV_SAMPLES = _csv_rows((DATA / "aurora.csv").read_bytes())
JSON_SAMPLES = (DATA / "aurora.json").read_bytes().splitlines(keepends=True)
FILES = [(DATA / f"{name}.{ext}").read_bytes() for name in CAPTURES for ext in ("log", "csv", "json")]
AUDIT_MESSAGES = [json.loads(line)["message"] for line in JSON_SAMPLES if b'"message":"AUDIT: ' in line]
ALL_STDERR = [entry for entries in STDERR_SAMPLES.values() for entry in entries]

JUNK_TOKENS = [b'"', b",", b"\n", b"\n\t", b"\t", b"\r", b"@", b":", b"[", b"]", b"(", b")", b"\\", b"{", b"}",
               b"|", b"%", b"  ", b"LOG:  ", b"AUDIT: ", b"[unknown]", b"\xff", b"\x00", b'""', b"'"]  # fmt: skip
junk = st.one_of(st.sampled_from(JUNK_TOKENS), st.binary(max_size=12))
arbitrary_bytes = st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda s: s.encode("utf-8")))


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    """A real entry with one stretch of it replaced by junk: inputs that get past the first checks."""
    base = draw(st.sampled_from(samples))
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 16)))
    return base[:start] + draw(junk) + base[end:]


# =====================================================================================================================
# 1. Nothing makes a parser raise
# =====================================================================================================================
@FAST
@given(data=st.one_of(arbitrary_bytes, mutated(ALL_STDERR)), name=st.sampled_from(list(CAPTURES)))
def test_parse_stderr_returns_an_entry_or_malformed(data: bytes, name: str) -> None:
    # parse_stderr never raises; an entry's message is a part of the input and its level one word.
    result = parse_stderr(data, compile_prefix(CAPTURES[name]), source="p", line=1)
    assert isinstance(result, LogEntry | Malformed)
    if isinstance(result, LogEntry):
        text = data.decode("utf-8", errors="replace").replace("\n\t", "\n")
        assert result.message in text
        assert result.level
        assert not re.search(r"[\s:]", result.level)
        assert result.pid is None or result.pid >= 0


JSON_KEYS = ["timestamp", "user", "dbname", "pid", "remote_host", "remote_port", "session_id", "line_num",
             "error_severity", "message", "application_name", "backend_type", "query_id"]  # fmt: skip
# Finite floats only: Infinity is test_parsers_never_raise_examples[jsonlog-pid-infinity].
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
json_objects = st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=8), json_values, max_size=8)


@FAST
@given(data=st.one_of(arbitrary_bytes, mutated(JSON_SAMPLES), json_objects.map(lambda o: json.dumps(o).encode())))
def test_parse_jsonlog_returns_an_entry_or_malformed(data: bytes) -> None:
    # parse_jsonlog never raises; an entry's message is the line's "message" (the line read without the white
    # space around it, Unicode's line separators included, as the parser reads it).
    result = parse_jsonlog(data, source="p", line=1)
    assert isinstance(result, LogEntry | Malformed)
    if isinstance(result, LogEntry):
        assert result.message == json.loads(data.decode("utf-8", errors="replace").strip())["message"]


csv_rows = st.lists(st.text(max_size=12), min_size=23, max_size=26)


def _csv_line(row: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(row)  # PostgreSQL quotes every text column
    return out.getvalue().encode("utf-8")


@FAST
@given(data=st.one_of(arbitrary_bytes, mutated(CSV_SAMPLES)))
def test_parse_csvlog_returns_an_entry_or_malformed(data: bytes) -> None:
    # parse_csvlog never raises.
    assert isinstance(parse_csvlog(data, source="p", line=1), LogEntry | Malformed)


@FAST
@given(row=csv_rows)
def test_parse_csvlog_reads_any_written_row(row: list[str]) -> None:
    # Whatever the columns hold (commas, quotes, newlines), a row of 23+ columns gives its message and severity.
    result = parse_csvlog(_csv_line(row), source="p", line=1)
    assert isinstance(result, LogEntry), result
    assert (result.message, result.level) == (row[13], row[11])


@FAST
@given(
    message=st.one_of(
        st.text(max_size=120),
        st.text(max_size=120).map(lambda s: "AUDIT: " + s),
        mutated([m.encode() for m in AUDIT_MESSAGES]).map(lambda b: b.decode("utf-8", "replace")),
    )
)
def test_parse_record_returns_a_record_or_record_error(message: str) -> None:
    # parse_record raises RecordError and nothing else; a record is SESSION or OBJECT.
    try:
        record = parse_record(message)
    except RecordError:
        return
    assert isinstance(record, AuditRecord)
    assert record.audit_type in ("SESSION", "OBJECT")
    assert message.startswith("AUDIT: ")


def _csv_field(value: str) -> str:
    # pgAudit's quoting: a field holding a comma, a quote, a CR or a newline is quoted, its quotes doubled.
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


@FAST
@example(fields=['public."a,b"', "SELECT 'x\"\"'", "<not logged>"], rows="12")
@given(
    fields=st.lists(st.text(alphabet=st.sampled_from(list(',"\n\r ab1;<>')), max_size=12), min_size=3, max_size=3),
    rows=st.one_of(st.none(), st.text(alphabet=st.sampled_from(list(',"0123')), max_size=4)),
)
def test_parse_record_fast_path_agrees_with_the_csv_reader(fields: list[str], rows: str | None) -> None:
    # The one-pattern reader of well-formed records gives exactly what the csv module gives for the same record.
    tail = [_csv_field(f) for f in fields] + ([] if rows is None else [_csv_field(rows)])
    payload = "SESSION,3,2,WRITE,UPDATE,TABLE," + ",".join(tail)
    record = parse_record("AUDIT: " + payload)
    assert record == AuditRecord(*_parse_fields(payload))
    assert (record.object_name, record.statement, record.parameter, record.rows) == (*fields, rows)


@FAST
@given(head=st.one_of(arbitrary_bytes, mutated([f[:400] for f in FILES])))
def test_sniff_format_always_answers(head: bytes) -> None:
    # sniff_format never raises.
    assert sniff_format(head) in set(LogFormat)


@FAST
@given(row=st.sampled_from(CSV_SAMPLES), tail=st.binary(max_size=50))
def test_sniff_format_knows_every_real_csvlog_row(row: bytes, tail: bytes) -> None:
    # A rotated csvlog file may start with any row: each one sniffs as csvlog.
    assert sniff_format(row + tail) is LogFormat.CSVLOG


@FAST
@example(message='column ",,,1," does not exist at character 8')
@given(message=st.text(alphabet=',"0123456789 abc:', max_size=40))
def test_sniff_format_reads_default_prefix_stderr_as_stderr(message: str) -> None:
    # A stderr file whose first line is a default-prefix line is stderr, whatever the message says.
    line = f"2026-11-25 09:53:23.890 UTC [6898] ERROR:  {message}\n".encode()
    assert sniff_format(line) is LogFormat.STDERR


prefix_text = st.text(
    alphabet=st.one_of(st.sampled_from(list("%%%%-0123456789aubdprhPtmnieclsvxQq:|@[] ")), st.characters()),
    max_size=30,
)


@FAST
@given(prefix=prefix_text, line=st.text(max_size=80))
def test_compile_prefix_raises_only_prefix_error(prefix: str, line: str) -> None:
    # Any setting compiles or raises PrefixError; a compiled prefix never raises when matching.
    try:
        compiled = compile_prefix(prefix)
    except PrefixError:
        return
    assert compiled.text == prefix
    assert compiled.fields <= LOG_FIELDS
    match = compiled.regex.match(line)
    assert match is None or "message" in match.groupdict()


@FAST
@given(text=st.one_of(st.text(max_size=120), st.lists(st.sampled_from(
    ["SELECT", "DELETE", "FROM", "INSERT", "INTO", "UPDATE", "SET", "WHERE", "WITH", "AS", "(", ")", ",", ";", "*", "1",
     "'x'", "accounts", "public.accounts", "pg_temp.t", "pg_catalog.pg_authid", "=", "EXPLAIN", "ANALYZE", "PREPARE",
     "p", "EXECUTE", "MERGE", "USING", "ON", "WHEN", "MATCHED", "THEN", "COPY", "TO", "STDOUT", "TRUNCATE", "VALUES",
     "RETURNING", "\n", "--c\n", "/*c*/", "$1", '"Q"', "DO", "$$", "CALL", "LOCK", "DECLARE", "c", "CURSOR", "FOR"]),
    max_size=14).map(" ".join)))  # fmt: skip
def test_sql_analyzer_returns_statements_or_none(text: str) -> None:
    # The analyzer answers statements or None (unparsable), and never raises.
    result = SqlAnalyzer().analyze(text)
    assert result is None or all(isinstance(p, ParsedStatement) for p in result)


# =====================================================================================================================
# 2. Splitting does not depend on the chunking
# =====================================================================================================================
SPLIT_TOKENS = [b"\n", b"\t", b"\n\t", b'"', b",", b"AUDIT: ", b"connection", b"AUD", b"IT: ", b"\r\n", b"x", b'""']


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Bytes like a log's: slices of the real captures at arbitrary offsets, the splitters' special bytes, junk."""

    def real_slice(data: bytes) -> st.SearchStrategy[bytes]:
        return st.tuples(st.integers(0, len(data)), st.integers(0, 700)).map(lambda t: data[t[0] : t[0] + t[1]])

    part = st.one_of(st.sampled_from(FILES).flatmap(real_slice), st.sampled_from(SPLIT_TOKENS), st.binary(max_size=20))
    return b"".join(draw(st.lists(part, max_size=10)))


def _split(splitter: EntrySplitter | CsvSplitter, pieces: list[bytes]) -> list[RawEntry]:
    out: list[RawEntry] = []
    for piece in pieces:
        out.extend(splitter.feed(piece))
    out.extend(splitter.finish())
    return out


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


NEEDLES = [None, (AUDIT_NEEDLE,), (AUDIT_NEEDLE, CONNECTION_NEEDLE), (CONNECTION_NEEDLE, b'"'), (b"\t",),
           PIPELINE_NEEDLES["stderr"], PIPELINE_NEEDLES["jsonlog"]]  # fmt: skip


@FAST
@given(data=streams(), cuts=st.lists(st.integers(0, 5000), max_size=12), needles=st.sampled_from(NEEDLES),
       continuation=st.sampled_from([b"\t", None]))  # fmt: skip
def test_entry_splitter_ignores_chunking(
    data: bytes, cuts: list[int], needles: tuple[bytes, ...] | None, continuation: bytes | None
) -> None:
    # The entries do not depend on how the bytes arrive, and the needle path agrees with the slow one.
    whole = _split(EntrySplitter(needles, continuation), [data])
    assert _split(EntrySplitter(needles, continuation), _pieces(data, cuts)) == whole
    everything = _split(EntrySplitter(None, continuation), [data])
    # Nothing is lost or invented: the entries are the input, each starting on the line it says.
    assert b"".join(e.data for e in everything) == data
    for entry in everything:
        assert data.count(b"\n", 0, _offset(everything, entry)) + 1 == entry.line
        # An entry ends at a newline that the continuation byte does not follow, and nowhere else.
        if continuation is None:
            assert b"\n" not in entry.data[:-1]
        else:
            assert re.search(rb"\n[^\t]", entry.data) is None
    # The fast path keeps exactly the entries of the slow path that hold a needle.
    if needles is not None:
        assert whole == [e for e in everything if any(n in e.data for n in needles)]


def _offset(entries: list[RawEntry], entry: RawEntry) -> int:
    offset = 0
    for other in entries:
        if other is entry:
            return offset
        offset += len(other.data)
    raise AssertionError(entry)


@FAST
@given(data=streams(), cuts=st.lists(st.integers(0, 5000), max_size=12), needles=st.sampled_from(NEEDLES))
def test_csv_splitter_ignores_chunking(data: bytes, cuts: list[int], needles: tuple[bytes, ...] | None) -> None:
    # csvlog rows do not depend on how the bytes arrive; a newline inside quotes does not end a row.
    whole = _split(CsvSplitter(needles), [data])
    assert _split(CsvSplitter(needles), _pieces(data, cuts)) == whole
    everything = _split(CsvSplitter(None), [data])
    assert b"".join(e.data for e in everything) == data
    for entry in everything:
        assert data.count(b"\n", 0, _offset(everything, entry)) + 1 == entry.line
        assert entry.data.count(b'"') % 2 == 0 or entry is everything[-1]
    if needles is not None:
        assert whole == [e for e in everything if any(n in e.data for n in needles)]


# =====================================================================================================================
# 3. Round trips
# =====================================================================================================================
def pgaudit_csv(value: str) -> str:
    """pgAudit's append_valid_csv: quote a field holding a comma, a double quote, a CR or a LF; double the quotes."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


statements = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from([*",\"'\n\r\t ;()=$1aZ", "\n\t", '""', "<not logged>"]), max_size=30).map("".join),
    st.sampled_from([parse_record(m).statement for m in AUDIT_MESSAGES]),
)
users = st.text(alphabet=string.ascii_letters + string.digits + " _-[]:.", min_size=1, max_size=12).filter(
    lambda u: u.strip() and u != "[unknown]"
)
# With `%u@%d` the last `@` separates user and database: a database name with an `@` is the documented limit.
databases = st.text(alphabet=string.ascii_letters + string.digits + " _-.", min_size=1, max_size=12).filter(
    lambda d: d.strip() and d != "[unknown]"
)


@st.composite
def audit_messages(draw: st.DrawFn) -> tuple[str, AuditRecord]:
    record = AuditRecord(
        audit_type=draw(st.sampled_from(["SESSION", "OBJECT"])),
        statement_id=draw(st.integers(1, 10**6)),
        substatement_id=draw(st.integers(1, 100)),
        audit_class=draw(st.sampled_from(["READ", "WRITE", "DDL", "MISC", "FUNCTION"])),
        command=draw(st.sampled_from(["SELECT", "INSERT", "UPDATE", "DELETE", "???", "TRUNCATE TABLE", "COPY"])),
        object_type=draw(st.sampled_from(["", "TABLE", "VIEW"])),
        object_name=draw(st.sampled_from(["", "public.accounts", 'public."we,ird"'])),
        statement=draw(statements),
        parameter=draw(st.one_of(st.just("<not logged>"), statements)),
        rows=draw(st.one_of(st.none(), st.integers(0, 10**9).map(str))),
    )
    fields = [record.audit_type, str(record.statement_id), str(record.substatement_id), record.audit_class,
              record.command, record.object_type, record.object_name, record.statement, record.parameter]  # fmt: skip
    if record.rows is not None:
        fields.append(record.rows)
    return "AUDIT: " + ",".join(pgaudit_csv(f) for f in fields), record


@FAST
@given(audit=audit_messages(), user=users, database=databases, pid=st.integers(1, 2**22),
       remote=st.sampled_from(["127.0.0.1(34992)", "[local]", "::1(5432)", "10.0.0.7(1)"]))  # fmt: skip
def test_audit_record_round_trip_through_aurora_stderr(
    audit: tuple[str, AuditRecord], user: str, database: str, pid: int, remote: str
) -> None:
    # A record written as pgAudit and PostgreSQL's stderr write it reads back field for field.
    message, record = audit
    line = f"2026-11-25 09:53:22 UTC:{remote}:{user}@{database}:[{pid}]:LOG:  {message}"
    raw = line.replace("\n", "\n\t").encode("utf-8") + b"\n"
    noise = b"2026-11-25 09:53:22 UTC::@:[1]:LOG:  checkpoint starting: time\n"
    (entry,) = _split(EntrySplitter((AUDIT_NEEDLE,), b"\t"), [noise, raw, noise])
    assert (entry.line, entry.data) == (2, raw)
    parsed = parse_stderr(entry.data, compile_prefix(AURORA_PREFIX), source="p", line=entry.line)
    assert isinstance(parsed, LogEntry), parsed
    assert (parsed.message, parsed.user, parsed.database, parsed.pid, parsed.remote) == (
        message, user, database, pid, remote
    )  # fmt: skip
    assert parse_record(parsed.message) == record


@QUICK
@given(audit=audit_messages(), user=users)
def test_audit_record_round_trip_through_csvlog_and_jsonlog(audit: tuple[str, AuditRecord], user: str) -> None:
    # The same record in a csvlog row or a jsonlog object reads back field for field.
    message, record = audit
    template = next(csv.reader(io.StringIO(CSV_SAMPLES[16].decode())))
    template[1], template[13] = user, message
    (row,) = _split(CsvSplitter((AUDIT_NEEDLE,)), [CSV_SAMPLES[0], _csv_line(template), CSV_SAMPLES[0]])
    from_csv = parse_csvlog(row.data, source="p", line=row.line)
    obj = {**json.loads(JSON_SAMPLES[16]), "user": user, "message": message}
    (line,) = _split(EntrySplitter((AUDIT_NEEDLE,), None), [JSON_SAMPLES[0], json.dumps(obj).encode() + b"\n"])
    from_json = parse_jsonlog(line.data, source="p", line=line.line)
    for parsed in (from_csv, from_json):
        assert isinstance(parsed, LogEntry), parsed
        assert (parsed.message, parsed.user) == (message, user)
        assert parse_record(parsed.message) == record


# What each escape writes, as PostgreSQL 15 writes it (elog.c log_line_prefix), for sessions.
ESCAPE_VALUES: dict[str, list[str]] = {
    "a": ["psql", "app_1", "[unknown]", ""], "u": ["alice", "app_svc", "[unknown]", ""],
    "d": ["shop", "postgres", "[unknown]", ""], "r": ["127.0.0.1(34992)", "[local]", "::1(5432)", ""],
    "h": ["127.0.0.1", "[local]", "::1", ""], "b": ["client backend", "checkpointer", "not initialized"],
    "p": ["6850", "1"], "P": ["", "6850"], "t": ["2026-11-25 09:53:22 UTC"], "s": ["2026-11-25 09:53:22 UTC"],
    "m": ["2026-11-25 09:53:22.346 UTC"], "n": ["1795600406.930"], "i": ["SELECT", "idle", ""],
    "e": ["00000", "42703"], "c": ["6b06b016.1b52"], "l": ["3", "12"], "v": ["3/28", ""], "x": ["0", "755"],
    "Q": ["0", "-8528058461421773529"], "%": ["%"], "q": [""],
}  # fmt: skip
SEPARATORS = [":", "|", " ", "@", "[", "]", "(", ")", "-", ",", "=", "/"]


@st.composite
def prefixes_and_lines(draw: st.DrawFn) -> tuple[str, str]:
    """A log_line_prefix of PostgreSQL's escapes (some padded) and separators, and what it writes for a session."""
    prefix, written = [], []
    for _ in range(draw(st.integers(1, 8))):
        value = ""
        if draw(st.booleans()):
            escape = draw(st.sampled_from(sorted(ESCAPE_VALUES)))
            value = draw(st.sampled_from(ESCAPE_VALUES[escape]))
            padding = draw(st.sampled_from([0, 0, -10, 8])) if escape not in "%q" else 0
            prefix.append(f"%{padding or ''}{escape}")
            written.append(value.ljust(-padding) if padding < 0 else value.rjust(padding))
        # A value followed by a character it contains is ambiguous ("%a[" writing "[unknown]["): not generated.
        sep = draw(st.sampled_from([s for s in SEPARATORS if s not in value]))
        prefix.append(sep)
        written.append(sep)
    return "".join(prefix), "".join(written)


@FAST
@given(prefix_line=prefixes_and_lines(),
       level=st.sampled_from(["LOG", "ERROR", "FATAL", "STATEMENT", "DETAIL", "WARNING", "DEBUG1"]),
       message=st.text(max_size=60).filter(lambda m: not m.endswith("\r")))  # fmt: skip
def test_any_prefix_reads_back_level_and_message(prefix_line: tuple[str, str], level: str, message: str) -> None:
    # Whatever the log_line_prefix, the level and the message of a line read back exactly.
    prefix, written = prefix_line
    raw = f"{written}{level}:  {message}".replace("\n", "\n\t").encode("utf-8") + b"\n"
    parsed = parse_stderr(raw, compile_prefix(prefix), source="p", line=1)
    assert isinstance(parsed, LogEntry), (prefix, raw)
    assert (parsed.level, parsed.message) == (level, message)


# =====================================================================================================================
# The SQL analyzer's caches must not change its answers
# =====================================================================================================================
dml = st.builds(
    lambda template, schema, table, n: template.format(rel=f"{schema}{table}", n=n),
    st.sampled_from(["DELETE FROM {rel} WHERE id = {n}", "UPDATE {rel} SET x = {n}", "SELECT * FROM {rel} LIMIT {n}",
                     "INSERT INTO {rel} VALUES ({n})", "TRUNCATE {rel}"]),
    st.sampled_from(["", "public.", "pg_temp.", "app.", "pg_catalog.", '"App".']),
    st.sampled_from(["accounts", "orders", "pg_authid"]),
    st.integers(0, 99),
)  # fmt: skip


@QUICK
@example(texts=["DELETE FROM pg_temp.accounts WHERE id = 1", "DELETE FROM public.accounts WHERE id = 2"])
@given(texts=st.lists(dml, min_size=1, max_size=8))
def test_sql_analyzer_cache_gives_the_fresh_answer(texts: list[str]) -> None:
    # A statement's relations do not depend on which statements the analyzer saw before.
    warm = SqlAnalyzer()
    for text in texts:
        assert warm.analyze(text) == SqlAnalyzer().analyze(text), text


# =====================================================================================================================
# Inputs that once made a parser raise (found by these tests, fixed since)
# =====================================================================================================================
DEEP_DELETE = "DELETE FROM accounts WHERE id = " + "+".join(["1"] * 500) + ";"  # alice's, in every capture


def _parse_any(kind: str, data: bytes) -> Any:
    if kind == "jsonlog":
        return parse_jsonlog(data, source="p", line=1)
    if kind == "stderr":
        return parse_stderr(data, compile_prefix(RICH_PREFIX if b"|" in data else AURORA_PREFIX), source="p", line=1)
    return SqlAnalyzer().analyze(data.decode())


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        pytest.param("jsonlog", b"[" * 100_000, id="jsonlog-deep-nesting-RecursionError"),
        pytest.param("jsonlog", b'{"message":"AUDIT: x","pid":Infinity}', id="jsonlog-pid-infinity-OverflowError"),
        pytest.param("jsonlog", b'{"message":"AUDIT: x","line_num":1e999}', id="jsonlog-line-num-1e999-OverflowError"),
        pytest.param("stderr", b"2026-11-25 09:53:22 UTC::@:[" + b"9" * 5000 + b"]:LOG:  x\n",
                     id="stderr-5000-digit-pid-ValueError"),
        pytest.param("stderr", b"2026-11-25 09:53:26.650 UTC|1795600406.650|||          ||  6979||6b06b016.1b43|"
                     + b"4" * 5000 + b"|2026-11-25 09:53:26 UTC||0|00000||postmaster|0|% LOG:  x\n",
                     id="stderr-5000-digit-session-line-ValueError"),
        pytest.param("stderr", b"2026-11-25 09:53:22 \x80:10.0.0.1(5432):alice@appdb:[1]:LOG:  x\n",
                     id="stderr-time-zone-not-utf8-UnicodeDecodeError"),
        pytest.param("sql", DEEP_DELETE.encode(), id="sql-captured-500-term-expression-RecursionError"),
    ],
)  # fmt: skip
def test_parsers_never_raise_examples(kind: str, data: bytes) -> None:
    # The parsers return a value for every input (Malformed, None): a log line can never stop the monitor.
    result = _parse_any(kind, data)
    assert result is None or isinstance(result, LogEntry | Malformed | tuple)


def test_jsonlog_fields_have_their_declared_types() -> None:
    # A LogEntry's text fields are str or None, whatever JSON types the line holds.
    entry = parse_jsonlog(
        b'{"message":"AUDIT: x","user":["alice"],"dbname":{"a":1},"session_id":7}', source="p", line=1
    )
    # A field of the wrong kind makes the entry Malformed, with the field named; it never reaches the pipeline.
    assert isinstance(entry, Malformed)
    assert entry.reason == "user is not a string"


_TINY = st.lists(st.sampled_from(b"ab:\n"), max_size=4).map(bytes)


@st.composite
def _needles_sharing_a_core(draw: st.DrawFn) -> tuple[bytes, ...]:
    # Needles over a tiny alphabet that share a prefix and a core of 4 or more bytes, so that the splitter scans
    # for the core once; the core may occur twice in one needle, and a needle may hold another.
    prefix = draw(_TINY)
    core = draw(st.lists(st.sampled_from(b"ab"), min_size=4, max_size=6).map(bytes))
    rest = draw(st.lists(st.tuples(_TINY, _TINY, st.booleans()), min_size=2, max_size=4))
    rare = tuple(prefix + a + core + b + (core if twice else b"") for a, b, twice in rest)
    return (prefix + draw(_TINY) + b"!", *rare)


@FAST
@given(needles=_needles_sharing_a_core(), pieces=st.lists(st.one_of(_TINY, st.just(b"ab" * 3)), max_size=40),
       data=st.data())  # fmt: skip
def test_rare_needles_are_all_found_by_one_scan_for_what_they_share(
    needles: tuple[bytes, ...], pieces: list[bytes], data: st.DataObject
) -> None:
    buf = b"".join(pieces + list(needles[1:]) + pieces[::-1])
    end = data.draw(st.integers(0, len(buf)))  # a needle may run past it: then it is not in the range
    begin = data.draw(st.integers(0, end))
    rare = _RareNeedles.of(needles[1:], needles)
    expected = sorted({i for n in needles[1:] for i in range(begin, end - len(n) + 1) if buf.startswith(n, i)})
    assert rare.hits(buf, begin, end) == expected
