#!/usr/bin/env bash
# sim real against the simulator: the same scenario files on real processes give the verdicts simulation gives.
# Usage: tests/interop/sim_real.sh path/to/real/sim path/to/simulation/sim
# Prints one line per check and "sim-real: N passed, M failed"; exits 1 if any check failed.
set -u
real=${1:?usage: sim_real.sh REAL_SIM SIM_SIM}
simulated=${2:?usage: sim_real.sh REAL_SIM SIM_SIM}
passed=0
failed=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then passed=$((passed + 1)); echo "ok   $1";
  else failed=$((failed + 1)); printf 'FAIL %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3"; fi
}
# The verdict and the violations that carry no time (times differ between a real run and a simulated one).
verdict() { grep -E '^verdict: |^  (KnownNodes|UnexpectedReply|MissingNode|NotConverged|Disagreement|SlotOwnedTwice|LostWrite) '; }

init=scenarios/aikv_cluster_init.scn
for s in read-index local-only; do
  r=$("$real" real "$init" --strategy "$s" --base-port 7500); rc=$?
  m=$("$simulated" replay "$init" --seed 0 --strategy "$s")
  check "sim real $init --strategy $s: same verdict and violations as simulation" "$(verdict <<<"$m")" "$(verdict <<<"$r")"
  check "sim real $init --strategy $s: exit status" "$([ "$s" == local-only ] && echo 1 || echo 0)" "$rc"
done
check "local-only on real processes: AiKv's known-node counts, each a safety violation" "n3 5/6 n4 4/6 n5 3/6 n6 2/6" \
  "$(sed -n 's/^  KnownNodes line [0-9]*: \(n[0-9]\) knows \([0-9]\/[0-9]\) nodes \[safety: .*\]$/\1 \2/p' <<<"$r" | paste -sd' ')"

kill=scenarios/kill_leader_during_addslots.scn
r=$("$real" real "$kill" --strategy read-index --base-port 7500); rc=$?
check "sim real $kill --strategy read-index (SIGKILL + restart from --dir) passes" "0 verdict: PASS" "$rc $(grep '^verdict' <<<"$r")"
check "... and its trace shows the real kill and restart" "2" "$(grep -cE 'fault +(kill|restart) n1$' <<<"$r")"

part=scenarios/partition_during_meet.scn
out=$("$real" real "$part" --strategy read-index --base-port 7500 2>&1); rc=$?
check "sim real $part: refused (exit 2), nothing run" "2" "$rc"
check "... naming every step that needs the simulator" "2" "$(grep -c 'unsupported in real mode: line [0-9]*: `\(partition\|heal\)' <<<"$out")"
check "no clustersim-node process left behind by any run" "0" "$(pgrep -c -f 'clustersim-node --port 75' || true)"

echo "sim-real: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
