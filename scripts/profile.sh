#!/usr/bin/env bash
# Noise-free cost of one seed: instructions counted by valgrind's callgrind, not wall time.
#
#   scripts/profile.sh <scenario.scn> <strategy> [--seeds N] [--top K] [--profile P]
#
# Builds `sim` in release (the sweep build), then runs `sim sweep <scenario> --strategy <strategy> --jobs 1` under
# callgrind twice: on seed 0 alone and on seeds 0..N+1 (default N = 4). The difference divided by N is the
# *marginal* cost of a seed: process start-up, argument parsing and the first seed's one-time work (lazy statics,
# allocator growth) cancel out. Prints that figure, both totals, and the K (default 15) functions with the most
# exclusive instructions in the longer run (callgrind_annotate), so a change can be judged by its instruction
# count without this machine's timing noise. Needs valgrind (`apt-get install -y valgrind`).
#
# Output files: target/profile/<scenario>-<strategy>-{1,N}.callgrind (open them in kcachegrind for more).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
SCENARIO="$1"; STRATEGY="$2"; shift 2
SEEDS=4; TOP=15; PROFILE=lan
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) SEEDS="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[ -f "$SCENARIO" ] || { echo "no such scenario file: $SCENARIO" >&2; exit 2; }
[[ "$SEEDS" =~ ^[1-9][0-9]*$ ]] || { echo "--seeds wants a positive number, found '$SEEDS'" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 2; }

cargo build --release -p sim --quiet
SIM=target/release/sim
OUT=target/profile
mkdir -p "$OUT"
NAME="$(basename "$SCENARIO" .scn)-$STRATEGY"

# Instructions (Ir) of one `sim sweep` under callgrind over seeds 0..$1.
count() {
  local seeds="$1" file="$OUT/$NAME-$1.callgrind"
  valgrind --tool=callgrind --callgrind-out-file="$file" \
    "$SIM" sweep "$SCENARIO" --strategy "$STRATEGY" --profile "$PROFILE" --seeds "0..$seeds" --jobs 1 \
    >"$OUT/$NAME-$seeds.log" 2>"$OUT/$NAME-$seeds.valgrind.log" || true
  grep -q '^sweep:' "$OUT/$NAME-$seeds.log" || {
    echo "sim sweep did not finish under valgrind; see $OUT/$NAME-$seeds.log and $OUT/$NAME-$seeds.valgrind.log" >&2
    exit 1
  }
  awk '/^summary:/ { print $2 }' "$file"
}

ONE=$(count 1)
MANY=$(count $((SEEDS + 1)))
awk -v one="$ONE" -v many="$MANY" -v n="$SEEDS" -v s="$SCENARIO" -v st="$STRATEGY" -v p="$PROFILE" 'BEGIN {
  printf "profile: scenario=%s strategy=%s profile=%s\n", s, st, p
  printf "instructions: seed 0 alone %.1f M; seeds 0..%d %.1f M\n", one / 1e6, n + 1, many / 1e6
  printf "instructions per seed (marginal, seeds 1..%d): %.1f M\n", n, (many - one) / n / 1e6
}'
grep '^sweep:' "$OUT/$NAME-$((SEEDS + 1)).log"
echo "top $TOP functions by exclusive instructions (seeds 0..$((SEEDS + 1))):"
callgrind_annotate --threshold=100 "$OUT/$NAME-$((SEEDS + 1)).callgrind" 2>/dev/null \
  | awk 'listing && NF > 0 && !/^-+$/; /file:function/ { listing = 1 }' | head -n "$TOP" \
  | sed -E 's/ \[[^]]*\]$//' | cut -c1-160
