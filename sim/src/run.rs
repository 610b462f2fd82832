//! One run: a scenario, a seed, a strategy → history, trace, verdict.
//!
//! The world: hosts `n1..nN` at 10.0.0.i, port `base_port + i - 1` (bus port + 10000), node ids `{i}` printed as
//! 40 hex digits (AiKv's u64 ids), each running the real `clustersim::server::serve` inside a madsim node — so
//! killing a host kills its tasks. The scenario runs on a separate client host (10.0.1.1).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use clustersim::meta::NodeId;
use clustersim::resp::Reply;
use clustersim::server::Strategy;

use crate::check::views::NodeView;
use crate::client::{show_reply, CallRecord, Client};
use crate::profile::Profile;
use crate::scenario::{print_word, Check, Fault, Field, Piece, Scenario, Step, Target, Word};
use crate::trace::{hash_lines, TraceSink};
use crate::verdict::{FaultWindow, Finding, Tally};

/// What runs the scenario's fault steps: madsim's hosts and network in simulation (`faults::Faults`), real
/// processes in real mode (`real::Processes`).
pub(crate) trait Control: Send + Sync {
    /// Carries out one fault step.
    fn apply(&self, fault: &Fault);
    /// The liveness phase begins (`settle`): every fault is undone.
    fn stop_all(&self);
    /// How many times `node`'s process was killed or restarted (the client reconnects when it changes).
    fn generation(&self, node: usize) -> u64;
    /// The fault windows so far (a window still open ends now): the intervals during which any fault was active.
    fn windows(&self) -> Vec<FaultWindow>;
}

/// What to run a scenario with.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: u64,
    pub strategy: Strategy,
    pub profile: Profile,
}

impl RunOptions {
    pub fn new(seed: u64, strategy: Strategy) -> Self {
        RunOptions { seed, strategy, profile: Profile::Lan }
    }
}

/// A broken fact the run observed. Each variant names the property it defends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `expect ... known-nodes=N`: AiKv's convergence check — every node must know exactly N nodes.
    KnownNodes { line: usize, node: usize, expected: usize, known: usize, error: Option<String> },
    /// `expect ... knows=<id>`: the node's CLUSTER NODES must list that node.
    MissingNode { line: usize, node: usize, missing: String, error: Option<String> },
    /// `expect ... reply=<text>`: the reply must be exactly this (e.g. REPLICATE answering OK).
    UnexpectedReply { line: usize, node: usize, expected: String, got: String },
    /// `expect ... contains=<text>`: the reply must contain this text.
    MissingText { line: usize, node: usize, expected: String, got: String },
    /// An `expect` got an error reply where data was expected: the node refused to answer (e.g. read-index with
    /// no leader reachable). Unavailability, not a wrong answer; reported apart from stale reads.
    Unavailable { line: usize, node: usize, error: String },
    /// Linearizable membership reads (check/linearizable_reads.rs): a CLUSTER NODES that began after a MEET's OK
    /// does not list a node that MEET had joined.
    StaleMembershipRead { line: usize, node: usize, missing: String, write_ok_at: Duration, read_start: Duration },
    /// Convergence (check/convergence.rs): a node of a settled cluster does not list every node.
    NotConverged {
        line: usize,
        node: usize,
        known: usize,
        expected: usize,
        missing: Option<usize>,
        error: Option<String>,
    },
    /// Convergence: `node` lists `lists`, which does not list it back.
    OneSidedMembership { line: usize, node: usize, lists: usize },
    /// Agreement (check/agreement.rs): two nodes differ on the config signature or on CLUSTER SLOTS. Texts as
    /// the nodes sent them (ids normalized when the outcome is built).
    Disagreement { line: usize, property: &'static str, first: (usize, String), other: (usize, String) },
    /// Liveness (check/liveness.rs): `settle`'s bound passed with the cluster still unconverged or disagreeing.
    NotSettled { line: usize, within_ms: u64, cause: Box<Violation> },
    /// `wait-consistent`'s bound passed with the config signatures still differing.
    NeverConsistent { line: usize, within_ms: u64, cause: Box<Violation> },
    /// Slot safety (check/slot_safety.rs): a node's table gives a slot two owners.
    SlotOwnedTwice { line: usize, node: usize, slot: u16, owners: Vec<String> },
    /// Slot safety: a node's table has a replica whose master is missing or not a master.
    ReplicaOfNonMaster { line: usize, node: usize, replica: String, master: String, why: &'static str },
    /// Slot safety: a node's view of some node's config epoch went down.
    EpochWentBack { line: usize, node: usize, of: String, from: u64, to: u64 },
    /// Durability (check/durability.rs): a write answered OK, and the settled table does not reflect it.
    LostWrite { line: usize, write: String, ok_at: Duration, node: usize, missing: String },
}

impl Violation {
    /// The scenario line that found it.
    pub fn line(&self) -> usize {
        match self {
            Violation::KnownNodes { line, .. }
            | Violation::MissingNode { line, .. }
            | Violation::UnexpectedReply { line, .. }
            | Violation::MissingText { line, .. }
            | Violation::StaleMembershipRead { line, .. }
            | Violation::Unavailable { line, .. }
            | Violation::NotConverged { line, .. }
            | Violation::OneSidedMembership { line, .. }
            | Violation::Disagreement { line, .. }
            | Violation::NotSettled { line, .. }
            | Violation::NeverConsistent { line, .. }
            | Violation::SlotOwnedTwice { line, .. }
            | Violation::ReplicaOfNonMaster { line, .. }
            | Violation::EpochWentBack { line, .. }
            | Violation::LostWrite { line, .. } => *line,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Violation::KnownNodes { .. } => "KnownNodes",
            Violation::MissingNode { .. } => "MissingNode",
            Violation::UnexpectedReply { .. } => "UnexpectedReply",
            Violation::MissingText { .. } => "MissingText",
            Violation::StaleMembershipRead { .. } => "StaleMembershipRead",
            Violation::Unavailable { .. } => "Unavailable",
            Violation::NotConverged { .. } => "NotConverged",
            Violation::OneSidedMembership { .. } => "OneSidedMembership",
            Violation::Disagreement { .. } => "Disagreement",
            Violation::NotSettled { .. } => "NotSettled",
            Violation::NeverConsistent { .. } => "NeverConsistent",
            Violation::SlotOwnedTwice { .. } => "SlotOwnedTwice",
            Violation::ReplicaOfNonMaster { .. } => "ReplicaOfNonMaster",
            Violation::EpochWentBack { .. } => "EpochWentBack",
            Violation::LostWrite { .. } => "LostWrite",
        }
    }

    /// The property the violation breaks (the checker's name).
    pub fn property(&self) -> &'static str {
        match self {
            Violation::KnownNodes { .. }
            | Violation::MissingNode { .. }
            | Violation::UnexpectedReply { .. }
            | Violation::MissingText { .. } => "expect",
            Violation::Unavailable { .. } => "availability",
            Violation::StaleMembershipRead { .. } => "linearizable-reads",
            Violation::NotConverged { .. } | Violation::OneSidedMembership { .. } => "convergence",
            Violation::Disagreement { .. } => "agreement",
            Violation::NotSettled { .. } => "liveness",
            Violation::NeverConsistent { .. } => "wait-consistent",
            Violation::SlotOwnedTwice { .. }
            | Violation::ReplicaOfNonMaster { .. }
            | Violation::EpochWentBack { .. } => "slot-safety",
            Violation::LostWrite { .. } => "durability",
        }
    }

    /// The same violation with every host id replaced by `<nK>`.
    pub fn normalized(self, hosts: &[Host]) -> Violation {
        match self {
            Violation::Disagreement { line, property, first, other } => Violation::Disagreement {
                line,
                property,
                first: (first.0, normalize(&first.1, hosts)),
                other: (other.0, normalize(&other.1, hosts)),
            },
            Violation::NotSettled { line, within_ms, cause } => {
                Violation::NotSettled { line, within_ms, cause: Box::new(cause.normalized(hosts)) }
            }
            Violation::NeverConsistent { line, within_ms, cause } => {
                Violation::NeverConsistent { line, within_ms, cause: Box::new(cause.normalized(hosts)) }
            }
            other => other,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::KnownNodes { line, node, expected, known, error } => match error {
                Some(e) => write!(f, "line {line}: n{node} answered -{e} where {expected} known nodes were expected"),
                None => write!(f, "line {line}: n{node} knows {known}/{expected} nodes"),
            },
            Violation::MissingNode { line, node, missing, error } => match error {
                Some(e) => write!(f, "line {line}: n{node} answered -{e} where a list naming {missing} was expected"),
                None => write!(f, "line {line}: n{node} does not list {missing}"),
            },
            Violation::UnexpectedReply { line, node, expected, got } => {
                write!(f, "line {line}: n{node} answered {got}, expected {expected}")
            }
            Violation::MissingText { line, node, expected, got } => {
                write!(f, "line {line}: n{node}'s reply {got} does not contain {expected:?}")
            }
            Violation::Unavailable { line, node, error } => write!(f, "line {line}: n{node} answered -{error}"),
            Violation::StaleMembershipRead { line, node, missing, write_ok_at, read_start } => write!(
                f,
                "line {line}: n{node}'s CLUSTER NODES started at {} omits {missing}, whose MEET was acknowledged at {}",
                crate::trace::stamp(*read_start).trim(),
                crate::trace::stamp(*write_ok_at).trim()
            ),
            Violation::NotConverged { node, known, expected, missing, error, line } => match (error, missing) {
                (Some(e), _) => write!(f, "line {line}: n{node} answered -{e} instead of its view of {expected} nodes"),
                (None, Some(m)) => write!(f, "line {line}: n{node} knows {known}/{expected} nodes (missing n{m})"),
                (None, None) => write!(f, "line {line}: n{node} knows {known}/{expected} nodes"),
            },
            Violation::OneSidedMembership { line, node, lists } => {
                write!(f, "line {line}: n{node} lists n{lists}, which does not list n{node}")
            }
            Violation::Disagreement { line, property, first, other } => write!(
                f,
                "line {line}: n{} and n{} disagree on the {property}: n{} has {:?}, n{} has {:?}",
                first.0, other.0, first.0, first.1, other.0, other.1
            ),
            Violation::NotSettled { within_ms, cause, .. } => {
                write!(
                    f,
                    "{}",
                    cause.to_string().replacen(
                        ": ",
                        &format!(": not settled {} after faults stopped: ", show_ms(*within_ms)),
                        1
                    )
                )
            }
            Violation::NeverConsistent { within_ms, cause, .. } => {
                write!(
                    f,
                    "{}",
                    cause.to_string().replacen(
                        ": ",
                        &format!(": still inconsistent after {}: ", show_ms(*within_ms)),
                        1
                    )
                )
            }
            Violation::SlotOwnedTwice { line, node, slot, owners } => {
                write!(f, "line {line}: n{node}'s CLUSTER NODES gives slot {slot} two owners: {}", owners.join(" and "))
            }
            Violation::ReplicaOfNonMaster { line, node, replica, master, why } => {
                write!(f, "line {line}: n{node}'s CLUSTER NODES makes {replica} a replica of {master}, which {why}")
            }
            Violation::EpochWentBack { line, node, of, from, to } => {
                write!(
                    f,
                    "line {line}: n{node}'s CLUSTER NODES shows {of}'s config epoch going back from {from} to {to}"
                )
            }
            Violation::LostWrite { line, write, ok_at, node, missing } => write!(
                f,
                "line {line}: {write} answered OK at {}, but after settling n{node}'s table says: {missing}",
                crate::trace::stamp(*ok_at).trim()
            ),
        }
    }
}

/// `30s`, `1500ms`.
fn show_ms(ms: u64) -> String {
    if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    pub strategy: Strategy,
    pub profile: Profile,
    pub history: Vec<CallRecord>,
    /// Every violation with the rule that classed it, worst class first (`crate::verdict`).
    pub findings: Vec<Finding>,
    /// The intervals during which any fault was active (scenario steps and the profile's schedule).
    pub windows: Vec<FaultWindow>,
    /// The scenario's calls: how many, how many answered an error, how many of those in a fault window.
    pub tally: Tally,
    /// Whether availability violations fail the run (`--strict` or the scenario header's `strict`).
    pub strict: bool,
    /// Each node's CLUSTER NODES after the scenario (normalized), in node order.
    pub final_nodes: Vec<String>,
    /// The normalized trace (ids as `<nK>`).
    pub trace: Vec<String>,
    pub trace_hash: u64,
    /// Virtual time the scenario took.
    pub virtual_time: Duration,
    /// The hosts the run had (names, addresses, ids).
    pub hosts: Vec<Host>,
}

impl Outcome {
    /// Whether the run passed: no safety or liveness violation (and, under strict, no availability one).
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(|f| f.class().fails(self.strict))
    }

    /// The worst class among the run's violations (`None`: no violation at all).
    pub fn class(&self) -> Option<crate::verdict::Class> {
        crate::verdict::worst(&self.findings)
    }

    /// The violations, worst class first.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.findings.iter().map(|f| &f.violation)
    }
}

/// Per-node facts templates resolve to.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub ip: IpAddr,
    pub port: u16,
    pub bus_port: u16,
    pub id: NodeId,
}

impl Host {
    /// The host's 1-based node number (`n3` → 3).
    pub fn id_number(&self) -> usize {
        self.name[1..].parse().expect("hosts are named nK")
    }
}

pub fn hosts(scenario: &Scenario) -> Vec<Host> {
    (1..=scenario.header.nodes)
        .map(|i| {
            let port = scenario.header.base_port + (i as u16 - 1);
            Host {
                name: format!("n{i}"),
                ip: IpAddr::from([10, 0, 0, i as u8]),
                port,
                bus_port: port + 10000,
                id: NodeId::from_u64(i as u64),
            }
        })
        .collect()
}

fn field_value(host: &Host, field: Field) -> String {
    match field {
        Field::Ip => host.ip.to_string(),
        Field::Port => host.port.to_string(),
        Field::Bus => host.bus_port.to_string(),
        Field::Id => host.id.to_string(),
    }
}

/// The arguments a word expands to.
fn expand(word: &Word, hosts: &[Host], out: &mut Vec<Bytes>) {
    match word {
        Word::Range { start, end } => out.extend((*start..=*end).map(|n| Bytes::from(n.to_string()))),
        Word::Pieces(pieces) => {
            let mut text = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => text.push_str(t),
                    Piece::Var { node, field } => text.push_str(&field_value(&hosts[node - 1], *field)),
                }
            }
            out.push(Bytes::from(text));
        }
    }
}

fn resolve_one(word: &Word, hosts: &[Host]) -> String {
    let mut v = Vec::new();
    expand(word, hosts, &mut v);
    v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>().join(" ")
}

/// How a command is shown in traces: variables resolved, ranges kept folded (`{0..5460}`).
fn show_command(words: &[Word], hosts: &[Host]) -> String {
    words
        .iter()
        .map(|w| match w {
            Word::Range { .. } => print_word(w),
            Word::Pieces(_) => resolve_one(w, hosts),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces every host id with `<nK>`, so traces and snapshots read as names.
pub fn normalize(text: &str, hosts: &[Host]) -> String {
    let mut out = text.to_string();
    for h in hosts {
        out = out.replace(&h.id.to_string(), &format!("<{}>", h.name));
    }
    out
}

/// Lines of a CLUSTER NODES-like reply that start with a 40-hex id (AiKv's `grep -cE '^[0-9a-f]{40}'`).
pub fn known_node_count(text: &str) -> usize {
    text.lines()
        .filter(|l| l.len() >= 40 && l.as_bytes()[..40].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
        .count()
}

fn reply_text(reply: &Reply) -> Option<String> {
    reply.as_text().map(|t| t.into_owned())
}

/// Runs `scenario` once. Deterministic: the same scenario, seed and strategy give the same outcome, trace and
/// hash, in any process.
#[cfg(madsim)]
pub fn run(scenario: &Scenario, options: &RunOptions) -> Outcome {
    let sink = TraceSink::default();
    let hosts = hosts(scenario);
    let raw = {
        let _capture = crate::trace::capture(&sink);
        let rt = madsim::runtime::Runtime::with_seed_and_config(options.seed, madsim_config(options));
        rt.block_on(world(scenario.clone(), hosts.clone(), options.clone(), sink.clone()))
    };
    finish(raw, sink, hosts, options)
}

#[cfg(madsim)]
fn madsim_config(options: &RunOptions) -> madsim::Config {
    madsim::Config { net: options.profile.net_config(options.seed), ..Default::default() }
}

/// What the world future returns.
pub(crate) struct RawOutcome {
    history: Vec<CallRecord>,
    /// Violations found while running (expects, settle, wait-consistent).
    violations: Vec<Violation>,
    final_nodes: Vec<String>,
    virtual_time: Duration,
    /// Each `settle` that settled: when it began and the views it ended with (durability judges them).
    settled: Vec<(Duration, Vec<NodeView>)>,
    windows: Vec<FaultWindow>,
    /// The scenario header's `strict`.
    strict: bool,
}

pub(crate) fn finish(raw: RawOutcome, sink: TraceSink, hosts: Vec<Host>, options: &RunOptions) -> Outcome {
    let RawOutcome { history, mut violations, final_nodes, virtual_time, settled, windows, strict } = raw;
    let trace: Vec<String> = sink.take().iter().map(|l| normalize(l, &hosts)).collect();
    let history: Vec<CallRecord> = history
        .into_iter()
        .map(|mut c| {
            c.command = normalize(&c.command, &hosts);
            c
        })
        .collect();
    violations.extend(crate::check::all(&history, &hosts));
    for (start, views) in &settled {
        violations.extend(crate::check::durability::check(&history, &hosts, views, *start));
    }
    let findings = crate::verdict::judge(violations, &history, &windows);
    let tally = Tally::of(&history, &windows);
    Outcome {
        seed: options.seed,
        strategy: options.strategy,
        profile: options.profile,
        trace_hash: hash_lines(&trace),
        trace,
        history,
        findings,
        windows,
        tally,
        strict,
        final_nodes,
        virtual_time,
        hosts,
    }
}

/// The simulated world of one run: the hosts running real nodes, the profile's network driver, and the client
/// host executing the scenario. Runs inside a madsim runtime.
#[cfg(madsim)]
async fn world(scenario: Scenario, hosts: Vec<Host>, options: RunOptions, sink: TraceSink) -> RawOutcome {
    use clustersim::server::{serve, Node, NodeConfig};
    let handle = madsim::runtime::Handle::current();
    let mut node_ids = Vec::new();
    for host in &hosts {
        let mut config = NodeConfig::new(host.id, host.ip.to_string(), host.port);
        config.bus_port = host.bus_port;
        config.strategy = options.strategy;
        let node_number = host.id_number();
        let percent = scenario.header.drift.iter().find(|(n, _)| *n == node_number).map(|(_, p)| *p);
        let percent = percent.unwrap_or_else(|| options.profile.drift_percent(options.seed, node_number));
        config.clock = clustersim::raft::ClockRate { ppm: percent * 10_000 };
        let node = handle
            .create_node()
            .name(&host.name)
            .ip(host.ip)
            .init(move || {
                let config = config.clone();
                async move {
                    if let Err(e) = serve(Node::new(config)).await {
                        tracing::error!(target: "clustersim::sim", error = %e, "node stopped");
                    }
                }
            })
            .build();
        node_ids.push(node.id());
    }
    let impaired_by = (options.profile != Profile::Lan).then(|| options.profile.to_string());
    let faults = crate::faults::Faults::new(node_ids.clone(), sink.clone(), impaired_by);
    let network = handle.create_node().name("network").build();
    network.spawn(options.profile.drive(faults.clone()));
    let client_host = handle.create_node().name("client").ip(IpAddr::from([10, 0, 1, 1])).build();
    let outcome = client_host
        .spawn(async move {
            // Let every node bind its listeners before the first call.
            tokio::time::sleep(Duration::from_millis(1)).await;
            execute(&scenario, &hosts, sink, std::sync::Arc::new(faults)).await
        })
        .await
        .expect("the scenario task is never cancelled");
    // Kill every host and let the executor drop their tasks: madsim does not drop pending tasks when a runtime is
    // dropped, and tasks waiting on each other (Raft cores, connections) would otherwise leak, run after run.
    for id in node_ids.into_iter().chain([network.id(), client_host.id()]) {
        handle.kill(id);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    outcome
}

/// The run `check_determinism` repeats (a `fn` pointer cannot capture it).
#[cfg(madsim)]
static CHECKED_RUN: std::sync::Mutex<Option<(Scenario, RunOptions)>> = std::sync::Mutex::new(None);

/// Runs the scenario twice under madsim's own determinism checker (`Runtime::check_determinism`: every random
/// draw of the second run must match the first, in value and in virtual time), each time on a fresh thread — the
/// check `MADSIM_TEST_CHECK_DETERMINISM` performs for `#[madsim::test]`. Panics on divergence. Returns the
/// outcome of the second run (without the trace: its threads are madsim's, with no sink attached).
#[cfg(madsim)]
pub fn run_checking_determinism(scenario: &Scenario, options: &RunOptions) -> Outcome {
    // One checked run at a time per process: the slot above is shared.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *CHECKED_RUN.lock().expect("checked run lock") = Some((scenario.clone(), options.clone()));
    let raw = madsim::runtime::Runtime::check_determinism(options.seed, madsim_config(options), || async {
        let (scenario, options) = CHECKED_RUN.lock().expect("checked run lock").clone().expect("set above");
        let hosts = hosts(&scenario);
        world(scenario, hosts, options, TraceSink::default()).await
    });
    finish(raw, TraceSink::default(), hosts(scenario), options)
}

/// How often `settle` and `wait-consistent` poll the nodes.
pub const POLL_INTERVAL_MS: u64 = 100;

/// One poll round: every node's CLUSTER NODES (and CLUSTER SLOTS if `with_slots`), recorded quietly.
async fn poll_views(client: &mut Client, nodes: usize, line: usize, with_slots: bool) -> Vec<NodeView> {
    let mut views = Vec::with_capacity(nodes);
    for node in 1..=nodes {
        let answer = |reply: Reply| match reply {
            Reply::Error(e) => Err(e),
            other => Ok(reply_text(&other).unwrap_or_else(|| show_reply(&other))),
        };
        let args = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"NODES")];
        let text = answer(client.call_quiet(node, &args, "CLUSTER NODES", line).await);
        let slots = if with_slots {
            let args = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"SLOTS")];
            Some(answer(client.call_quiet(node, &args, "CLUSTER SLOTS", line).await))
        } else {
            None
        };
        views.push(NodeView { node, nodes: text, slots });
    }
    views
}

/// Executes the scenario's steps with one client, judging `expect`, `settle` and `wait-consistent` as it goes;
/// `faults` carries out the fault steps. The same in simulation and in real mode.
pub(crate) async fn execute(
    scenario: &Scenario,
    hosts: &[Host],
    sink: TraceSink,
    faults: std::sync::Arc<dyn Control>,
) -> RawOutcome {
    let addrs: Vec<SocketAddr> = hosts.iter().map(|h| SocketAddr::new(h.ip, h.port)).collect();
    let mut client = Client::new(addrs, sink.clone());
    let restarts = faults.clone();
    client.follow_restarts(move |node| restarts.generation(node));
    let mut violations = Vec::new();
    let mut settled = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let line = scenario.line_of(index);
        match step {
            Step::Comment(_) => {}
            Step::Sleep { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Fault(fault) => faults.apply(fault),
            Step::WaitConsistent { within_ms } => {
                let start = crate::trace::now();
                loop {
                    let views = poll_views(&mut client, hosts.len(), line, false).await;
                    let unreachable = views.iter().find_map(|v| v.nodes.as_ref().err().map(|e| (v.node, e.clone())));
                    let differ = crate::check::agreement::signatures_identical(&views, line);
                    let waited = crate::trace::now() - start;
                    if unreachable.is_none() && differ.is_none() {
                        sink.push(
                            "check",
                            &format!("wait-consistent: config signatures agree after {}ms", waited.as_millis()),
                        );
                        break;
                    }
                    if waited >= Duration::from_millis(*within_ms) {
                        let cause = match unreachable {
                            Some((node, error)) => Violation::Unavailable { line, node, error },
                            None => differ.expect("checked above"),
                        };
                        let v = Violation::NeverConsistent { line, within_ms: *within_ms, cause: Box::new(cause) }
                            .normalized(hosts);
                        sink.push("check", &format!("VIOLATION {v}"));
                        violations.push(v);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
                }
            }
            Step::Settle { within_ms } => {
                faults.stop_all();
                let start = crate::trace::now();
                let expected = crate::check::convergence::expected_members(&client.history, hosts);
                loop {
                    let views = poll_views(&mut client, hosts.len(), line, true).await;
                    let waited = crate::trace::now() - start;
                    if crate::check::liveness::settled(&views, &expected, hosts) {
                        sink.push("check", &format!("settle: converged and agreeing after {}ms", waited.as_millis()));
                        settled.push((start, views));
                        break;
                    }
                    if waited >= Duration::from_millis(*within_ms) {
                        if let Some(v) = crate::check::liveness::verdict(&views, &expected, hosts, line, *within_ms) {
                            let v = v.normalized(hosts);
                            sink.push("check", &format!("VIOLATION {v}"));
                            violations.push(v);
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
                }
            }
            Step::Call { target, command } => {
                let mut args = Vec::new();
                for w in command {
                    expand(w, hosts, &mut args);
                }
                let shown = show_command(command, hosts);
                for node in targets(*target, hosts.len()) {
                    client.call(node, &args, &shown, line).await;
                }
            }
            Step::Expect { target, command, check } => {
                let mut args = Vec::new();
                for w in command {
                    expand(w, hosts, &mut args);
                }
                let shown = show_command(command, hosts);
                for node in targets(*target, hosts.len()) {
                    let reply = client.call(node, &args, &shown, line).await;
                    if let Some(v) = judge(check, &reply, node, line, hosts) {
                        sink.push("check", &format!("VIOLATION {v}"));
                        violations.push(v);
                    }
                }
            }
        }
    }
    let end = crate::trace::now();
    let mut final_nodes = Vec::new();
    for node in 1..=hosts.len() {
        let args = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"NODES")];
        let reply = client.call(node, &args, "CLUSTER NODES", 0).await;
        final_nodes.push(normalize(&reply_text(&reply).unwrap_or_else(|| show_reply(&reply)), hosts));
    }
    let windows = faults.windows();
    RawOutcome {
        history: client.history,
        violations,
        final_nodes,
        virtual_time: end,
        settled,
        windows,
        strict: scenario.header.strict,
    }
}

fn targets(target: Target, nodes: usize) -> Vec<usize> {
    match target {
        Target::Node(i) => vec![i],
        Target::All => (1..=nodes).collect(),
    }
}

fn judge(check: &Check, reply: &Reply, node: usize, line: usize, hosts: &[Host]) -> Option<Violation> {
    let error = match reply {
        Reply::Error(e) => Some(e.clone()),
        _ => None,
    };
    let text = reply_text(reply).unwrap_or_default();
    if let (Some(error), Check::KnownNodes(_) | Check::Knows(_) | Check::Contains(_)) = (&error, check) {
        return Some(Violation::Unavailable { line, node, error: error.clone() });
    }
    match check {
        Check::KnownNodes(expected) => {
            let known = if error.is_some() { 0 } else { known_node_count(&text) };
            (error.is_some() || known != *expected).then_some(Violation::KnownNodes {
                line,
                node,
                expected: *expected,
                known,
                error,
            })
        }
        Check::Knows(word) => {
            let id = resolve_one(word, hosts);
            let listed = error.is_none() && text.lines().any(|l| l.starts_with(&id));
            (!listed).then(|| Violation::MissingNode { line, node, missing: normalize(&id, hosts), error })
        }
        Check::Reply(word) => {
            let expected = resolve_one(word, hosts);
            let matches = match reply {
                Reply::Simple(s) | Reply::Error(s) | Reply::Verbatim(s) => *s == expected,
                Reply::Bulk(b) => **b == *expected.as_bytes(),
                Reply::Int(i) => i.to_string() == expected,
                _ => false,
            };
            (!matches).then(|| Violation::UnexpectedReply {
                line,
                node,
                expected: normalize(&expected, hosts),
                got: normalize(&show_reply(reply), hosts),
            })
        }
        Check::Contains(word) => {
            let expected = resolve_one(word, hosts);
            let shown = show_reply(reply);
            let found = text.contains(&expected) || shown.contains(&expected);
            (!found).then(|| Violation::MissingText {
                line,
                node,
                expected: normalize(&expected, hosts),
                got: normalize(&shown, hosts),
            })
        }
    }
}
