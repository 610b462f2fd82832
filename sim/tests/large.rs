//! Big clusters: scenarios/large/ (kept out of the battery's directory: one seed of 64 nodes costs as much as ~40
//! seeds of the six-node scripts). docs/RESULTS.md, "Speed", has the cost per node count.
#![cfg(madsim)]

mod common;

use clustersim::server::Strategy;
use sim::{run, Class, RunOptions};

#[test]
fn redis_cli_creates_a_64_node_cluster_under_read_index() {
    let scenario = common::load("large/cluster_create_64.scn");
    assert_eq!(scenario.header.nodes, 64);
    for seed in 0..2 {
        let outcome = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex));
        assert!(outcome.passed(), "seed {seed}: {:?}", outcome.findings.first());
        assert_eq!(outcome.final_nodes.len(), 64);
        for (i, nodes) in outcome.final_nodes.iter().enumerate() {
            // Normalized: each line starts with its node's name (`<n7> 10.0.0.7:6385@16385 …`).
            let listed = nodes.lines().filter(|l| l.starts_with("<n")).count();
            assert_eq!(listed, 64, "seed {seed}: n{} after settle", i + 1);
        }
    }
}

#[test]
fn local_only_never_joins_the_64_node_cluster() {
    let scenario = common::load("large/cluster_create_64.scn");
    let outcome = run(&scenario, &RunOptions::new(0, Strategy::LocalOnly));
    assert_eq!(outcome.class(), Some(Class::Safety), "a MEET answered OK that no other node sees is a wrong answer");
}
