#!/usr/bin/env bash
# Interop: redis-cli's cluster toolbox moves slots, with keys in them, between real clustersim-node processes
# (read-index, the default strategy), while redis-py keeps writing and reading keys through the moves.
#   1. six durable nodes (--port and --dir), made a cluster by --cluster create (1 replica each); 200 keys
#      written by redis-cli -c;
#   2. redis-py RedisCluster (tests/interop/reshard_load.py) writes and reads its own 100 keys for the whole run;
#   3. --cluster add-node, then --cluster reshard of 100 slots (with keys) from the first master to the new node;
#   4. --cluster rebalance (the new node at weight 0.1): it ends with its share of the slots;
#   5. an open slot (MIGRATING on its owner, IMPORTING on another master) is closed by --cluster fix;
#   6. the new node is emptied (rebalance --cluster-weight <id>=0) and removed by --cluster del-node;
#   7. --cluster info's key counts sum to every key written; the 200 keys read back; redis-py saw no error.
# After each step: exit 0 and a clean --cluster check (all nodes agree, no open slot, all slots covered).
# Usage: tests/interop/reshard.sh path/to/clustersim-node [base-port]   (ports base..base+6 and +10000)
# Prints one line per check and a closing "interop-reshard: N passed, M failed" line; exits 1 if any failed.
set -u
bin=${1:?usage: reshard.sh path/to/clustersim-node [base-port]}
base=${2:-7400}
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d "${TMPDIR:-/tmp}/clustersim-reshard.XXXXXX")
declare -A pid
passed=0
failed=0
load_pid=
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/  /'; }
check() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected: $2"$'\n'"actual:   $3"; fi; }
plain() { sed 's/\x1b\[[0-9;]*m//g'; }

start() { # start PORT: a durable node (its own --dir: every table it applies goes through the data file)
  "$bin" --port "$1" --dir "$data/$1" 2>>"$data/$1.log" &
  pid[$1]=$!
  for _ in $(seq 1 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "node on port $1 did not start" "$(tail -5 "$data/$1.log")"; return 1
}

clean_check() { # clean_check NAME: --cluster check exits 0 with both [OK] lines and no open slot
  local out rc
  out=$(redis-cli --cluster check "127.0.0.1:$base" 2>&1 | plain); rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ] && grep -qx '\[OK\] All nodes agree about slots configuration.' <<<"$out" \
     && grep -qx '\[OK\] All 16384 slots covered.' <<<"$out" && ! grep -q 'slots are open' <<<"$out"; then
    ok "$1"
  else
    fail "$1" "$(grep -E 'ERR|WARN|OK' <<<"$out")"
  fi
}

tool() { # tool NAME ARGS...: a redis-cli --cluster command, exit 0 within 5 minutes
  local name=$1; shift
  local out rc
  out=$(timeout 300 redis-cli --cluster "$@" 2>&1 | plain); rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then ok "$name (exit 0)"; else fail "$name (exit $rc)" "$(grep -v '^Moving slot\|^#' <<<"$out" | tail -8)"; fi
}

myid() { redis-cli -p "$1" CLUSTER MYID; }

ports=(); for i in 0 1 2 3 4 5 6; do ports+=($((base + i))); done
for q in "${ports[@]}"; do start "$q" || exit 1; done
new=${ports[6]}

# --- 1. create, 200 keys ----------------------------------------------------------------------------------
addrs=(); for q in "${ports[@]:0:6}"; do addrs+=("127.0.0.1:$q"); done
tool "--cluster create, 3 masters + 3 replicas" create "${addrs[@]}" --cluster-replicas 1 --cluster-yes
clean_check "--cluster check after create"
# Half of them in slots 0-99, the ones the reshard below moves (redis-cli takes the source's lowest slots).
python3 "$here/reshard_load.py" --names cli 200 >"$data/keys"
while read -r key; do redis-cli -c -p "$base" SET "$key" "v:$key" >/dev/null; done <"$data/keys"

# --- 2. redis-py load for the whole run -------------------------------------------------------------------
python3 "$here/reshard_load.py" "$base" "$data/stop" 100 >"$data/load.out" 2>&1 &
load_pid=$!
sleep 1

# --- 3. add-node, reshard 100 slots with keys ------------------------------------------------------------
tool "--cluster add-node" add-node "127.0.0.1:$new" "127.0.0.1:$base"
from=$(myid "$base"); to=$(myid "$new")
moved_keys=$(for s in $(seq 0 99); do redis-cli -p "$base" CLUSTER COUNTKEYSINSLOT "$s"; done | awk '{s+=$1} END {print s}')
tool "--cluster reshard 100 slots ($moved_keys keys in them) to the new node" reshard "127.0.0.1:$base" \
  --cluster-from "$from" --cluster-to "$to" --cluster-slots 100 --cluster-yes
clean_check "--cluster check after reshard"
check "the new node serves the 100 slots and their keys" "100 $moved_keys" \
  "$(redis-cli -p "$new" CLUSTER NODES | grep myself | awk '{n=0; for (i=9;i<=NF;i++) {split($i,r,"-"); n+=(r[2]==""?1:r[2]-r[1]+1)}; print n}') $(redis-cli -p "$new" DBSIZE)"

# --- 4. rebalance ----------------------------------------------------------------------------------------
# The new node at a tenth of the others' weight (16384 x 0.1 / 3.1 = 528 slots): a real rebalance that moves
# ~430 slots, not ~4,000 (each move is several durable Raft writes; CI has 2 cores).
tool "--cluster rebalance (new node's weight 0.1)" rebalance "127.0.0.1:$base" --cluster-weight "$to=0.1"
clean_check "--cluster check after rebalance"
served=$(redis-cli -p "$new" CLUSTER NODES | grep myself | awk '{n=0; for (i=9;i<=NF;i++) {split($i,r,"-"); n+=(r[2]==""?1:r[2]-r[1]+1)}; print n}')
check "the new node serves its share (528 slots, +-2%)" "yes" "$([ "$served" -ge 518 ] && [ "$served" -le 539 ] && echo yes || echo "no: $served")"

# --- 5. an open slot, fixed ------------------------------------------------------------------------------
slot=$(redis-cli -p "$base" CLUSTER NODES | grep myself | awk '{print $9}' | cut -d- -f1)
other=$(myid $((base + 1)))
redis-cli -p $((base + 1)) CLUSTER SETSLOT "$slot" IMPORTING "$(myid "$base")" >/dev/null
redis-cli -p "$base" CLUSTER SETSLOT "$slot" MIGRATING "$other" >/dev/null
out=$(redis-cli --cluster check "127.0.0.1:$base" 2>&1 | plain)
check "--cluster check sees the open slot" "[WARNING] The following slots are open: $slot." \
  "$(grep 'slots are open' <<<"$out")"
tool "--cluster fix of the open slot" fix "127.0.0.1:$base"
clean_check "--cluster check after fix"

# --- 6. empty the new node, del-node ---------------------------------------------------------------------
tool "--cluster rebalance with the new node's weight 0" rebalance "127.0.0.1:$base" --cluster-weight "$to=0"
tool "--cluster del-node of the emptied node" del-node "127.0.0.1:$base" "$to"
clean_check "--cluster check after del-node"
check "six nodes listed, the deleted one on none" "6 0" \
  "$(redis-cli -p "$base" CLUSTER NODES | wc -l) $(for q in "${ports[@]:0:6}"; do redis-cli -p "$q" CLUSTER NODES; done | grep -c "$to")"

# --- 7. keys -----------------------------------------------------------------------------------------------
touch "$data/stop"
wait "$load_pid"; rc=$?; load_pid=
if [ "$rc" -eq 0 ]; then ok "$(sed 's/^ok   //' "$data/load.out")"; else fail "redis-py load" "$(cat "$data/load.out")"; fi
total=$(redis-cli --cluster info "127.0.0.1:$base" | plain | grep -o '[0-9]* keys |' | awk '{s+=$1} END {print s}')
check "--cluster info key counts sum to every key written" "300" "$total"
bad=0
while read -r key; do [ "$(redis-cli -c -p "$base" GET "$key")" == "v:$key" ] || bad=$((bad + 1)); done <"$data/keys"
check "redis-cli's 200 keys read back" "0 wrong" "$bad wrong"

echo "interop-reshard: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
