//! sim: replays scenarios against real clustersim nodes inside madsim's simulated network and clock.
//!
//! ```no_run
//! let scenario = sim::scenario::load("scenarios/aikv_cluster_init.scn".as_ref()).unwrap();
//! let outcome = sim::run(&scenario, &sim::RunOptions::new(42, clustersim::server::Strategy::LocalOnly));
//! for v in &outcome.violations {
//!     println!("{v}");
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

pub use client::{show_reply, CallRecord};
pub use run::{hosts, known_node_count, normalize, Host, Outcome, RunOptions, Violation};
#[cfg(madsim)]
pub use run::{run, run_checking_determinism};
#[cfg(madsim)]
pub mod sweep;

/// The text a snapshot holds for one run: verdict, violations, every step's reply, and each node's final NODES.
/// Normalized (ids as `<nK>`), without times, so it changes only when behaviour changes.
pub fn snapshot_text(file: &str, outcome: &Outcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "scenario: {file}\nstrategy: {}\nprofile: {}\nseed: {}", outcome.strategy, outcome.profile, outcome.seed);
    let _ = writeln!(out, "verdict: {}", if outcome.passed() { "PASS" } else { "FAIL" });
    for v in &outcome.violations {
        let _ = writeln!(out, "  {} {v}", v.kind());
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

/// What `sim replay` and `sim real` print for a run, up to and including the verdict: the trace, each node's
/// final CLUSTER NODES, `verdict: PASS` or `verdict: FAIL (N violations)` and one line per violation.
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
    if outcome.passed() {
        let _ = writeln!(out, "verdict: PASS");
    } else {
        let _ = writeln!(out, "verdict: FAIL ({} violations)", outcome.violations.len());
        for v in &outcome.violations {
            let _ = writeln!(out, "  {} {v}", v.kind());
        }
    }
    out
}
