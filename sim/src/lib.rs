//! sim: replays scenarios against real clustersim nodes inside madsim's simulated network and clock.
//!
//! A scenario file (docs/SCENARIOS.md) is parsed once and run under any number of seeds; each run gives an
//! [`Outcome`]: the history of calls, the normalized trace and its hash, and the verdict — every violation as a
//! [`Finding`] with its [`Class`] (safety, liveness, availability) and the rule that gave it.
//!
//! ```no_run
//! use clustersim::server::Strategy;
//! use sim::{Profile, RunOptions};
//!
//! let scenario = sim::scenario::load("scenarios/aikv_cluster_init.scn".as_ref()).unwrap();
//! for seed in 0..3 {
//!     let outcome = sim::run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex).profile(Profile::Lan));
//!     assert!(outcome.passed(), "{}", sim::outcome_report(&outcome));
//!     println!("seed {seed}: {} trace-hash {:016x}", sim::verdict_line(&outcome), outcome.trace_hash);
//! }
//! ```
//!
//! `sim/examples/embed.rs` is the same as a test of your own (`cargo test -p sim --example embed`). The
//! simulation pieces need the simulation flavour (`--cfg madsim`, which .cargo/config.toml sets for this
//! workspace; a crate of yours needs the same rustflags). Built without it (the real flavour), the crate offers
//! [`real`]: the same scenarios, client and checkers against real `clustersim-node` processes over real TCP.
//!
//! Layers, each module knowing only those above it in this list (docs/ARCHITECTURE.md draws them): `coverage`, `raft_events`;
//! `trace`;
//! `scenario` and `profile` (plain data); `hosts`; `history`; `client`; `check`; `verdict`; `outcome`;
//! `executor`; `faults`, `schedule` and `real`; `run`; `sweep` and `fuzz` (`gen`); `report` (mergeable
//! reports; `shard` sits at the bottom, using nothing); `battery` and `save`; `html`; the `sim` binary.

// Assertions stay on where seeds run: the harness does not build unless the node checks its invariants after
// every apply (sim/Cargo.toml enables the node crate's `invariants` feature for release sweeps).
const _: () = assert!(clustersim::meta::CHECK_INVARIANTS, "enable clustersim's `invariants` feature");

pub mod coverage;
pub mod raft_events;
mod trace;

pub mod profile;
pub mod scenario;

mod history;
mod hosts;

mod client;

pub mod check;
pub mod verdict;

mod outcome;

mod executor;

#[cfg(madsim)]
mod faults;
#[cfg(not(madsim))]
pub mod real;
#[cfg(madsim)]
mod schedule;

#[cfg(madsim)]
mod run;

#[cfg(madsim)]
pub mod battery;
#[cfg(madsim)]
pub mod fuzz;
pub mod gen;
#[cfg(madsim)]
pub mod report;
#[cfg(madsim)]
pub mod save;
pub mod shard;
#[cfg(madsim)]
pub mod sweep;

pub mod html;

pub use check::{Class, Property, Violation};
pub use client::show_reply;
pub use history::{CallRecord, Op};
pub use hosts::{hosts, known_node_count, normalize, Host};
pub use outcome::{Outcome, RunOptions};
pub use profile::Profile;
#[cfg(madsim)]
pub use run::{run, run_checking_determinism};
pub use trace::stamp;
pub use verdict::{FaultWindow, Finding, Rule, Tally};

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
    for call in outcome.history.iter().filter(|c| c.line > 0 && !c.quiet && !c.workload) {
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
    outcome.verdict_line()
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
