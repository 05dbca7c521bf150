#!/usr/bin/env python3
"""Build an audit-dense log: a real server's stderr log, repeated until it reaches a size.

The scan benchmark's log (make_log.py) is 5% audit records with a few dozen statement shapes; this one is the
opposite end: nearly every entry an AUDIT record, thousands of distinct statements, real server output. The source
is the log of a run of PostgreSQL's regression suite as audited humans (`scripts/regress_diff.py --keep-log DIR`),
or any stderr log written with the Aurora prefix `%t:%r:%u@%d:[%p]:`.

Each repetition moves every pid by a multiple of 10,000,000 (a pid is at most 2^22 on Linux), so that the copies are
other backends and not one backend's statements counted again; the timestamps are kept. The output's sidecar
`.dense.json` says how many AUDIT records it holds, for a cost per record.

    python bench/make_dense_log.py --source /tmp/regress-log/postgresql.log --size-mb 256 --output bench/out/dense.log
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

_PID = re.compile(rb"(?m)^([^\t\n]*?:\[)(\d+)(\]:)")
_SHIFT = 10_000_000


def _without_statements(log: bytes) -> bytes:
    """The log without log_statement's entries (an entry is a line and the TAB-led lines after it)."""
    entries = re.split(rb"\n(?!\t)", log)
    return b"\n".join(e for e in entries if b":LOG:  statement: " not in e.split(b"\n", 1)[0])


def _shifted(shift: int) -> Callable[[re.Match[bytes]], bytes]:
    """A replacement that moves the pid of an entry's prefix by `shift`."""

    def replace(match: re.Match[bytes]) -> bytes:
        return match.group(1) + str(int(match.group(2)) + shift).encode() + match.group(3)

    return replace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="a stderr log with the Aurora prefix")
    parser.add_argument("--size-mb", type=int, default=256, help="size of the output in MiB (default 256)")
    parser.add_argument("--output", type=Path, required=True, help="where to write the dense log")
    parser.add_argument(
        "--keep-statements",
        action="store_true",
        help="keep log_statement's `statement:` entries (the regression run writes one per statement; left out, the "
        "log is nearly all AUDIT records)",
    )
    args = parser.parse_args(argv)
    try:
        source = args.source.read_bytes()
    except OSError as exc:
        print(f"make_dense_log: cannot read {args.source}: {exc.strerror}", file=sys.stderr)
        return 2
    if not source.endswith(b"\n"):
        source = source[: source.rfind(b"\n") + 1]
    if not args.keep_statements:
        source = _without_statements(source)
    records_per_copy = source.count(b"AUDIT: ")
    if records_per_copy == 0:
        print(f"make_dense_log: {args.source} holds no AUDIT record", file=sys.stderr)
        return 2
    target = args.size_mb << 20
    written = copies = 0
    with args.output.open("wb") as out:
        while written < target:
            chunk = _PID.sub(_shifted(copies * _SHIFT), source)
            out.write(chunk)
            written += len(chunk)
            copies += 1
    summary = {
        "file": str(args.output),
        "bytes": written,
        "copies": copies,
        "audit_records": records_per_copy * copies,
        "entries_per_copy": source.count(b"\n") - source.count(b"\n\t"),
    }
    Path(f"{args.output}.dense.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
