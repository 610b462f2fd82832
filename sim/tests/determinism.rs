//! Same seed ⇒ byte-identical normalized trace: twice in one process, and across processes.
#![cfg(madsim)]

mod common;

use std::process::Command;

use clustersim::server::Strategy;
use sim::{run, RunOptions};

fn replay_hash_in_new_process(file: &str, seed: u64, strategy: Strategy) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "replay",
            common::scenario_path(file).to_str().unwrap(),
            "--seed",
            &seed.to_string(),
            "--strategy",
            strategy.name(),
        ])
        .output()
        .expect("run the sim binary");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("trace-hash: "), "last line of replay is the hash, got {last:?}");
    last.trim_start_matches("trace-hash: ").to_string()
}

fn check(file: &str, strategy: Strategy) {
    let scenario = common::load(file);
    let seed = 7;
    let a = run(&scenario, &RunOptions::new(seed, strategy));
    let b = run(&scenario, &RunOptions::new(seed, strategy));
    assert_eq!(a.trace, b.trace, "{file} {strategy}: same seed twice in one process");
    let in_process = format!("{:016x}", a.trace_hash);
    assert_eq!(replay_hash_in_new_process(file, seed, strategy), in_process, "{file} {strategy}: another process");
    assert_eq!(replay_hash_in_new_process(file, seed, strategy), in_process, "{file} {strategy}: a third process");
    let other = run(&scenario, &RunOptions::new(seed + 1, strategy));
    assert_ne!(other.trace_hash, a.trace_hash, "{file} {strategy}: another seed changes the timing");
}

#[test]
fn raft_strategy_traces_are_identical_across_runs_and_processes() {
    check("meet_read_your_writes.scn", Strategy::ReadIndex);
    check("meet_read_your_writes.scn", Strategy::FireAndForget);
    check("aikv_cluster_init.scn", Strategy::CommitThenSleep);
}

#[test]
fn madsim_finds_every_random_draw_repeated_in_a_raft_run() {
    let scenario = common::load("aikv_cluster_init.scn");
    let outcome = sim::run_checking_determinism(&scenario, &RunOptions::new(5, Strategy::ReadIndex));
    assert!(outcome.passed(), "{:?}", outcome.findings);
}

#[test]
fn fault_scenarios_replay_byte_for_byte_across_processes() {
    check("kill_leader_during_addslots.scn", Strategy::ReadIndex);
    check("partition_during_meet.scn", Strategy::CommitThenSleep);
}

#[test]
fn madsim_finds_every_random_draw_repeated_in_a_run_with_kills_and_restarts() {
    let scenario = common::load("kill_leader_during_addslots.scn");
    let outcome = sim::run_checking_determinism(&scenario, &RunOptions::new(2, Strategy::ReadIndex));
    assert!(outcome.passed(), "{:?}", outcome.findings);
}

#[test]
fn local_only_traces_are_identical_across_runs_and_processes() {
    check("aikv_cluster_init.scn", Strategy::LocalOnly);
    check("meet_read_your_writes.scn", Strategy::LocalOnly);
}

#[test]
fn madsim_finds_every_random_draw_repeated_in_a_local_only_run() {
    let scenario = common::load("aikv_cluster_init.scn");
    let outcome = sim::run_checking_determinism(&scenario, &RunOptions::new(3, Strategy::LocalOnly));
    assert_eq!(
        outcome.class(),
        Some(sim::Class::Safety),
        "local-only still fails the init script under the checker, with a wrong answer"
    );
}

#[test]
fn parallel_jobs_give_the_same_traces_as_one_job() {
    use sim::profile::Profile;
    use sim::sweep::{sweep, SeedResult};
    let scenario = common::load("meet_read_your_writes.scn");
    let hashes = |jobs| {
        sweep(&scenario, Strategy::FireAndForget, Profile::Lan, 0..8, jobs, &|_| {})
            .results
            .into_iter()
            .map(|(seed, r)| match r {
                SeedResult::Passed { trace_hash, .. } | SeedResult::Failed { trace_hash, .. } => (seed, trace_hash),
                SeedResult::Panicked { message } => panic!("seed {seed} panicked: {message}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(hashes(1), hashes(2));
}

#[test]
fn a_scenario_with_background_workloads_replays_byte_for_byte_across_processes() {
    check("reads_race_faults.scn", Strategy::ReadIndex);
}
