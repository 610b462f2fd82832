#!/usr/bin/env bash
# Sharded sweeps on one machine, as a fleet would run them, checked against the unsharded run:
#   - 4 concurrent processes with --shard I/4 and --report, merged by `sim merge`, print exactly what the
#     unsharded sweep prints, and their per-seed lines agree on verdicts and trace hashes;
#   - the batch variables (JOB_COMPLETION_INDEX with --shards; SLURM_ARRAY_TASK_ID/COUNT) pick the same shard;
#   - a compare in 2 shards merges to the unsharded matrix (text and --json), a fuzz run in 3 shards to the
#     unsharded fuzz run (first finding, shrunk file, counts, coverage);
#   - merge refuses a shard missing, a shard twice, and a report of another scenario;
#   - --for stops a long sweep and says so; --save-failures writes files that replay as failures;
#   - the deploy/ manifests parse and every sim flag they use is one `sim <command> --help` lists.
# Usage: tests/batch/shards.sh <simulation-flavour sim binary>
set -uo pipefail
sim=$(realpath "${1:?usage: shards.sh <sim binary>}")
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

scn=scenarios/meet_read_your_writes.scn
sweep=(sweep "$scn" --strategy fire-and-forget --seeds 0..240)

# 1. Unsharded, then 4 shards at once, merged.
"$sim" "${sweep[@]}" --jobs 2 --report "$work/one.jsonl" >"$work/one.txt" 2>"$work/one.err"
code_one=$?
pids=()
for i in 0 1 2 3; do
  "$sim" "${sweep[@]}" --shard "$i/4" --report "$work/shard-$i.jsonl" >"$work/shard-$i.txt" 2>"$work/shard-$i.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$sim" merge "$work"/shard-{3,1,0,2}.jsonl >"$work/merged.txt" 2>"$work/merge.err"
code_merged=$?
check "4 merged shards print exactly what the unsharded sweep prints ($(grep -c '^seed ' "$work/one.txt") failing seeds listed)" \
  cmp -s "$work/one.txt" "$work/merged.txt"
check "merge exits as the unsharded sweep does ($code_one)" test "$code_one" = "$code_merged"
grep -q '^sweep: file=scenarios/meet_read_your_writes.scn strategy=fire-and-forget seeds=240 ' "$work/merged.txt" ||
  fail "the merged summary line counts 240 seeds: $(grep '^sweep:' "$work/merged.txt")"
seed_table() { # seed verdict class trace_hash, sorted by seed, from report files
  python3 - "$@" <<'PY'
import json, sys
rows = []
for path in sys.argv[1:]:
    for line in open(path):
        d = json.loads(line)
        if d["type"] == "seed":
            rows.append((d["seed"], d["verdict"], d["class"], d["trace_hash"]))
for r in sorted(rows):
    print(*r)
PY
}
seed_table "$work/one.jsonl" >"$work/one.seeds"
seed_table "$work"/shard-*.jsonl >"$work/shards.seeds"
check "the shards' 240 per-seed lines agree with the unsharded run's on verdict, class and trace hash" \
  bash -c "cmp -s '$work/one.seeds' '$work/shards.seeds' && [ \$(wc -l <'$work/one.seeds') = 240 ]"

# 2. The batch variables name the same shards as --shard.
JOB_COMPLETION_INDEX=2 "$sim" "${sweep[@]}" --shards 4 --report "$work/k8s.jsonl" >/dev/null 2>&1
check "JOB_COMPLETION_INDEX=2 with --shards 4 runs shard 2/4's seeds" \
  cmp -s <(seed_table "$work/k8s.jsonl") <(seed_table "$work/shard-2.jsonl")
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_COUNT=4 \
  "$sim" "${sweep[@]}" --report "$work/slurm.jsonl" >/dev/null 2>&1
check "SLURM_ARRAY_TASK_ID=4 (min 3, count 4) runs shard 1/4's seeds" \
  cmp -s <(seed_table "$work/slurm.jsonl") <(seed_table "$work/shard-1.jsonl")
JOB_COMPLETION_INDEX=1 "$sim" "${sweep[@]}" >/dev/null 2>"$work/nocount.err"
check "JOB_COMPLETION_INDEX without --shards stops with exit 2 and says what to pass" \
  bash -c "[ $? = 2 ] && grep -q -- '--shards N' '$work/nocount.err'"

# 3. A compare in two shards.
cmp_args=(compare "$scn" --seeds 4 --jobs 1)
"$sim" "${cmp_args[@]}" --json "$work/cmp-one.json" >"$work/cmp-one.txt" 2>/dev/null
for i in 0 1; do "$sim" "${cmp_args[@]}" --shard "$i/2" --report "$work/cmp-$i.jsonl" >/dev/null 2>&1; done
"$sim" merge "$work"/cmp-{1,0}.jsonl --json "$work/cmp-merged.json" >"$work/cmp-merged.txt" 2>/dev/null
check "a compare's 2 merged shards print the unsharded matrix ($(grep -c . "$work/cmp-one.txt") lines)" \
  cmp -s "$work/cmp-one.txt" "$work/cmp-merged.txt"
check "and write the same --json" cmp -s "$work/cmp-one.json" "$work/cmp-merged.json"

# 3b. Fuzz in 3 shards: the same cases are generated everywhere, each shard runs every third; merged, they
# print the unsharded run (its first finding, shrunk, and the counts up to it).
fuzz=(fuzz --cases 30 --strategy fire-and-forget)
"$sim" "${fuzz[@]}" --out "$work/fz" >"$work/fuzz-one.txt" 2>/dev/null
for i in 0 1 2; do
  "$sim" "${fuzz[@]}" --out "$work/fz" --shard "$i/3" --report "$work/fuzz-$i.jsonl" >/dev/null 2>&1
done
"$sim" merge "$work"/fuzz-{2,0,1}.jsonl >"$work/fuzz-merged.txt" 2>/dev/null
check "a fuzz run's 3 merged shards print the unsharded run ($(grep '^fuzz:' "$work/fuzz-one.txt" | cut -d' ' -f2-7))" \
  cmp -s "$work/fuzz-one.txt" "$work/fuzz-merged.txt"
"$sim" fuzz --cases 4 --strategy read-index >"$work/fuzz-ri.txt" 2>/dev/null
for i in 0 1; do
  "$sim" fuzz --cases 4 --strategy read-index --shard "$i/2" --report "$work/fuzz-ri-$i.jsonl" >/dev/null 2>&1
done
"$sim" merge "$work"/fuzz-ri-{0,1}.jsonl >"$work/fuzz-ri-merged.txt" 2>/dev/null
check "and a fuzz run that finds nothing too ($(grep '^fuzz:' "$work/fuzz-ri.txt" | cut -d' ' -f2-))" \
  cmp -s "$work/fuzz-ri.txt" "$work/fuzz-ri-merged.txt"

# 4. What merge refuses.
"$sim" merge "$work"/shard-{0,1,2}.jsonl >/dev/null 2>"$work/r1.err"
check "merge refuses a missing shard (exit 2, names 3/4)" bash -c "[ $? = 2 ] && grep -q 'shards missing: 3/4' '$work/r1.err'"
"$sim" merge "$work"/shard-{0,1,2,3,2}.jsonl >/dev/null 2>"$work/r2.err"
check "merge refuses a shard given twice" bash -c "[ $? = 2 ] && grep -q 'are both shard 2/4' '$work/r2.err'"
"$sim" sweep scenarios/partition_during_meet.scn --strategy fire-and-forget --seeds 0..240 --shard 3/4 \
  --report "$work/other.jsonl" >/dev/null 2>&1
"$sim" merge "$work"/shard-{0,1,2}.jsonl "$work/other.jsonl" >/dev/null 2>"$work/r3.err"
check "merge refuses a report of another scenario" bash -c "[ $? = 2 ] && grep -q 'not shards of one run: scenario' '$work/r3.err'"
"$sim" merge --partial "$work"/shard-{0,1,2}.jsonl >"$work/partial.txt" 2>"$work/partial.err"
check "merge --partial merges what is there (180 seeds) and notes the missing shard" \
  bash -c "grep -q ' seeds=180 ' '$work/partial.txt' && grep -q 'shards missing: 3/4' '$work/partial.err'"

# 5. --for and --save-failures.
"$sim" sweep "$scn" --strategy read-index --seeds 0..1000000 --for 2s --report "$work/for.jsonl" >"$work/for.txt" 2>&1
code_for=$?
check "--for 2s stops a million-seed sweep, says how many ran, exits 0 when every seed that ran passed" \
  bash -c "[ $code_for = 0 ] && grep -q '^stopped: --for 2s reached after [0-9]* of 1000000 seeds' '$work/for.txt' &&
    tail -n 1 '$work/for.jsonl' | grep -q '\"stopped\":\"--for 2s\"'"
"$sim" sweep "$scn" --strategy fire-and-forget --seeds 0..3 --save-failures "$work/failures" >"$work/save.txt" 2>&1
saved=$(ls "$work/failures" 2>/dev/null | head -n 1)
check "--save-failures writes one file per failing seed ($(ls "$work/failures" 2>/dev/null | wc -l) of 3)" \
  test "$(ls "$work/failures" 2>/dev/null | wc -l)" = "$(grep -c '^seed ' "$work/save.txt")"
if [ -n "$saved" ]; then
  replay=$(grep '^# replay: ' "$work/failures/$saved" | sed 's/^# replay: cargo run --release -p sim -- //')
  # shellcheck disable=SC2086
  "$sim" $replay >"$work/saved-replay.txt" 2>&1
  code_saved=$?
  check "a saved file replays, with the command in its header, as a failure ($saved)" \
    bash -c "[ $code_saved = 1 ] && grep -q '^verdict: FAIL (safety' '$work/saved-replay.txt'"
fi

# 6. The manifests parse and name only flags sim has.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore pyyaml==6.0.3 >/dev/null
python3 - "$sim" "$root" <<'PY'
import re, shlex, subprocess, sys, yaml
sim, root = sys.argv[1], sys.argv[2]
helps = {}
def help_of(command):
    if command not in helps:
        helps[command] = subprocess.run([sim, command, "--help"], capture_output=True, text=True).stdout
    return helps[command]
failures = 0
def check_command(where, text):
    global failures
    for m in re.finditer(r"\bsim (sweep|merge|compare|replay|fuzz)\b([^;|&]*)", text):
        command, rest = m.group(1), m.group(2)
        flags = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest)
        missing = [f for f in flags if not re.search(r"(?m)^\s+(-\w, )?" + re.escape(f) + r"\b", help_of(command))]
        print(("FAIL " if missing else "ok   ") + f"{where}: sim {command} {' '.join(sorted(set(flags)))}"
              + (f" -- not in sim {command} --help: {missing}" if missing else ""))
        failures += bool(missing)
def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
for path in ["deploy/k8s/sweep-job.yaml", "deploy/k8s/merge-job.yaml", "deploy/k8s/reports-pvc.yaml",
             "deploy/github/sweep.yml"]:
    docs = list(yaml.safe_load_all(open(f"{root}/{path}")))
    kinds = [d.get("kind", "workflow") for d in docs if d]
    print(f"ok   {path} parses: {', '.join(kinds)}")
    for d in docs:
        for s in strings(d):
            check_command(path, s.replace("bin/sim ", "sim "))
job = yaml.safe_load(open(f"{root}/deploy/k8s/sweep-job.yaml"))
args = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
shards = re.search(r"--shards (\d+)", args)
same = job["spec"]["completionMode"] == "Indexed" and shards and int(shards.group(1)) == job["spec"]["completions"]
print(("ok   " if same else "FAIL ") + "the Indexed Job's completions equal its --shards")
failures += not same
docker = open(f"{root}/deploy/Dockerfile").read()
built = "cargo build --release --locked -p sim --bin sim" in docker and "/src/target/release/sim" in docker
print(("ok   " if built else "FAIL ") + "the Dockerfile builds and copies the release sim binary")
failures += not built
sys.exit(1 if failures else 0)
PY
[ $? = 0 ] || failures=$((failures + 1))

if [ "$failures" = 0 ]; then echo "shards: all checks passed"; else echo "shards: $failures check(s) failed"; exit 1; fi
