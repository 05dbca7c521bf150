#!/usr/bin/env bash
# The audit-dense benchmark: a log in which nearly every entry is a pgAudit record, with thousands of distinct
# statements (PostgreSQL's own regression suite run by audited humans), scanned next to `grep -c` on the same file;
# reports the scan's cost per audit record.
#
#   bash bench/run_dense.sh                      # builds the source log once (scripts/regress_diff.py --keep-log)
#   DENSE_SOURCE=/path/postgresql.log bash bench/run_dense.sh    # any stderr log with the Aurora prefix
#   BENCH_REV=HEAD~1 bash bench/run_dense.sh     # measure another commit's src/ (a pristine copy, not the tree)
#
# Exit status: 0 when the scan ran and every run's detection count was the same (the figures are reported, not
# enforced).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb=${BENCH_SIZE_MB:-256}
runs=${BENCH_RUNS:-5}
out=bench/out
python=${PYTHON:-.venv/bin/python}
monitor=${PGAUDIT_MONITOR:-.venv/bin/pgaudit-monitor}
mkdir -p "$out"

source_log=${DENSE_SOURCE:-}
if [[ -z $source_log ]]; then
    if [[ ! -d $out/regress-log ]]; then
        echo "== the source: PostgreSQL's regression subset run as audited humans (scripts/regress_diff.py)"
        "$python" scripts/regress_diff.py --vendored --keep-log "$out/regress-log" --quiet >/dev/null || true
    fi
    source_log=$(find "$out/regress-log" -name '*.log' -size +1k | sort | head -n 1)
fi
[[ -f $source_log ]] || { echo "run_dense.sh: no source log (DENSE_SOURCE)" >&2; exit 2; }

dense=$out/dense-${size_mb}mb.log
if [[ ! -f $dense || $source_log -nt $dense ]]; then
    "$python" bench/make_dense_log.py --source "$source_log" --size-mb "$size_mb" --output "$dense" >/dev/null
fi
records=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["audit_records"])' "$dense.dense.json")

env_prefix=()
if [[ -n ${BENCH_REV:-} ]]; then
    rev=$(git rev-parse --short "$BENCH_REV")
    copy=$out/rev-$rev
    if [[ ! -d $copy/src ]]; then
        mkdir -p "$copy"
        git archive "$rev" src | tar -x -C "$copy"
    fi
    env_prefix=(env "PYTHONPATH=$PWD/$copy/src")
fi

echo "== $dense: $records audit records"
"$python" bench/abtime.py --runs "$runs" \
    "${env_prefix[*]} $monitor scan --format json --service-accounts '*_svc' $dense >$out/dense.jsonl" \
    "grep -c 'AUDIT: ' $dense >$out/dense-grep.txt" | tee "$out/dense-times.txt"
wall=$(sed -n 's/^A: .*//;/^   wall/{s/.*median \([0-9.]*\)s.*/\1/p;q}' "$out/dense-times.txt")
"$python" - "$wall" "$records" <<'EOF'
import sys
wall, records = float(sys.argv[1]), int(sys.argv[2])
print(f"scan: {wall:.3f} s median for {records} audit records: {wall / records * 1e6:.2f} us per record")
EOF
