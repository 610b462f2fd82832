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

macro_rules! snapshots {
    ($($name:ident: $file:literal, $strategy:ident;)*) => {
        $(
            #[test]
            fn $name() {
                snapshot($file, Strategy::$strategy);
            }
        )*
    };
}

snapshots! {
    aikv_cluster_init_local_only: "aikv_cluster_init.scn", LocalOnly;
    aikv_cluster_init_fire_and_forget: "aikv_cluster_init.scn", FireAndForget;
    aikv_cluster_init_commit_then_sleep: "aikv_cluster_init.scn", CommitThenSleep;
    aikv_cluster_init_read_index: "aikv_cluster_init.scn", ReadIndex;
    meet_read_your_writes_local_only: "meet_read_your_writes.scn", LocalOnly;
    meet_read_your_writes_fire_and_forget: "meet_read_your_writes.scn", FireAndForget;
    meet_read_your_writes_commit_then_sleep: "meet_read_your_writes.scn", CommitThenSleep;
    meet_read_your_writes_read_index: "meet_read_your_writes.scn", ReadIndex;
}
