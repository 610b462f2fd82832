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
    kill_leader_during_addslots_fire_and_forget: "kill_leader_during_addslots.scn", FireAndForget;
    kill_leader_during_addslots_commit_then_sleep: "kill_leader_during_addslots.scn", CommitThenSleep;
    kill_leader_during_addslots_read_index: "kill_leader_during_addslots.scn", ReadIndex;
    partition_during_meet_commit_then_sleep: "partition_during_meet.scn", CommitThenSleep;
    partition_during_meet_read_index: "partition_during_meet.scn", ReadIndex;
    forget_and_rejoin_read_index: "forget_and_rejoin.scn", ReadIndex;
    redis_cli_create_local_only: "redis_cli_create.scn", LocalOnly;
    redis_cli_create_fire_and_forget: "redis_cli_create.scn", FireAndForget;
    redis_cli_create_read_index: "redis_cli_create.scn", ReadIndex;
}
