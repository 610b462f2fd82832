#!/usr/bin/env bash
# Interop: the real clustersim-node binary on loopback, checked with the real redis-cli (Debian's redis-tools).
# Usage: tests/interop/redis_cli.sh path/to/clustersim-node [base-port]
# Every process it starts is stopped by pid on exit. Prints one line per check and a closing
# "interop: N passed, M failed" line; exits 1 if any check failed.
set -u
bin=${1:?usage: redis_cli.sh path/to/clustersim-node [base-port]}
base=${2:-7100}
pids=()
passed=0
failed=0
# The nodes' stderr, one file per port; kept (and named) only when a check failed.
logs=$(mktemp -d "${TMPDIR:-/tmp}/clustersim-interop.XXXXXX")
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$failed" -eq 0 ]; then rm -rf "$logs"; else echo "the nodes' logs: $logs"; fi
}
trap cleanup EXIT

check() { # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then passed=$((passed + 1)); echo "ok   $1";
  else failed=$((failed + 1)); printf 'FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3"; fi
}

start() { # start PORT [STRATEGY]
  "$bin" --port "$1" --strategy "${2:-local-only}" 2>>"$logs/$1.log" &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "FAIL node on port $1 did not start"; failed=$((failed + 1)); return 1
}

cli() { redis-cli -p "$@"; }

# --- One node: the basics -------------------------------------------------------------------------------
p=$base
start "$p" || exit 1
check "PING" "PONG" "$(cli $p PING)"
id=$(cli $p CLUSTER MYID)
check "CLUSTER MYID is 40 lowercase hex" "1" "$(echo "$id" | grep -cE '^[0-9a-f]{40}$')"
check "CLUSTER NODES of a fresh node" "$id :$p@$((p + 10000)) myself,master - 0 0 0 connected" "$(cli $p CLUSTER NODES)"
check "CLUSTER INFO of a fresh node" "cluster_state:fail" "$(cli $p CLUSTER INFO | head -1 | tr -d '\r')"
check "CLUSTER KEYSLOT foo" "12182" "$(cli $p CLUSTER KEYSLOT foo)"
check "CLUSTER KEYSLOT {user1000}.following" "3443" "$(cli $p CLUSTER KEYSLOT '{user1000}.following')"
check "GET before any slot is served" "CLUSTERDOWN Hash slot not served" "$(cli $p GET foo)"
check "CLUSTER ADDSLOTSRANGE 10 5" "ERR start slot number 10 is greater than end slot number 5" "$(cli $p CLUSTER ADDSLOTSRANGE 10 5)"
check "CLUSTER ADDSLOTSRANGE 0 16383" "OK" "$(cli $p CLUSTER ADDSLOTSRANGE 0 16383)"
check "CLUSTER ADDSLOTSRANGE again" "ERR Slot 0 is already busy" "$(cli $p CLUSTER ADDSLOTSRANGE 0 16383)"
check "CLUSTER INFO after full coverage" "cluster_state:ok" "$(cli $p CLUSTER INFO | head -1 | tr -d '\r')"
check "CLUSTER NODES lists the slots" "$id :$p@$((p + 10000)) myself,master - 0 0 0 connected 0-16383" "$(cli $p CLUSTER NODES)"
check "INFO says cluster_enabled:1" "cluster_enabled:1" "$(cli $p INFO | tr -d '\r' | grep '^cluster_enabled')"
check "-c SET" "OK" "$(cli $p -c SET foo bar)"
check "-c GET" "bar" "$(cli $p -c GET foo)"
check "CLUSTER FOOBAR" "ERR unknown subcommand 'FOOBAR'. Try CLUSTER HELP." "$(cli $p CLUSTER FOOBAR)"

# --- Two nodes: redis-cli -c follows MOVED ----------------------------------------------------------------
a=$((base + 1)); b=$((base + 2))
start "$a" && start "$b"
check "ADDSLOTSRANGE on A" "OK" "$(cli $a CLUSTER ADDSLOTSRANGE 0 8191)"
check "ADDSLOTSRANGE on B" "OK" "$(cli $b CLUSTER ADDSLOTSRANGE 8192 16383)"
check "MEET B from A (handshake over the bus brings B's slots)" "OK" "$(cli $a CLUSTER MEET 127.0.0.1 $b)"
check "plain GET foo on A is redirected" "MOVED 12182 127.0.0.1:$b" "$(cli $a GET foo)"
check "-c SET foo via A lands on B" "OK" "$(cli $a -c SET foo hello)"
check "-c GET foo via A" "hello" "$(cli $a -c GET foo)"
check "the key is on B" "1" "$(cli $b DBSIZE)"
check "bar is A's own slot" "OK" "$(cli $a -c SET bar x)"
check "A's DBSIZE" "1" "$(cli $a DBSIZE)"

# --- Six nodes, local-only, AiKv's cluster_init.sh MEET pattern -------------------------------------------
ports=(); for i in 0 1 2 3 4 5; do ports+=($((base + 10 + i))); done
for q in "${ports[@]}"; do start "$q"; done
ids=(); for q in "${ports[@]}"; do ids+=("$(cli $q CLUSTER MYID)"); done
f=${ports[0]}
for i in 1 2 3 4 5; do
  cli $f CLUSTER MEET 127.0.0.1 "${ports[$i]}" "${ids[$i]}" >/dev/null
  cli "${ports[$i]}" CLUSTER MEET 127.0.0.1 "$f" "${ids[0]}" >/dev/null
done
for i in 0 1 2 3 4 5; do for j in $(seq $((i + 1)) 5); do
  cli "${ports[$i]}" CLUSTER MEET 127.0.0.1 "${ports[$j]}" "${ids[$j]}" >/dev/null
done; done
counts=""; for q in "${ports[@]}"; do counts+="$(cli $q CLUSTER NODES | grep -cE '^[0-9a-f]{40}') "; done
check "local-only known-node counts after AiKv's MEET pattern" "6 6 5 4 3 2 " "$counts"

# --- Three nodes, read-index: MEET merges Raft groups; every node sees the same table -----------------------
rports=(); for i in 0 1 2; do rports+=($((base + 20 + i))); done
for q in "${rports[@]}"; do start "$q" read-index; done
r0=${rports[0]}; r1=${rports[1]}; r2=${rports[2]}
check "read-index: MEET two clusters of one" "OK" "$(cli $r0 CLUSTER MEET 127.0.0.1 $r1)"
check "read-index: MEET sent to the cluster of one" "OK" "$(cli $r2 CLUSTER MEET 127.0.0.1 $r0)"
check "read-index: ADDSLOTSRANGE on a follower" "OK" "$(cli $r1 CLUSTER ADDSLOTSRANGE 0 16383)"
rcounts=""; for q in "${rports[@]}"; do rcounts+="$(cli $q CLUSTER NODES | grep -cE '^[0-9a-f]{40}') "; done
check "read-index: every node knows 3 nodes" "3 3 3 " "$rcounts"
check "read-index: the slots are on every node" "3" \
  "$(for q in "${rports[@]}"; do cli $q CLUSTER NODES | grep -c ' 0-16383$'; done | awk '{s += $1} END {print s}')"

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
