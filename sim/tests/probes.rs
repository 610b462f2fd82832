//! Coverage probes and BUGGIFY, end to end: a scenario reaches the rare branches it was written for, probes
//! never show in the trace, and BUGGIFY firings are seeded (same seed, same firings) and traced.
#![cfg(madsim)]

mod common;

use clustersim::server::Strategy;
use sim::{run, RunOptions};

/// Killing the leader and restarting it (kill_leader_during_addslots.scn) makes the survivors lose their leader
/// and the restarted n1 reopen the instance its disk kept.
#[test]
fn a_restarted_leader_reaches_the_reopen_and_leader_lost_probes() {
    let scenario = common::load("kill_leader_during_addslots.scn");
    let outcome = run(&scenario, &RunOptions::new(1, Strategy::ReadIndex));
    assert!(outcome.probes.contains_key("raft.reopened"), "{:?}", outcome.probes);
    assert!(outcome.probes.contains_key("raft.leader_lost"), "{:?}", outcome.probes);
    assert!(outcome.trace.iter().all(|l| !l.contains("probe")), "probes are not trace lines");
}

/// A scenario without faults reaches none of the fault probes of the harness.
#[test]
fn a_fault_free_scenario_reaches_no_fault_window_probe() {
    let scenario = common::load("meet_read_your_writes.scn");
    let outcome = run(&scenario, &RunOptions::new(1, Strategy::ReadIndex));
    assert!(outcome.windows.is_empty());
    assert!(!outcome.probes.keys().any(|p| p.contains("fault_window") || p == "raft.reopened"), "{:?}", outcome.probes);
}

/// With BUGGIFY, the seed decides where the injection points fire: the same seed fires the same points (same
/// trace), each firing is one trace line and a probe; without it nothing fires.
#[test]
fn buggify_firings_follow_the_seed_and_show_in_the_trace() {
    let scenario = common::load("kill_leader_during_addslots.scn");
    let fired = |o: &sim::Outcome| o.trace.iter().filter(|l| l.contains("buggify: ")).count();
    let (seed, first) = (0..20)
        .map(|seed| (seed, run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex).buggify(true))))
        .find(|(_, o)| fired(o) > 0)
        .expect("some seed of 20 fires a BUGGIFY point");
    let again = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex).buggify(true));
    assert_eq!(first.trace_hash, again.trace_hash, "seed {seed}");
    assert!(first.probes.keys().any(|p| p.starts_with("buggify.")), "{:?}", first.probes);
    let plain = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex));
    assert_eq!(fired(&plain), 0);
    assert!(!plain.probes.keys().any(|p| p.starts_with("buggify.")));
}

/// `settle` stops BUGGIFY with every other fault: no injection point fires after the liveness phase began, on
/// seeds where it fired before.
#[test]
fn buggify_stops_when_settle_stops_the_faults() {
    let scenario = common::load("writes_race_faults.scn");
    let mut checked = 0;
    for seed in 0..8 {
        let outcome = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex).buggify(true));
        let stop = outcome.trace.iter().position(|l| l.contains("faults stop")).expect("the scenario settles");
        if !outcome.trace[..stop].iter().any(|l| l.contains("buggify: ")) {
            continue;
        }
        checked += 1;
        let late: Vec<&String> = outcome.trace[stop..].iter().filter(|l| l.contains("buggify: ")).collect();
        assert!(late.is_empty(), "seed {seed}: fired after settle began: {late:?}");
    }
    assert!(checked >= 3, "BUGGIFY fired before settle on only {checked} of 8 seeds");
}
