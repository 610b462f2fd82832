#!/usr/bin/env bash
# Bug-finding power: applies each planted bug of tests/mutants/*.patch to a scratch copy of the tree, builds the
# harness in release on it, runs the harness command, and records whether the mutant was caught.
#
#   scripts/mutants.sh [--only NN[,NN...]] [--cmd '...'] [--budget SECONDS]
#
# --only   run only these mutants (their number prefix; 00 is the baseline: no patch)
# --cmd    the harness command (one command per line; see HARNESS_CMD below)
# --budget wall seconds of harness time per mutant (default 180); a mutant not caught within it survived
#
# Per mutant: caught or survived, the wall seconds from the start of the harness command to the end of the first
# command that failed (exit code other than 0 and other than a timeout), and the violation line that caught it.
# Prints a markdown table at the end (also written to target/mutants/results.md). Always exits 0: this is a
# measurement, not a gate. The baseline 00-none (no patch) must survive: anything else is a false alarm.
#
# How: one scratch `git worktree` (target/mutants/tree, detached at this tree's HEAD; committed code only) reused
# across mutants (`git checkout -- . && git apply P`), and one shared CARGO_TARGET_DIR (target/mutants/target,
# seeded once from target/release if it exists), so only the two workspace crates rebuild per mutant. Everything
# runs under `nice -n 10` with one job: the machine is shared.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$ROOT/target/mutants"
TREE="$WORK/tree"
export CARGO_TARGET_DIR="$WORK/target"
# Incremental release builds: between two mutants only the node changes, so most of sim's codegen is reused.
export CARGO_PROFILE_RELEASE_INCREMENTAL=true
BUDGET=180
ONLY=""

# The harness command: one command per line, run in order from the scratch tree with the mutant's `sim` first on
# PATH, stopping at the first that fails. $SEEDS and $FUZZ_CASES are expanded when it runs. Default: the CI
# battery, `sim check --budget <BUDGET>s --fail-fast` (docs/CHECKERS.md, "The battery"). `--cmd legacy` runs the
# older per-command battery below (every scenario under read-index on lan, then under --swarm, then a fuzz run).
SEEDS="${SEEDS:-0..20}"
FUZZ_CASES="${FUZZ_CASES:-150}"
battery() {
    local f
    for f in scenarios/*.scn; do
        echo "sim sweep $f --strategy read-index --seeds \$SEEDS --jobs 1"
    done
    for f in scenarios/*.scn; do
        echo "sim sweep $f --strategy read-index --swarm --seeds \$SEEDS --jobs 1"
    done
    echo "sim fuzz --strategy read-index --cases \$FUZZ_CASES --shrink-iters 0 --out $WORK/fuzz-out"
}
HARNESS_CMD=""

while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY="$2"; shift 2 ;;
        --cmd) HARNESS_CMD="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

mkdir -p "$WORK"
if [ ! -d "$TREE" ]; then
    git -C "$ROOT" worktree add -q --detach "$TREE" HEAD
fi
git -C "$TREE" checkout -q --detach "$(git -C "$ROOT" rev-parse HEAD)"
git -C "$TREE" checkout -q -- .
if [ ! -d "$CARGO_TARGET_DIR/release" ] && [ -d "$ROOT/target/release" ]; then
    echo "seeding $CARGO_TARGET_DIR from target/release (compiled dependencies)"
    mkdir -p "$CARGO_TARGET_DIR"
    cp -r "$ROOT/target/release" "$CARGO_TARGET_DIR/release"
fi
if [ "$HARNESS_CMD" = legacy ]; then
    HARNESS_CMD="$(cd "$TREE" && battery)"
elif [ -z "$HARNESS_CMD" ]; then
    # The check's own budget leaves a margin inside the script's, so the check ends (and reports) by itself.
    HARNESS_CMD="sim check --budget $(( BUDGET > 20 ? BUDGET - 10 : BUDGET ))s --jobs 2 --fail-fast"
fi

mutants=("00-none")
for p in "$ROOT"/tests/mutants/*.patch; do
    mutants+=("$(basename "$p" .patch)")
done

selected() {
    [ -z "$ONLY" ] && return 0
    local n
    for n in ${ONLY//,/ }; do
        [ "${1%%-*}" = "$n" ] && return 0
    done
    return 1
}

# Runs HARNESS_CMD line by line within BUDGET; sets VERDICT, SECONDS_TO_FAIL, CAUGHT_BY, VIOLATION.
run_harness() {
    local start now left line rc out
    VERDICT="survived"; SECONDS_TO_FAIL="-"; CAUGHT_BY="-"; VIOLATION="-"
    start=$(date +%s.%N)
    out="$WORK/last-output.txt"
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        now=$(date +%s.%N)
        left=$(awk -v b="$BUDGET" -v s="$start" -v n="$now" 'BEGIN { l = b - (n - s); print (l > 0 ? int(l) : 0) }')
        if [ "$left" -le 0 ]; then
            VIOLATION="(budget of ${BUDGET}s used up)"
            return
        fi
        line="${line//\$SEEDS/$SEEDS}"
        line="${line//\$FUZZ_CASES/$FUZZ_CASES}"
        (cd "$TREE" && PATH="$CARGO_TARGET_DIR/release:$PATH" timeout "$left" nice -n 10 bash -c "$line") \
            >"$out" 2>&1
        rc=$?
        if [ "$rc" -eq 124 ]; then
            VIOLATION="(budget of ${BUDGET}s used up during: $line)"
            return
        fi
        if [ "$rc" -ne 0 ]; then
            VERDICT="caught"
            SECONDS_TO_FAIL=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
            CAUGHT_BY="$line"
            VIOLATION="$(grep -m1 -E '\[(safety|liveness|availability)|panic' "$out" || tail -n1 "$out")"
            VIOLATION="${VIOLATION%% | replay:*}"
            VIOLATION="${VIOLATION:0:220}"
            return
        fi
    done <<<"$HARNESS_CMD"
}

ROWS=()
for m in "${mutants[@]}"; do
    selected "$m" || continue
    echo "== $m"
    git -C "$TREE" checkout -q -- .
    if [ "$m" != "00-none" ] && ! git -C "$TREE" apply "$ROOT/tests/mutants/$m.patch"; then
        ROWS+=("| $m | patch does not apply | - | - | - |")
        continue
    fi
    build_start=$(date +%s)
    if ! (cd "$TREE" && nice -n 10 cargo build --release -p sim >"$WORK/build-$m.log" 2>&1); then
        ROWS+=("| $m | build failed (target/mutants/build-$m.log) | - | - | - |")
        continue
    fi
    build_s=$(( $(date +%s) - build_start ))
    run_harness
    echo "   $VERDICT ${SECONDS_TO_FAIL}s (build ${build_s}s) $VIOLATION"
    ROWS+=("| $m | $VERDICT | $SECONDS_TO_FAIL | \`${CAUGHT_BY//|/\\|}\` | ${VIOLATION//|/\\|} |")
done
git -C "$TREE" checkout -q -- .

{
    echo "| mutant | verdict | seconds to first failure | command that failed | violation |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee "$WORK/results.md"
exit 0
