//! insta snapshots: per scenario × strategy at a fixed seed, the normalized step replies and each node's final
//! CLUSTER NODES. Review changes with `cargo insta review`; CI runs with INSTA_UPDATE=no and never writes one.
#![cfg(madsim)]

mod common;

use clustersim::server::Strategy;

const SEED: u64 = 1;

fn snapshot(file: &str, strategy: Strategy) {
    let outcome = sim::run(&common::load(file), &sim::RunOptions::new(SEED, strategy));
    let name = format!("{}__{}", file.trim_end_matches(".scn"), strategy.name());
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, sim::snapshot_text(file, &outcome));
    });
}

#[test]
fn aikv_cluster_init_local_only() {
    snapshot("aikv_cluster_init.scn", Strategy::LocalOnly);
}

#[test]
fn meet_read_your_writes_local_only() {
    snapshot("meet_read_your_writes.scn", Strategy::LocalOnly);
}
