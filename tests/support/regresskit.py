"""Differential test of the detector on PostgreSQL's own regression suite, pgAudit's per-relation records as oracle.

PostgreSQL's regression files are thousands of statements nobody wrote for this project: every DML shape the
grammar allows, views, rules, triggers, CTEs, partitions, functions that write. Each chosen file runs through psql
as two audited human roles, each in a fresh database of its own (so both runs see the same state):

- `human_rel`: `pgaudit.log = 'all'`, `pgaudit.log_relation = on`. pgAudit writes one READ or WRITE record per
  relation the executor checked, with the server's own resolution of the name. That is the oracle: a statement
  touched application data iff one of its READ/WRITE records names a table-like object outside the system schemas.
- `human_norel`: `'all'` with log_relation off: no objects, the detector must read the statement text. Its
  statements are aligned, by text and order within the file, with the same statements of the `human_rel` run, whose
  oracle they share.

The detector (the Pipeline, in process, exactly as `scan` runs it) is then compared statement by statement:
a MISS is oracle-yes/detector-no (the critical kind), a FALSE ALERT oracle-no/detector-yes. Where the oracle is
known to be blind (TRUNCATE has no object, temporary tables are excluded by the oracle's schema rule, COPY without
an object, a plain EXPLAIN whose plan's relations pgAudit names but nothing reads), the statement is counted under
its blind spot, detected or not, and never as a disagreement.

Used by scripts/regress_diff.py (the full suite, a report) and tests/integration/test_regress_differential.py (a fixed,
vendored subset, against a reviewed list of known disagreements).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pglast

from pgaudit_monitor.config import load_settings
from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import compile_prefix
from pgaudit_monitor.entries.reader import read_file
from pgaudit_monitor.errors import RecordError
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.records.pgaudit import AuditRecord, is_audit_message, parse_record
from pgserver import AURORA_PREFIX, PG_BINDIR, PgServer

SETUP_FILE = "test_setup"
REL, NOREL = "rel", "norel"
ROLES = {REL: "human_rel", NOREL: "human_norel"}
"""The two audited human roles, by run name. Plain names: they must look like people, not service accounts."""

# What pgAudit 1.7 writes as OBJECT_TYPE for relations whose rows are application data. (INDEX, SEQUENCE,
# TOAST TABLE, COMPOSITE TYPE and FUNCTION records are not.)
DATA_OBJECT_TYPES = frozenset({"TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "PARTITIONED TABLE"})
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
_TEMP_SCHEMA = re.compile(r"pg_(?:toast_)?temp_\d+\Z")

# Lines of a regression file that show it needs the regress C library (regress.so), which the Debian packages do
# not ship: the library itself, or the C functions test_setup.sql creates from it.
_NEEDS_REGRESS_LIB = re.compile(r"regresslib|:libdir|:dlsuffix|\bbinary_coercible\b|\bttdummy\b|\bget_columns_length\b")
# Server-side files a regression file reads or writes through these psql variables (test_setup's data).
_NEEDS_SRCDIR = re.compile(r":abs_srcdir|:abs_builddir")

BLIND_EXAMPLES = 20


# -- the regression sources -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegressSource:
    """A copy of src/test/regress: `sql/*.sql`, `data/*.data`, optionally `parallel_schedule`."""

    root: Path

    @classmethod
    def find(cls, path: Path) -> RegressSource:
        """Accept the regress directory itself, its sql/ directory, or a source tree holding src/test/regress."""
        for candidate in (path, path.parent, path / "src" / "test" / "regress"):
            if (candidate / "sql" / f"{SETUP_FILE}.sql").exists():
                return cls(candidate.resolve())
        raise FileNotFoundError(f"{path}: no sql/{SETUP_FILE}.sql here, in its parent, or under src/test/regress")

    def sql(self, name: str) -> Path:
        return self.root / "sql" / f"{name}.sql"

    def names(self) -> list[str]:
        """Every regression file, in parallel_schedule order when there is one (later files were written against
        the state earlier ones leave), then any file the schedule does not name, by name."""
        available = {p.stem for p in (self.root / "sql").glob("*.sql")}
        ordered: list[str] = []
        schedule = self.root / "parallel_schedule"
        if schedule.exists():
            for line in schedule.read_text().splitlines():
                if line.startswith("test:"):
                    ordered += [n for n in line.split(":", 1)[1].split() if n in available and n not in ordered]
        ordered += sorted(available - set(ordered))
        return ordered

    def missing(self, name: str, *, have_regress_lib: bool = False) -> str | None:
        """Why this file cannot run here, or None: what it needs that this machine lacks."""
        path = self.sql(name)
        if not path.exists():
            return "no such file"
        text = path.read_text(errors="replace")
        if not have_regress_lib and name != SETUP_FILE and _NEEDS_REGRESS_LIB.search(text):
            return "needs the regress C library (regress.so)"
        if _NEEDS_SRCDIR.search(text) and not (self.root / "data").is_dir():
            return "needs the suite's data files"
        return None


# -- running the suite -----------------------------------------------------------------------------------------
@dataclass
class FileRun:
    """One regression file run through psql as one role, in its own database."""

    file: str
    run: str
    database: str
    returncode: int | None
    seconds: float
    timed_out: bool = False


@dataclass
class SuiteRun:
    """What run_suite did: the server's stderr log (copied out), each file run, the files skipped and why."""

    log: Path
    runs: list[FileRun]
    skipped: dict[str, str]
    setup_seconds: float

    def file_of(self) -> dict[str, tuple[str, str]]:
        """database -> (file, run)."""
        return {r.database: (r.file, r.run) for r in self.runs}

    def save(self) -> Path:
        """Write `runs.json` beside the log: with it, the log can be judged again (after a detector change)
        without running the suite again."""
        path = self.log.parent / RUNS_FILE
        data = {
            "log": self.log.name,
            "runs": [vars(r) for r in self.runs],
            "skipped": self.skipped,
            "setup_seconds": self.setup_seconds,
        }
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> SuiteRun:
        """The SuiteRun that `save` wrote into `directory`."""
        data = json.loads((directory / RUNS_FILE).read_text())
        runs = [FileRun(**r) for r in data["runs"]]
        return cls(directory / data["log"], runs, data["skipped"], data["setup_seconds"])


RUNS_FILE = "runs.json"


def _server_settings() -> dict[str, str]:
    return {
        "autovacuum": "off",  # no background work competing with the suite on a 2-core machine
        "max_prepared_transactions": "2",  # prepared_xacts wants some
        "pgaudit.log_catalog": "on",
        "pgaudit.log_parameter": "off",
    }


def _psql(
    server: PgServer, *args: str, user: str, dbname: str, env: dict[str, str], timeout: float, cwd: Path
) -> tuple[int | None, bool]:
    """psql -X with the regression suite's environment; (exit code, timed out). No ON_ERROR_STOP: the suite
    expects errors and goes on after them."""
    # The server's own psql, not Debian's wrapper script: its start-up is a Perl interpreter's, run ~1,000 times.
    connection = ["-h", server.host, "-p", str(server.port), "-U", user, "-d", dbname]
    cmd = [str(PG_BINDIR / "psql"), "-X", "-q", *connection, *args]
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, True
    return proc.returncode, False


def run_suite(
    source: RegressSource,
    files: Sequence[str],
    out_dir: Path,
    *,
    timeout: float = 300.0,
    progress: Callable[[str], None] = lambda _: None,
    regress_lib: Path | None = None,
) -> SuiteRun:
    """Run `files` (names without .sql) as both roles on a throwaway server; copy its stderr log into `out_dir`.

    test_setup.sql runs once, unaudited, into a template database; each (file, role) gets a copy of it, so every
    file starts from the state the suite gives it after test_setup. test_setup itself, when chosen, runs as the
    roles into a copy of an empty template, so its own DML is judged too. `regress_lib` is a regress.so built
    for this server (build_regress_lib); without it, the files that need it are skipped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    runnable = []
    for name in files:
        reason = source.missing(name, have_regress_lib=regress_lib is not None)
        if reason:
            skipped[name] = reason
        else:
            runnable.append(name)
    runs: list[FileRun] = []
    started = time.monotonic()
    with PgServer(log_destination="stderr", settings=_server_settings()) as server:
        # The suite's files read data and write results as the server's OS user: give it its own copy.
        srcdir, builddir = server.root / "srcdir", server.root / "builddir"
        srcdir.mkdir()
        if (source.root / "data").is_dir():
            shutil.copytree(source.root / "data", srcdir / "data")
        (builddir / "results").mkdir(parents=True)
        (builddir / "testtablespace").mkdir()
        libdir = server.root / "libdir"
        libdir.mkdir()
        if regress_lib is not None:
            shutil.copy(regress_lib, libdir / "regress.so")
        if os.geteuid() == 0:
            for path in [srcdir, builddir, libdir, *srcdir.rglob("*"), *builddir.rglob("*"), *libdir.rglob("*")]:
                shutil.chown(path, "postgres", "postgres")
        env = {
            **os.environ,
            "PG_ABS_SRCDIR": str(srcdir),
            "PG_ABS_BUILDDIR": str(builddir),
            "PG_LIBDIR": str(libdir),
            "PG_DLSUFFIX": ".so",
            "PGTZ": "PST8PDT",
            "PGDATESTYLE": "Postgres, MDY",
            "PGCONNECT_TIMEOUT": "10",
        }

        def psql(*args: str, user: str, dbname: str, app: str = "") -> tuple[int | None, bool]:
            app_env = {"PGAPPNAME": app} if app else {}
            return _psql(server, *args, user=user, dbname=dbname, env={**env, **app_env}, timeout=timeout, cwd=builddir)

        def admin(*args: str, dbname: str = "postgres") -> None:
            """As the unaudited superuser; an error stops the run (the suite's own errors never do)."""
            code, _ = psql("-v", "ON_ERROR_STOP=1", *args, user="postgres", dbname=dbname)
            if code != 0:
                raise RuntimeError(f"psql {' '.join(args)!r} failed (exit {code})")

        for role in ROLES.values():
            server.sql(f"CREATE ROLE {role} LOGIN SUPERUSER")
            server.sql(f"ALTER ROLE {role} SET pgaudit.log = 'all'")
        for role in ROLES.values():  # what the client sent, to tell the statement from what the planner ran
            server.sql(f"ALTER ROLE {role} SET log_statement = 'all'")
        server.sql(f"ALTER ROLE {ROLES[REL]} SET pgaudit.log_relation = on")
        server.sql(f"ALTER ROLE {ROLES[NOREL]} SET pgaudit.log_relation = off")
        server.sql("CREATE DATABASE regress_empty")
        server.sql("CREATE EXTENSION pgaudit", dbname="regress_empty")
        server.sql("CREATE DATABASE regress_setup TEMPLATE regress_empty")
        # No ON_ERROR_STOP: without regress.so its three C functions fail, and may. psql fails if it cannot read it.
        code, _ = psql("-f", str(source.sql(SETUP_FILE)), user="postgres", dbname="regress_setup")
        if code != 0:
            raise RuntimeError(f"{SETUP_FILE}.sql could not be run (psql exit {code})")
        setup_seconds = time.monotonic() - started
        for index, name in enumerate(runnable):
            template = "regress_empty" if name == SETUP_FILE else "regress_setup"
            for run, role in ROLES.items():
                database = f"r{index:03d}_{run}"
                admin("-c", f"CREATE DATABASE {database} TEMPLATE {template} STRATEGY FILE_COPY")
                t0 = time.monotonic()
                code, timed_out = psql(
                    "-f", str(source.sql(name)), user=role, dbname=database, app=f"pg_regress/{name}"
                )
                runs.append(FileRun(name, run, database, code, time.monotonic() - t0, timed_out))
                progress(
                    f"{name} as {role}: {'timeout' if timed_out else f'exit {code}'} in {time.monotonic() - t0:.1f}s"
                )
                # Only the log matters from here on: FORCE ends what a timed-out file left running, and the disk
                # does not fill with 400 databases.
                admin("-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        server.stop()
        logs = server.log_files(".log")
        log = out_dir / "postgresql.log"
        with open(log, "wb") as combined:
            for path in logs:
                combined.write(path.read_bytes())
    suite = SuiteRun(log, runs, skipped, setup_seconds)
    suite.save()
    return suite


def build_regress_lib(source: RegressSource, out_dir: Path) -> tuple[Path | None, str]:
    """Compile the suite's regress.c against the installed server headers (postgresql-server-dev-15): the C
    functions a few files need. (None, why) when it cannot be built here."""
    code = source.root / "regress.c"
    include = subprocess.run(["pg_config", "--includedir-server"], capture_output=True, text=True, check=False)
    headers = Path(include.stdout.strip()) if include.returncode == 0 else Path("/usr/include/postgresql/15/server")
    if not code.exists():
        return None, f"no regress.c in {source.root}"
    if not (headers / "postgres.h").exists() or shutil.which("gcc") is None:
        return None, "needs gcc and the server headers (apt-get install postgresql-server-dev-15)"
    out = out_dir / "regress.so"
    proc = subprocess.run(
        ["gcc", "-O2", "-fPIC", "-shared", f"-I{headers}", str(code), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None, f"gcc failed: {proc.stderr.strip()[-500:]}"
    return out, "built"


# -- reading the log: statements and their records ---------------------------------------------------------------
@dataclass
class Statement:
    """One audited statement: all records of one statement id in one backend (substatements included)."""

    key: tuple[int, int, int]  # (pid, connection number of that pid, statement id)
    database: str
    user: str
    line: int
    sent: str | None = None  # what the client sent (log_statement), when the log has it
    records: list[AuditRecord] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The statement the client sent: log_statement's copy. pgAudit's first record is not always it: a
        function the planner runs (a partition's hash function) is logged first, with its own body as text."""
        if self.sent is not None:
            return self.sent
        for record in self.records:
            if record.substatement_id == 1:
                return record.statement
        return self.records[0].statement if self.records else ""


def split_object_name(name: str) -> tuple[str, str]:
    """pgAudit's OBJECT_NAME, `schema.relation` with each part quoted as an identifier when needed.

    Written apart from the detector's policy.verdict.split_qualified on purpose: the oracle shares no code with
    what it judges, so that a mistake in one cannot agree with itself in the other."""
    parts, current, quoted, i = [], [], False, 0
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
    return (parts[0], ".".join(parts[1:])) if len(parts) > 1 else ("", parts[0])


def is_temp_schema(schema: str) -> bool:
    return bool(_TEMP_SCHEMA.match(schema))


def read_statements(log: Path) -> tuple[list[Statement], int]:
    """The audited statements of a stderr log (Aurora prefix), in log order, and the number of audit records."""
    prefix = compile_prefix(AURORA_PREFIX)
    connections: dict[int, int] = defaultdict(int)
    sent: dict[int, str] = {}
    statements: dict[tuple[int, int, int], Statement] = {}
    records = 0
    for entry in read_file(str(log), prefix, needles=None):
        if isinstance(entry, Malformed) or entry.pid is None:
            continue
        message = entry.message
        if message.startswith("connection received"):
            connections[entry.pid] += 1
            sent.pop(entry.pid, None)
            continue
        if entry.level == "LOG" and message.startswith(_STATEMENT_MARKER):
            sent[entry.pid] = message[len(_STATEMENT_MARKER) :]
            continue
        if not is_audit_message(message):
            continue
        try:
            record = parse_record(message)
        except RecordError:
            continue
        records += 1
        key = (entry.pid, connections[entry.pid], record.statement_id)
        statement = statements.get(key)
        if statement is None:
            statement = statements[key] = Statement(
                key, entry.database or "", entry.user or "", entry.line, sent.get(entry.pid)
            )
        statement.records.append(record)
    return list(statements.values()), records


_STATEMENT_MARKER = "statement: "


def connection_lines(log: Path) -> dict[int, list[int]]:
    """pid -> the log lines of its `connection received` entries: which connection of a reused pid a line is in."""
    prefix = compile_prefix(AURORA_PREFIX)
    lines: dict[int, list[int]] = defaultdict(list)
    for entry in read_file(str(log), prefix, needles=None):
        if isinstance(entry, LogEntry) and entry.pid is not None and entry.message.startswith("connection received"):
            lines[entry.pid].append(entry.line)
    return lines


@dataclass
class Scan:
    outcomes: dict[tuple[int, int, int], list[Outcome]]
    seconds: float
    malformed: int


def scan(log: Path) -> Scan:
    """The detector on the log, in process, as `scan` runs it: every outcome, excluded ones too."""
    pipeline = Pipeline(load_settings(env={}, service_accounts="", log_line_prefix=None))
    t0 = time.perf_counter()
    items = [*pipeline.scan_file(str(log)), *pipeline.finish()]
    seconds = time.perf_counter() - t0
    conns = connection_lines(log)
    outcomes: dict[tuple[int, int, int], list[Outcome]] = defaultdict(list)
    malformed = 0
    for item in items:
        if isinstance(item, Malformed):
            malformed += 1
            continue
        pid = item.pid or 0
        epoch = bisect.bisect_right(conns.get(pid, []), item.line)
        outcomes[(pid, epoch, item.statement_id)].append(item)
    return Scan(dict(outcomes), seconds, malformed)


# -- the oracle ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Oracle:
    touched: bool  # a READ/WRITE record names an application relation
    objects: tuple[str, ...]  # those relations
    blind: str | None  # why the oracle cannot confirm a detection here, if it cannot


@functools.lru_cache(maxsize=4096)
def is_plain_explain(text: str) -> bool:
    """EXPLAIN without ANALYZE: the executor is set up (pgAudit logs the relations it checks) but never run."""
    try:
        statements = pglast.parse_sql(text)
    except Exception:  # not parseable (a psql variable left in, a syntax error the suite meant): by its first word
        head = re.sub(r"(--[^\n]*\n|/\*.*?\*/|\s)+", " ", text, flags=re.S).strip().upper()
        return head.startswith("EXPLAIN") and "ANALYZE" not in head[:120]
    if not statements:
        return False
    for raw in statements:
        stmt = raw.stmt
        if not isinstance(stmt, pglast.ast.ExplainStmt):
            return False
        for option in stmt.options or ():
            value = getattr(option.arg, "sval", None) if option.arg is not None else "true"
            if option.defname == "analyze" and str(value).lower() not in ("false", "off", "0", "no"):
                return False
    return True


def oracle(records: Iterable[AuditRecord], sent: str | None = None) -> Oracle:
    """What pgAudit's own records say about one statement (of the log_relation run); `sent` is the text the client
    sent, when known.

    A plain EXPLAIN (the client's, or one a function runs) sets up a plan without running it: pgAudit still logs
    the relations the plan would touch, with the EXPLAIN's text, or with a PREPARE's text for `EXPLAIN EXECUTE`.
    """
    records = list(records)
    objects: list[str] = []
    temp = explained = False
    has_explain = any(r.command == "EXPLAIN" for r in records)
    only_explained = has_explain and sent is not None and is_plain_explain(sent)
    for record in records:
        if record.audit_class not in ("READ", "WRITE") or record.object_type not in DATA_OBJECT_TYPES:
            continue
        if only_explained or (has_explain and is_plain_explain(record.statement)):
            explained = True  # the relations of a plan that is shown, never run: checked, not read
            continue
        schema, _ = split_object_name(record.object_name)
        if is_temp_schema(schema):
            temp = True
        elif schema not in SYSTEM_SCHEMAS and record.object_name not in objects:
            objects.append(record.object_name)
    blind = None
    commands = {r.command for r in records}
    if not objects:
        if explained:
            blind = "explain"
        elif "TRUNCATE TABLE" in commands:
            blind = "truncate"
        elif temp:
            blind = "temp-table"
        elif "COPY" in commands:
            blind = "copy-no-object"
    return Oracle(bool(objects), tuple(objects), blind)


# -- comparing ----------------------------------------------------------------------------------------------------
MISS, FALSE_ALERT, CATEGORY = "miss", "false-alert", "category"


def stable_id(text: str) -> str:
    """A statement's identity in the known list: its first 80 characters, whitespace runs made one space."""
    return " ".join(text.split())[:80].rstrip()


@dataclass
class Disagreement:
    file: str
    run: str
    kind: str
    statement: str
    commands: tuple[str, ...]
    oracle_objects: tuple[str, ...]
    category: str | None
    command: str
    relations: tuple[str, ...]
    rule: str
    line: int
    label: str = ""

    @property
    def ident(self) -> tuple[str, str, str, str]:
        return (self.file, self.run, self.kind, stable_id(self.statement))

    @property
    def cause(self) -> str:
        """A class of cause, for grouping: the kind, pgAudit's commands and the detector's rule."""
        return f"{self.kind} | pgaudit {'+'.join(self.commands) or '-'} | ours {self.command or '-'}/{self.rule}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "run": self.run,
            "kind": self.kind,
            "statement": self.statement[:300],
            "pgaudit_commands": list(self.commands),
            "oracle_objects": list(self.oracle_objects),
            "ours": {
                "category": self.category,
                "command": self.command,
                "relations": list(self.relations),
                "rule": self.rule,
            },
            "log_line": self.line,
            "cause": self.cause,
            "class": self.label,
        }


@dataclass
class Report:
    files_run: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=lambda: {REL: 0, NOREL: 0})
    audit_records: int = 0
    oracle_yes: dict[str, int] = field(default_factory=lambda: {REL: 0, NOREL: 0})
    detected: dict[str, int] = field(default_factory=lambda: {REL: 0, NOREL: 0})
    blind: Counter[str] = field(default_factory=Counter)
    blind_examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # the first few of each
    unaligned: int = 0
    id_mismatch: int = 0  # aligned statements whose pgAudit statement ids differ between the runs
    no_outcome: int = 0
    scan_seconds: float = 0.0
    malformed: int = 0
    timeouts: list[str] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    rules: Counter[tuple[str | None, str]] = field(default_factory=Counter)  # (category, rule) of each verdict

    def count(self, kind: str, run: str | None = None) -> int:
        return sum(1 for d in self.disagreements if d.kind == kind and (run is None or d.run == run))

    def summary(self) -> str:
        per_record = 1e6 * self.scan_seconds / self.audit_records if self.audit_records else 0.0
        lines = [
            f"files run: {self.files_run}, skipped: {len(self.skipped)}, timed out: {len(self.timeouts)}",
            f"audit records: {self.audit_records}; scan {self.scan_seconds:.2f} s = {per_record:.1f} us per record",
            f"statements: log_relation on {self.statements[REL]}, off {self.statements[NOREL]} "
            f"({self.unaligned} of the off run could not be aligned with the on run, {self.id_mismatch} aligned with "
            f"another statement id; {self.no_outcome} had no outcome)",
            f"oracle says application data: on {self.oracle_yes[REL]}, off (aligned) {self.oracle_yes[NOREL]}; "
            f"detected app-dml: on {self.detected[REL]}, off {self.detected[NOREL]}",
        ]
        for run in (REL, NOREL):
            lines.append(
                f"[{run}] misses: {self.count(MISS, run)}, false alerts: {self.count(FALSE_ALERT, run)}, "
                f"oracle-yes reported as sensitive-catalog: {self.count(CATEGORY, run)}"
            )
        if self.blind:
            lines.append(
                "oracle blind spots (statements; not compared): "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.blind.items()))
            )
        classes = Counter((d.kind, d.label or d.cause) for d in self.disagreements)
        if classes:
            lines.append("disagreements by class (with one example: our command/rule, the oracle's objects):")
            for (kind, label), n in classes.most_common():
                members = [d for d in self.disagreements if (d.kind, d.label or d.cause) == (kind, label)]
                runs = ", ".join(f"{r} {c}" for r, c in sorted(Counter(d.run for d in members).items()))
                files = sorted({d.file for d in members})
                example = members[0]
                lines.append(f"  {n:5d}  {kind}: {label}")
                lines.append(f"         [{runs}; files: {', '.join(files[:6])}{' ...' if len(files) > 6 else ''}]")
                lines.append(
                    f"         e.g. {stable_id(example.statement)!r} -> ours {example.command}/{example.rule}, "
                    f"oracle {list(example.oracle_objects)}"
                )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_run": self.files_run,
            "skipped": self.skipped,
            "timeouts": self.timeouts,
            "statements": self.statements,
            "audit_records": self.audit_records,
            "oracle_yes": self.oracle_yes,
            "detected_app_dml": self.detected,
            "unaligned": self.unaligned,
            "id_mismatch": self.id_mismatch,
            "no_outcome": self.no_outcome,
            "blind": dict(self.blind),
            "blind_examples": self.blind_examples,
            "scan_seconds": self.scan_seconds,
            "us_per_record": 1e6 * self.scan_seconds / self.audit_records if self.audit_records else None,
            "malformed": self.malformed,
            "misses": self.count(MISS),
            "false_alerts": self.count(FALSE_ALERT),
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


def _verdict_of(outcomes: list[Outcome]) -> tuple[str | None, str, tuple[str, ...], str]:
    """(category, command, relations, rule) of the outcomes of one statement (normally one outcome)."""
    if not outcomes:
        return None, "", (), "no-outcome"
    chosen = next((o for o in outcomes if o.detected), outcomes[0])
    v = chosen.verdict
    return v.category, v.command, tuple(v.relations), v.rule


def compare(suite: SuiteRun, *, statements: list[Statement] | None = None, records: int | None = None) -> Report:
    """Read the suite's log, scan it, and compare every statement of both runs with the oracle."""
    if statements is None or records is None:
        statements, records = read_statements(suite.log)
    found = scan(suite.log)
    report = Report(
        files_run=len({r.file for r in suite.runs}),
        skipped=dict(suite.skipped),
        audit_records=records,
        scan_seconds=found.seconds,
        malformed=found.malformed,
    )
    report.timeouts = sorted({f"{r.file} ({r.run})" for r in suite.runs if r.timed_out})
    where = suite.file_of()
    by_run: dict[tuple[str, str], list[Statement]] = defaultdict(list)
    for statement in statements:
        if statement.database in where:
            file, run = where[statement.database]
            if statement.user == ROLES[run]:
                by_run[(file, run)].append(statement)
    for file in sorted({f for f, _ in by_run}, key=lambda f: [r.file for r in suite.runs].index(f)):
        rel, norel = by_run.get((file, REL), []), by_run.get((file, NOREL), [])
        rel_oracles = [oracle(s.records, s.sent) for s in rel]
        for statement, truth in zip(rel, rel_oracles, strict=True):
            _judge(report, file, REL, statement, truth, found)
        aligned = align(rel, norel)
        for j, statement in enumerate(norel):
            if j not in aligned:
                report.unaligned += 1
                continue
            partner = rel[aligned[j]]
            report.id_mismatch += partner.key[2] != statement.key[2]
            _judge(report, file, NOREL, statement, rel_oracles[aligned[j]], found)
    return report


def align(rel: list[Statement], norel: list[Statement]) -> dict[int, int]:
    """Index in `norel` -> index in `rel` of the same statement. Same SQL, same order: aligned by text (errors may
    shift ids when, say, a role that the first run created already exists). A stretch that differs only in values
    interpolated from the database (an OID, a large object's id, the database's name, set with psql's \\gset) is
    aligned position by position when both sides are as long and run the same pgAudit commands. What cannot be
    aligned is left out, and counted, not guessed."""
    matcher = difflib.SequenceMatcher(None, [_shape(s.text) for s in rel], [_shape(s.text) for s in norel],
                                      autojunk=False)  # fmt: skip
    aligned: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (
            tag == "replace"
            and i2 - i1 == j2 - j1
            and all(_commands(rel[i1 + k]) == _commands(norel[j1 + k]) for k in range(i2 - i1))
        ):
            for k in range(i2 - i1):
                aligned[j1 + k] = i1 + k
    return aligned


def _commands(statement: Statement) -> tuple[tuple[str, str], ...]:
    return tuple((r.audit_class, r.command) for r in statement.records if r.audit_class not in ("READ", "WRITE")) + (
        tuple(sorted({(r.audit_class, r.command) for r in statement.records if r.audit_class in ("READ", "WRITE")}))
    )


def _shape(text: str) -> str:
    """A statement's text for alignment: psql's describe queries name relations by OID, which differs between
    the two databases."""
    return _QUOTED_NUMBER.sub("'N'", text)


_QUOTED_NUMBER = re.compile(r"'\d+'")


def _judge(report: Report, file: str, run: str, statement: Statement, truth: Oracle, found: Scan) -> None:
    report.statements[run] += 1
    outcomes = found.outcomes.get(statement.key, [])
    if not outcomes:
        report.no_outcome += 1
    category, command, relations, rule = _verdict_of(outcomes)
    report.rules[(category, rule)] += 1
    ours = category == "app-dml"
    report.oracle_yes[run] += truth.touched
    report.detected[run] += ours
    if truth.blind:  # counted either way: how often the detector flags what the oracle cannot judge
        blind = f"{truth.blind} ({'detected' if ours else 'not detected'})"
        report.blind[blind] += 1
        examples = report.blind_examples.setdefault(blind, [])
        if len(examples) < BLIND_EXAMPLES:
            examples.append({"file": file, "run": run, "statement": statement.text[:300], "rule": rule})
        if truth.touched != ours:
            return
    if truth.touched == ours:
        return
    kind = FALSE_ALERT if ours else (CATEGORY if category else MISS)
    commands = tuple(dict.fromkeys(f"{r.audit_class} {r.command}" for r in statement.records))
    d = Disagreement(
        file, run, kind, statement.text, commands, truth.objects, category, command, relations, rule, statement.line
    )
    d.label = classify(d, statement)
    report.disagreements.append(d)


_TRANSACTION_CONTROL = frozenset({"BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def classify(d: Disagreement, statement: Statement) -> str:
    """A readable class of cause, for the summary and the known list: a guess from the statement's shape and
    records, to be reviewed by whoever pastes the list. Falls back to the mechanical `cause`."""
    head = " ".join(d.statement.split()[:3]).upper()
    record_commands = {r.command for r in statement.records}
    parts = _statement_count(d.statement)
    if d.kind == MISS:
        if head.startswith("REFRESH MATERIALIZED"):
            return "REFRESH MATERIALIZED VIEW reads its query's tables (pgAudit READ records): judged not DML"
        if head.startswith("EXPLAIN") or d.rule == "explain-only":
            return "EXPLAIN ANALYZE runs the statement: judged explain-only"
        if "CALL" in record_commands:
            return "CALL: the procedure's own DML (a WRITE substatement) is not counted"
        if parts > 1:
            return "a part of a multi-statement string (with \\; in psql) judged as another part"
        if any(r.audit_class == "MISC" and r.command == "EXECUTE" for r in statement.records):
            return "EXECUTE of a prepared call of a function that reads tables: judged no-relation"
        if d.rule == "no-relation":
            return "a function (SQL, inlined or not) reads tables its caller's text does not name: judged no-relation"
        return f"miss: {d.cause}"
    if any(not r.statement.strip() for r in statement.records):
        return "pgAudit record with an empty statement text (planner inlining a built-in SQL function): fails closed"
    if parts > 1:
        return "a part of a multi-statement string (with \\; in psql) judged as another part's DML"
    if record_commands & {"CREATE TABLE AS", "CREATE MATERIALIZED VIEW", "SELECT INTO"}:
        return "CREATE TABLE AS / MATERIALIZED VIEW that reads no application row (WITH NO DATA, or only catalogs)"
    if d.run == NOREL and d.rule == "application-relation" and not d.oracle_objects:
        return "log_relation off: the relation the text names is a sequence, or a user table in pg_catalog"
    if d.rule == "unreadable-statement" and parts < 0:
        return "a text PostgreSQL's parser rejects as written (backslash escapes, standard_conforming_strings off)"
    if d.rule == "unreadable-statement":
        return "fails closed on a statement whose inner records it cannot attribute (DO, function body, dynamic SQL)"
    return f"false alert: {d.cause}"


@functools.lru_cache(maxsize=1024)
def _statement_count(text: str) -> int:
    """How many statements the text holds; -1 when pglast rejects it."""
    try:
        return len(pglast.parse_sql(text))
    except Exception:
        return -1


# -- the known list ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Known:
    """A reviewed disagreement: which file and run, the statement's stable_id, the kind, and why."""

    file: str
    run: str
    kind: str
    statement: str
    reason: str

    @property
    def ident(self) -> tuple[str, str, str, str]:
        return (self.file, self.run, self.kind, self.statement)


def known_entries(report: Report) -> list[Known]:
    """The report's disagreements as known-list entries (deduplicated), the reason pre-filled with their class."""
    seen: dict[tuple[str, str, str, str], Known] = {}
    for d in report.disagreements:
        seen.setdefault(d.ident, Known(*d.ident, reason=d.label or d.cause))
    return list(seen.values())


def format_known(entries: Iterable[Known]) -> str:
    """Python source for the test's KNOWN list (ruff-format friendly, one entry per call)."""
    out = ["KNOWN: list[Known] = ["]
    for k in entries:
        out.append("    Known(")
        for name in ("file", "run", "kind", "statement", "reason"):
            out.append(f"        {name}={getattr(k, name)!r},")
        out.append("    ),")
    out.append("]")
    return "\n".join(out)
