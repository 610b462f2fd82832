//! Using the harness from your own tests: run a scenario file for a few seeds and assert on the verdicts.
//!
//! `cargo test -p sim --example embed` runs the test below (sim/Cargo.toml marks this example `test = true`);
//! `cargo run -p sim --example embed` prints one verdict line per seed. A crate of yours needs the simulation
//! flavour's rustflags (`--cfg madsim`, as this workspace's .cargo/config.toml sets).

#[cfg(madsim)]
mod embedded {
    use clustersim::server::Strategy;
    use sim::{Outcome, RunOptions};

    /// Runs the scenario at `path` (relative to the workspace) on `seeds` under `strategy`.
    pub fn outcomes(path: &str, strategy: Strategy, seeds: std::ops::Range<u64>) -> Vec<Outcome> {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        let scenario = sim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        seeds.map(|seed| sim::run(&scenario, &RunOptions::new(seed, strategy))).collect()
    }

    #[test]
    fn read_index_passes_the_aikv_init_script_and_local_only_breaks_it() {
        // A subscriber of the embedding program's own does not take the runs' traces away.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        for outcome in outcomes("scenarios/aikv_cluster_init.scn", Strategy::ReadIndex, 0..3) {
            assert!(outcome.passed(), "{}", sim::outcome_report(&outcome));
            assert!(!outcome.trace.is_empty(), "seed {}: the trace was captured", outcome.seed);
        }
        use sim::Class;
        let historical = outcomes("scenarios/aikv_cluster_init.scn", Strategy::LocalOnly, 0..1);
        assert_eq!(historical[0].class(), Some(Class::Safety), "{}", sim::outcome_report(&historical[0]));
    }
}

fn main() {
    #[cfg(madsim)]
    for strategy in [clustersim::server::Strategy::LocalOnly, clustersim::server::Strategy::ReadIndex] {
        for outcome in embedded::outcomes("scenarios/aikv_cluster_init.scn", strategy, 0..3) {
            println!("{strategy} seed {}: {}", outcome.seed, sim::verdict_line(&outcome));
        }
    }
    #[cfg(not(madsim))]
    eprintln!("the simulation needs --cfg madsim (this workspace's .cargo/config.toml sets it)");
}
