//! What each strategy does on the shipped scenarios, over many seeds. Nothing here is tuned to pass: each
//! assertion states a fact about the code that a regression would break.
#![cfg(madsim)]

mod common;

use clustersim::server::Strategy;
use sim::{run, Class, RunOptions, Violation};

/// The convergence check of AiKv's script is at this line of the scenario.
fn convergence_line(s: &sim::scenario::Scenario) -> usize {
    let index = s
        .steps
        .iter()
        .position(|st| matches!(st, sim::scenario::Step::Expect { check: sim::scenario::Check::KnownNodes(6), .. }))
        .expect("the init script checks known-nodes=6");
    s.line_of(index)
}

#[test]
fn local_only_reproduces_aikv_historical_counts_on_every_seed() {
    let scenario = common::load("aikv_cluster_init.scn");
    let line = convergence_line(&scenario);
    for seed in 0..40 {
        let outcome = run(&scenario, &RunOptions::new(seed, Strategy::LocalOnly));
        assert!(!outcome.passed(), "seed {seed}: local-only must fail the init script");
        assert_eq!(
            outcome.class(),
            Some(Class::Safety),
            "seed {seed}: n3..n6 knowing 5/6..2/6 nodes is a wrong answer"
        );
        let counts: Vec<usize> = outcome
            .history
            .iter()
            .filter(|c| c.line == line)
            .map(|c| sim::known_node_count(&c.reply.as_text().expect("NODES is text")))
            .collect();
        assert_eq!(counts, vec![6, 6, 5, 4, 3, 2], "seed {seed}");
        let known: Vec<(usize, usize, Class)> = outcome
            .findings
            .iter()
            .filter_map(|f| match f.violation {
                Violation::KnownNodes { node, known, .. } => Some((node, known, f.class())),
                _ => None,
            })
            .collect();
        let safety = Class::Safety;
        assert_eq!(known, vec![(3, 5, safety), (4, 4, safety), (5, 3, safety), (6, 2, safety)], "seed {seed}");
    }
}

#[test]
fn local_only_fails_read_your_writes_at_the_first_meet() {
    let scenario = common::load("meet_read_your_writes.scn");
    for seed in 0..20 {
        let outcome = run(&scenario, &RunOptions::new(seed, Strategy::LocalOnly));
        let first = outcome.violations().next().expect("local-only never propagates a MEET");
        assert_eq!(
            *first,
            Violation::KnownNodes { line: 6, node: 2, expected: 2, known: 1, error: None },
            "seed {seed}"
        );
    }
}

#[test]
fn fire_and_forget_breaks_read_your_writes_within_200_seeds() {
    let scenario = common::load("meet_read_your_writes.scn");
    let failing = (0..200).find(|&seed| !run(&scenario, &RunOptions::new(seed, Strategy::FireAndForget)).passed());
    assert!(failing.is_some(), "fire-and-forget answers OK before the MEET is committed: some seed must see it");
}

#[test]
fn fire_and_forget_failures_on_read_your_writes_are_stale_reads_not_errors() {
    let scenario = common::load("meet_read_your_writes.scn");
    let outcome = run(&scenario, &RunOptions::new(0, Strategy::FireAndForget));
    assert!(
        outcome
            .findings
            .iter()
            .any(|f| matches!(f.violation, Violation::StaleMembershipRead { .. }) && f.class() == Class::Safety),
        "the checker sees the stale read, a safety violation: {:?}",
        outcome.findings
    );
}

#[test]
fn read_index_passes_both_scenarios_on_every_seed() {
    for file in ["meet_read_your_writes.scn", "aikv_cluster_init.scn"] {
        let scenario = common::load(file);
        for seed in 0..100 {
            let outcome = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex));
            assert!(outcome.findings.is_empty(), "{file} seed {seed}: {:?}", outcome.findings);
        }
    }
}
