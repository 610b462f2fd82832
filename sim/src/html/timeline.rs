//! `sim replay --html`: the timeline of one run as one self-contained page.
//!
//! Lanes, top to bottom: the client, one per node (`n1`…), and the checker. What the page draws, all taken from
//! the [`Outcome`]:
//! - client calls (the history) as spans from start to end on the client lane, joined to the node that served
//!   them, with their replies;
//! - bus messages (the trace's `bus: send <kind> to <ip>:<port>` and `bus: recv <kind> from <ip|<nK>>` lines) as
//!   arrows between node lanes: each send paired with the first unpaired recv of the same (from, to, kind), in
//!   order (FIFO); a send never received is drawn as lost, and so is every send still unpaired when its receiver
//!   is killed or restarted (its connection died with the process). A send across a partition or a clog is held
//!   by the simulated network and delivered after the heal, so its arrow is long, not lost;
//! - each node's Raft role, term, leader and applied index (the trace's `raft: role=…` lines) as a coloured strip;
//! - fault windows as shaded bands (the nodes a fault names shaded darker), the fault steps and kills as ticks;
//! - every violation (the findings) where it happened: at the time the checker logged it (`check VIOLATION …`),
//!   else at the reply of the call it judged, on the lane of the node it names, with its property, class, rule
//!   and scenario line, and the calls it concerns (the read it judged; for a stale read or a lost write, the
//!   acknowledged write as well, which the page brackets when the violation is selected);
//! - any other trace line (node start, MEET merges, settle, workloads) as a dot on its lane.
//!
//! Times are whole microseconds of virtual time.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use clustersim::resp::Reply;
use serde::Serialize;

use super::{escape_html, header_row, page};
use crate::check::Violation;
use crate::hosts::{normalize, Host};
use crate::outcome::Outcome;

/// The page's script.
pub(crate) const SCRIPT: &str = include_str!("timeline.js");

/// What the page's script reads (field names are short: a 64-node cluster's timeline holds tens of thousands of
/// items).
#[derive(Serialize, Default)]
struct Data {
    /// Virtual time the view spans at first, µs.
    end: u64,
    /// Lane names: `client`, `n1`…`nN`, `check`.
    lanes: Vec<String>,
    /// Bus message kinds in order of first appearance, with how many sends of each.
    kinds: Vec<KindCount>,
    calls: Vec<Call>,
    msgs: Vec<Msg>,
    raft: Vec<RaftState>,
    events: Vec<Event>,
    windows: Vec<Window>,
    /// The fault trace lines (`fault   kill n1`), with the nodes they name.
    faults: Vec<Event>,
    marks: Vec<Mark>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
struct KindCount {
    name: String,
    count: usize,
}

/// One call of the history.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Call {
    /// The serving node's lane.
    n: usize,
    /// Scenario line (0: the harness's own reads).
    l: usize,
    s: u64,
    e: u64,
    /// Command and reply as shown (ids as `<nK>`).
    c: String,
    r: String,
    err: bool,
    /// A background workload's call.
    w: bool,
    /// A harness poll (settle, wait-consistent), not in the trace.
    q: bool,
}

/// A bus message: `s` and `x` the send (none for a recv with no send before it), `r` and `y` the recv (none: lost).
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Msg {
    /// Index into `kinds`.
    k: usize,
    /// From and to lanes.
    f: usize,
    t: usize,
    s: Option<u64>,
    r: Option<u64>,
    x: String,
    y: String,
}

/// A `raft: role=… term=… leader=… applied=…` line: the node's state from `t` on.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct RaftState {
    n: usize,
    t: u64,
    role: String,
    term: String,
    leader: String,
    applied: String,
    x: String,
}

/// Any other trace line, on lane `n` (for fault lines: the nodes it names, `nodes`).
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Event {
    n: usize,
    t: u64,
    x: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<usize>,
}

/// A fault window, the node lanes its opening fault names (none: every node) and its kills.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Window {
    s: u64,
    e: u64,
    by: String,
    nodes: Vec<usize>,
    kills: Vec<Event>,
}

/// A violation where it happened.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Mark {
    t: u64,
    n: usize,
    class: String,
    property: String,
    kind: String,
    line: usize,
    /// The finding as the text report prints it, the violation alone, the rule that classed it.
    x: String,
    v: String,
    rule: String,
    /// The calls it concerns (indexes into `calls`): the one it judged, then the acknowledged write it says was
    /// missed or lost.
    calls: Vec<usize>,
    /// When that write's OK came back.
    ack: Option<u64>,
}

/// One trace line taken apart: `   0.008s n1      bus: send hello to 10.0.0.2:16380`.
struct Line<'a> {
    t: u64,
    who: &'a str,
    text: &'a str,
}

fn parse_line(raw: &str) -> Option<Line<'_>> {
    let (stamp, rest) = raw.trim_start().split_once("s ")?;
    let (secs, millis) = stamp.split_once('.')?;
    let t = secs.parse::<u64>().ok()? * 1_000_000 + millis.parse::<u64>().ok()? * 1_000;
    let rest = rest.trim_start();
    let (who, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(Line { t, who, text: text.trim_start() })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Node numbers a text names as `nK` words (`partition n1,n2 n3`, `clog n1->n2`), within `1..=nodes`, in order.
fn nodes_named(text: &str, nodes: usize) -> Vec<usize> {
    let mut named = Vec::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let Some(k) = word.strip_prefix('n').and_then(|d| d.parse::<usize>().ok()) else { continue };
        if (1..=nodes).contains(&k) && !named.contains(&k) {
            named.push(k);
        }
    }
    named
}

/// A reply as the page shows it: bulk text as itself (CLUSTER NODES keeps its lines), anything else as the trace
/// shows it; ids as `<nK>`.
fn reply_text(reply: &Reply, hosts: &[Host]) -> String {
    match reply {
        Reply::Bulk(b) => normalize(&String::from_utf8_lossy(b), hosts),
        other => normalize(&crate::client::show_reply(other), hosts),
    }
}

/// Builds [`Data`] from an outcome, one trace line at a time.
struct Builder<'o> {
    outcome: &'o Outcome,
    data: Data,
    /// Unpaired sends per (from lane, to lane, kind): indexes into `data.msgs`, oldest first.
    pending: BTreeMap<(usize, usize, usize), VecDeque<usize>>,
    /// The checker's `VIOLATION <text>` lines: (time, text), each used by one mark at most.
    violation_lines: Vec<(u64, String, bool)>,
}

impl<'o> Builder<'o> {
    fn new(outcome: &'o Outcome) -> Self {
        let mut lanes = vec!["client".to_string()];
        lanes.extend(outcome.hosts.iter().map(|h| h.name.clone()));
        lanes.push("check".to_string());
        let data = Data { lanes, ..Data::default() };
        Builder { outcome, data, pending: BTreeMap::new(), violation_lines: Vec::new() }
    }

    fn nodes(&self) -> usize {
        self.outcome.hosts.len()
    }

    fn check_lane(&self) -> usize {
        self.nodes() + 1
    }

    /// The lane of a trace line's host: `client`, a node, or the checker (for `check` and anything else).
    fn lane_of(&self, who: &str) -> usize {
        if who == "client" {
            return 0;
        }
        self.outcome.hosts.iter().position(|h| h.name == who).map_or(self.check_lane(), |i| i + 1)
    }

    /// The node lane a bus line names: an address (`10.0.0.2:16380`, `10.0.0.1`) or a normalized id (`<n1>`).
    fn lane_named(&self, word: &str) -> Option<usize> {
        let hosts = &self.outcome.hosts;
        if let Some(name) = word.strip_prefix('<').and_then(|w| w.strip_suffix('>')) {
            return hosts.iter().position(|h| h.name == name).map(|i| i + 1);
        }
        let ip = word.rsplit_once(':').map_or(word, |(ip, _port)| ip);
        hosts.iter().position(|h| h.ip.to_string() == ip).map(|i| i + 1)
    }

    fn kind_index(&mut self, name: &str) -> usize {
        let kinds = &mut self.data.kinds;
        match kinds.iter().position(|k| k.name == name) {
            Some(i) => i,
            None => {
                kinds.push(KindCount { name: name.to_string(), count: 0 });
                kinds.len() - 1
            }
        }
    }

    fn event(&mut self, lane: usize, t: u64, raw: &str) {
        self.data.events.push(Event { n: lane, t, x: raw.to_string(), nodes: Vec::new() });
    }

    fn trace_line(&mut self, raw: &str) {
        let Some(line) = parse_line(raw) else { return };
        let lane = self.lane_of(line.who);
        match line.who {
            // Calls and replies come from the history (with both times); workload start / stop lines stay.
            "client" if line.text.starts_with("-> ") || line.text.starts_with("w-> ") => {}
            "check" => match line.text.strip_prefix("VIOLATION ") {
                Some(v) => self.violation_lines.push((line.t, v.to_string(), false)),
                None => self.event(lane, line.t, raw),
            },
            "fault" => self.fault_line(&line, raw),
            _ if lane == 0 || lane == self.check_lane() => self.event(lane, line.t, raw),
            _ if line.text.starts_with("<- ") => {}
            _ => {
                let handled = if let Some(rest) = line.text.strip_prefix("bus: ") {
                    self.bus_line(lane, line.t, rest, raw)
                } else if let Some(rest) = line.text.strip_prefix("raft: ") {
                    self.raft_line(lane, line.t, rest, raw);
                    true
                } else {
                    false
                };
                if !handled {
                    self.event(lane, line.t, raw);
                }
            }
        }
    }

    /// A fault step: an event naming its nodes; a kill or restart loses every send still unpaired to that node.
    fn fault_line(&mut self, line: &Line<'_>, raw: &str) {
        let nodes = nodes_named(line.text, self.nodes());
        if line.text.contains("kill n") || line.text.contains("restart n") {
            for &node in &nodes {
                for ((_, to, _), queue) in self.pending.iter_mut() {
                    if *to == node {
                        queue.clear();
                    }
                }
            }
        }
        self.data.faults.push(Event { n: self.check_lane(), t: line.t, x: raw.to_string(), nodes });
    }

    /// `send <kind> to <addr>` or `recv <kind> from <addr|id>` on `lane`; false if it is neither.
    fn bus_line(&mut self, lane: usize, t: u64, rest: &str, raw: &str) -> bool {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (verb, kind, peer) = match words.as_slice() {
            [verb @ ("send" | "recv"), kind, "to" | "from", peer] => (*verb, *kind, *peer),
            _ => return false,
        };
        let Some(peer) = self.lane_named(peer) else { return false };
        let k = self.kind_index(kind);
        if verb == "send" {
            self.data.kinds[k].count += 1;
            let msg = Msg { k, f: lane, t: peer, s: Some(t), r: None, x: raw.to_string(), y: String::new() };
            self.pending.entry((lane, peer, k)).or_default().push_back(self.data.msgs.len());
            self.data.msgs.push(msg);
        } else {
            match self.pending.get_mut(&(peer, lane, k)).and_then(VecDeque::pop_front) {
                Some(i) => {
                    self.data.msgs[i].r = Some(t);
                    self.data.msgs[i].y = raw.to_string();
                }
                None => {
                    let msg = Msg { k, f: peer, t: lane, s: None, r: Some(t), x: String::new(), y: raw.to_string() };
                    self.data.msgs.push(msg);
                }
            }
        }
        true
    }

    /// `role=Leader term=1 leader=<n1> applied=3 node=<n1> group=…`.
    fn raft_line(&mut self, lane: usize, t: u64, rest: &str, raw: &str) {
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|w| w.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
                .unwrap_or_default()
        };
        self.data.raft.push(RaftState {
            n: lane,
            t,
            role: field("role"),
            term: field("term"),
            leader: field("leader"),
            applied: field("applied"),
            x: raw.to_string(),
        });
    }

    fn calls(&mut self) {
        let hosts = &self.outcome.hosts;
        self.data.calls = self
            .outcome
            .history
            .iter()
            .map(|c| Call {
                n: c.node,
                l: c.line,
                s: micros(c.start),
                e: micros(c.end),
                c: c.command.clone(),
                r: reply_text(&c.reply, hosts),
                err: c.is_error(),
                w: c.workload,
                q: c.quiet,
            })
            .collect();
    }

    fn windows(&mut self) {
        let nodes = self.nodes();
        self.data.windows = (self.outcome.windows.iter())
            .map(|w| Window {
                s: micros(w.start),
                e: micros(w.end),
                by: w.opened_by.clone(),
                nodes: nodes_named(&w.opened_by, nodes),
                kills: (w.kills.iter())
                    .map(|(at, what)| Event {
                        n: nodes_named(what, nodes).first().copied().unwrap_or(nodes + 1),
                        t: micros(*at),
                        x: format!("{} {what}", crate::trace::stamp(*at).trim()),
                        nodes: nodes_named(what, nodes),
                    })
                    .collect(),
            })
            .collect();
    }

    /// The call a violation judged: the last call of its line on its node (on any node when it names none), a
    /// scenario call rather than a harness poll.
    fn judged_call(&self, v: &Violation, node: Option<usize>) -> Option<usize> {
        let history = &self.outcome.history;
        let of_line = |c: &crate::history::CallRecord| c.line == v.line() && node.is_none_or(|n| c.node == n);
        let last = |polls: bool| history.iter().rposition(|c| of_line(c) && (polls || !c.quiet));
        last(false).or_else(|| last(true))
    }

    /// The acknowledged write a stale read missed or a lost write lost: its call and when its OK came back.
    fn acknowledged_write(&self, v: &Violation) -> Option<(usize, u64)> {
        let ok_at = match v {
            Violation::StaleMembershipRead { write_ok_at, .. } => *write_ok_at,
            Violation::LostWrite { ok_at, .. } => *ok_at,
            _ => return None,
        };
        let history = &self.outcome.history;
        let write = history.iter().position(|c| c.end == ok_at && c.is_ok() && c.op.is_write());
        Some((write?, micros(ok_at)))
    }

    /// When a violation happened: the checker's line for it (each used once), else the reply of the call it
    /// judged, else the end of the run.
    fn violation_time(&mut self, v: &Violation, judged: Option<usize>) -> u64 {
        let text = normalize(&v.to_string(), &self.outcome.hosts);
        if let Some(entry) = self.violation_lines.iter_mut().find(|(_, t, used)| !used && *t == text) {
            entry.2 = true;
            return entry.0;
        }
        judged.map_or(micros(self.outcome.virtual_time), |i| micros(self.outcome.history[i].end))
    }

    fn marks(&mut self) {
        let outcome = self.outcome;
        for finding in &outcome.findings {
            let v = &finding.violation;
            let node = v.node().filter(|n| (1..=self.nodes()).contains(n));
            let judged = self.judged_call(v, node);
            let t = self.violation_time(v, judged);
            let write = self.acknowledged_write(v);
            self.data.marks.push(Mark {
                t,
                n: node.unwrap_or(self.check_lane()),
                class: finding.class().to_string(),
                property: v.property().to_string(),
                kind: v.kind().to_string(),
                line: v.line(),
                x: finding.to_string(),
                v: v.to_string(),
                rule: finding.rule.to_string(),
                calls: judged.into_iter().chain(write.map(|(i, _)| i)).collect(),
                ack: write.map(|(_, at)| at),
            });
        }
    }

    fn build(mut self) -> Data {
        for raw in &self.outcome.trace {
            self.trace_line(raw);
        }
        self.calls();
        self.windows();
        self.marks();
        let last_call = self.data.calls.iter().map(|c| c.e).max().unwrap_or(0);
        let last_line = self.outcome.trace.iter().rev().find_map(|l| parse_line(l)).map_or(0, |l| l.t);
        self.data.end = micros(self.outcome.virtual_time).max(last_call).max(last_line).max(1);
        self.data
    }
}

/// The timeline page of one run of scenario `file`; `replay_command` is the command that replays it (shown in
/// the header). Deterministic: built from the outcome alone.
pub fn timeline(file: &str, outcome: &Outcome, replay_command: &str) -> String {
    let data = Builder::new(outcome).build();
    let json = serde_json::to_string(&data).expect("strings, numbers and lists always serialize");
    let verdict = outcome.verdict_line();
    let title = format!("timeline: {file} seed {} {} {}", outcome.seed, outcome.strategy, outcome.profile);
    let class = if outcome.passed() { "pass" } else { "fail" };
    let mut header = format!("<header>\n<h1>{}</h1>\n<dl>\n", escape_html(&title));
    header.push_str(&header_row("file", file, false));
    header.push_str(&header_row("seed", &outcome.seed.to_string(), false));
    header.push_str(&header_row("strategy", &outcome.strategy.to_string(), false));
    header.push_str(&header_row("profile", &outcome.profile.to_string(), false));
    header.push_str(&format!("<dt>verdict</dt><dd class=\"verdict {class}\">{}</dd>\n", escape_html(&verdict)));
    header.push_str(&header_row("trace hash", &format!("{:016x}", outcome.trace_hash), false));
    header.push_str(&header_row("virtual time", crate::trace::stamp(outcome.virtual_time).trim(), false));
    header.push_str(&header_row("replay", replay_command, true));
    header.push_str("</dl>\n</header>\n");
    page(&title, &header, BODY, &json, SCRIPT)
}

/// The skeleton the script fills: tool bar, canvas, detail pane, violation and fault lists.
const BODY: &str = r#"<nav id="toolbar">
<button id="zoom-in" title="zoom in (wheel up)">+</button>
<button id="zoom-out" title="zoom out (wheel down)">&minus;</button>
<button id="pan-left" title="pan left (drag)">&larr;</button>
<button id="pan-right" title="pan right (drag)">&rarr;</button>
<button id="fit" title="the whole run">fit</button>
<span id="range"></span>
<span id="toggles"></span>
</nav>
<div id="chart"><canvas id="canvas"></canvas><div id="tip" hidden></div></div>
<section id="detail-box"><h2>Selected</h2><pre id="detail">Hover over anything for its text; click to keep it here.</pre></section>
<section><h2>Violations</h2><table id="violations"></table></section>
<section><h2>Fault windows</h2><table id="windows"></table></section>
<section id="legend"></section>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Violation;
    use crate::coverage::Probes;
    use crate::history::{CallRecord, Op};
    use crate::verdict::{FaultWindow, Finding, Rule, Tally};
    use clustersim::server::Strategy;

    fn hosts(n: usize) -> Vec<Host> {
        (1..=n).map(|i| Host::new(i, crate::hosts::sim_ip(i), 6378 + i as u16).unwrap()).collect()
    }

    fn call(node: usize, line: usize, ms: (u64, u64), command: &str, reply: Reply) -> CallRecord {
        CallRecord {
            node,
            command: command.to_string(),
            op: Op::Nodes,
            line,
            start: Duration::from_millis(ms.0),
            end: Duration::from_millis(ms.1),
            reply,
            quiet: false,
            workload: false,
        }
    }

    /// Three nodes; n1 sends two hellos to n2 (one received), an append to n3 lost when n3 is killed; a
    /// stale read on line 9 (n2) logged by the checker, a durability finding with no checker line.
    fn outcome() -> Outcome {
        let trace: Vec<String> = [
            "   0.001s client  -> n1 CLUSTER MEET 10.0.0.2 6380 <n2>",
            "   0.002s n1      raft: role=Leader term=1 leader=<n1> applied=2 node=<n1> group=7",
            "   0.008s n1      bus: send hello to 10.0.0.2:16380",
            "   0.009s n1      bus: send hello to 10.0.0.2:16380",
            "   0.010s n1      bus: send raft-append to 10.0.0.3:16381",
            "   0.013s n2      bus: recv hello from 10.0.0.1",
            "   0.014s n3      bus: recv raft-append from <n1>",
            "   0.015s n1      bus: send raft-append to 10.0.0.3:16381",
            "   0.020s n1      <- +OK",
            "   0.030s fault   kill n3",
            "   0.031s n2      meet: <n2> joins group of <n1>",
            "   0.040s check   VIOLATION line 9: n2 knows 1/2 nodes",
            "   0.050s n2      <- \"</script><script>alert(1)</script>\"",
        ]
        .map(String::from)
        .to_vec();
        let stale = Violation::KnownNodes { line: 9, node: 2, expected: 2, known: 1, error: None };
        let lost = Violation::LostWrite {
            line: 12,
            write: "MEET".into(),
            ok_at: Duration::from_millis(20),
            node: 3,
            missing: "n2".into(),
        };
        let window = FaultWindow {
            start: Duration::from_millis(30),
            end: Duration::from_millis(60),
            opened_by: "kill n3".into(),
            kills: vec![(Duration::from_millis(30), "kill n3".into())],
        };
        Outcome {
            seed: 7,
            strategy: Strategy::FireAndForget,
            profile: crate::profile::Profile::Lan,
            history: vec![
                CallRecord {
                    op: Op::Meet { target: Some(2) },
                    ..call(1, 3, (1, 20), "CLUSTER MEET 10.0.0.2 6380 <n2>", Reply::Simple("OK".into()))
                },
                call(2, 9, (35, 50), "CLUSTER NODES", Reply::Bulk("</script><script>alert(1)</script>".into())),
            ],
            findings: vec![
                Finding { violation: stale, rule: Rule::WrongAnswer },
                Finding { violation: lost, rule: Rule::Checked { property: crate::check::durability::PROPERTY } },
            ],
            windows: vec![window],
            tally: Tally::default(),
            strict: false,
            final_nodes: vec![],
            trace,
            trace_hash: 0xabc,
            virtual_time: Duration::from_millis(70),
            hosts: hosts(3),
            probes: Probes::new(),
            raft_events: vec![],
        }
    }

    fn data() -> Data {
        Builder::new(&outcome()).build()
    }

    #[test]
    fn a_reply_holding_a_script_end_tag_stays_inside_the_data_block() {
        let html = timeline("x.scn", &outcome(), "sim replay x.scn --seed 7");
        let parsed = crate::html::data_block(&html);
        assert_eq!(parsed["calls"][1]["r"], "</script><script>alert(1)</script>");
        assert_eq!(html.matches("</script>").count(), 3, "guard, data, page script: none closed early");
    }

    #[test]
    fn the_same_outcome_gives_the_same_bytes() {
        let a = timeline("x.scn", &outcome(), "sim replay x.scn --seed 7");
        let b = timeline("x.scn", &outcome().clone(), "sim replay x.scn --seed 7");
        assert_eq!(a, b);
    }

    #[test]
    fn each_send_pairs_with_the_first_unpaired_recv_of_its_kind_and_link() {
        let d = data();
        let kinds: Vec<(&str, usize)> = d.kinds.iter().map(|k| (k.name.as_str(), k.count)).collect();
        assert_eq!(kinds, [("hello", 2), ("raft-append", 2)]);
        let pairs: Vec<(usize, usize, Option<u64>, Option<u64>)> =
            d.msgs.iter().map(|m| (m.f, m.t, m.s, m.r)).collect();
        assert_eq!(
            pairs,
            [
                (1, 2, Some(8_000), Some(13_000)),
                (1, 2, Some(9_000), None),
                (1, 3, Some(10_000), Some(14_000)),
                (1, 3, Some(15_000), None),
            ]
        );
    }

    #[test]
    fn a_kill_loses_the_sends_still_on_their_way_to_the_killed_node() {
        let mut o = outcome();
        // The second append to n3 is received after the restart: it pairs with nothing sent before the kill.
        o.trace.push("   0.065s n3      bus: recv raft-append from <n1>".into());
        let d = Builder::new(&o).build();
        assert_eq!(d.msgs[3].r, None, "sent before the kill of n3: lost");
        assert_eq!((d.msgs[4].s, d.msgs[4].r), (None, Some(65_000)), "a recv with no send left to pair");
    }

    #[test]
    fn there_is_a_lane_per_node_plus_the_client_and_the_checker() {
        assert_eq!(data().lanes, ["client", "n1", "n2", "n3", "check"]);
    }

    #[test]
    fn every_finding_is_marked_on_its_node_at_the_time_it_was_found() {
        let marks = data().marks;
        assert_eq!(marks.len(), 2);
        assert_eq!((marks[0].t, marks[0].n, marks[0].line), (40_000, 2, 9), "at the checker's line");
        assert_eq!((marks[0].class.as_str(), marks[0].property.as_str()), ("safety", "expect"));
        assert_eq!((marks[1].t, marks[1].n), (70_000, 3), "no line or call of its own: the end of the run");
        assert_eq!(marks[1].property, "durability");
        assert_eq!((marks[0].calls.as_slice(), marks[0].ack), ([1].as_slice(), None), "the read it judged");
        assert_eq!((marks[1].calls.as_slice(), marks[1].ack), ([0].as_slice(), Some(20_000)), "the write it lost");
    }

    #[test]
    fn raft_lines_calls_faults_and_other_lines_land_on_their_lanes() {
        let d = data();
        assert_eq!(d.raft.len(), 1);
        assert_eq!((d.raft[0].n, d.raft[0].role.as_str(), d.raft[0].applied.as_str()), (1, "Leader", "2"));
        assert_eq!(d.calls.len(), 2);
        assert_eq!((d.calls[0].n, d.calls[0].s, d.calls[0].e), (1, 1_000, 20_000));
        assert_eq!(d.faults.len(), 1);
        assert_eq!(d.faults[0].nodes, [3]);
        assert_eq!(d.windows[0].nodes, [3]);
        let events: Vec<usize> = d.events.iter().map(|e| e.n).collect();
        assert_eq!(events, [2], "the MEET merge; calls and replies come from the history");
        assert_eq!(d.end, 70_000);
    }

    #[test]
    fn trace_lines_parse_with_their_time_and_host() {
        let l = parse_line("  12.345s n10     bus: recv hello from 10.0.0.1").unwrap();
        assert_eq!((l.t, l.who, l.text), (12_345_000, "n10", "bus: recv hello from 10.0.0.1"));
        assert!(parse_line("# fault window: 2.492s–11.797s (kill n1)").is_none());
        assert_eq!(nodes_named("partition n1,n2 n3,n4 n12", 4), [1, 2, 3, 4]);
    }

    /// The real run the README shows: meet_read_your_writes, seed 0, fire-and-forget.
    #[cfg(madsim)]
    #[test]
    fn the_stale_read_run_has_one_mark_per_violation_and_every_send_drawn() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/meet_read_your_writes.scn");
        let scenario = crate::scenario::load(&path).unwrap();
        let outcome = crate::run::run(&scenario, &crate::outcome::RunOptions::new(0, Strategy::FireAndForget));
        let d = Builder::new(&outcome).build();
        assert_eq!(d.lanes.len(), outcome.hosts.len() + 2);
        assert_eq!(d.marks.len(), outcome.findings.len());
        let stale = d.marks.iter().find(|m| m.kind == "StaleMembershipRead").expect("a stale read");
        let [read, write] = stale.calls[..] else { panic!("the read and the MEET it missed: {:?}", stale.calls) };
        let (read, write) = (&outcome.history[read], &outcome.history[write]);
        assert!(matches!(write.op, crate::history::Op::Meet { .. }) && write.end <= read.start);
        assert_eq!(stale.ack, Some(micros(write.end)));
        let sends = outcome.trace.iter().filter(|l| l.contains(" bus: send ")).count();
        assert_eq!(d.msgs.iter().filter(|m| m.s.is_some()).count(), sends);
        assert_eq!(d.calls.len(), outcome.history.len());
    }
}
