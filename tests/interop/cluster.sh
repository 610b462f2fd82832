#!/usr/bin/env bash
# Interop, six durable read-index nodes: clients nobody here wrote create and use a cluster of real
# clustersim-node processes, which then survive kill -9 and restart from their data directories.
#   1. redis-cli --cluster create (3 masters, 1 replica each), then redis-cli --cluster check;
#   2. redis-cli -c SET/GET of a key in each master's slots, sent to a replica, follows MOVED;
#   3. redis-py RedisCluster, RESP3 and RESP2, 1,000 keys each (tests/interop/redis_py.py);
#   4. kill -9 a Raft follower, then the Raft leader; each restarts from its --dir with its metadata intact
#      and --cluster check is OK again;
#   5. a truncated data file is refused at start, naming the file and byte;
#   6. six nodes started with nothing but --port (a newcomer's first cluster: default strategy, no --dir) are
#      made a cluster by redis-cli --cluster create, and --cluster check is clean.
# Usage: tests/interop/cluster.sh path/to/clustersim-node [base-port]   (ports base..base+5 and +10000)
# Every process it starts is stopped by pid on exit. Prints one line per check and a closing
# "interop-cluster: N passed, M failed" line; exits 1 if any check failed.
set -u
bin=${1:?usage: cluster.sh path/to/clustersim-node [base-port]}
base=${2:-7000}
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d "${TMPDIR:-/tmp}/clustersim-cluster.XXXXXX")
declare -A pid
passed=0
failed=0
cleanup() { for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/  /'; }
check() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected: $2"$'\n'"actual:   $3"; fi; }
plain() { sed 's/\x1b\[[0-9;]*m//g'; }   # redis-cli colours its --cluster output

start() { # start PORT: a durable read-index node on its own data directory
  "$bin" --port "$1" --dir "$data/$1" 2>>"$data/$1.log" &   # no --strategy: read-index is the default
  pid[$1]=$!
  for _ in $(seq 1 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "node on port $1 did not start" "$(tail -5 "$data/$1.log")"; return 1
}

cluster_check() { # cluster_check NAME: --cluster check passes both [OK] lines, retried for up to 15 s
  local out rc
  for _ in $(seq 1 60); do
    out=$(redis-cli --cluster check "127.0.0.1:$base" 2>&1 | plain); rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ] && grep -qx '\[OK\] All nodes agree about slots configuration.' <<<"$out" \
       && grep -qx '\[OK\] All 16384 slots covered.' <<<"$out"; then ok "$1"; return 0; fi
    sleep 0.25
  done
  fail "$1" "$out"
}

nodes_table() { # the table a node shows, without its own myself flag
  redis-cli -p "$1" CLUSTER NODES | sed 's/myself,//' | sort
}

raft_role() { redis-cli -p "$1" INFO 2>/dev/null | tr -d '\r' | sed -n 's/^clustersim_raft_role://p'; }

ports=(); for i in 0 1 2 3 4 5; do ports+=($((base + i))); done
for q in "${ports[@]}"; do start "$q" || exit 1; done

# --- 1. redis-cli --cluster create / check ------------------------------------------------------------------
addrs=(); for q in "${ports[@]}"; do addrs+=("127.0.0.1:$q"); done
out=$(timeout 120 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1 | plain)
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ]; then ok "redis-cli --cluster create, 6 nodes, --cluster-replicas 1"; else fail "redis-cli --cluster create exited $rc" "$out"; fi
cluster_check "redis-cli --cluster check: all nodes agree, all 16384 slots covered"

# --- 2. redis-cli -c follows MOVED to each master -----------------------------------------------------------
# master_of SLOT: the port of the master serving SLOT, from the first node's table.
master_of() {
  redis-cli -p "$base" CLUSTER NODES | awk -v s="$1" '$3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-");
    if (r[2] == "") r[2] = r[1]; if (s >= r[1] && s <= r[2]) { split($2, a, "[:@]"); print a[2] } } }'
}
replica=$(redis-cli -p "$base" CLUSTER NODES | awk '$3 ~ /slave/ { split($2, a, "[:@]"); print a[2]; exit }')
seen=""
for key in b c a foo bar baz; do   # slots 3300, 7365, 15495, 12182, 5061, 4813: every master's range
  slot=$(redis-cli -p "$base" CLUSTER KEYSLOT "$key")
  m=$(master_of "$slot")
  check "-c SET $key (slot $slot) sent to replica $replica" "OK" "$(redis-cli -c -p "$replica" SET "$key" "v-$key")"
  check "-c GET $key from every node" "v-$key v-$key v-$key v-$key v-$key v-$key " \
    "$(for q in "${ports[@]}"; do printf '%s ' "$(redis-cli -c -p "$q" GET "$key")"; done)"
  check "$key is stored on its master $m (plain GET, no redirect)" "v-$key" "$(redis-cli -p "$m" GET "$key")"
  seen+="$m"$'\n'
done
check "the keys covered all three masters" "3" "$(sort -u <<<"$seen" | grep -c .)"

# --- 3. redis-py RedisCluster, RESP3 and RESP2 --------------------------------------------------------------
if out=$(python3 "$here/redis_py.py" "$base" 1000 2>&1); then
  while IFS= read -r line; do ok "${line#ok   }"; done <<<"$out"
else
  fail "redis-py RedisCluster" "$out"
fi

# --- 4. kill -9 and restart from --dir ----------------------------------------------------------------------
# wait_leader: until every node names the same Raft leader; prints that leader's port.
leader_port() {
  for _ in $(seq 1 60); do
    for q in "${ports[@]}"; do [ "$(raft_role "$q")" == leader ] && { echo "$q"; return 0; }; done
    sleep 0.25
  done
  return 1
}
restart_check() { # restart_check PORT WHAT
  local q=$1 before after id
  before=$(nodes_table "$q")
  id=$(redis-cli -p "$q" CLUSTER MYID)
  kill -9 "${pid[$q]}"; wait "${pid[$q]}" 2>/dev/null
  start "$q" || return 1
  cluster_check "kill -9 the $2 ($q), restart from its --dir: --cluster check OK"
  for _ in $(seq 1 40); do after=$(nodes_table "$q" 2>/dev/null); [ "$after" == "$before" ] && break; sleep 0.25; done
  check "the restarted $2 ($q) shows the metadata it had" "$before" "$after"
  check "the restarted $2 ($q) is the node it was (same CLUSTER MYID)" "$id" "$(redis-cli -p "$q" CLUSTER MYID)"
}
if leader=$(leader_port); then
  follower=""; for q in "${ports[@]}"; do [ "$(raft_role "$q")" == follower ] && { follower=$q; break; }; done
  restart_check "$follower" "Raft follower"
  leader=$(leader_port) && restart_check "$leader" "Raft leader"
  check "a leader again after the leader's restart" "1" "$(leader_port >/dev/null && echo 1)"
  check "-c GET after the restarts" "OK v-fresh" "$(redis-cli -c -p "$base" SET fresh v-fresh) $(redis-cli -c -p "$replica" GET fresh)"
else
  fail "no Raft leader among the six nodes"
fi

# --- 5. a damaged data file is refused at start -------------------------------------------------------------
victim=${ports[5]}
cp -r "$data/$victim" "$data/damaged"
size=$(stat -c %s "$data/damaged/raft.journal")
truncate -s $((size - 3)) "$data/damaged/raft.journal"
out=$(timeout 10 "$bin" --port $((base + 50)) --dir "$data/damaged" 2>&1); rc=$?
check "a truncated data file: the node exits 1" "1" "$rc"
check "... and names the file, the byte and why" "1" \
  "$(grep -cE "^clustersim-node: refusing to start: .*/damaged/raft.journal: corrupt at byte [0-9]+ \(record [0-9]+\): truncated" <<<"$out")"

# --- 6. six nodes with only --port ----------------------------------------------------------------------------
bare=(); for i in 0 1 2 3 4 5; do bare+=($((base + 60 + i))); done
for q in "${bare[@]}"; do
  "$bin" --port "$q" 2>>"$data/bare-$q.log" &
  pid[$q]=$!
done
for q in "${bare[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$q" PING >/dev/null 2>&1 && break; sleep 0.05; done
done
addrs=(); for q in "${bare[@]}"; do addrs+=("127.0.0.1:$q"); done
out=$(timeout 60 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1 | plain)
check "six nodes started with only --port: redis-cli --cluster create exits 0" "0" "${PIPESTATUS[0]}"
out=$(redis-cli --cluster check "127.0.0.1:${bare[0]}" 2>&1 | plain); rc=${PIPESTATUS[0]}
check "... and --cluster check is clean (exit 0, both [OK] lines)" "0 2" \
  "$rc $(grep -cxE '\[OK\] (All nodes agree about slots configuration.|All 16384 slots covered.)' <<<"$out")"

echo "interop-cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
