#!/usr/bin/env bash
# Every test flavour, in order. This is the README's test command and what CI runs. Before them: redis-tools and
# redis-py installed when missing (below), so a fresh machine needs nothing else.
#   0. gates: rustfmt (rustfmt.toml: 120 columns), no function over 80 lines without a `// long:` reason
#      (scripts/long_fns.py); clippy with warnings as errors runs inside both flavours' test builds (below);
#   1. simulation flavour: plain `cargo test` (.cargo/config.toml adds --cfg madsim): unit, property and
#      simulated-network tests;
#   2. real flavour (empty RUSTFLAGS, its own target dir, unoptimized: scripts/real-unoptimized.toml; built
#      beside the simulation flavour's build, in the background): the unit and property tests on real tokio, the
#      redis crate's cluster client against real processes, and the real clustersim-node and sim binaries;
#   3. the battery: `sim check --budget 40s` (docs/CHECKERS.md, "The battery"); then sharded sweeps merged
#      against the unsharded run, and the deploy/ manifests' flags checked against `sim --help`
#      (tests/batch/shards.sh); the HTML timelines and compare matrix loaded in headless Chromium, their DOM checked
#      against the runs' text (tests/html/check_html.sh);
#   4. interop (with `sim real` running beside it, as it mostly waits): that binary on loopback, checked with the
#      real redis-cli (tests/interop/redis_cli.sh), then six durable read-index nodes created, used and restarted
#      by redis-cli --cluster and redis-py (tests/interop/cluster.sh); slots with keys moved by redis-cli --cluster
#      reshard / rebalance / fix / del-node while redis-py reads and writes (tests/interop/reshard.sh); scenario
#      files run by `sim real` on real processes, judged as in simulation, and against real Redis 7 (`--server
#      redis`) with its documented verdicts (tests/interop/sim_real.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no   # a changed snapshot fails the run; nothing is ever written
# No incremental compilation when building from nothing (CI's clean clone), where incremental's own bookkeeping
# cost 14 % (the workspace's crates, simulation flavour: 222 s -> 191 s of wall time, 422 s -> 369 s of CPU,
# 2026-12-05). With a build already there, it stays on: switching it off recompiles the workspace's crates.
if [ ! -d target/debug ] && [ ! -d target/real/debug ]; then export CARGO_INCREMENTAL=0; fi
# Each stage header shows the seconds since the start, so a slow CI run says where its time went.
stage() { echo "== [${SECONDS}s] $*"; }

# Set-up first, so a fresh machine learns before the builds whether it can run every stage: the interop stages
# need redis-cli (Debian's redis-tools), redis-server (Redis 7, for `sim real --server redis`) and redis-py; the
# HTML stage needs Debian's chromium.
# Installed here when missing and this shell can (root and apt-get / pip); otherwise the one command that does
# it is named and the run stops now.
if ! command -v redis-cli >/dev/null || ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== set-up: apt-get install redis-tools redis-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools redis-server >/dev/null
  else
    echo "redis-cli or redis-server is missing: run 'sudo apt-get install -y redis-tools redis-server'" \
      "(Debian/Ubuntu), then this again" >&2
    exit 1
  fi
fi
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== set-up: apt-get install chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: run 'sudo apt-get install -y chromium' (Debian), then this again" >&2
    exit 1
  fi
fi
if ! python3 -c 'import redis.cluster' 2>/dev/null; then
  echo "== set-up: pip install redis==8.1.0 (redis-py)"
  python3 -m pip install -q --root-user-action=ignore redis==8.1.0 || {
    echo "redis-py is missing and pip could not install it: run 'python3 -m pip install redis==8.1.0'" >&2
    exit 1
  }
fi

stage "gates: cargo fmt --check; functions over 80 lines"
cargo fmt --all --check
python3 scripts/long_fns.py
# Clippy, warnings as errors, runs inside the two test builds below: clippy-driver compiles the workspace's own
# crates (RUSTC_WORKSPACE_WRAPPER and CLIPPY_ARGS, what `cargo clippy` itself sets), dependencies compile with
# plain rustc. One build instead of a check build of every dependency plus a build (`cargo clippy` took 106-186 s
# of CI before), and both flavours are linted. Any warning cargo reports for a workspace crate fails the run
# too, should the driver ever ignore CLIPPY_ARGS.
clippy_driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver) || {
  echo "clippy-driver is missing: rustup component add clippy" >&2
  exit 1
}
export RUSTC_WORKSPACE_WRAPPER=$clippy_driver CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
no_warnings() {
  if grep -E "^warning: .* generated [0-9]+ warnings?" "$build_log"; then
    echo "warnings above: rustc and clippy warnings fail the run" >&2
    exit 1
  fi
}

# The real flavour: the whole workspace in one invocation, so both packages' dependencies resolve to one feature
# set and the binaries come out of it (sim's simulation tests are cfg(madsim) and compile empty here). `--tests`:
# no doctests, whose examples are the simulation's (rustdoc does not get the build's --cfg).
real=(env RUSTFLAGS= CARGO_TARGET_DIR=target/real cargo test --config scripts/real-unoptimized.toml --workspace --tests)
# Both flavours build at once: a build's tail is one crate at a time (sim's lib, its lib test, the node binary),
# which leaves the second core idle for minutes, and the unoptimized real build fills it. Its output is kept
# and shown after the simulation build, its warnings checked the same way.
real_log=$(mktemp)
real_build=
# Both target dirs exist before the two cargos start: from a clean clone each would create its own atomically
# (a temporary directory renamed into place), and the simulation build's `target` could replace the `target`
# the real build had just made to hold `target/real` (CI, 2026-12-05: "No such file or directory ... at path
# target/realR9xap8", exit 101).
mkdir -p target/real
trap '[ -n "$real_build" ] && kill "$real_build" 2>/dev/null; rm -f "$build_log" "$real_log"' EXIT
stage "both flavours' test builds at once, through clippy (-D warnings); the real one's output after"
"${real[@]}" --no-run >"$real_log" 2>&1 &
real_build=$!
cargo test --workspace --no-run 2>&1 | tee "$build_log"
no_warnings
real_rc=0
wait "$real_build" || real_rc=$?
real_build=
stage "real flavour's build (ran beside the simulation build), exit $real_rc"
cat "$real_log"
cp "$real_log" "$build_log"
[ "$real_rc" -eq 0 ] || { echo "the real flavour's build failed (above)" >&2; exit 1; }
no_warnings

stage "simulation flavour: cargo test --workspace"
cargo test --workspace

stage "real flavour: cargo test --workspace --tests (RUSTFLAGS empty, target/real, scripts/real-unoptimized.toml)"
"${real[@]}"
# The binaries the stages below run: cargo builds each package's binary for its integration tests and places it
# in target/<dir>/debug/ (a separate `cargo build` would resolve features without dev-dependencies and rebuild
# the node, ~4 min).
for bin in target/real/debug/clustersim-node target/real/debug/sim target/debug/sim; do
  [ -x "$bin" ] || { echo "$bin was not built by the test stages" >&2; exit 1; }
done

stage "battery: sim check (canary, regressions, every scenario under read-index on lan and swarm, fuzz)"
# A short budget here; the README gives the longer one to run in CI of your own. Built above (opt-level 2).
target/debug/sim check --budget 40s --require-probes scenarios/battery.probes

stage "batch: 4 shards merged = the unsharded sweep; compare shards; merge's refusals; --for; deploy/ manifests"
bash tests/batch/shards.sh target/debug/sim

stage "html: timelines and compare matrix in headless chromium"
bash tests/html/check_html.sh target/debug/sim

stage "interop: real binary + redis-cli; sim real (scenario files on real processes) beside it"
if ! command -v redis-cli >/dev/null; then
  echo "redis-cli is missing: apt-get install -y redis-tools (the set-up above does this)" >&2
  exit 1
fi
if ! python3 -c 'import redis.cluster' 2>/dev/null; then
  echo "redis-py is missing: python3 -m pip install redis==8.1.0 (the set-up above does this)" >&2
  exit 1
fi
# sim real mostly waits (its scenarios' steps take real seconds: ~49 s of wall time, ~4 s of CPU), so it runs
# beside the CPU-bound interop stages (other ports: 7500.. against 7000.., 7100.., 7400..); its output follows
# theirs.
sim_real_log=$(mktemp)
bash tests/interop/sim_real.sh target/real/debug/sim target/debug/sim >"$sim_real_log" 2>&1 &
sim_real=$!
interop_rc=0
bash tests/interop/redis_cli.sh target/real/debug/clustersim-node || interop_rc=1
bash tests/interop/cluster.sh target/real/debug/clustersim-node || interop_rc=1
stage "interop: redis-cli --cluster reshard / rebalance / fix / del-node, redis-py during the moves"
bash tests/interop/reshard.sh target/real/debug/clustersim-node || interop_rc=1

sim_real_rc=0
wait "$sim_real" || sim_real_rc=$?
stage "sim real: scenario files on real processes, verdicts as in simulation (ran beside interop)"
cat "$sim_real_log"
rm -f "$sim_real_log"
[ "$interop_rc" -eq 0 ] && [ "$sim_real_rc" -eq 0 ] || { echo "interop or sim real failed (above)" >&2; exit 1; }
stage "done"
