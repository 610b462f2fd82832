#!/usr/bin/env bash
# sim real against the simulator: the same scenario files on real processes give the verdicts simulation gives.
# Usage: tests/interop/sim_real.sh path/to/real/sim path/to/simulation/sim
# Prints one line per check and "sim-real: N passed, M failed"; exits 1 if any check failed.
set -u
real=${1:?usage: sim_real.sh REAL_SIM SIM_SIM}
simulated=${2:?usage: sim_real.sh REAL_SIM SIM_SIM}
passed=0
failed=0
# `sim real` keeps the work directory of a failing run (the nodes' logs) for whoever debugs it; several runs here
# fail on purpose. They write under a directory of this script's own, removed at the end.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/sim-real-test.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then passed=$((passed + 1)); echo "ok   $1";
  else failed=$((failed + 1)); printf 'FAIL %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3"; fi
}
# The verdict and the violations that carry no time (times differ between a real run and a simulated one).
verdict() { grep -E '^verdict: |^  (KnownNodes|UnexpectedReply|MissingNode|NotConverged|Disagreement|SlotOwnedTwice|LostWrite) '; }

init=scenarios/aikv_cluster_init.scn
meet=scenarios/meet_read_your_writes.scn
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

# The same files against real Redis 7 (--server redis): a server nobody here wrote. AiKv's init script fails the
# same way on every run: Redis reads MEET's third argument (AiKv's node id) as a bus port and refuses every MEET
# ("ERR Invalid TCP bus port specified"), so each node knows only itself. redis-cli's create sequence is accepted,
# and gossip then shows what the read-your-writes contract forbids: reads that miss acknowledged metadata writes
# (docs/RESULTS.md, "Real Redis 7"), a safety failure on every run so far; which stale reads appear varies.
if command -v redis-server >/dev/null; then
  r=$("$real" real "$init" --server redis --base-port 7500); rc=$?
  check "sim real $init --server redis: every MEET refused, each node knows itself only (exit 1)" \
    "1 verdict: FAIL (liveness; 9 liveness) n1 1/6 n2 1/6 n3 1/6 n4 1/6 n5 1/6 n6 1/6" \
    "$rc $(grep '^verdict' <<<"$r") $(sed -n 's/^  KnownNodes line [0-9]*: \(n[0-9]\) knows \([0-9]\/[0-9]\) nodes .*$/\1 \2/p' <<<"$r" | paste -sd' ')"
  check "... with Redis's own answer to AiKv's MEET form" "25" "$(grep -c 'ERR Invalid TCP bus port specified' <<<"$r")"
  create=scenarios/redis_cli_create.scn
  r=$("$real" real "$create" --server redis --base-port 7500); rc=$?
  check "sim real $create --server redis: a verdict, and it is a safety failure (exit 1)" "1 safety" \
    "$rc $(sed -n 's/^verdict: FAIL (\([a-z]*\);.*/\1/p' <<<"$r")"
  check "... found by the linearizable-reads checkers (stale reads of acknowledged writes)" "yes" \
    "$(grep -qE '^  Stale(Membership|Slot|Replica)Read ' <<<"$r" && echo yes || echo no)"
  check "... ids learned from the servers (CLUSTER MYID)" "6" \
    "$(grep '^# ids (CLUSTER MYID): ' <<<"$r" | grep -oE 'n[0-9]=[0-9a-f]{40}' | sort -u | wc -l)"
  out=$("$real" real "$create" --server 'false --port {port}' --base-port 7500 2>&1); rc=$?
  check "a server that exits at start: exit 2, naming the node, its command line and its log" "2 yes" \
    "$rc $(grep -q 'n1 exited at start.*command: false --port 7500; .*n1.log' <<<"$out" && echo yes || echo no)"
  listen="python3 -c 'import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port})); s.listen(); time.sleep(60)'"
  out=$("$real" real "$meet" --server "$listen" --base-port 7500 2>&1); rc=$?
  check "a server that listens but never answers: exit 2 within the start-up bound, naming the node" "2 yes" \
    "$rc $(grep -q 'n1 at 127.0.0.1:7500 did not answer CLUSTER MYID within 10s' <<<"$out" && echo yes || echo no)"
  check "no redis-server or stand-in process left behind by any run" "0" \
    "$(pgrep -c -f 'redis-server 127.0.0.1:75|socket.socket' || true)"
else
  failed=$((failed + 1)); echo "FAIL redis-server is missing: apt-get install -y redis-server (scripts/test.sh does this)"
fi

echo "sim-real: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
