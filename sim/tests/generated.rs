//! Generated scenarios (sim/src/gen.rs) under the checkers, and every shrunk regression in
//! scenarios/regressions/ replayed. `sim fuzz --cases N` runs many more; these are the bounded CI share.
#![cfg(madsim)]

mod common;

use clustersim::server::Strategy;
use sim::fuzz::{broken, fuzz, regression_facts, FuzzOptions};
use sim::gen::GenConfig;
use sim::profile::Profile;
use sim::{run, RunOptions};

fn options(strategy: Strategy, cases: u32, seed: u64) -> FuzzOptions {
    FuzzOptions {
        cases,
        strategy,
        profile: Profile::Lan,
        gen: GenConfig::default(),
        seed,
        shrink_iters_max: 512,
        safety_only: false,
        strict: false,
        buggify: false,
        shard: sim::shard::Shard::ALL,
    }
}

fn assert_found_nothing(report: &sim::fuzz::FuzzReport, cases: u64) {
    assert!(report.aborted.is_none(), "{:?}", report.aborted);
    if let Some(found) = &report.found {
        panic!(
            "read-index broke a property (seed {}):\n{:?}\n{}",
            found.case.seed,
            found.findings,
            sim::scenario::print(&found.scenario)
        );
    }
    assert_eq!(report.passed, cases);
}

/// The `.scn` files directly in `scenarios/<dir>`, sorted.
fn scenario_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(common::scenario_path(dir))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "scn"));
    files.sort();
    files
}

#[test]
fn read_index_holds_every_property_on_generated_scenarios_without_faults() {
    let mut o = options(Strategy::ReadIndex, 8, 7);
    o.gen.faults = false;
    let report = fuzz(&o, &|_, _| {});
    assert_found_nothing(&report, 8);
}

#[test]
fn read_index_holds_every_property_on_generated_scenarios_with_faults() {
    // Kills, pauses, partitions and clogs in the middle of MEETs and FORGETs: every merge or removal a fault
    // cut short is finished (or called off) once the faults stop, and nothing acknowledged is lost.
    let report = fuzz(&options(Strategy::ReadIndex, 8, 7), &|_, _| {});
    assert_found_nothing(&report, 8);
}

#[test]
fn fuzzing_fire_and_forget_finds_a_violation_and_shrinks_it_to_a_few_steps() {
    let report = fuzz(&options(Strategy::FireAndForget, 10, 0), &|_, _| {});
    let found = report.found.expect("fire-and-forget acknowledges writes it may never apply");
    assert!(
        found.scenario.steps.len() <= 6,
        "shrunk to {} steps:\n{}",
        found.scenario.steps.len(),
        sim::scenario::print(&found.scenario)
    );
    let again = run(&found.scenario, &RunOptions::new(found.case.seed, Strategy::FireAndForget));
    assert_eq!(broken(&again), found.findings, "the shrunk case replays to the same violations");
}

#[test]
fn every_regression_still_reproduces_and_read_index_passes_it() {
    let files = scenario_files("regressions");
    assert!(!files.is_empty(), "scenarios/regressions/ holds the shrunk findings");
    for path in files {
        let scenario = sim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (seed, property) =
            regression_facts(&scenario).unwrap_or_else(|| panic!("{}: no seed/property header", path.display()));
        let strategy = scenario.header.strategy.unwrap_or_else(|| panic!("{}: no strategy", path.display()));
        // Under the profile the finding was made with (a swarm finding needs its swarm schedule).
        let profile = scenario.header.profile.unwrap_or(Profile::Lan);
        if strategy != Strategy::ReadIndex {
            let o = run(&scenario, &RunOptions::new(seed, strategy).profile(profile));
            let kept = broken(&o).iter().any(|f| f.violation.property().name == property);
            assert!(
                kept,
                "{}: {strategy} no longer breaks {property} (as a failure): {:?}",
                path.display(),
                o.findings
            );
        }
        let fixed = run(&scenario, &RunOptions::new(seed, Strategy::ReadIndex).profile(profile));
        assert!(fixed.passed(), "{}: read-index breaks {:?}", path.display(), fixed.findings);
    }
}
