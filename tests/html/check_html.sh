#!/usr/bin/env bash
# The HTML pages of `sim replay --html` and `sim compare --html`, loaded in a real browser (headless Chromium), their
# DOM checked after the scripts ran: each page's script marks <body> when it has drawn (data-render="ok" and counts
# such as data-lanes, data-violation-marks, data-cells), and a guard installed before it turns any uncaught error
# into data-render="error: <message>"; so a script error, or a script that never finished, fails here. The counts
# are compared with what the same runs print as text. Also: no console message at all (errors, CSP refusals), the
# same run gives byte-identical pages, and a page whose script throws is caught.
#
# Usage: tests/html/check_html.sh <sim binary, simulation flavour> [--screenshot <png>]
#   --screenshot also writes the README's picture: the fire-and-forget stale-read timeline, 1400x900, its first
#   stale read selected (docs/timeline-stale-read.png).
# Needs chromium (Debian: apt-get install -y chromium). Prints one ok/FAIL line per check; exits 1 on any FAIL.
set -uo pipefail
cd "$(dirname "$0")/../.."

sim=${1:?usage: tests/html/check_html.sh <sim binary> [--screenshot <png>]}
screenshot=""
if [ "${2:-}" = "--screenshot" ]; then
  screenshot=${3:?--screenshot needs a file}
  case $screenshot in /*) ;; *) screenshot=$PWD/$screenshot ;; esac
fi
if ! command -v chromium >/dev/null; then
  echo "chromium is missing: apt-get install -y chromium (scripts/test.sh's set-up does this as root)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

check() { # check <description> <command...>: one ok/FAIL line
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi
}

# The DOM of a page after its scripts ran (virtual time lets timers finish), bounded to 60 s; its console
# messages go to <page>.console.
dom() {
  local page=$1
  timeout 60 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
    --virtual-time-budget=10000 --dump-dom "file://$page" 2>"$page.stderr" >"$page.dom"
  local rc=$?
  grep 'CONSOLE' "$page.stderr" >"$page.console" || true
  return $rc
}

body_of() { grep -o '<body[^>]*>' "$1.dom" | head -1; }
attr() { sed -n "s/.* $2=\"\([^\"]*\)\".*/\1/p" <<<"$1"; }
equal() { # equal <got> <want>
  [ "$1" = "$2" ] || { echo "     got '$1', want '$2'" >&2; return 1; }
}
no_console() {
  [ ! -s "$1.console" ] || { sed 's/^/     /' "$1.console" | head -5 >&2; return 1; }
}

# Counts from a replay's text output: violations (the lines under `verdict:`), nodes, bus sends.
violations_of() { awk '/^verdict:/ {on = 1; next} on && /^  / {n++; next} on {on = 0} END {print n + 0}' "$1"; }
lanes_of() { echo $(($(grep -c '^# final CLUSTER NODES of n' "$1") + 2)); }
sends_of() { grep -cE '^ *[0-9]+\.[0-9]+s n[0-9]+ +bus: send ' "$1"; }

# timeline <name> <expected exit code> <replay args...>
timeline() {
  local name=$1 want_rc=$2
  shift 2
  local page=$work/$name.html text=$work/$name.txt
  "$sim" replay "$@" --html "$page" >"$text"
  local rc=$?
  check "$name: replay exits $want_rc and names the page" \
    bash -c "[ $rc = $want_rc ] && grep -qx 'timeline: $page' '$text'"
  check "$name: loads in chromium within 60 s" dom "$page"
  local body
  body=$(body_of "$page")
  check "$name: the script drew (data-render=ok)" equal "$(attr "$body" data-render)" ok
  check "$name: a lane per node, the client and the checker ($(lanes_of "$text"))" \
    equal "$(attr "$body" data-lanes)" "$(lanes_of "$text")"
  check "$name: every violation marked ($(violations_of "$text"))" \
    equal "$(attr "$body" data-violation-marks)" "$(violations_of "$text")"
  check "$name: every violation listed" equal "$(grep -o '<tr data-mark=' "$page.dom" | wc -l)" "$(violations_of "$text")"
  check "$name: every bus send drawn ($(sends_of "$text"))" equal "$(attr "$body" data-messages)" "$(sends_of "$text")"
  check "$name: no console message" no_console "$page"
}

timeline stale-read 1 scenarios/meet_read_your_writes.scn --seed 0 --strategy fire-and-forget
stale=$(grep -c '^  StaleMembershipRead ' "$work/stale-read.txt")
check "stale-read: the run has stale reads ($stale), each listed as StaleMembershipRead" \
  bash -c "[ $stale -gt 0 ] && [ \$(grep -o '<td>StaleMembershipRead</td>' '$work/stale-read.html.dom' | wc -l) = $stale ]"
timeline init-read-index 0 scenarios/aikv_cluster_init.scn --seed 0 --strategy read-index

"$sim" replay scenarios/meet_read_your_writes.scn --seed 0 --strategy fire-and-forget --html "$work/again.html" >/dev/null
check "the same run gives byte-identical pages" cmp -s "$work/stale-read.html" "$work/again.html"

# The matrix: counts from the same compare's --json.
matrix=$work/matrix.html
"$sim" compare scenarios/meet_read_your_writes.scn --seeds 3 --html "$matrix" --json "$work/matrix.json" >/dev/null 2>&1
rc=$?
check "matrix: compare exits 0 and writes the page" bash -c "[ $rc = 0 ] && [ -s '$matrix' ]"
check "matrix: loads in chromium within 60 s" dom "$matrix"
body=$(body_of "$matrix")
cells=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cells"]))' "$work/matrix.json")
failing=$(python3 -c 'import json,sys; print(sum(c["failed"] > 0 for c in json.load(open(sys.argv[1]))["cells"]))' \
  "$work/matrix.json")
check "matrix: the script drew (data-render=ok)" equal "$(attr "$body" data-render)" ok
check "matrix: one cell per strategy and profile ($cells)" equal "$(attr "$body" data-cells)" "$cells"
check "matrix: failing cells ($failing) each give a replay command" \
  equal "$(grep -o 'title="replay the first failing seed: cargo run --release -p sim -- replay ' "$matrix.dom" | wc -l)" \
  "$failing"
check "matrix: no console message" no_console "$matrix"
for i in 0 1; do
  "$sim" compare scenarios/meet_read_your_writes.scn --seeds 3 --shard $i/2 --report "$work/shard-$i.jsonl" \
    >/dev/null 2>&1
done
"$sim" merge "$work/shard-0.jsonl" "$work/shard-1.jsonl" --html "$work/merged.html" >/dev/null
check "matrix: sim merge --html of 2 shards gives the same page byte for byte" cmp -s "$matrix" "$work/merged.html"

# The check itself: a page whose script throws must not pass. Corrupt the data block of a good page.
broken=$work/broken.html
sed 's|<script type="application/json" id="data">|&{oops|' "$work/stale-read.html" >"$broken"
dom "$broken"
check "a page whose script throws is reported (data-render=error: ...)" \
  bash -c "grep -o '<body[^>]*>' '$broken.dom' | head -1 | grep -q 'data-render=\"error: '"

if [ -n "$screenshot" ]; then
  # The first stale read's place in the violation list (0-based; worst class first, as the replay prints them).
  first=$(awk '/^verdict:/ {on = 1; next} on && /^  / {if ($1 == "StaleMembershipRead") {print n; exit} n++}' \
    "$work/stale-read.txt")
  rm -f "$screenshot"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=10000 \
    --window-size=1400,900 --screenshot="$screenshot" "file://$work/stale-read.html#mark=$first" 2>/dev/null
  check "screenshot written: $screenshot" test -s "$screenshot"
fi

if [ $failed = 0 ]; then echo "html: every check passed"; else echo "html: some check failed"; fi
exit $failed
