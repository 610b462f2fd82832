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

use crate::check::Property;
use crate::coverage::{Coverage, Probes};
use crate::outcome::{Outcome, RunOptions};
use crate::profile::Profile;
use crate::run::run;
use crate::scenario::Scenario;
use crate::verdict::{Class, Finding, Tally};

/// The verdict of one seed.
#[derive(Clone, Debug)]
pub enum SeedResult {
    /// No violation fails the run; `findings` holds the availability ones, if any (they fail only under strict).
    Passed { findings: Vec<Finding>, tally: Tally, trace_hash: u64, virtual_time: Duration, probes: Probes },
    /// A safety or liveness violation (or, under strict, an availability one). `findings`: every violation with
    /// its class and rule, worst class first.
    Failed { findings: Vec<Finding>, tally: Tally, trace_hash: u64, virtual_time: Duration, probes: Probes },
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

    /// The violations with their classes, worst first (none for a panic).
    pub fn findings(&self) -> &[Finding] {
        match self {
            SeedResult::Passed { findings, .. } | SeedResult::Failed { findings, .. } => findings,
            SeedResult::Panicked { .. } => &[],
        }
    }

    /// The worst class among the seed's violations (`None`: none, or a panic).
    pub fn class(&self) -> Option<Class> {
        crate::verdict::worst(self.findings())
    }

    /// The coverage probes the seed reached (none for a panic).
    pub fn probes(&self) -> Option<&Probes> {
        match self {
            SeedResult::Passed { probes, .. } | SeedResult::Failed { probes, .. } => Some(probes),
            SeedResult::Panicked { .. } => None,
        }
    }

    pub fn tally(&self) -> Tally {
        match self {
            SeedResult::Passed { tally, .. } | SeedResult::Failed { tally, .. } => *tally,
            SeedResult::Panicked { .. } => Tally::default(),
        }
    }
}

pub fn judge(outcome: &Outcome) -> SeedResult {
    let (findings, tally, trace_hash, virtual_time) =
        (outcome.findings.clone(), outcome.tally, outcome.trace_hash, outcome.virtual_time);
    let probes = outcome.probes.clone();
    if outcome.passed() {
        SeedResult::Passed { findings, tally, trace_hash, virtual_time, probes }
    } else {
        SeedResult::Failed { findings, tally, trace_hash, virtual_time, probes }
    }
}

/// Runs one seed, turning a panic into a result.
pub fn run_seed(scenario: &Scenario, seed: u64, strategy: Strategy, profile: Profile) -> SeedResult {
    run_seed_with(scenario, &RunOptions::new(seed, strategy).profile(profile))
}

/// Runs one seed with these options, turning a panic into a result.
pub fn run_seed_with(scenario: &Scenario, options: &RunOptions) -> SeedResult {
    let result = catch_unwind(AssertUnwindSafe(|| run(scenario, options)));
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
    /// Wall time of the whole sweep.
    pub wall: Duration,
    /// Wall time of each seed (not part of any verdict or trace: machines differ).
    pub walls: BTreeMap<u64, Duration>,
    /// How many seeds the sweep was given (more than `results` holds when a deadline stopped it).
    pub planned: usize,
}

impl SweepReport {
    pub fn failed(&self) -> impl Iterator<Item = (&u64, &SeedResult)> {
        self.results.iter().filter(|(_, r)| !r.passed())
    }

    /// Seeds with any violation (failed or not) or a panic: the ones a sweep lists.
    pub fn reported(&self) -> impl Iterator<Item = (&u64, &SeedResult)> {
        self.results.iter().filter(|(_, r)| !r.passed() || !r.findings().is_empty())
    }

    pub fn passed_count(&self) -> usize {
        self.results.values().filter(|r| r.passed()).count()
    }

    pub fn failed_count(&self) -> usize {
        self.results.len() - self.passed_count()
    }

    /// Seeds whose worst violation is of this class (`Availability`: seeds with only availability violations).
    pub fn class_count(&self, class: Class) -> usize {
        self.results.values().filter(|r| r.class() == Some(class)).count()
    }

    /// Seeds with at least one stale read (a linearizability violation found in the history; always safety).
    pub fn stale_count(&self) -> usize {
        self.property_count(&[crate::check::linearizable_reads::PROPERTY])
    }

    /// Seeds with at least one violation of one of these properties (`Violation::property`).
    pub fn property_count(&self, properties: &[Property]) -> usize {
        self.results
            .values()
            .filter(|r| r.findings().iter().any(|f| properties.contains(&f.violation.property())))
            .count()
    }

    /// The probes of every seed, with the replay command (`replay(seed)`) of the first seed reaching each.
    pub fn coverage(&self, replay: &dyn Fn(u64) -> String) -> Coverage {
        let mut coverage = Coverage::default();
        self.add_coverage(&mut coverage, replay);
        coverage
    }

    /// Adds every seed's probes to `coverage` (seed order; a panicked seed counts as a run reaching nothing).
    pub fn add_coverage(&self, coverage: &mut Coverage, replay: &dyn Fn(u64) -> String) {
        for (seed, result) in &self.results {
            coverage.add(result.probes().unwrap_or(&Probes::new()), &|| replay(*seed));
        }
    }

    pub fn first_failed(&self) -> Option<u64> {
        self.failed().next().map(|(s, _)| *s)
    }

    /// Every seed's scenario calls added up.
    pub fn tally(&self) -> Tally {
        let mut total = Tally::default();
        for r in self.results.values() {
            total += r.tally();
        }
        total
    }

    pub fn virtual_time(&self) -> Duration {
        self.results.values().map(SeedResult::virtual_time).sum()
    }

    /// The summary line: `sweep: file=… strategy=… seeds=N passed=P failed=F first_failed=S safety=A
    /// liveness=B unavailable=U`. F counts seeds with a safety or liveness violation, or a panic (or, under
    /// strict, any violation); A, B and U count seeds by their worst class (U: only availability violations,
    /// which pass unless strict). The CLI prints it from the seed records (`report::Seeds::summary`, the same
    /// count), as `sim merge` does.
    pub fn summary(&self, file: &str, strategy: Strategy) -> String {
        let classes = Class::WORST_FIRST.map(|c| self.class_count(c));
        summary_line(
            file,
            strategy,
            [self.results.len(), self.passed_count(), self.failed_count()],
            self.first_failed(),
            classes,
        )
    }
}

/// `sweep: file=… strategy=… seeds=N passed=P failed=F first_failed=S safety=A liveness=B unavailable=U` from
/// `[seeds, passed, failed]`, the first failed seed and the seeds by worst class (`Class::WORST_FIRST` order).
pub fn summary_line(
    file: &str,
    strategy: Strategy,
    counts: [usize; 3],
    first: Option<u64>,
    classes: [usize; 3],
) -> String {
    let [seeds, passed, failed] = counts;
    let [safety, liveness, unavailable] = classes;
    let first = first.map_or("-".to_string(), |s| s.to_string());
    format!(
        "sweep: file={file} strategy={strategy} seeds={seeds} passed={passed} failed={failed} first_failed={first} safety={safety} liveness={liveness} unavailable={unavailable}"
    )
}

/// One line per reported seed: its worst violation (with class and rule), how many more of each class, e.g.
/// `StaleMembershipRead line 40: … [safety: linearizable-reads] (+3 more: 1 liveness, 2 availability)`.
pub fn seed_line(result: &SeedResult) -> String {
    match result {
        SeedResult::Panicked { message } => format!("PANIC {message}"),
        other => {
            let findings = other.findings();
            let Some(first) = findings.first() else { return "no violation".to_string() };
            let more = if findings.len() > 1 {
                format!(" (+{} more: {})", findings.len() - 1, crate::verdict::class_counts(&findings[1..]))
            } else {
                String::new()
            };
            format!("{first}{more}")
        }
    }
}

/// One cell of `sim compare`'s matrix: a strategy under a profile, swept over `0..seeds`. It serializes as one
/// entry of the `--json` file's `cells` (the field names are the file's).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CompareCell {
    #[serde(serialize_with = "as_text")]
    pub strategy: Strategy,
    #[serde(serialize_with = "as_text")]
    pub profile: Profile,
    pub seeds: u64,
    /// Seeds that failed (as [`SweepReport::failed_count`]): any violation that fails a run counts, an `expect`
    /// line's as much as a checker's.
    pub failed: usize,
    /// Seeds by their worst class ([`SweepReport::class_count`]).
    pub safety: usize,
    pub liveness: usize,
    pub unavailable: usize,
    /// Seeds with a stale read, seeds with a lost write.
    pub stale: usize,
    pub lost_write: usize,
    /// The scenario calls of every seed added up ([`SweepReport::tally`]).
    pub calls: u64,
    pub errors: u64,
    pub errors_in_fault_windows: u64,
    pub first_failed: Option<u64>,
}

fn as_text<T: std::fmt::Display, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl CompareCell {
    /// The cell of a sweep's seeds (the CLI builds its cells from seed records: `report::cell_of`, the same
    /// counts).
    pub fn of(report: &SweepReport, strategy: Strategy, profile: Profile) -> Self {
        let tally = report.tally();
        CompareCell {
            strategy,
            profile,
            seeds: report.results.len() as u64,
            failed: report.failed_count(),
            safety: report.class_count(Class::Safety),
            liveness: report.class_count(Class::Liveness),
            unavailable: report.class_count(Class::Availability),
            stale: report.stale_count(),
            lost_write: report.property_count(&[crate::check::durability::PROPERTY]),
            calls: tally.calls,
            errors: tally.errors,
            errors_in_fault_windows: tally.errors_in_windows,
            first_failed: report.first_failed(),
        }
    }

    /// The cell as the printed matrix shows it: `failed/total S<n> L<n> U<n> <first failing seed or ->`.
    pub fn text(&self) -> String {
        let first = self.first_failed.map_or("-".to_string(), |f| f.to_string());
        format!("{}/{} S{} L{} U{} {first}", self.failed, self.seeds, self.safety, self.liveness, self.unavailable)
    }
}

/// `sim compare --json`: the scenario file, whether availability failed seeds (strict), and every cell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CompareMatrix {
    pub file: String,
    pub strict: bool,
    pub cells: Vec<CompareCell>,
}

impl CompareMatrix {
    /// The JSON text, one line with a newline at the end.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string(self).expect("strings, numbers and booleans always serialize");
        text.push('\n');
        text
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
    sweep_with(scenario, &RunOptions::new(0, strategy).profile(profile), seeds, jobs, progress)
}

/// [`sweep`] with every option of `base` (BUGGIFY, …) but its seed.
pub fn sweep_with(
    scenario: &Scenario,
    base: &RunOptions,
    seeds: Range<u64>,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> SweepReport {
    let seeds: Vec<u64> = seeds.collect();
    sweep_seeds(scenario, base, &seeds, jobs, None, &|done, _, _, _| progress(done))
}

/// Runs `seeds` on `jobs` threads, each seed's result reported to `on_seed(done, seed, result, wall)` as it
/// finishes. Past `deadline` no new seed starts (those running finish): the seeds that ran are a prefix of
/// `seeds`, in the order given.
pub fn sweep_seeds(
    scenario: &Scenario,
    base: &RunOptions,
    seeds: &[u64],
    jobs: usize,
    deadline: Option<Instant>,
    on_seed: &(dyn Fn(u64, u64, &SeedResult, Duration) + Sync),
) -> SweepReport {
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results = Mutex::new((BTreeMap::new(), BTreeMap::new()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
                let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed) as usize) else { return };
                let started = Instant::now();
                let result = run_seed_with(scenario, &base.clone().seed(seed));
                let wall = started.elapsed();
                on_seed(done.fetch_add(1, Ordering::Relaxed) + 1, seed, &result, wall);
                let mut guard = results.lock().expect("results lock");
                guard.0.insert(seed, result);
                guard.1.insert(seed, wall);
            });
        }
    });
    let (results, walls) = results.into_inner().expect("results lock");
    SweepReport { results, wall: start.elapsed(), walls, planned: seeds.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Violation;
    use crate::verdict::Rule;

    fn finding(rule: Rule) -> Finding {
        Finding { violation: Violation::Unavailable { line: 3, node: 1, error: "ERR x".into() }, rule }
    }

    fn seed(findings: Vec<Finding>, strict: bool) -> SeedResult {
        let tally = Tally { calls: 10, errors: findings.len() as u64, errors_in_windows: 0 };
        let failed = findings.iter().any(|f| f.class().fails(strict));
        let (trace_hash, virtual_time) = (0, Duration::ZERO);
        if failed {
            SeedResult::Failed { findings, tally, trace_hash, virtual_time, probes: Probes::new() }
        } else {
            SeedResult::Passed { findings, tally, trace_hash, virtual_time, probes: Probes::new() }
        }
    }

    fn window() -> crate::verdict::FaultWindow {
        crate::verdict::FaultWindow {
            start: Duration::ZERO,
            end: Duration::from_secs(1),
            opened_by: "kill n1".into(),
            kills: vec![],
        }
    }

    fn report(strict: bool) -> SweepReport {
        let unavailable = || finding(Rule::DuringFault { window: window(), recovering: false });
        let results = BTreeMap::from([
            (0, seed(vec![], strict)),
            (1, seed(vec![unavailable()], strict)),
            (2, seed(vec![finding(Rule::ErrorWhileHealthy), unavailable()], strict)),
            (3, seed(vec![finding(Rule::WrongAnswer), finding(Rule::ErrorWhileHealthy)], strict)),
            (4, SeedResult::Panicked { message: "boom".into() }),
        ]);
        SweepReport { results, wall: Duration::ZERO, walls: BTreeMap::new(), planned: 5 }
    }

    #[test]
    fn the_summary_line_counts_seeds_by_their_worst_class_and_fails_only_safety_and_liveness() {
        assert_eq!(
            report(false).summary("x.scn", Strategy::ReadIndex),
            "sweep: file=x.scn strategy=read-index seeds=5 passed=2 failed=3 first_failed=2 safety=1 liveness=1 unavailable=1"
        );
    }

    #[test]
    fn under_strict_a_seed_with_only_availability_violations_fails() {
        assert_eq!(
            report(true).summary("x.scn", Strategy::ReadIndex),
            "sweep: file=x.scn strategy=read-index seeds=5 passed=1 failed=4 first_failed=1 safety=1 liveness=1 unavailable=1"
        );
    }

    fn matrix(file: &str, cells: Vec<CompareCell>) -> CompareMatrix {
        CompareMatrix { file: file.to_string(), strict: false, cells }
    }

    #[test]
    fn the_compare_json_keeps_its_field_names_and_order() {
        let cell = CompareCell::of(&report(false), Strategy::ReadIndex, Profile::Wan);
        assert_eq!(cell.text(), "3/5 S1 L1 U1 2");
        assert_eq!(
            matrix("scenarios/x.scn", vec![cell]).to_json(),
            "{\"file\":\"scenarios/x.scn\",\"strict\":false,\"cells\":[{\"strategy\":\"read-index\",\"profile\":\"wan\",\
             \"seeds\":5,\"failed\":3,\"safety\":1,\"liveness\":1,\"unavailable\":1,\"stale\":0,\"lost_write\":0,\"calls\":40,\
             \"errors\":5,\"errors_in_fault_windows\":0,\"first_failed\":2}]}\n"
        );
        let passing = CompareCell::of(
            &SweepReport { results: BTreeMap::new(), wall: Duration::ZERO, walls: BTreeMap::new(), planned: 0 },
            Strategy::LocalOnly,
            Profile::Lan,
        );
        assert!(matrix("x", vec![passing]).to_json().ends_with(",\"first_failed\":null}]}\n"));
    }

    #[test]
    fn a_file_path_with_quotes_or_backslashes_gives_valid_json() {
        let file = r#"C:\scenarios\a "quoted" name.scn"#;
        let text = matrix(file, vec![]).to_json();
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["file"], file);
        assert_eq!(value["cells"], serde_json::json!([]));
    }

    /// Sweeps a scenario text under local-only, lan, over seeds 0..2; every violation must come from its
    /// `expect` line (no checker fires).
    fn expect_only(text: &str) -> SweepReport {
        let scenario = crate::scenario::parse("x.scn", text).expect("parses");
        let report = sweep(&scenario, Strategy::LocalOnly, Profile::Lan, 0..2, 1, &|_| {});
        for result in report.results.values() {
            assert!(!result.findings().is_empty(), "{result:?}");
            for f in result.findings() {
                assert!(matches!(f.violation, crate::check::Violation::UnexpectedReply { .. }), "{f}");
            }
        }
        report
    }

    #[test]
    fn seeds_failing_only_by_an_expect_line_count_in_the_compare_cell_and_its_json() {
        // A wrong answer with nothing to explain it: safety.
        let wrong = expect_only("cluster 1\nexpect n1 \"PING\" reply=NOPE\n");
        let cell = CompareCell::of(&wrong, Strategy::LocalOnly, Profile::Lan);
        assert_eq!(cell.text(), "2/2 S2 L0 U0 0");
        let json = matrix("x.scn", vec![cell]).to_json();
        assert!(json.contains("\"failed\":2,\"safety\":2,\"liveness\":0,\"unavailable\":0,"), "{json}");
        // An error reply with no fault active: liveness.
        let refused = expect_only("cluster 1\nexpect n1 \"NOSUCHCOMMAND\" reply=OK\n");
        assert_eq!(CompareCell::of(&refused, Strategy::LocalOnly, Profile::Lan).text(), "2/2 S0 L2 U0 0");
    }

    #[test]
    fn seeds_whose_expect_fails_during_a_fault_count_as_availability_and_fail_under_strict() {
        let text = "cluster 2\nkill n2\nexpect n2 \"PING\" reply=PONG\n";
        let lenient = CompareCell::of(&expect_only(text), Strategy::LocalOnly, Profile::Lan);
        assert_eq!(lenient.text(), "0/2 S0 L0 U2 -");
        let strict = expect_only(&text.replace("cluster 2", "cluster 2 strict"));
        let strict = CompareCell::of(&strict, Strategy::LocalOnly, Profile::Lan);
        assert_eq!(strict.text(), "2/2 S0 L0 U2 0");
    }

    #[test]
    fn the_seed_line_shows_the_worst_violation_then_the_other_classes() {
        let r = report(false);
        let line = seed_line(&r.results[&3]);
        assert!(line.starts_with("Unavailable line 3: n1 answered -ERR x [safety: wrong answer"), "{line}");
        assert!(line.ends_with("(+1 more: 1 liveness)"), "{line}");
        assert_eq!(
            r.reported().map(|(s, _)| *s).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "availability-only seeds are listed too"
        );
        assert_eq!(r.tally(), Tally { calls: 40, errors: 5, errors_in_windows: 0 });
    }
}
