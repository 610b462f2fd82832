//! `sim fuzz`: run generated scenarios (sim/src/gen.rs) until a checker fires, shrink the failing case with
//! proptest, and write it as a readable regression scenario.
//!
//! Deterministic: the case generator's RNG is seeded from `--seed`, and every case is a deterministic simulation,
//! so the same command finds and shrinks the same case.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use clustersim::server::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::coverage::Coverage;
use crate::gen::{arb_case, Case, GenConfig};
use crate::outcome::{Outcome, RunOptions};
use crate::profile::Profile;
use crate::run::run;
use crate::scenario::{print, Scenario};
use crate::shard::Shard;
use crate::verdict::{Class, Finding};

#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub cases: u32,
    pub strategy: Strategy,
    pub profile: Profile,
    pub gen: GenConfig,
    /// Seeds the case generator.
    pub seed: u64,
    /// Bound on shrinking steps.
    pub shrink_iters_max: u32,
    /// Count only safety violations (linearizable reads, durability, slot safety, wrong answers), not
    /// liveness (convergence and agreement at the settle).
    pub safety_only: bool,
    /// Count availability violations too: every generated case runs with the `strict` header (and the
    /// regression file keeps it).
    pub strict: bool,
    /// Run every case with BUGGIFY (`RunOptions::buggify`).
    pub buggify: bool,
    /// Run only this shard of the generated cases (case i runs in shard i mod N); every shard generates the same
    /// cases, and shrinks its own first failing case.
    pub shard: Shard,
}

impl FuzzOptions {
    /// The violations this fuzz run counts: those that fail the run (safety and liveness; availability too
    /// under strict), only safety with `safety_only`.
    pub fn counted(&self, outcome: &Outcome) -> Vec<Finding> {
        let mut v = broken(outcome);
        if self.safety_only {
            v.retain(|f| f.class() == Class::Safety);
        }
        v
    }

    /// The options a case runs with.
    fn run_options(&self, seed: u64) -> RunOptions {
        RunOptions::new(seed, self.strategy).profile(self.profile).buggify(self.buggify)
    }

    /// The scenario a generated case runs as.
    fn scenario(&self, case: &Case) -> Scenario {
        let mut scenario = case.scenario();
        scenario.header.strict = self.strict;
        scenario
    }
}

/// A shrunk failing case.
#[derive(Clone, Debug)]
pub struct Found {
    pub case: Case,
    pub scenario: Scenario,
    /// The counted violations, worst class first.
    pub findings: Vec<Finding>,
}

impl Found {
    /// The violation the file is named after (the worst).
    pub fn first(&self) -> &Finding {
        &self.findings[0]
    }
}

/// One generated case this shard ran before any failure: its index in the generated sequence, its seed, whether
/// it passed and the probes it reached.
#[derive(Clone, Debug)]
pub struct CaseRun {
    pub index: u64,
    pub seed: u64,
    pub passed: bool,
    pub probes: crate::coverage::Probes,
}

pub struct FuzzReport {
    /// Cases that passed before the failure (or all of them).
    pub passed: u64,
    /// The cases run before the first failure and that failure itself, in order.
    pub cases: Vec<CaseRun>,
    /// The shrinking runs after the first failure: the shrunk case's seed and the probes reached.
    pub shrink_runs: Vec<(u64, crate::coverage::Probes)>,
    /// Simulations run, shrinking included.
    pub runs: u64,
    pub found: Option<Found>,
    /// A panic or an abort of the runner, as text.
    pub aborted: Option<String>,
    /// The probes of every run (shrinking runs included).
    pub coverage: Coverage,
}

/// The violations that fail the run: safety and liveness, and availability under strict (`crate::verdict`).
pub fn broken(outcome: &Outcome) -> Vec<Finding> {
    outcome.findings.iter().filter(|f| f.class().fails(outcome.strict)).cloned().collect()
}

pub fn fuzz(options: &FuzzOptions, progress: &(dyn Fn(u64, u64) + Sync)) -> FuzzReport {
    let config = Config {
        cases: options.cases,
        failure_persistence: None,
        max_shrink_iters: options.shrink_iters_max,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&options.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let runs = AtomicU64::new(0);
    let passed = AtomicU64::new(0);
    let failing = AtomicU64::new(0);
    let next_index = AtomicU64::new(0);
    let log = std::sync::Mutex::new((Vec::new(), Vec::new()));
    let result = runner.run(&arb_case(options.gen.clone()), |case| {
        let generating = failing.load(Ordering::Relaxed) == 0;
        let index = next_index.fetch_add(u64::from(generating), Ordering::Relaxed);
        if generating && index % options.shard.count != options.shard.index {
            return Ok(());
        }
        let outcome = run(&options.scenario(&case), &options.run_options(case.seed));
        let n = runs.fetch_add(1, Ordering::Relaxed) + 1;
        let bad = options.counted(&outcome);
        let mut log = log.lock().expect("fuzz log lock");
        if generating {
            let probes = outcome.probes.clone();
            log.0.push(CaseRun { index, seed: case.seed, passed: bad.is_empty(), probes });
        } else {
            log.1.push((case.seed, outcome.probes.clone()));
        }
        if bad.is_empty() {
            if failing.load(Ordering::Relaxed) == 0 {
                passed.fetch_add(1, Ordering::Relaxed);
            }
            progress(passed.load(Ordering::Relaxed), n);
            Ok(())
        } else {
            failing.fetch_add(1, Ordering::Relaxed);
            progress(passed.load(Ordering::Relaxed), n);
            Err(TestCaseError::fail(bad[0].to_string()))
        }
    });
    let (found, aborted) = match result {
        Ok(()) => (None, None),
        Err(TestError::Fail(_, case)) => {
            let scenario = options.scenario(&case);
            let outcome = run(&scenario, &options.run_options(case.seed));
            let findings = options.counted(&outcome);
            if findings.is_empty() {
                (None, Some("the shrunk case passed when run again (nondeterminism?)".to_string()))
            } else {
                (Some(Found { case, scenario, findings }), None)
            }
        }
        Err(TestError::Abort(why)) => (None, Some(why.to_string())),
    };
    let (cases, shrink_runs) = log.into_inner().expect("fuzz log lock");
    let coverage = coverage_of(&cases, &shrink_runs);
    let (passed, runs) = (passed.into_inner(), runs.into_inner());
    FuzzReport { passed, cases, shrink_runs, runs, found, aborted, coverage }
}

/// The coverage of a fuzz run: its cases in order, then its shrinking runs.
pub fn coverage_of(cases: &[CaseRun], shrink_runs: &[(u64, crate::coverage::Probes)]) -> Coverage {
    let replay = |seed: u64| format!("case seed {seed} (generated; replay the regression file it shrinks to)");
    let mut coverage = Coverage::default();
    for case in cases {
        coverage.add(&case.probes, &|| replay(case.seed));
    }
    for (seed, probes) in shrink_runs {
        coverage.add(probes, &|| replay(*seed));
    }
    coverage
}

/// `fire-and-forget-StaleMembershipRead-seed42.scn`.
pub fn regression_name(strategy: Strategy, found: &Found) -> String {
    format!("{}-{}-seed{}.scn", strategy.name(), found.first().violation.kind(), found.case.seed)
}

/// The regression file's text: a header naming the property, class, strategy, seed and replay command, the
/// generated intro, then the scenario (with its strategy — and `strict` if the fuzz run was — in the `cluster`
/// line, so a plain replay runs it under the same rules).
pub fn regression_text(path: &Path, strategy: Strategy, profile: Profile, found: &Found) -> String {
    let mut scenario = found.scenario.clone();
    scenario.header.strategy = Some(strategy);
    if profile != Profile::Lan {
        scenario.header.profile = Some(profile);
    }
    let generated = std::mem::take(&mut scenario.intro);
    let header = |f: &Finding| {
        let v = &f.violation;
        let mut intro = vec![
            format!("Found by `sim fuzz` and shrunk: {} under {strategy}.", v.kind()),
            format!("property: {}", v.property()),
            format!("class: {}", f.class()),
            format!("strategy: {strategy}"),
            format!("seed: {}", found.case.seed),
            format!("violation: {v} [{}]", f.rule),
            format!("replay: cargo run --release -p sim -- replay {} --seed {}", path.display(), found.case.seed),
        ];
        intro.extend(generated.iter().cloned());
        intro
    };
    scenario.intro = header(found.first());
    // Run the file as written once more, so the violation line names the file's own line numbers.
    let again = crate::scenario::parse("regression", &print(&scenario)).expect("a printed scenario parses");
    let outcome = run(&again, &RunOptions::new(found.case.seed, strategy).profile(profile));
    if let Some(f) = broken(&outcome).first() {
        scenario.intro = header(f);
    }
    print(&scenario)
}

/// `seed: N` and `property: P` from a regression file's intro.
pub fn regression_facts(scenario: &Scenario) -> Option<(u64, String)> {
    let field = |key: &str| scenario.intro.iter().find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()));
    Some((field("seed:")?.parse().ok()?, field("property:")?))
}
