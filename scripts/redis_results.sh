#!/usr/bin/env bash
# The scenario files against real Redis 7 (docs/RESULTS.md, "Real Redis 7"): every shipped scenario that real mode
# accepts, RUNS times each (default 20), in two forms: the file as shipped, and its Redis-MEET form (each
# `CLUSTER MEET {nK.ip} {nK.port} {nK.id}` without the id: AiKv's third MEET argument is, to Redis 7, a bus port,
# and it answers "ERR Invalid TCP bus port specified: <id>"). Four runs at a time on their own ports.
#
#   scripts/redis_results.sh [RUNS] [SIM]     (SIM: a real-flavour sim binary; default target/real/debug/sim)
#
# Prints one line per scenario and form: runs, passes, the verdicts seen (count x verdict line), the violation
# kinds seen with their classes, the first failing scenario line seen most often, and the mean wall time.
# Per-run outputs stay in target/redis-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
SIM=${2:-target/real/debug/sim}
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install -y redis-server" >&2; exit 2; }
[ -x "$SIM" ] || { echo "$SIM is missing: RUSTFLAGS= CARGO_TARGET_DIR=target/real cargo build -p sim" >&2; exit 2; }
OUT=target/redis-results
rm -rf "$OUT" && mkdir -p "$OUT/variants"

files=()
refused=()
for f in scenarios/*.scn; do
  name=$(basename "$f" .scn)
  # Real mode refuses simulator-only faults before anything starts (the bogus --server is judged only after).
  probe=$("$SIM" real "$f" --server none 2>&1 || true)
  if grep -q 'unsupported in real mode' <<<"$probe"; then
    refused+=("$f")
    continue
  fi
  files+=("$f")
  sed -E 's/(CLUSTER MEET \{n[0-9]+\.ip\} \{n[0-9]+\.port\}) \{n[0-9]+\.id\}/\1/' "$f" > "$OUT/variants/$name.redis-meet.scn"
done

run_one() { # run_one FILE INDEX SLOT
  local file=$1 i=$2 port=$((7600 + 20 * $3)) log
  log="$OUT/$(basename "$file" .scn).$i.out"
  "$SIM" real "$file" --server redis --base-port "$port" >"$log" 2>&1 || true
}

jobs_list=()
for f in "${files[@]}"; do
  name=$(basename "$f" .scn)
  for form in "$f" "$OUT/variants/$name.redis-meet.scn"; do
    grep -q 'CLUSTER MEET {n[0-9]*.ip} {n[0-9]*.port} {n' "$f" || [ "$form" = "$f" ] || continue
    for i in $(seq 1 "$RUNS"); do jobs_list+=("$form $i"); done
  done
done
# Four workers, each on its own ports, each running its share of the runs one after another.
for slot in 0 1 2 3; do
  (
    k=0
    for job in "${jobs_list[@]}"; do
      [ $((k % 4)) -eq "$slot" ] && run_one $job "$slot"
      k=$((k + 1))
    done
  ) &
done
wait

summarize() { # summarize FILE
  local base outs
  base=$(basename "$1" .scn)
  outs=("$OUT/$base".[0-9]*.out)
  local n pass verdicts kinds first wall
  n=${#outs[@]}
  pass=$(cat "${outs[@]}" | grep -c '^verdict: PASS' || true)
  verdicts=$( (grep -h '^verdict:' "${outs[@]}" || echo 'verdict: none (no run reached a verdict)') | sed -E 's/[0-9]+ (safety|liveness|availability)/N \1/g' | sort | uniq -c | sed -E 's/^ *([0-9]+) verdict: /\1x /' | paste -sd';' -)
  kinds=$( (grep -hE '^  [A-Z][A-Za-z]+ line [0-9]+' "${outs[@]}" || true) | sed -E 's/^  ([A-Za-z]+) .*\[([a-z]+)[]:].*$/\1 (\2)/' \
    | sort | uniq -c | sort -rn | awk '{ c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", " }')
  first=$(for o in "${outs[@]}"; do grep -m1 -oE '^  [A-Za-z]+ line [0-9]+' "$o" || true; done | sed 's/^  //' | sort | uniq -c | sort -rn | head -1 | awk '{ print $2, $3, $4 }' || true)
  wall=$( (grep -h '^wall:' "${outs[@]}" || true) | sed 's/wall: //; s/s$//' | awk '{ s += $1 } END { if (NR) printf "%.1f", s / NR }')
  echo "$1: runs=$n passed=$pass verdicts=[$verdicts] kinds=[${kinds:-none}] first=[${first:-none}] wall=${wall}s"
}
for f in "${files[@]}"; do
  summarize "$f"
  v="$OUT/variants/$(basename "$f" .scn).redis-meet.scn"
  grep -q 'CLUSTER MEET {n[0-9]*.ip} {n[0-9]*.port} {n' "$f" && summarize "$v"
done
for f in "${refused[@]}"; do echo "$f: refused by real mode (simulator-only faults)"; done
echo "redis-server processes left: $(pgrep -c -x redis-server || true)"
