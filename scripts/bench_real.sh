#!/usr/bin/env bash
# Headline speed figure: one scenario on real processes (sim real) vs. in simulation (sim replay, one seed),
# per strategy, measured in the same run on the same machine.
# Usage: scripts/bench_real.sh [scenario] [seed]     (builds both flavours first, debug profile for both)
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-scenarios/aikv_cluster_init.scn}
seed=${2:-0}
cargo build -q -p sim --bin sim
RUSTFLAGS= CARGO_TARGET_DIR=target/real cargo build -q -p clustersim --bin clustersim-node -p sim --bin sim
set +e   # a FAIL verdict is a result here, not an error
secs() { date +%s.%N; }
printf '%-18s %-9s %12s %-9s %12s %10s\n' strategy "real" "real wall s" "sim" "sim wall s" "real/sim"
for s in local-only fire-and-forget commit-then-sleep read-index; do
  t0=$(secs); real_verdict=$(target/real/debug/sim real "$file" --strategy "$s" --base-port 7400 | sed -n 's/^verdict: \([A-Z]*\).*/\1/p'); t1=$(secs)
  sim_verdict=$(target/debug/sim replay "$file" --seed "$seed" --strategy "$s" | sed -n 's/^verdict: \([A-Z]*\).*/\1/p'); t2=$(secs)
  awk -v s="$s" -v rv="$real_verdict" -v sv="$sim_verdict" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
    'BEGIN { r = t1 - t0; m = t2 - t1; printf "%-18s %-9s %12.3f %-9s %12.3f %9.1fx\n", s, rv, r, sv, m, r / m }'
done
