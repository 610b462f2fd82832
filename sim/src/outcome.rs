//! What one run is asked for ([`RunOptions`]) and what it produced ([`Outcome`]): built from the executor's raw
//! result by running the registered checkers and the verdict over it, the same in simulation and in real mode.

use std::time::Duration;

use clustersim::server::Strategy;

use crate::check::{Class, Settled, Violation};
use crate::coverage::{record, Probes};
use crate::history::CallRecord;
use crate::hosts::{normalize, Host};
use crate::profile::Profile;
use crate::raft_events::RaftEvent;
use crate::trace::{hash_lines, TraceSink};
use crate::verdict::{FaultWindow, Finding, Tally};

/// What to run a scenario with. Built with [`RunOptions::new`] and the setters below (fields may be added):
///
/// ```
/// # use sim::{Profile, RunOptions};
/// # use clustersim::server::Strategy;
/// let options = RunOptions::new(42, Strategy::ReadIndex).profile(Profile::Wan);
/// assert_eq!((options.seed, options.profile), (42, Profile::Wan));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunOptions {
    /// Seeds madsim's RNG: every random choice of the run (latencies, losses, timeouts, the profile's
    /// schedule) follows from it.
    pub seed: u64,
    /// How the nodes replicate their metadata.
    pub strategy: Strategy,
    /// How the simulated network behaves (default: `lan`).
    pub profile: Profile,
    /// BUGGIFY: the node's injection points (`clustersim::raft::rt::buggify`) may fire, where the seed decides
    /// (simulation only; default off).
    pub buggify: bool,
}

impl RunOptions {
    /// A run on `seed` with `strategy`, on the `lan` profile.
    pub fn new(seed: u64, strategy: Strategy) -> Self {
        RunOptions { seed, strategy, profile: Profile::Lan, buggify: false }
    }

    /// The same options on another network profile.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The same options with BUGGIFY on or off.
    pub fn buggify(mut self, on: bool) -> Self {
        self.buggify = on;
        self
    }

    /// The same options on another seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
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
    /// The coverage probes the run reached (node and harness, `crate::coverage`), with the first virtual time.
    pub probes: Probes,
    /// The nodes' Raft events, in the order they happened (ids as the nodes sent them; empty in real mode).
    pub raft_events: Vec<RaftEvent>,
}

impl Outcome {
    /// Whether the run passed: no safety or liveness violation (and, under strict, no availability one).
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(|f| f.class().fails(self.strict))
    }

    /// The worst class among the run's violations (`None`: no violation at all).
    pub fn class(&self) -> Option<Class> {
        crate::verdict::worst(&self.findings)
    }

    /// The violations, worst class first.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.findings.iter().map(|f| &f.violation)
    }

    /// `PASS`, `PASS (2 availability)`, `FAIL (safety; 4 safety, 1 liveness)`: the verdict, then how many
    /// violations of each class (worst class first). Availability alone passes unless strict.
    pub fn verdict_line(&self) -> String {
        let counts = crate::verdict::class_counts(&self.findings);
        match (self.passed(), self.class()) {
            (true, None) => "PASS".to_string(),
            (true, Some(_)) => format!("PASS ({counts})"),
            (false, Some(worst)) => format!("FAIL ({worst}; {counts})"),
            (false, None) => unreachable!("a failed run has a violation"),
        }
    }
}

/// What the executor returns: the history and what it judged while the run went on.
pub(crate) struct RawOutcome {
    pub history: Vec<CallRecord>,
    /// Violations found while running (expects, settle, wait-consistent).
    pub violations: Vec<Violation>,
    pub final_nodes: Vec<String>,
    pub virtual_time: Duration,
    /// Each `settle` that settled (the settled-cluster checkers judge them).
    pub settled: Vec<Settled>,
    pub windows: Vec<FaultWindow>,
    /// The scenario header's `strict`.
    pub strict: bool,
}

/// Normalizes the trace and the history, runs every registered checker (`check::CHECKERS`) and the verdict.
pub(crate) fn finish(raw: RawOutcome, sink: TraceSink, hosts: Vec<Host>, options: &RunOptions) -> Outcome {
    let RawOutcome { history, mut violations, final_nodes, virtual_time, settled, windows, strict } = raw;
    let trace: Vec<String> = sink.take().iter().map(|l| normalize(l, &hosts)).collect();
    let raft_events = sink.raft.take();
    let history: Vec<CallRecord> = history
        .into_iter()
        .map(|mut c| {
            c.command = normalize(&c.command, &hosts);
            c
        })
        .collect();
    // Ids in a checker's fact text read as `<nK>`, like the rest of the outcome.
    let judged = crate::check::after_run(&history, &hosts, &settled, &raft_events);
    violations.extend(judged.into_iter().map(|v| v.normalized(&hosts)));
    let findings = crate::verdict::judge(violations, &history, &windows);
    let tally = Tally::of(&history, &windows);
    let probes = harness_probes(&history, &windows);
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
        probes,
        raft_events,
    }
}

/// The harness's probes a finished run shows in its history and fault windows (`coverage::SIM_PROBES`).
fn harness_probes(history: &[CallRecord], windows: &[FaultWindow]) -> Probes {
    let mut probes = Probes::new();
    for call in history.iter().filter(|c| !c.quiet) {
        if windows.iter().any(|w| w.meets(call.start, call.end)) {
            let name = if call.op.is_write() { "sim.write_in_fault_window" } else { "sim.read_in_fault_window" };
            record(&mut probes, name, call.start);
        }
        let killed = |w: &&FaultWindow| w.opened_by.contains("kill") && call.start < w.start && w.start < call.end;
        if let Some(kill) = windows.iter().find(killed) {
            record(&mut probes, "sim.kill_during_call", kill.start);
        }
    }
    probes
}
