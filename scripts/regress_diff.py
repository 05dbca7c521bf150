"""Differential test of the detector on PostgreSQL 15's regression suite, with pgAudit's per-relation records as
the oracle.

    .venv/bin/python scripts/regress_diff.py                   # the whole suite, fetched with apt-get source
    .venv/bin/python scripts/regress_diff.py --sql-dir /tmp/pg/src/test/regress --files insert,update,merge
    .venv/bin/python scripts/regress_diff.py --keep-log DIR    # ... and keep its log; --reuse-log DIR judges it again
    .venv/bin/python scripts/regress_diff.py --vendored --write-known   # the test's subset; print its KNOWN list

Each chosen regression file runs through psql (-X, errors expected and passed over) as two audited superuser
roles, each in a fresh database copied from one that test_setup.sql prepared: `human_rel` (pgaudit.log = 'all',
log_relation on) and `human_norel` ('all', log_relation off). The server's log is then scanned by the Pipeline,
in process, as `pgaudit-monitor scan` would, and every audited statement is compared with the oracle: pgAudit's
READ/WRITE records of the log_relation run name the relations the executor touched; a statement touched
application data iff one of them is a table, view, materialized view, foreign or partitioned table outside the
system schemas. The log_relation-off run is judged against the oracle of the same statement in the other run.

A MISS is oracle-yes / detector-no; a FALSE ALERT oracle-no / detector-yes. Detections the oracle cannot confirm
because it is blind there (TRUNCATE, temporary tables, COPY without an object, plain EXPLAIN) are counted apart.
Files that need the regress C library (regress.so, not in the Debian packages) get one compiled from the sources'
regress.c when gcc and postgresql-server-dev-15 are there (--regress-lib), else they are skipped and listed.

Output: a summary on stdout (files run and skipped, statements of each run, audit records, the scan's cost per
record, misses and false alerts by class with an example each, the oracle's blind spots), and a JSON report
(--json) with every disagreement: file, run, statement (300 characters), pgAudit's commands, the oracle's
objects, the detector's category, command, relations and rule, the log line.

Needs the PostgreSQL 15 and pgAudit Debian packages; run as root (the server runs as the `postgres` OS user).
Fetching the sources needs a deb-src line for Debian's archive (see the end of --help). Exit status: 0 when
every disagreement is in the test's known list (tests/integration/test_regress_differential.py), 1 otherwise (always, on
files outside the test's subset), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from pgserver import postgres_available  # noqa: E402
from regresskit import (  # noqa: E402
    SETUP_FILE,
    RegressSource,
    Report,
    SuiteRun,
    build_regress_lib,
    compare,
    format_known,
    known_entries,
    run_suite,
)

VENDORED = ROOT / "tests" / "data" / "regress"
SLOW = ("infinite_recurse",)


def fetch_sources(into: Path) -> RegressSource:
    """`apt-get source` of the installed postgresql-15 (its version when the archive still has it), regress only."""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "postgresql-15"], capture_output=True, text=True, check=False
    ).stdout.strip()
    for spec in ([f"postgresql-15={version}"] if version else []) + ["postgresql-15"]:
        proc = subprocess.run(
            ["apt-get", "source", "--download-only", spec], cwd=into, capture_output=True, text=True, check=False
        )
        if proc.returncode == 0:
            break
    else:
        raise SystemExit(f"apt-get source postgresql-15 failed (is there a deb-src line?):\n{proc.stderr[-2000:]}")
    tarball = next(into.glob("postgresql-15_*.orig.tar.*"))
    subprocess.run(
        ["tar", "-xf", str(tarball), "-C", str(into), "--wildcards", "*/src/test/regress/*", "*/COPYRIGHT"], check=True
    )
    return RegressSource.find(next(into.glob("postgresql-15*/src/test/regress")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="regress_diff.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without --sql-dir or --vendored, the sources are fetched with `apt-get source postgresql-15` into "
        "a temporary directory (add a `Types: deb-src` copy of /etc/apt/sources.list.d/debian.sources and run "
        "`apt-get update` first).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sql-dir",
        type=Path,
        metavar="DIR",
        help="PostgreSQL's src/test/regress (or its sql/ directory, or a source tree's root)",
    )
    where.add_argument(
        "--reuse-log",
        type=Path,
        metavar="DIR",
        help="judge again a log that an earlier run kept with --keep-log (after a detector change): no suite run",
    )
    where.add_argument(
        "--vendored", action="store_true", help=f"the subset vendored for the test, {VENDORED.relative_to(ROOT)}"
    )
    parser.add_argument(
        "--files",
        metavar="A,B,...",
        help="regression files to run, names without .sql (default: all, in schedule order; "
        "with --vendored: the test's subset)",
    )
    parser.add_argument(
        "--exclude",
        metavar="A,B,...",
        default=",".join(SLOW),
        help=f"files to leave out (default {','.join(SLOW)}: recursion to the stack limit, one audited "
        "call per level, takes minutes; give --exclude '' to run it)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per file and role (default 300)")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        default=Path("regress-diff.json"),
        help="where to write the report and every disagreement (default regress-diff.json)",
    )
    parser.add_argument("--keep-log", type=Path, metavar="DIR", help="keep the server's log in DIR")
    parser.add_argument(
        "--write-known",
        action="store_true",
        help="print the disagreements as the test's KNOWN list (Python), to paste after review",
    )
    parser.add_argument(
        "--regress-lib",
        default="auto",
        metavar="auto|none|PATH",
        help="the regress C library a few files need: `auto` builds it from the sources' regress.c when gcc and "
        "postgresql-server-dev-15 are installed, `none` skips those files, or a regress.so built for this server",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    if not postgres_available():
        parser.error("PostgreSQL 15 binaries not found (install postgresql-15 and postgresql-15-pgaudit)")
    with tempfile.TemporaryDirectory(prefix="regress-diff-") as tmp:
        if args.reuse_log:
            report = compare(SuiteRun.load(args.reuse_log))
            return finish(args, report)
        if args.vendored:
            source = RegressSource.find(VENDORED)
        elif args.sql_dir:
            source = RegressSource.find(args.sql_dir)
        else:
            source = fetch_sources(Path(tmp))
        if args.files:
            files = [f.strip().removesuffix(".sql") for f in args.files.split(",") if f.strip()]
        elif args.vendored:
            from test_regress_differential import SUBSET

            files = list(SUBSET)
        else:
            files = source.names()
        excluded = {f.strip() for f in args.exclude.split(",") if f.strip()}
        files = [f for f in files if f not in excluded]
        if SETUP_FILE in files:  # it also prepares every other file's database: run as a file, it goes first
            files.remove(SETUP_FILE)
            files.insert(0, SETUP_FILE)

        def progress(line: str) -> None:
            if not args.quiet:
                print(line, file=sys.stderr, flush=True)

        regress_lib: Path | None = None
        if args.regress_lib == "auto":
            regress_lib, how = build_regress_lib(source, Path(tmp))
            progress(f"regress.so: {how}")
        elif args.regress_lib != "none":
            regress_lib = Path(args.regress_lib)
        out = args.keep_log or Path(tmp) / "log"
        suite = run_suite(source, files, out, timeout=args.timeout, progress=progress, regress_lib=regress_lib)
        report = compare(suite)
    return finish(args, report)


def finish(args: argparse.Namespace, report: Report) -> int:
    """Print the summary (and the known list), write the JSON report; the exit status."""
    print(report.summary())
    for name, reason in sorted(report.skipped.items()):
        print(f"skipped {name}: {reason}")
    args.json.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    print(f"report: {args.json} ({len(report.disagreements)} disagreements)")
    if args.write_known:
        print(format_known(known_entries(report)))
    from test_regress_differential import KNOWN

    unknown = {d.ident for d in report.disagreements} - {k.ident for k in KNOWN}
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
