#!/usr/bin/env bash
# Do two builds of `sim` judge every seed alike? The check behind "same verdicts" in docs/RESULTS.md ("Speed").
#
#   scripts/same_verdicts.sh <old sim binary> <new sim binary> [--seeds A..B] [--jobs N]
#
# Sweeps every scenario of scenarios/ (the top level: the shipped ones) under each of the four strategies with both
# binaries, seeds 0..100 by default, and compares, cell by cell: the exit status, the printed output (byte for
# byte: it holds no wall-clock figure), and, seed by seed from the `--report` JSON lines, the verdict, the class, the
# findings and the trace hash. Prints one line per cell that differs and a summary; exit status 1 if any differs.
# Copy a binary out of target/ first (`cp target/release/sim /tmp/sim-old`) so a rebuild cannot replace it mid-run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '4,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
OLD="$1"; NEW="$2"; shift 2
SEEDS=0..100; JOBS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) SEEDS="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }; done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The parts of a report line that must agree: wall-clock figures (wall_ms, the end line's wall_s) and the header's
# build id differ between any two builds and are dropped.
judged() {
  [ -s "$1" ] || { echo "no report"; return; }
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "seed":
        print(r["seed"], r["verdict"], r["class"], json.dumps(r["findings"], sort_keys=True), r["trace_hash"], r["virtual_ms"])
    elif r["type"] == "end":
        print("end", r["ran"], r["planned"], r["stopped"])
' "$1"
}

cells=0; differ=0; seeds=0
for scn in scenarios/*.scn; do
  for strategy in local-only fire-and-forget commit-then-sleep read-index; do
    cells=$((cells + 1))
    for side in old new; do
      bin=$OLD; [ $side = new ] && bin=$NEW
      rc=0
      rm -f "$WORK/$side.jsonl"
      "$bin" sweep "$scn" --strategy "$strategy" --seeds "$SEEDS" --jobs "$JOBS" --report "$WORK/$side.jsonl" \
        >"$WORK/$side.out" 2>&1 || rc=$?
      echo "$rc" >"$WORK/$side.rc"
      # With several jobs the report's seed lines come in the order seeds finish: sorted, by seed.
      judged "$WORK/$side.jsonl" | sort -n >"$WORK/$side.judged"
    done
    what=""
    cmp -s "$WORK/old.rc" "$WORK/new.rc" || what+=" exit-status($(cat "$WORK/old.rc")->$(cat "$WORK/new.rc"))"
    cmp -s "$WORK/old.out" "$WORK/new.out" || what+=" output"
    cmp -s "$WORK/old.judged" "$WORK/new.judged" || what+=" seeds($(diff "$WORK/old.judged" "$WORK/new.judged" | grep -c '^<' || true) lines)"
    seeds=$((seeds + $(grep -c '^[0-9]' "$WORK/new.judged" || true)))
    if [ -n "$what" ]; then
      differ=$((differ + 1))
      echo "DIFFERS $scn $strategy:$what"
    fi
  done
done
echo "same-verdicts: cells=$cells seeds=$seeds differing-cells=$differ"
[ "$differ" -eq 0 ]
