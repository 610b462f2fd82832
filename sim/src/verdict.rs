//! The verdict: every violation a run found belongs to exactly one of three classes, by typed rules (never by
//! matching text).
//!
//! - **safety**: a wrong answer or lost data (a stale read, a lost acknowledged write, a slot owned twice, an
//!   epoch going back, a replica of a non-master, an `expect` answered wrongly with nothing to explain it).
//!   Always a failure.
//! - **liveness**: the cluster is healthy (no fault active) and still does not do its job: `settle`'s bound
//!   passed after the faults stopped, or an error reply came outside every fault window. Always a failure.
//! - **availability**: an error (or timeout) while a fault was active or recovering, and `expect` /
//!   `wait-consistent` lines that could not hold because an earlier write answered such an error. Counted and
//!   reported, a failure only under `strict` (the `--strict` flag or the scenario header's `strict` keyword).
//!
//! Jepsen's split of operations into ok / fail / info (`:valid?` judges only what was acknowledged) is the
//! model: a refusal during a fault is information, not a bug; a wrong answer is a bug whatever the faults.
//!
//! Fault windows come from the fault injector (`faults.rs` in simulation, `real.rs` on real processes): the
//! maximal intervals of virtual time during which any fault was active, both the scenario's fault steps and the
//! network profile's. [`RECOVERY_MS`] extends each one: the cluster needs an election and a write deadline to
//! answer again after the fault ends.

use std::fmt;
use std::time::Duration;

use clustersim::resp::Reply;

pub use crate::check::Class;
use crate::check::{Property, Violation};
use crate::history::{CallRecord, Op};
use crate::trace::stamp;

/// The node's write deadline under the Raft strategies (`WRITE_DEADLINE_MS` in the node crate's
/// `src/server/meta_store.rs`, which the crate does not export): a write in flight when a fault ends may take
/// this long to answer.
pub const NODE_WRITE_DEADLINE_MS: u64 = 12_000;

/// How long after a fault window ends an error still counts as availability: one election (the longest
/// election timeout, `clustersim::raft::ELECTION_TIMEOUT_MAX_MS`, 5 s: the cluster may need a new leader) plus
/// the write deadline ([`NODE_WRITE_DEADLINE_MS`], 12 s: a write begun meanwhile rides it out). 17 s. Drifted
/// clocks are not counted in: a node 20 % slow times out 20 % later in true time.
pub const RECOVERY_MS: u64 = clustersim::raft::ELECTION_TIMEOUT_MAX_MS + NODE_WRITE_DEADLINE_MS;

/// An interval of virtual time during which at least one fault was active, and the fault that opened it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    pub start: Duration,
    pub end: Duration,
    /// The fault step or profile event that opened the window (`kill n2`, `swarm: kill n3`, `profile wan`).
    pub opened_by: String,
    /// The kills and restarts (a restart kills a live process first) within the window, with their times: each
    /// lost the key space of the node it hit.
    pub kills: Vec<(Duration, String)>,
}

impl FaultWindow {
    /// Whether `[start, end]` meets this window or its recovery bound after it.
    pub fn meets(&self, start: Duration, end: Duration) -> bool {
        start <= self.end + Duration::from_millis(RECOVERY_MS) && end >= self.start
    }
}

impl fmt::Display for FaultWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{} ({})", stamp(self.start).trim(), stamp(self.end).trim(), self.opened_by)
    }
}

/// Records fault windows as faults come and go: the injector calls [`WindowLog::update`] after every change
/// with whether any fault is active now.
#[derive(Clone, Debug, Default)]
pub struct WindowLog {
    closed: Vec<FaultWindow>,
    open: Option<(Duration, String)>,
    /// The kills and restarts within the open window.
    open_kills: Vec<(Duration, String)>,
}

/// Whether a fault label names a kill or a restart (`kill n2`, `swarm: restart n3`).
fn is_kill(label: &str) -> bool {
    label.contains("kill n") || label.contains("restart n")
}

impl WindowLog {
    /// After a change named `label` at `now`: opens a window if a fault became active, closes the open one if
    /// none is active any more.
    pub fn update(&mut self, now: Duration, active: bool, label: &str) {
        match (self.open.is_some(), active) {
            (false, true) => self.open = Some((now, label.to_string())),
            (true, false) => {
                let (start, opened_by) = self.open.take().expect("checked above");
                let kills = std::mem::take(&mut self.open_kills);
                self.closed.push(FaultWindow { start, end: now, opened_by, kills });
            }
            _ => {}
        }
        if self.open.is_some() && is_kill(label) {
            self.open_kills.push((now, label.to_string()));
        }
    }

    /// A momentary fault (restarting a live process): a window of no length, unless one is open.
    pub fn instant(&mut self, now: Duration, label: &str) {
        let kills = if is_kill(label) { vec![(now, label.to_string())] } else { vec![] };
        if self.open.is_none() {
            self.closed.push(FaultWindow { start: now, end: now, opened_by: label.to_string(), kills });
        } else {
            self.open_kills.extend(kills);
        }
    }

    /// Every window so far, a still open one ending at `now`.
    pub fn windows(&self, now: Duration) -> Vec<FaultWindow> {
        let mut all = self.closed.clone();
        if let Some((start, opened_by)) = &self.open {
            all.push(FaultWindow {
                start: *start,
                end: now,
                opened_by: opened_by.clone(),
                kills: self.open_kills.clone(),
            });
        }
        all
    }
}

/// The earlier step a failing `expect` / `wait-consistent` depends on: a write that answered an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedWrite {
    pub line: usize,
    pub node: usize,
    /// When the error came back.
    pub at: Duration,
}

/// Which rule put a violation in its class. Each rule belongs to one class ([`Rule::class`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A checked property (linearizable reads, durability, slot safety, agreement, any registered checker's)
    /// broke: its violations keep the property's class whatever the faults (no fault excuses a wrong answer or
    /// lost data).
    Checked { property: Property },
    /// Safety: an `expect` got an answer (not an error) that does not satisfy it, with no earlier failed write
    /// to explain it.
    WrongAnswer,
    /// Liveness: `settle`'s bound passed (the faults had stopped) with the cluster unconverged or disagreeing.
    NotSettled,
    /// Liveness: an `expect` got an error outside every fault window and its recovery bound, with no earlier
    /// failed write to explain it: the cluster was healthy and refused.
    ErrorWhileHealthy,
    /// Liveness: `wait-consistent` waited outside every fault window, with no earlier failed write to explain
    /// it, and the nodes never agreed.
    InconsistentWhileHealthy,
    /// Liveness: an `expect` got an answer (not an error) that does not satisfy it after an earlier write
    /// answered an error outside every fault window: the healthy cluster refused the write, and the read, which
    /// could not hold without it, is not a wrong answer.
    AfterRefusedWrite { write: FailedWrite },
    /// Availability: the error reply (or the wait) met a fault window or its recovery bound; `recovering` when
    /// it began after the window ended.
    DuringFault { window: FaultWindow, recovering: bool },
    /// Availability: an earlier write answered an error during a fault window (or its recovery), and this line
    /// could not hold without it.
    AfterFaultedWrite { write: FailedWrite, window: FaultWindow },
    /// Availability: an `expect` on the key space (GET, EXISTS, DBSIZE, COUNTKEYSINSLOT, …) after a node was
    /// killed: a node keeps its keys in memory only (as Redis without persistence), so a kill loses the keys it
    /// held, and the answer is not wrong for that.
    KeysLostAtKill { at: Duration, kill: String },
}

impl Rule {
    pub fn class(&self) -> Class {
        match self {
            Rule::Checked { property } => property.class,
            Rule::WrongAnswer => Class::Safety,
            Rule::NotSettled
            | Rule::ErrorWhileHealthy
            | Rule::InconsistentWhileHealthy
            | Rule::AfterRefusedWrite { .. } => Class::Liveness,
            Rule::DuringFault { .. } | Rule::AfterFaultedWrite { .. } | Rule::KeysLostAtKill { .. } => {
                Class::Availability
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.class())?;
        match self {
            Rule::Checked { property } => write!(f, "{property}"),
            Rule::WrongAnswer => f.write_str("wrong answer, no fault or earlier error explains it"),
            Rule::NotSettled => f.write_str("not settled after faults stopped"),
            Rule::ErrorWhileHealthy => f.write_str("error outside every fault window"),
            Rule::InconsistentWhileHealthy => f.write_str("inconsistent outside every fault window"),
            Rule::AfterRefusedWrite { write } => {
                write!(
                    f,
                    "depends on line {}'s error at {} (n{}), outside every fault window",
                    write.line,
                    stamp(write.at).trim(),
                    write.node
                )
            }
            Rule::DuringFault { window, recovering: false } => write!(f, "during fault window {window}"),
            Rule::DuringFault { window, recovering: true } => {
                write!(f, "within {}s recovery after fault window {window}", RECOVERY_MS / 1000)
            }
            Rule::KeysLostAtKill { at, kill } => {
                write!(f, "reads keys after `{kill}` at {} lost that node's key space", stamp(*at).trim())
            }
            Rule::AfterFaultedWrite { write, window } => {
                write!(
                    f,
                    "depends on line {}'s error at {} (n{}) in fault window {window}",
                    write.line,
                    stamp(write.at).trim(),
                    write.node
                )
            }
        }
    }
}

/// A violation with the rule that classed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub violation: Violation,
    pub rule: Rule,
}

impl Finding {
    pub fn class(&self) -> Class {
        self.rule.class()
    }
}

impl fmt::Display for Finding {
    /// `KnownNodes line 51: n3 knows 5/6 nodes [safety: wrong answer, …]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [{}]", self.violation.kind(), self.violation, self.rule)
    }
}

/// A run's (or a sweep's) scenario calls: how many, how many answered an error, and how many of those errors
/// met a fault window or its recovery bound. Harness polls (`settle`, `wait-consistent`) and the final reads
/// are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub calls: u64,
    pub errors: u64,
    pub errors_in_windows: u64,
}

impl Tally {
    pub fn of(history: &[CallRecord], windows: &[FaultWindow]) -> Tally {
        let mut t = Tally::default();
        for call in history.iter().filter(|c| !c.quiet && c.line > 0) {
            t.calls += 1;
            if matches!(call.reply, Reply::Error(_)) {
                t.errors += 1;
                if windows.iter().any(|w| w.meets(call.start, call.end)) {
                    t.errors_in_windows += 1;
                }
            }
        }
        t
    }

    /// Errors per call, in percent.
    pub fn error_percent(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            100.0 * self.errors as f64 / self.calls as f64
        }
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.errors_in_windows += other.errors_in_windows;
    }
}

impl fmt::Display for Tally {
    /// `calls=120 errors=3 share=2.50% in_fault_windows=3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "calls={} errors={} share={:.2}% in_fault_windows={}",
            self.calls,
            self.errors,
            self.error_percent(),
            self.errors_in_windows
        )
    }
}

/// The latest window `[start, end]` meets, with whether it began after that window ended.
fn window_meeting(windows: &[FaultWindow], start: Duration, end: Duration) -> Option<(&FaultWindow, bool)> {
    windows.iter().filter(|w| w.meets(start, end)).max_by_key(|w| w.start).map(|w| (w, start > w.end))
}

/// The latest write that answered an error and ended by `start`, with the fault window that error met, if any:
/// the earlier step a failing line depends on. Only writes `relevant` to the failing line count (a REPLICATE that
/// failed in a fault window does not explain a node missing from NODES). A write whose error met a window is
/// preferred (availability); otherwise the latest failed write at all.
fn failed_write(
    history: &[CallRecord],
    windows: &[FaultWindow],
    start: Duration,
    relevant: fn(&Op) -> bool,
) -> Option<(FailedWrite, Option<FaultWindow>)> {
    let failed: Vec<&CallRecord> = history
        .iter()
        // A workload's writes race the steps on their own: no step depends on one (and a workload's claims are
        // refused as a matter of course), so none of them explains a failing line.
        .filter(|c| !c.quiet && !c.workload && c.line > 0 && c.end <= start && c.is_error() && c.op.is_write())
        .filter(|c| relevant(&c.op))
        .collect();
    let write = |c: &CallRecord| FailedWrite { line: c.line, node: c.node, at: c.end };
    let windowed = failed
        .iter()
        .rev()
        .find_map(|c| window_meeting(windows, c.start, c.end).map(|(w, _)| (write(c), Some(w.clone()))));
    windowed.or_else(|| failed.last().map(|c| (write(c), None)))
}

/// The rule that classes `violation`, given the run's history and fault windows.
pub fn classify(violation: &Violation, history: &[CallRecord], windows: &[FaultWindow]) -> Rule {
    match violation {
        Violation::StaleMembershipRead { .. }
        | Violation::LostWrite { .. }
        | Violation::SlotOwnedTwice { .. }
        | Violation::ReplicaOfNonMaster { .. }
        | Violation::EpochWentBack { .. }
        | Violation::Disagreement { .. }
        | Violation::Broken { .. } => Rule::Checked { property: violation.property() },
        Violation::NotSettled { .. } | Violation::NotConverged { .. } | Violation::OneSidedMembership { .. } => {
            Rule::NotSettled
        }
        Violation::NeverConsistent { line, .. } => {
            let polls = history.iter().filter(|c| c.line == *line);
            let start = polls.clone().map(|c| c.start).min().unwrap_or_default();
            let end = polls.map(|c| c.end).max().unwrap_or(start);
            if let Some((window, recovering)) = window_meeting(windows, start, end) {
                return Rule::DuringFault { window: window.clone(), recovering };
            }
            match failed_write(history, windows, start, Op::is_write) {
                Some((write, Some(window))) => Rule::AfterFaultedWrite { write, window },
                _ => Rule::InconsistentWhileHealthy,
            }
        }
        Violation::KnownNodes { line, node, .. }
        | Violation::MissingNode { line, node, .. }
        | Violation::UnexpectedReply { line, node, .. }
        | Violation::MissingText { line, node, .. }
        | Violation::Unavailable { line, node, .. } => {
            let call = history.iter().rev().find(|c| !c.quiet && c.line == *line && c.node == *node);
            let (start, end, error) = call.map_or((Duration::ZERO, Duration::ZERO, false), |c| {
                (c.start, c.end, matches!(c.reply, Reply::Error(_)))
            });
            if error {
                if let Some((window, recovering)) = window_meeting(windows, start, end) {
                    return Rule::DuringFault { window: window.clone(), recovering };
                }
            }
            if let Some((at, kill)) = call.and_then(|c| kill_before_key_read(c, windows)) {
                return Rule::KeysLostAtKill { at: *at, kill: kill.clone() };
            }
            let relevant = match violation {
                Violation::KnownNodes { .. } | Violation::MissingNode { .. } => Op::may_change_membership,
                _ => Op::is_write,
            };
            match (failed_write(history, windows, start, relevant), error) {
                (Some((write, Some(window))), _) => Rule::AfterFaultedWrite { write, window },
                (_, true) => Rule::ErrorWhileHealthy,
                (Some((write, None)), false) => Rule::AfterRefusedWrite { write },
                (None, false) => Rule::WrongAnswer,
            }
        }
    }
}

/// Commands that read the key space: their answers change when a kill loses a node's keys.
const KEY_READS: [&str; 5] = ["GET", "EXISTS", "DBSIZE", "DUMP", "MIGRATE"];
const KEY_READS_CLUSTER: [&str; 2] = ["COUNTKEYSINSLOT", "GETKEYSINSLOT"];

/// The first kill (or restart, which kills a live process first) before `call`, if `call` reads the key space.
fn kill_before_key_read<'w>(call: &CallRecord, windows: &'w [FaultWindow]) -> Option<&'w (Duration, String)> {
    let mut words = call.command.split_whitespace().map(str::to_ascii_uppercase);
    let first = words.next()?;
    let reads_keys = KEY_READS.contains(&first.as_str())
        || (first == "CLUSTER" && words.next().is_some_and(|sub| KEY_READS_CLUSTER.contains(&sub.as_str())));
    if !reads_keys {
        return None;
    }
    windows.iter().flat_map(|w| &w.kills).find(|(at, _)| *at < call.start)
}

/// Every violation with its rule, worst class first (stable: within a class, in the order found).
pub fn judge(violations: Vec<Violation>, history: &[CallRecord], windows: &[FaultWindow]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = violations
        .into_iter()
        .map(|violation| {
            let rule = classify(&violation, history, windows);
            Finding { violation, rule }
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.class()));
    findings
}

/// The worst class among `findings`, if any.
pub fn worst(findings: &[Finding]) -> Option<Class> {
    findings.iter().map(Finding::class).max()
}

/// `4 safety, 1 liveness, 2 availability` (classes with none left out).
pub fn class_counts(findings: &[Finding]) -> String {
    Class::WORST_FIRST
        .iter()
        .filter_map(|c| {
            let n = findings.iter().filter(|f| f.class() == *c).count();
            (n > 0).then(|| format!("{n} {c}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(node: usize, line: usize, command: &str, start: u64, end: u64, reply: Reply) -> CallRecord {
        let hosts = crate::hosts::hosts(&crate::scenario::parse("t", "cluster 6\n").unwrap());
        crate::history::record(node, line, command, (start, end), reply, &hosts)
    }

    fn window(start: u64, end: u64) -> FaultWindow {
        FaultWindow { start: ms(start), end: ms(end), opened_by: "partition n1 n2,n3".into(), kills: vec![] }
    }

    fn known_nodes(line: usize, node: usize, error: Option<&str>) -> Violation {
        Violation::KnownNodes {
            line,
            node,
            expected: 3,
            known: if error.is_some() { 0 } else { 2 },
            error: error.map(String::from),
        }
    }

    fn nodes_reply(n: usize) -> Reply {
        Reply::Bulk(
            (1..=n)
                .map(|i| format!("{:040x} 10.0.0.{i}:6379@16379 master - 0 0 0 connected\n", i))
                .collect::<String>()
                .into(),
        )
    }

    #[test]
    fn a_key_read_after_a_kill_is_explained_by_the_lost_key_space_and_nothing_else_is() {
        let wrong = |line| Violation::UnexpectedReply { line, node: 1, expected: "v1".into(), got: "(nil)".into() };
        let history = [
            call(1, 9, "GET foo", 20_000, 20_001, Reply::Null),
            call(1, 10, "CLUSTER COUNTKEYSINSLOT 12182", 20_000, 20_001, Reply::Int(0)),
            call(1, 11, "CLUSTER INFO", 20_000, 20_001, Reply::bulk_str("cluster_state:fail")),
        ];
        let mut log = WindowLog::default();
        log.update(ms(1_000), true, "profile swarm");
        log.update(ms(1_500), true, "swarm: kill n3");
        log.update(ms(2_000), false, "faults stop");
        let kill = log.windows(ms(30_000));
        let rule = classify(&wrong(9), &history, &kill);
        assert_eq!(rule, Rule::KeysLostAtKill { at: ms(1_500), kill: "swarm: kill n3".into() });
        assert_eq!(rule.class(), Class::Availability);
        assert!(matches!(classify(&wrong(10), &history, &kill), Rule::KeysLostAtKill { .. }));
        assert_eq!(classify(&wrong(11), &history, &kill), Rule::WrongAnswer, "not a key read");
        let mut later = WindowLog::default();
        later.instant(ms(25_000), "restart n1");
        assert_eq!(
            classify(&wrong(9), &history, &later.windows(ms(30_000))),
            Rule::WrongAnswer,
            "a kill after the read"
        );
        assert_eq!(
            classify(&wrong(9), &history, &[window(1_000, 2_000)]),
            Rule::WrongAnswer,
            "a partition loses no key"
        );
        assert_eq!(classify(&wrong(9), &history, &[]), Rule::WrongAnswer);
    }

    #[test]
    fn an_error_reply_inside_a_fault_window_is_availability() {
        let history = [call(1, 9, "CLUSTER NODES", 12_000, 13_000, Reply::error("ERR no leader"))];
        let rule = classify(&known_nodes(9, 1, Some("ERR no leader")), &history, &[window(10_000, 15_000)]);
        assert_eq!(rule, Rule::DuringFault { window: window(10_000, 15_000), recovering: false });
        assert_eq!(rule.class(), Class::Availability);
        assert_eq!(rule.to_string(), "availability: during fault window 10.000s–15.000s (partition n1 n2,n3)");
    }

    #[test]
    fn an_error_reply_within_the_recovery_bound_is_availability() {
        let history = [call(1, 9, "CLUSTER NODES", 20_000, 20_010, Reply::error("ERR no leader"))];
        let rule = classify(&known_nodes(9, 1, Some("ERR no leader")), &history, &[window(10_000, 15_000)]);
        assert_eq!(rule, Rule::DuringFault { window: window(10_000, 15_000), recovering: true });
        assert_eq!(
            rule.to_string(),
            "availability: within 17s recovery after fault window 10.000s–15.000s (partition n1 n2,n3)"
        );
    }

    #[test]
    fn an_error_reply_outside_every_fault_window_is_liveness() {
        let late = 15_000 + RECOVERY_MS + 1;
        let history = [call(1, 9, "CLUSTER NODES", late, late + 10, Reply::error("ERR no leader"))];
        let v = Violation::Unavailable { line: 9, node: 1, error: "ERR no leader".into() };
        assert_eq!(classify(&v, &history, &[window(10_000, 15_000)]), Rule::ErrorWhileHealthy);
        assert_eq!(classify(&v, &history, &[]).class(), Class::Liveness);
    }

    #[test]
    fn an_expect_after_a_write_that_failed_in_a_fault_window_is_availability_and_names_that_line() {
        let history = [
            call(1, 7, "CLUSTER MEET 10.0.0.3 6381", 11_000, 13_100, Reply::error("ERR timeout")),
            call(3, 40, "CLUSTER NODES", 60_000, 60_010, nodes_reply(2)),
        ];
        let rule = classify(&known_nodes(40, 3, None), &history, &[window(10_000, 15_000)]);
        assert_eq!(
            rule,
            Rule::AfterFaultedWrite {
                write: FailedWrite { line: 7, node: 1, at: ms(13_100) },
                window: window(10_000, 15_000)
            }
        );
        assert_eq!(rule.class(), Class::Availability);
        assert!(
            rule.to_string().starts_with("availability: depends on line 7's error at 13.100s (n1) in fault window"),
            "{rule}"
        );
    }

    #[test]
    fn a_node_missing_after_an_unrelated_write_failed_in_a_fault_window_is_not_excused_by_it() {
        // Line 7's REPLICATE failed in the window: it cannot explain n3 knowing 2 nodes; line 5's MEET, refused
        // while healthy, does: liveness, not availability.
        let history = [
            call(1, 5, "CLUSTER MEET 10.0.0.3 6381", 1_000, 1_100, Reply::error("ERR try again")),
            call(4, 7, &format!("CLUSTER REPLICATE {:040x}", 1), 11_000, 13_100, Reply::error("ERR timeout")),
            call(3, 40, "CLUSTER NODES", 60_000, 60_010, nodes_reply(2)),
        ];
        let rule = classify(&known_nodes(40, 3, None), &history, &[window(10_000, 15_000)]);
        assert_eq!(rule, Rule::AfterRefusedWrite { write: FailedWrite { line: 5, node: 1, at: ms(1_100) } });
        assert_eq!(rule.class(), Class::Liveness);
        // With no membership write failed at all, the answer is wrong: safety.
        let rule = classify(&known_nodes(40, 3, None), &history[1..], &[window(10_000, 15_000)]);
        assert_eq!(rule, Rule::WrongAnswer);
    }

    #[test]
    fn a_read_that_failed_in_a_fault_window_excuses_nothing_later() {
        let history = [
            call(1, 7, "CLUSTER NODES", 11_000, 13_100, Reply::error("ERR no leader")),
            call(3, 40, "CLUSTER NODES", 60_000, 60_010, nodes_reply(2)),
        ];
        assert_eq!(classify(&known_nodes(40, 3, None), &history, &[window(10_000, 15_000)]), Rule::WrongAnswer);
    }

    #[test]
    fn an_expect_after_a_write_refused_outside_every_window_is_liveness() {
        let history = [
            call(1, 7, "CLUSTER MEET 10.0.0.3 6381", 1_000, 1_100, Reply::error("ERR timeout")),
            call(3, 40, "CLUSTER NODES", 2_000, 2_010, nodes_reply(2)),
        ];
        let rule = classify(&known_nodes(40, 3, None), &history, &[]);
        assert_eq!(rule, Rule::AfterRefusedWrite { write: FailedWrite { line: 7, node: 1, at: ms(1_100) } });
        assert_eq!(rule.class(), Class::Liveness);
    }

    #[test]
    fn a_wrong_answer_with_no_fault_and_no_earlier_error_is_safety() {
        // local-only's init script: n3 lists 5 of 6 nodes, every MEET answered OK, no fault anywhere.
        let history = [
            call(1, 7, "CLUSTER MEET 10.0.0.3 6381", 1_000, 1_100, Reply::ok()),
            call(3, 40, "CLUSTER NODES", 2_000, 2_010, nodes_reply(2)),
        ];
        let rule = classify(&known_nodes(40, 3, None), &history, &[]);
        assert_eq!(rule, Rule::WrongAnswer);
        assert_eq!(rule.class(), Class::Safety);
    }

    #[test]
    fn a_wrong_answer_inside_a_fault_window_is_still_safety() {
        let history = [call(3, 40, "CLUSTER NODES", 12_000, 12_010, nodes_reply(2))];
        assert_eq!(classify(&known_nodes(40, 3, None), &history, &[window(10_000, 15_000)]), Rule::WrongAnswer);
    }

    #[test]
    fn checked_safety_properties_are_safety_whatever_the_faults() {
        let stale = Violation::StaleMembershipRead {
            line: 9,
            node: 3,
            missing: "n5".into(),
            write_ok_at: ms(1),
            read_start: ms(2),
        };
        let rule = classify(&stale, &[], &[window(0, 100_000)]);
        assert_eq!(rule, Rule::Checked { property: crate::check::linearizable_reads::PROPERTY });
        assert_eq!(rule.class(), Class::Safety);
    }

    #[test]
    fn not_settling_after_the_faults_stopped_is_liveness() {
        let v = Violation::NotSettled {
            line: 30,
            within_ms: 30_000,
            cause: Box::new(Violation::OneSidedMembership { line: 30, node: 1, lists: 2 }),
        };
        assert_eq!(classify(&v, &[], &[window(0, 100_000)]).class(), Class::Liveness);
    }

    #[test]
    fn wait_consistent_during_a_fault_window_is_availability_and_outside_it_liveness() {
        let cause = Box::new(Violation::Unavailable { line: 20, node: 2, error: "ERR x".into() });
        let v = Violation::NeverConsistent { line: 20, within_ms: 10_000, cause };
        let mut poll = call(2, 20, "CLUSTER NODES", 5_000, 5_010, Reply::error("ERR x"));
        poll.quiet = true;
        let mut last = poll.clone();
        (last.start, last.end) = (ms(15_000), ms(15_010));
        let history = [poll, last];
        assert!(matches!(
            classify(&v, &history, &[window(14_000, 14_500)]),
            Rule::DuringFault { recovering: false, .. }
        ));
        assert_eq!(classify(&v, &history, &[]), Rule::InconsistentWhileHealthy);
    }

    #[test]
    fn strict_makes_availability_a_failure() {
        assert!(!Class::Availability.fails(false));
        assert!(Class::Availability.fails(true));
        assert!(Class::Safety.fails(false) && Class::Liveness.fails(false));
    }

    #[test]
    fn findings_are_listed_worst_class_first_whatever_came_first() {
        let history = [
            call(1, 5, "CLUSTER NODES", 12_000, 12_010, Reply::error("ERR no leader")),
            call(2, 6, "CLUSTER NODES", 40_000, 40_010, Reply::error("ERR no leader")),
        ];
        let violations = vec![
            Violation::Unavailable { line: 5, node: 1, error: "ERR no leader".into() },
            Violation::Unavailable { line: 6, node: 2, error: "ERR no leader".into() },
            Violation::LostWrite {
                line: 8,
                write: "CLUSTER ADDSLOTS 1".into(),
                ok_at: ms(1),
                node: 1,
                missing: "slot 1".into(),
            },
        ];
        let findings = judge(violations, &history, &[window(10_000, 13_000)]);
        let classes: Vec<Class> = findings.iter().map(Finding::class).collect();
        assert_eq!(classes, [Class::Safety, Class::Liveness, Class::Availability]);
        assert_eq!(worst(&findings), Some(Class::Safety));
        assert_eq!(class_counts(&findings), "1 safety, 1 liveness, 1 availability");
    }

    #[test]
    fn the_tally_counts_scenario_calls_errors_and_errors_in_windows() {
        let mut poll = call(1, 9, "CLUSTER NODES", 0, 1, Reply::error("ERR x"));
        poll.quiet = true;
        let history = [
            call(1, 3, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(1, 4, "CLUSTER MEET 10.0.0.3 6381", 11_000, 11_500, Reply::error("ERR timeout")),
            call(2, 5, "CLUSTER NODES", 50_000, 50_010, Reply::error("ERR no leader")),
            poll,
            call(1, 0, "CLUSTER NODES", 60_000, 60_001, Reply::error("ERR final read")),
        ];
        let t = Tally::of(&history, &[window(10_000, 12_000)]);
        assert_eq!(t, Tally { calls: 3, errors: 2, errors_in_windows: 1 });
        assert_eq!(t.to_string(), "calls=3 errors=2 share=66.67% in_fault_windows=1");
    }

    #[test]
    fn the_window_log_merges_overlapping_faults_into_one_window() {
        let mut log = WindowLog::default();
        log.update(ms(1_000), true, "kill n2");
        log.update(ms(2_000), true, "partition n1 n3");
        log.update(ms(3_000), false, "restart n2");
        log.instant(ms(5_000), "restart n3");
        log.update(ms(6_000), true, "pause n1");
        let windows = log.windows(ms(7_000));
        assert_eq!(windows.len(), 3);
        assert_eq!(
            (windows[0].start, windows[0].end, windows[0].opened_by.as_str()),
            (ms(1_000), ms(3_000), "kill n2")
        );
        assert_eq!((windows[1].start, windows[1].end), (ms(5_000), ms(5_000)));
        assert_eq!((windows[2].start, windows[2].end), (ms(6_000), ms(7_000)), "an open window ends now");
    }
}
