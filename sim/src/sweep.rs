//! Many seeds, in parallel: one OS thread per job, each running whole simulations one after another (a madsim
//! runtime is single-threaded and owns its thread while it runs). Results are reported in seed order, so the
//! output does not depend on the number of jobs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clustersim::server::Strategy;

use crate::profile::Profile;
use crate::run::{run, Outcome, RunOptions};
use crate::scenario::Scenario;

/// The verdict of one seed.
#[derive(Clone, Debug)]
pub enum SeedResult {
    Passed { trace_hash: u64, virtual_time: Duration },
    /// Violations, one line each, and the property each breaks (`Violation::property`).
    Failed { violations: Vec<String>, properties: Vec<&'static str>, trace_hash: u64, virtual_time: Duration },
    /// The harness or the node panicked: a bug either way.
    Panicked { message: String },
}

impl SeedResult {
    pub fn passed(&self) -> bool {
        matches!(self, SeedResult::Passed { .. })
    }

    pub fn virtual_time(&self) -> Duration {
        match self {
            SeedResult::Passed { virtual_time, .. } | SeedResult::Failed { virtual_time, .. } => *virtual_time,
            SeedResult::Panicked { .. } => Duration::ZERO,
        }
    }
}

pub fn judge(outcome: &Outcome) -> SeedResult {
    if outcome.passed() {
        SeedResult::Passed { trace_hash: outcome.trace_hash, virtual_time: outcome.virtual_time }
    } else {
        SeedResult::Failed {
            violations: outcome.violations.iter().map(|v| format!("{} {v}", v.kind())).collect(),
            properties: outcome.violations.iter().map(|v| v.property()).collect(),
            trace_hash: outcome.trace_hash,
            virtual_time: outcome.virtual_time,
        }
    }
}

/// Runs one seed, turning a panic into a result.
pub fn run_seed(scenario: &Scenario, seed: u64, strategy: Strategy, profile: Profile) -> SeedResult {
    let result = catch_unwind(AssertUnwindSafe(|| run(scenario, &RunOptions { seed, strategy, profile })));
    match result {
        Ok(outcome) => judge(&outcome),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            SeedResult::Panicked { message }
        }
    }
}

/// A finished sweep.
pub struct SweepReport {
    pub results: BTreeMap<u64, SeedResult>,
    pub wall: Duration,
}

impl SweepReport {
    pub fn failed(&self) -> impl Iterator<Item = (&u64, &SeedResult)> {
        self.results.iter().filter(|(_, r)| !r.passed())
    }

    pub fn passed_count(&self) -> usize {
        self.results.values().filter(|r| r.passed()).count()
    }

    /// Failed seeds whose every violation is an error reply (unavailability), and the others (wrong answers).
    pub fn unavailable_only_count(&self) -> usize {
        self.results
            .values()
            .filter(|r| matches!(r, SeedResult::Failed { violations, .. } if violations.iter().all(|v| v.starts_with("Unavailable "))))
            .count()
    }

    /// Failed seeds with at least one stale read (a linearizability violation found in the history).
    pub fn stale_count(&self) -> usize {
        self.property_count(&["linearizable-reads"])
    }

    /// Failed seeds with at least one violation of one of these properties (`Violation::property`).
    pub fn property_count(&self, properties: &[&str]) -> usize {
        self.results
            .values()
            .filter(|r| matches!(r, SeedResult::Failed { properties: p, .. } if p.iter().any(|x| properties.contains(x))))
            .count()
    }

    pub fn first_failed(&self) -> Option<u64> {
        self.failed().next().map(|(s, _)| *s)
    }

    pub fn virtual_time(&self) -> Duration {
        self.results.values().map(SeedResult::virtual_time).sum()
    }
}

/// Runs every seed of `seeds` on `jobs` threads; `progress` is called after each seed with the count done.
pub fn sweep(
    scenario: &Scenario,
    strategy: Strategy,
    profile: Profile,
    seeds: Range<u64>,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> SweepReport {
    let start = Instant::now();
    let next = AtomicU64::new(seeds.start);
    let done = AtomicU64::new(0);
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    return;
                }
                let result = run_seed(scenario, seed, strategy, profile);
                results.lock().expect("results lock").insert(seed, result);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    SweepReport { results: results.into_inner().expect("results lock"), wall: start.elapsed() }
}
