//! sim: replays scenarios against real clustersim nodes inside madsim's simulated network and clock.
//!
//! ```no_run
//! let scenario = sim::scenario::load("scenarios/aikv_cluster_init.scn".as_ref()).unwrap();
//! let outcome = sim::run(&scenario, &sim::RunOptions::new(42, clustersim::server::Strategy::LocalOnly));
//! for finding in &outcome.findings {
//!     println!("{finding}"); // the violation, then its class and the rule that gave it: `[safety: …]`
//! }
//! println!("trace-hash: {:016x}", outcome.trace_hash);
//! ```
//!
//! The simulation pieces need the simulation flavour (`--cfg madsim`, the default through .cargo/config.toml).
//! Built without it (the real flavour), the crate offers [`real`]: the same scenarios, client and checkers
//! against real `clustersim-node` processes over real TCP.

pub mod gen;
pub mod profile;
pub mod scenario;

pub mod check;
mod client;
#[cfg(madsim)]
mod faults;
#[cfg(madsim)]
pub mod fuzz;
#[cfg(not(madsim))]
pub mod real;
mod run;
pub mod trace;
pub mod verdict;

pub use client::{show_reply, CallRecord};
pub use run::{hosts, known_node_count, normalize, Host, Outcome, RunOptions, Violation};
#[cfg(madsim)]
pub use run::{run, run_checking_determinism};
pub use verdict::{Class, FaultWindow, Finding, Rule, Tally};
#[cfg(madsim)]
pub mod sweep;

/// The text a snapshot holds for one run: verdict, violations, every step's reply, and each node's final NODES.
/// Normalized (ids as `<nK>`), without times, so it changes only when behaviour changes.
pub fn snapshot_text(file: &str, outcome: &Outcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario: {file}\nstrategy: {}\nprofile: {}\nseed: {}",
        outcome.strategy, outcome.profile, outcome.seed
    );
    let _ = writeln!(out, "verdict: {}", verdict_line(outcome));
    for finding in &outcome.findings {
        let _ = writeln!(out, "  {finding}");
    }
    let _ = writeln!(out, "steps:");
    for call in outcome.history.iter().filter(|c| c.line > 0 && !c.quiet) {
        let reply = normalize(&show_reply(&call.reply), &outcome.hosts);
        let _ = writeln!(out, "  L{:<3} n{}> {} => {}", call.line, call.node, call.command, reply);
    }
    let _ = writeln!(out, "final CLUSTER NODES:");
    for (i, nodes) in outcome.final_nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{}:", i + 1);
        for l in nodes.lines() {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}

/// `PASS`, `PASS (2 availability)`, `FAIL (safety; 4 safety, 1 liveness)`: the run's verdict, then how many
/// violations of each class (worst class first). Availability alone passes unless strict.
pub fn verdict_line(outcome: &Outcome) -> String {
    let counts = verdict::class_counts(&outcome.findings);
    match (outcome.passed(), outcome.class()) {
        (true, None) => "PASS".to_string(),
        (true, Some(_)) => format!("PASS ({counts})"),
        (false, Some(worst)) => format!("FAIL ({worst}; {counts})"),
        (false, None) => unreachable!("a failed run has a violation"),
    }
}

/// What `sim replay` and `sim real` print for a run, up to and including the verdict: the trace, each node's
/// final CLUSTER NODES, the fault windows, the scenario calls' error tally, `verdict: PASS` or `verdict: FAIL
/// (<worst class>; <counts>)` and one line per violation, worst class first, each with its class and rule.
pub fn outcome_report(outcome: &Outcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for line in &outcome.trace {
        let _ = writeln!(out, "{line}");
    }
    for (i, nodes) in outcome.final_nodes.iter().enumerate() {
        let _ = writeln!(out, "# final CLUSTER NODES of n{}:", i + 1);
        for l in nodes.lines() {
            let _ = writeln!(out, "#   {l}");
        }
    }
    for window in &outcome.windows {
        let _ = writeln!(out, "# fault window: {window}");
    }
    let strict = if outcome.strict { " strict" } else { "" };
    let _ = writeln!(out, "# availability: {}{strict}", outcome.tally);
    let _ = writeln!(out, "verdict: {}", verdict_line(outcome));
    for finding in &outcome.findings {
        let _ = writeln!(out, "  {finding}");
    }
    out
}
