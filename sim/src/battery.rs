//! `sim check`: the one battery to put in CI. Within a wall-clock budget it runs the recommended mix — every
//! scenario under the strategy that must pass them (read-index) on the `lan` profile and under swarm faults,
//! every regression file, generated cases with background workloads and faults — then a canary that must fail
//! (a weaker strategy on a scenario it is known to break: a harness whose checks cannot fail is noise). It
//! prints one summary line per part and exits 1 on any failing run (safety or liveness), or a canary that
//! passed.
//!
//! Every run's coverage probes are added up (`BatteryReport::coverage`); `sim check --require-probes F` fails the
//! battery when a listed probe was never reached, and `scripts/test.sh` requires `scenarios/battery.probes`.
//!
//! Which seeds run depends on the machine's speed (the budget is wall time); every run is still a deterministic
//! simulation, and each failure prints the command that replays it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clustersim::server::Strategy;

use crate::coverage::{Coverage, Probes};
use crate::fuzz::{fuzz, FuzzOptions};
use crate::gen::GenConfig;
use crate::outcome::RunOptions;
use crate::profile::Profile;
use crate::scenario::Scenario;
use crate::sweep::{run_seed_with, seed_line, SeedResult};

/// What `sim check` runs.
#[derive(Clone, Debug)]
pub struct BatteryOptions {
    /// Wall-clock budget for the whole battery (the parts share it: 25 % lan scenarios, 25 % swarm scenarios,
    /// 15 % lan scenarios with BUGGIFY, 35 % generated cases; the regressions and the canary run whole, first).
    pub budget: Duration,
    pub jobs: usize,
    /// Where the scenario files are (`*.scn`, and `regressions/*.scn`).
    pub dir: PathBuf,
    /// The strategy every scenario must pass.
    pub strategy: Strategy,
    /// Stop at the first failing run (the part it is in finishes the runs already started; later parts are
    /// skipped): how long a bug takes to find (`scripts/mutants.sh`).
    pub fail_fast: bool,
}

/// One failing run: what ran, its verdict line, and the command that replays it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub part: &'static str,
    pub line: String,
    pub replay: String,
}

/// One part's result.
#[derive(Clone, Debug, Default)]
pub struct PartReport {
    pub name: &'static str,
    pub runs: u64,
    pub failed: u64,
    /// What the part covered, for its summary line (`11 scenarios, seeds 0..37`).
    pub scope: String,
    pub wall: Duration,
}

/// The whole battery's result.
#[derive(Debug, Default)]
pub struct BatteryReport {
    pub parts: Vec<PartReport>,
    pub failures: Vec<Failure>,
    /// The coverage probes every run reached (fuzz's shrinking runs included).
    pub coverage: Coverage,
    /// With `fail_fast`: wall time from the start until the part holding the first failure ended.
    pub first_failure: Option<Duration>,
}

impl BatteryReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn runs(&self) -> u64 {
        self.parts.iter().map(|p| p.runs).sum()
    }
}

/// A scenario file of the battery.
struct Named {
    path: PathBuf,
    scenario: Scenario,
}

/// The `*.scn` files directly in `dir`, sorted by name; unreadable or malformed ones are errors.
fn scenarios_in(dir: &Path) -> Result<Vec<Named>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| crate::scenario::load(&path).map(|scenario| Named { path, scenario }).map_err(|e| e.to_string()))
        .collect()
}

/// Runs the battery. `Err` only when the scenario files cannot be read.
pub fn run_battery(options: &BatteryOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<BatteryReport, String> {
    let start = Instant::now();
    let scenarios = scenarios_in(&options.dir)?;
    let regressions = scenarios_in(&options.dir.join("regressions")).unwrap_or_default();
    let mut report = BatteryReport::default();
    let stop = |report: &mut BatteryReport| {
        let failed = !report.failures.is_empty();
        if failed && report.first_failure.is_none() {
            report.first_failure = Some(start.elapsed());
        }
        failed && options.fail_fast
    };
    progress("canary");
    canary(&scenarios, &mut report);
    progress("regressions");
    regression_part(options, &regressions, &mut report);
    if stop(&mut report) {
        return Ok(report);
    }
    let rest = options.budget.saturating_sub(start.elapsed());
    for (name, profile, buggify, share) in SCENARIO_PARTS {
        progress(name);
        let deadline = Instant::now() + rest * share / 100;
        let base = RunOptions::new(0, options.strategy).profile(profile).buggify(buggify);
        scenario_part(options, &scenarios, name, &base, deadline, &mut report);
        if stop(&mut report) {
            return Ok(report);
        }
    }
    progress("fuzz");
    let deadline = start + options.budget;
    fuzz_part(options, deadline, &mut report);
    stop(&mut report);
    Ok(report)
}

/// The scenario parts: name, profile, BUGGIFY, share of the budget left after the canary and the regressions
/// (percent; the fuzz part gets the rest).
const SCENARIO_PARTS: [(&str, Profile, bool, u32); 3] = [
    ("scenarios (lan)", Profile::Lan, false, 25),
    ("scenarios (swarm)", Profile::Swarm, false, 25),
    ("scenarios (buggify)", Profile::Lan, true, 15),
];

fn replay(path: &Path, seed: u64, strategy: Strategy, profile: Profile) -> String {
    let profile = if profile == Profile::Lan { String::new() } else { format!(" --profile {profile}") };
    format!("cargo run --release -p sim -- replay {} --seed {seed} --strategy {strategy}{profile}", path.display())
}

/// fire-and-forget must fail meet_read_your_writes.scn on seed 0 (it answers MEET before the entry commits and
/// reads its local table): if it passes, the checkers cannot see a stale read, and every green is noise.
fn canary(scenarios: &[Named], report: &mut BatteryReport) {
    let t = Instant::now();
    let Some(named) = scenarios.iter().find(|n| n.path.file_name().is_some_and(|f| f == "meet_read_your_writes.scn"))
    else {
        report.parts.push(PartReport {
            name: "canary",
            scope: "skipped: no meet_read_your_writes.scn".into(),
            ..Default::default()
        });
        return;
    };
    let result = run_seed_with(&named.scenario, &RunOptions::new(0, Strategy::FireAndForget));
    let stale = crate::check::linearizable_reads::PROPERTY;
    let caught = !result.passed() && result.findings().iter().any(|f| f.violation.property() == stale);
    if !caught {
        report.failures.push(Failure {
            part: "canary",
            line: "fire-and-forget on meet_read_your_writes.scn seed 0: the linearizable-reads checker missed its \
                   known stale read"
                .into(),
            replay: replay(&named.path, 0, Strategy::FireAndForget, Profile::Lan),
        });
    }
    let scope = if caught {
        let kinds = result.findings().iter().filter(|f| f.violation.property() == stale).count();
        format!("fire-and-forget on meet_read_your_writes.scn seed 0: {kinds} stale reads found, as there must be")
    } else {
        format!("fire-and-forget on meet_read_your_writes.scn seed 0: no stale read found ({})", first_kind(&result))
    };
    report.parts.push(PartReport { name: "canary", runs: 1, failed: u64::from(!caught), scope, wall: t.elapsed() });
}

fn first_kind(result: &SeedResult) -> String {
    result.findings().first().map_or_else(|| "panic".to_string(), |f| f.violation.kind().to_string())
}

/// Every regression file once, on its own seed, under the battery's strategy.
fn regression_part(options: &BatteryOptions, files: &[Named], report: &mut BatteryReport) {
    let t = Instant::now();
    let mut part = PartReport { name: "regressions", scope: format!("{} files", files.len()), ..Default::default() };
    for named in files {
        let seed = crate::fuzz::regression_facts(&named.scenario).map_or(0, |(seed, _)| seed);
        let profile = named.scenario.header.profile.unwrap_or(Profile::Lan);
        let run = RunOptions::new(seed, options.strategy).profile(profile);
        let result = run_seed_with(&named.scenario, &run);
        record(&mut part, report, &named.path, &run, result);
    }
    part.wall = t.elapsed();
    report.parts.push(part);
}

fn record(part: &mut PartReport, report: &mut BatteryReport, path: &Path, run: &RunOptions, result: SeedResult) {
    part.runs += 1;
    let command = || {
        let buggify = if run.buggify { " --buggify" } else { "" };
        format!("{}{buggify}", replay(path, run.seed, run.strategy, run.profile))
    };
    if !result.passed() {
        part.failed += 1;
        report.failures.push(Failure {
            part: part.name,
            line: format!("{} seed {}: {}", path.display(), run.seed, seed_line(&result)),
            replay: command(),
        });
    }
    report.coverage.add(result.probes().unwrap_or(&Probes::new()), &command);
}

/// Every scenario on seed 0, then every scenario on seed 1, … (with `base`'s strategy, profile and BUGGIFY) on
/// `jobs` threads until `deadline`.
fn scenario_part(
    options: &BatteryOptions,
    scenarios: &[Named],
    name: &'static str,
    base: &RunOptions,
    deadline: Instant,
    report: &mut BatteryReport,
) {
    let t = Instant::now();
    let next = AtomicU64::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let done: Mutex<Vec<(u64, usize, SeedResult)>> = Mutex::new(Vec::new());
    let count = scenarios.len().max(1) as u64;
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                while Instant::now() < deadline && !(options.fail_fast && failed.load(Ordering::Relaxed)) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let (seed, index) = (k / count, (k % count) as usize);
                    let Some(named) = scenarios.get(index) else { return };
                    let result = run_seed_with(&named.scenario, &base.clone().seed(seed));
                    if !result.passed() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    done.lock().expect("results lock").push((seed, index, result));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("results lock");
    done.sort_by_key(|(seed, index, _)| (*seed, *index));
    let seeds = done.iter().map(|(s, ..)| s + 1).max().unwrap_or(0);
    let mut part = PartReport {
        name,
        scope: format!("{} scenarios, seeds 0..{seeds} (the last round partial)", scenarios.len()),
        ..Default::default()
    };
    for (seed, index, result) in done {
        record(&mut part, report, &scenarios[index].path, &base.clone().seed(seed), result);
    }
    part.wall = t.elapsed();
    report.parts.push(part);
}

/// Generated cases (workloads and faults included) on `jobs` threads until `deadline`: job j runs batches of
/// two cases with generator seeds j, j + jobs, j + 2·jobs, … A finding is shrunk and written under
/// target/sim-check/, and that job stops.
fn fuzz_part(options: &BatteryOptions, deadline: Instant, report: &mut BatteryReport) {
    let t = Instant::now();
    let jobs = options.jobs.max(1) as u64;
    let found: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let counts = Mutex::new((0u64, 0u64, 0u64, Coverage::default()));
    std::thread::scope(|scope| {
        for job in 0..jobs {
            let (found, counts) = (&found, &counts);
            scope.spawn(move || {
                let mut seed = job;
                while Instant::now() < deadline && !(options.fail_fast && counts.lock().expect("counts lock").1 > 0) {
                    let (failure, coverage) = fuzz_batch(options, seed, deadline);
                    let mut c = counts.lock().expect("counts lock");
                    c.3.merge(&coverage);
                    c.0 += failure.as_ref().map_or(FUZZ_BATCH, |(passed, _)| passed + 1);
                    c.2 = c.2.max(seed + 1);
                    if let Some((_, failure)) = failure {
                        c.1 += 1;
                        found.lock().expect("found lock").push(failure);
                        return;
                    }
                    seed += jobs;
                }
            });
        }
    });
    let (runs, failed, seeds, coverage) = counts.into_inner().expect("counts lock");
    report.coverage.merge(&coverage);
    let scope = format!("generated cases (workloads, faults), generator seeds 0..{seeds}");
    report.parts.push(PartReport { name: "fuzz", runs, failed, scope, wall: t.elapsed() });
    report.failures.extend(found.into_inner().expect("found lock"));
}

/// Cases per `sim fuzz` batch of the battery (small, so the budget is kept to within a case or two).
const FUZZ_BATCH: u64 = 2;

/// One batch of generated cases on generator seed `seed`: `None` when every case passed, else how many passed
/// before the finding, and the finding (shrunk, written under target/sim-check/); and the batch's coverage.
///
/// Shrinking is bounded by the budget left (about three shrinking runs per second left, at most 200): the
/// battery keeps its budget, and a finding near the end is written less shrunk (its replay command is exact
/// either way; `sim fuzz --seed N` shrinks it fully).
fn fuzz_batch(options: &BatteryOptions, seed: u64, deadline: Instant) -> (Option<(u64, Failure)>, Coverage) {
    let left = deadline.saturating_duration_since(Instant::now()).as_secs() as u32;
    let fuzz_options = FuzzOptions {
        cases: FUZZ_BATCH as u32,
        strategy: options.strategy,
        profile: Profile::Lan,
        gen: GenConfig::default(),
        seed,
        // --fail-fast measures how long finding takes: the finding is reported as generated, not shrunk.
        shrink_iters_max: if options.fail_fast { 0 } else { (3 * left).min(200) },
        safety_only: false,
        strict: false,
        buggify: false,
        shard: crate::shard::Shard::ALL,
    };
    let mut result = fuzz(&fuzz_options, &|_, _| {});
    let coverage = std::mem::take(&mut result.coverage);
    let again = format!(
        "cargo run --release -p sim -- fuzz --cases {FUZZ_BATCH} --seed {seed} --strategy {}",
        options.strategy
    );
    if let Some(why) = result.aborted {
        let line = format!("generator seed {seed}: aborted: {why}");
        return (Some((result.passed, Failure { part: "fuzz", line, replay: again })), coverage);
    }
    let Some(f) = result.found else { return (None, coverage) };
    let dir = Path::new("target/sim-check");
    let path = dir.join(crate::fuzz::regression_name(options.strategy, &f));
    let text = crate::fuzz::regression_text(&path, options.strategy, Profile::Lan, &f);
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)).is_ok();
    let replay = if written { replay(&path, f.case.seed, options.strategy, Profile::Lan) } else { again };
    let line = format!("generator seed {seed}: {}", f.first());
    (Some((result.passed, Failure { part: "fuzz", line, replay })), coverage)
}
