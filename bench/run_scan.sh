#!/usr/bin/env bash
# The scan benchmark: how fast `pgaudit-monitor scan` reads a large Aurora log, next to `grep -c` on the same
# file, whether its memory stays flat as the file grows, and whether it finds exactly what is in the log.
#
#   bash bench/run_scan.sh                  # 1024 MiB and 250 MiB logs in bench/out/ (built once, then reused)
#   BENCH_RUNS=10 bash bench/run_scan.sh    # more timed pairs
#   BENCH_MEMORY_SIZES="100 500 2048" bash bench/run_scan.sh   # peak memory on more sizes too
#   BENCH_REV=HEAD~1 bash bench/run_scan.sh   # measure another commit's src/ (a pristine copy, not the tree)
#
# grep is the yardstick because it is the least any log scan must do: read every byte once. The logs are
# synthetic but realistic and deterministic (bench/make_log.py), and the generator writes down how many
# detections they hold, so a faster scan that finds less fails here. Needs GNU time (apt-get install -y time).
# Exit status: 0 when the detection count is right (the speed and memory figures are reported, not enforced).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb=${BENCH_SIZE_MB:-1024}
small_mb=${BENCH_SMALL_MB:-250}
runs=${BENCH_RUNS:-5}
target_ratio=${BENCH_TARGET_RATIO:-3}
out=bench/out
python=${PYTHON:-.venv/bin/python}
monitor=${PGAUDIT_MONITOR:-.venv/bin/pgaudit-monitor}
service_accounts=app_svc  # the generator's audited service account (bench/make_log.py SERVICE_ACCOUNT)

[[ -x $python ]] || python=$(command -v python3)
[[ -x $monitor ]] || monitor=$(command -v pgaudit-monitor)
if [[ ! -x /usr/bin/time ]]; then
    echo "run_scan.sh: needs GNU time for peak memory: apt-get install -y time" >&2
    exit 2
fi

log_path() { printf '%s/pgaudit-%smb.log' "$out" "$1"; }

# Build a log and its .expected.json, unless one made with the same size, seed and generator is there already.
ensure_log() {
    local log
    log=$(log_path "$1")
    echo "== log of $1 MiB: $log (built unless an identical one is there)"
    "$python" bench/make_log.py --reuse --size-mb "$1" --output "$log" >/dev/null
}

# One figure from a log's .expected.json.
expected() {
    "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1.expected.json" "$2"
}

# The scan as benchmarked, printing JSON lines on stdout. Exit 1 only means "detections found".
scan() {
    local rc=0
    "$monitor" scan --format json --service-accounts "$service_accounts" "$1" || rc=$?
    if ((rc > 1)); then
        echo "run_scan.sh: scan of $1 failed with exit status $rc" >&2
        return "$rc"
    fi
}

# Peak resident memory of one scan, in KiB, from GNU time's own report.
max_rss_kib() {
    local report=$out/time-$2mb.txt rc=0
    /usr/bin/time -v "$monitor" scan --format json --service-accounts "$service_accounts" "$1" \
        >/dev/null 2>"$report" || rc=$?
    if ((rc > 1)); then
        echo "run_scan.sh: scan of $1 failed with exit status $rc (see $report)" >&2
        return "$rc"
    fi
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$report"
}

mkdir -p "$out"
# What is measured: the working tree, or with BENCH_REV a pristine copy of that revision's src/ (put first on
# PYTHONPATH), so that edits made during a run, or a comparison of two commits, cannot blur the figures.
if [[ -n ${BENCH_REV:-} ]]; then
    rev=$(git rev-parse --short "$BENCH_REV")
    if [[ ! -d $out/rev-$rev/src ]]; then
        mkdir -p "$out/rev-$rev"
        git archive "$rev" src | tar -x -C "$out/rev-$rev"
    fi
    export PYTHONPATH="$PWD/$out/rev-$rev/src${PYTHONPATH:+:$PYTHONPATH}"
    measured="$rev (pristine copy of its src/)"
    measured_src=$out/rev-$rev/src
else
    measured="$(git rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree)"
    if [[ -n $(git status --porcelain -- src 2>/dev/null) ]]; then
        measured+=" with uncommitted changes in src/"
    fi
    measured_src=src
fi
# Its bytecode, as an installed package has it (PYTHONDONTWRITEBYTECODE would otherwise recompile each start).
"$python" -m compileall -q "$measured_src" >/dev/null
# Peak memory is measured on both logs, and on any extra sizes (MiB) given in BENCH_MEMORY_SIZES.
read -r -a extra_sizes <<<"${BENCH_MEMORY_SIZES:-}"
mapfile -t memory_sizes < <(printf '%s\n' "$small_mb" "$size_mb" "${extra_sizes[@]}" | sort -n -u)
for mb in "${memory_sizes[@]}"; do
    ensure_log "$mb"
done
big=$(log_path "$size_mb")
small=$(log_path "$small_mb")
cat "$big" "$small" >/dev/null # warm the page cache: both commands read from memory, not from the disk

echo "== machine"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
echo "python: $("$python" -c 'import sys; print(sys.version.split()[0])'), pglast: $("$python" -c 'import pglast; print(pglast.__version__)')"
echo "pgaudit-monitor: $measured"
echo "log: $big, $(stat -c %s "$big") bytes, $(expected "$big" entries) entries," \
    "$(expected "$big" audit_records) AUDIT records"

echo "== detection count ($big)"
detections=$out/scan-${size_mb}mb.jsonl
scan "$big" >"$detections"
got_total=$(wc -l <"$detections")
got_app=$(grep -cE '"category": ?"app-dml"' "$detections" || true)
want_total=$(expected "$big" expected_detections_total)
want_app=$(expected "$big" expected_app_dml)
echo "app-dml: $got_app found, $want_app expected; all detections: $got_total found, $want_total expected"
count_ok=yes
if [[ $got_total != "$want_total" || $got_app != "$want_app" ]]; then
    count_ok=no
fi

echo "== time: scan (A) against grep -c (B), $runs alternated pairs after one warm-up pair"
printf -v command_a '%q ' "$monitor" scan --format json --service-accounts "$service_accounts" "$big"
printf -v command_b '%q ' grep -c 'AUDIT:' "$big"
# grep's count goes to a file: GNU grep stops at the first match when its output is /dev/null.
timing=$("$python" bench/abtime.py --runs "$runs" "$command_a>/dev/null" "$command_b>$out/grep-count.txt")
echo "$timing"
ratio=$(sed -n 's/^ratio_median=//p' <<<"$timing")

echo "== peak memory (GNU time, maximum resident set size)"
for mb in "${memory_sizes[@]}"; do
    rss=$(max_rss_kib "$(log_path "$mb")" "$mb")
    echo "${mb} MiB log: $((rss / 1024)) MiB ($rss KiB)"
    if [[ $mb == "$size_mb" ]]; then rss_big=$rss; fi
    if [[ $mb == "$small_mb" ]]; then rss_small=$rss; fi
done

echo "== summary"
verdict() { if [[ $1 == 1 ]]; then echo "within target"; else echo "OVER TARGET"; fi; }
echo "scan / grep (median of pairs): ${ratio}x, target ${target_ratio}x: $(verdict "$(awk -v r="$ratio" -v t="$target_ratio" 'BEGIN { print (r <= t) }')")"
# Flat: the peak grows by less than 2 MiB per GiB of log (start-up, caches and buffers are a constant).
slope=$(awk -v a="$rss_big" -v b="$rss_small" -v x="$size_mb" -v y="$small_mb" \
    'BEGIN { printf "%.1f", (a - b) / 1024 / ((x - y) / 1024) }')
echo "peak memory ${size_mb} MiB / ${small_mb} MiB: $(awk -v a="$rss_big" -v b="$rss_small" 'BEGIN { printf "%.2f", a / b }')x," \
    "${slope} MiB more per GiB of log; flat (under 2 MiB per GiB): $(verdict "$(awk -v s="$slope" 'BEGIN { print (s < 2) }')")"
if [[ $count_ok == yes ]]; then
    echo "detection count: OK ($got_total)"
else
    echo "detection count: WRONG (found $got_total, app-dml $got_app; expected $want_total, app-dml $want_app)"
    exit 1
fi
