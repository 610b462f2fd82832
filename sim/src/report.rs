//! Mergeable reports: `sweep` and `compare` with `--report F.jsonl` write a header line, one JSON line per seed
//! as it finishes, and an end line; `sim merge F…` reads the reports of the shards of one run and prints what one
//! unsharded run prints. Both print from the same [`SeedRecord`]s through the same functions
//! ([`sweep_text`], [`compare_text`]), so a merged run and an unsharded one cannot print differently.
//!
//! The format (`format: 1`), one JSON object per line, each with a `type`:
//! - `header`: the command (`sweep` or `compare`), the harness (`sim <version>`) and build (a hash of the `sim`
//!   binary), the scenario file and a hash of its bytes, strategies, profiles, BUGGIFY, strict, the seed range
//!   and the shard;
//! - `seed`: one seed's verdict (`pass`, `fail`, `panic`), worst class, the line a sweep prints for it, every
//!   finding (kind, property, class, scenario line), the trace hash, wall and virtual milliseconds, the
//!   call tally and the coverage probes reached (name → first virtual ms); compare's also name their cell;
//! - `end`: how many seeds ran of how many planned, and what stopped the run early (`--for`), if anything.
//!
//! Seed lines come in the order seeds finish; every reader sorts them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use clustersim::server::Strategy;

use crate::coverage::{Coverage, Probes};
use crate::profile::Profile;
use crate::shard::Shard;
use crate::sweep::{seed_line, CompareCell, SeedResult, SweepReport};
use crate::verdict::{Class, Tally};

/// The report format's version: readers refuse other versions.
pub const FORMAT: u32 = 1;

/// One line of a report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    Header(Header),
    Seed(SeedRecord),
    End(End),
}

/// What ran: everything two shards of one run share (all but `shard`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub format: u32,
    /// `sweep` or `compare`.
    pub command: String,
    /// `sim <version>`.
    pub harness: String,
    /// FNV-1a 64 of the `sim` binary that ran (hex): two builds may judge differently.
    pub build: String,
    pub file: String,
    /// FNV-1a 64 of the scenario file's bytes (hex).
    pub scenario_hash: String,
    /// One for a sweep; every strategy (in matrix order) for a compare.
    pub strategies: Vec<String>,
    pub profiles: Vec<String>,
    pub buggify: bool,
    /// Whether availability violations failed seeds (`--strict` or the scenario's header).
    pub strict: bool,
    /// Whether replay commands need `--strict` (the CLI's flag, when the file's header does not say it).
    pub strict_flag: bool,
    /// The seed range `[start, end)` (a compare's: per cell).
    pub seeds: [u64; 2],
    pub shard: Shard,
}

/// One finding of a seed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FindingRecord {
    pub kind: String,
    pub property: String,
    pub class: String,
    /// The scenario line.
    pub line: usize,
}

/// One seed's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    /// `pass`, `fail` or `panic`.
    pub verdict: String,
    /// The worst class among the findings (none: no violation, or a panic).
    pub class: Option<String>,
    /// What a sweep prints for the seed (`seed_line`).
    pub line: String,
    pub findings: Vec<FindingRecord>,
    /// Hex; none for a panic.
    pub trace_hash: Option<String>,
    pub wall_ms: f64,
    pub virtual_ms: u64,
    pub tally: Tally,
    /// Probe name → virtual milliseconds when first reached.
    pub probes: BTreeMap<String, u64>,
    /// A compare's cell: strategy and profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<[String; 2]>,
    /// A fuzz case's seed (`seed` is then the case's index in the generated sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_seed: Option<u64>,
}

/// How the run ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct End {
    pub ran: usize,
    pub planned: usize,
    /// What stopped it before every planned seed ran (e.g. `--for 30m`).
    pub stopped: Option<String>,
    pub wall_s: f64,
    /// A fuzz run's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzEnd>,
}

/// How a fuzz shard ended: what `sim merge` needs to print the unsharded run's lines.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FuzzEnd {
    pub passed: u64,
    pub runs: u64,
    pub found: Option<FoundRecord>,
    pub aborted: Option<String>,
    /// The shrinking runs: the shrunk case's seed and the probes reached (name -> virtual ms).
    pub shrink_runs: Vec<(u64, BTreeMap<String, u64>)>,
}

/// A fuzz finding: the index of the failing case, the lines printed for it, and the summary's tail
/// (`found=<kind> class=<class> file=<path>`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FoundRecord {
    pub case: u64,
    pub lines: Vec<String>,
    pub tail: String,
}

/// What a fuzz run prints, the same for one process and for merged shards.
#[derive(Clone, Debug)]
pub struct FuzzSummary {
    pub strategy: Strategy,
    pub profile: Profile,
    pub cases: u64,
    pub passed: u64,
    pub runs: u64,
    pub found: Option<FoundRecord>,
    pub aborted: Option<String>,
    pub coverage: Coverage,
}

impl FuzzSummary {
    /// The lines and the exit code (1: a finding, or an abort, or a required probe never reached).
    pub fn text(&self, required: &[String]) -> (String, i32) {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let Some(why) = &self.aborted {
            let _ = writeln!(out, "fuzz: aborted: {why}");
        }
        let head = format!(
            "fuzz: strategy={} profile={} cases={} passed={} runs={}",
            self.strategy, self.profile, self.cases, self.passed, self.runs
        );
        let code = match &self.found {
            Some(found) => {
                for line in &found.lines {
                    let _ = writeln!(out, "{line}");
                }
                let _ = writeln!(out, "{head} {}", found.tail);
                1
            }
            None => {
                let _ = writeln!(out, "{head} found=none");
                i32::from(self.aborted.is_some())
            }
        };
        let missing = coverage_text(&mut out, &self.coverage, required);
        (out, code.max(missing))
    }
}

/// Probes as a report keeps them (name -> virtual ms) back as a run's.
fn probes_of(probes: &BTreeMap<String, u64>) -> Probes {
    probes.iter().map(|(n, ms)| (n.clone(), Duration::from_millis(*ms))).collect()
}

/// A run's probes as a report keeps them: name -> virtual ms when first reached.
pub fn probes_in_ms(probes: &Probes) -> BTreeMap<String, u64> {
    probes.iter().map(|(n, at)| (n.clone(), millis(*at))).collect()
}

/// The unsharded fuzz run's summary from its shards' reports: the finding of the lowest case index (the one
/// the unsharded run stops at), the cases before it, and its shrinking runs.
pub fn merge_fuzz(header: &Header, reports: &[Report], records: &[SeedRecord]) -> Result<FuzzSummary, String> {
    let (strategy, profile) = header.sweep_cell()?;
    let mut ends = Vec::new();
    for r in reports {
        match r.end.as_ref().and_then(|e| e.fuzz.as_ref()) {
            Some(end) => ends.push(end),
            None => return Err(format!("{}: no fuzz end line: that run did not finish", r.path)),
        }
    }
    let first = ends.iter().filter_map(|e| e.found.as_ref().map(|f| (f.case, *e))).min_by_key(|(case, _)| *case);
    let limit = first.map_or(u64::MAX, |(case, _)| case);
    let mut cases: Vec<&SeedRecord> = records.iter().filter(|r| r.seed <= limit).collect();
    cases.sort_by_key(|r| r.seed);
    let mut coverage = Coverage::default();
    let replay = |seed: u64| format!("case seed {seed} (generated; replay the regression file it shrinks to)");
    for r in &cases {
        coverage.add(&r.probes(), &|| replay(r.case_seed.unwrap_or_default()));
    }
    let aborted = ends.iter().find_map(|e| e.aborted.clone());
    let cases_count = header.seeds[1] - header.seeds[0];
    let Some((case, end)) = first else {
        let (passed, runs) = ends.iter().fold((0, 0), |(p, r), e| (p + e.passed, r + e.runs));
        return Ok(FuzzSummary { strategy, profile, cases: cases_count, passed, runs, found: None, aborted, coverage });
    };
    if cases.len() as u64 != case + 1 || cases.iter().enumerate().any(|(i, r)| r.seed != i as u64) {
        return Err(format!("the cases before the first finding (case {case}) are not all in the reports"));
    }
    for (seed, probes) in &end.shrink_runs {
        coverage.add(&probes_of(probes), &|| replay(*seed));
    }
    let runs = case + 1 + end.shrink_runs.len() as u64;
    Ok(FuzzSummary {
        strategy,
        profile,
        cases: cases_count,
        passed: case,
        runs,
        found: end.found.clone(),
        aborted,
        coverage,
    })
}

impl SeedRecord {
    pub fn of(seed: u64, result: &SeedResult, wall: Duration) -> SeedRecord {
        let findings = result
            .findings()
            .iter()
            .map(|f| FindingRecord {
                kind: f.violation.kind().to_string(),
                property: f.violation.property().name.to_string(),
                class: f.class().name().to_string(),
                line: f.violation.line(),
            })
            .collect();
        let (verdict, trace_hash) = match result {
            SeedResult::Passed { trace_hash, .. } => ("pass", Some(format!("{trace_hash:016x}"))),
            SeedResult::Failed { trace_hash, .. } => ("fail", Some(format!("{trace_hash:016x}"))),
            SeedResult::Panicked { .. } => ("panic", None),
        };
        let probes = result.probes().map(probes_in_ms);
        SeedRecord {
            seed,
            verdict: verdict.to_string(),
            class: result.class().map(|c| c.name().to_string()),
            line: seed_line(result),
            findings,
            trace_hash,
            wall_ms: (wall.as_secs_f64() * 1e6).round() / 1e3,
            virtual_ms: millis(result.virtual_time()),
            tally: result.tally(),
            probes: probes.unwrap_or_default(),
            cell: None,
            case_seed: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// Whether a sweep lists the seed: any violation, or a panic.
    pub fn reported(&self) -> bool {
        !self.passed() || !self.findings.is_empty()
    }

    fn probes(&self) -> Probes {
        probes_of(&self.probes)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Every seed of a sweep as a report record, in seed order.
pub fn records(report: &SweepReport) -> Seeds {
    let wall = |seed: &u64| report.walls.get(seed).copied().unwrap_or_default();
    Seeds::new(report.results.iter().map(|(seed, r)| SeedRecord::of(*seed, r, wall(seed))).collect())
}

/// The compare cell of these seed records (a compare's, or a merged report's).
pub fn cell_of(seeds: &Seeds, strategy: Strategy, profile: Profile) -> CompareCell {
    let tally = seeds.tally();
    CompareCell {
        strategy,
        profile,
        seeds: seeds.0.len() as u64,
        failed: seeds.failed_count(),
        safety: seeds.class_count(Class::Safety),
        liveness: seeds.class_count(Class::Liveness),
        unavailable: seeds.class_count(Class::Availability),
        stale: seeds.property_count(&[crate::check::linearizable_reads::PROPERTY]),
        lost_write: seeds.property_count(&[crate::check::durability::PROPERTY]),
        calls: tally.calls,
        errors: tally.errors,
        errors_in_fault_windows: tally.errors_in_windows,
        first_failed: seeds.first_failed(),
    }
}

/// The seeds of one sweep (or one compare cell), in seed order: every count a summary prints.
#[derive(Clone, Debug, Default)]
pub struct Seeds(pub Vec<SeedRecord>);

impl Seeds {
    pub fn new(mut records: Vec<SeedRecord>) -> Seeds {
        records.sort_by_key(|r| r.seed);
        Seeds(records)
    }

    pub fn passed_count(&self) -> usize {
        self.0.iter().filter(|r| r.passed()).count()
    }

    pub fn failed_count(&self) -> usize {
        self.0.len() - self.passed_count()
    }

    pub fn class_count(&self, class: Class) -> usize {
        self.0.iter().filter(|r| r.class.as_deref() == Some(class.name())).count()
    }

    /// Seeds with at least one violation of one of these properties.
    pub fn property_count(&self, properties: &[crate::check::Property]) -> usize {
        let broke = |r: &&SeedRecord| r.findings.iter().any(|f| properties.iter().any(|p| p.name == f.property));
        self.0.iter().filter(broke).count()
    }

    pub fn first_failed(&self) -> Option<u64> {
        self.0.iter().find(|r| !r.passed()).map(|r| r.seed)
    }

    pub fn tally(&self) -> Tally {
        let mut total = Tally::default();
        for r in &self.0 {
            total += r.tally;
        }
        total
    }

    /// Adds every seed's probes, in seed order (`replay(seed)`: the replay command of a probe's first seed).
    pub fn add_coverage(&self, coverage: &mut Coverage, replay: &dyn Fn(u64) -> String) {
        for r in &self.0 {
            coverage.add(&r.probes(), &|| replay(r.seed));
        }
    }

    /// The summary line (see `SweepReport::summary`).
    pub fn summary(&self, file: &str, strategy: Strategy) -> String {
        let classes = Class::WORST_FIRST.map(|c| self.class_count(c));
        let counts = [self.0.len(), self.passed_count(), self.failed_count()];
        crate::sweep::summary_line(file, strategy, counts, self.first_failed(), classes)
    }
}

/// The command that replays one seed: `cargo run --release -p sim -- replay <file> --seed S --strategy X`, with
/// `--profile P` unless lan, `--strict` and `--buggify` when they were on.
pub fn replay_command(
    file: &str,
    seed: u64,
    strategy: Strategy,
    profile: Profile,
    strict: bool,
    buggify: bool,
) -> String {
    let profile = if profile == Profile::Lan { String::new() } else { format!(" --profile {profile}") };
    let strict = if strict { " --strict" } else { "" };
    let buggify = if buggify { " --buggify" } else { "" };
    format!("cargo run --release -p sim -- replay {file} --seed {seed} --strategy {strategy}{profile}{strict}{buggify}")
}

impl Header {
    /// The replay command of `seed` under this run's options, in `strategy` and `profile`.
    pub fn replay(&self, seed: u64, strategy: Strategy, profile: Profile) -> String {
        replay_command(&self.file, seed, strategy, profile, self.strict_flag, self.buggify)
    }

    /// The strategy and profile of a sweep (its first ones).
    pub fn sweep_cell(&self) -> Result<(Strategy, Profile), String> {
        let s = self.strategies.first().ok_or("the header names no strategy")?;
        let p = self.profiles.first().ok_or("the header names no profile")?;
        Ok((parse_strategy(s)?, parse_profile(p)?))
    }
}

fn parse_strategy(text: &str) -> Result<Strategy, String> {
    text.parse().map_err(|e: clustersim::server::StrategyParseError| e.to_string())
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    text.parse().map_err(|e: crate::profile::ProfileParseError| e.to_string())
}

/// What a sweep prints after its progress bar: one line per seed with a violation (and its replay command), the
/// calls' error tally, the summary line, the coverage table and each required probe no seed reached. With the
/// exit code: 1 if a seed failed or a required probe was never reached.
pub fn sweep_text(header: &Header, seeds: &Seeds, required: &[String]) -> Result<(String, i32), String> {
    use std::fmt::Write as _;
    let (strategy, profile) = header.sweep_cell()?;
    let replay = |seed: u64| header.replay(seed, strategy, profile);
    let mut out = String::new();
    for r in seeds.0.iter().filter(|r| r.reported()) {
        let _ = writeln!(out, "seed {}: {} | replay: {}", r.seed, r.line, replay(r.seed));
    }
    let strict = if header.strict { " strict" } else { "" };
    let _ = writeln!(out, "availability: {}{strict}", seeds.tally());
    let _ = writeln!(out, "{}", seeds.summary(&header.file, strategy));
    let mut coverage = Coverage::default();
    seeds.add_coverage(&mut coverage, &replay);
    let missing = coverage_text(&mut out, &coverage, required);
    Ok((out, i32::from(seeds.failed_count() > 0).max(missing)))
}

/// The coverage table and one line per required probe never reached; 1 if any, else 0.
pub fn coverage_text(out: &mut String, coverage: &Coverage, required: &[String]) -> i32 {
    use std::fmt::Write as _;
    out.push_str(&coverage.table());
    let missing = coverage.missing(required);
    for name in &missing {
        let _ = writeln!(out, "required probe never reached: {name}");
    }
    i32::from(!missing.is_empty())
}

/// The cells of a compare, from its seed records: strategies × profiles in the header's order.
pub fn compare_cells(header: &Header, records: &[SeedRecord]) -> Result<Vec<(CompareCell, Seeds)>, String> {
    let mut by_cell: BTreeMap<[String; 2], Vec<SeedRecord>> = BTreeMap::new();
    for r in records {
        let cell = r.cell.clone().ok_or_else(|| format!("seed {} of a compare report names no cell", r.seed))?;
        by_cell.entry(cell).or_default().push(r.clone());
    }
    let mut cells = Vec::new();
    for s in &header.strategies {
        for p in &header.profiles {
            let seeds = Seeds::new(by_cell.remove(&[s.clone(), p.clone()]).unwrap_or_default());
            let cell = cell_of(&seeds, parse_strategy(s)?, parse_profile(p)?);
            cells.push((cell, seeds));
        }
    }
    if let Some(([s, p], _)) = by_cell.into_iter().next() {
        return Err(format!("a seed names the cell {s} × {p}, which the header does not list"));
    }
    Ok(cells)
}

/// What a compare prints: the legend line, the header row, one row per strategy, then the coverage table.
pub fn compare_text(header: &Header, cells: &[(CompareCell, Seeds)], required: &[String]) -> (String, i32) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{}", compare_legend(&header.file, header.seeds[1] - header.seeds[0], header.strict));
    let _ = write!(out, "{:<18}", "strategy");
    for p in &header.profiles {
        let _ = write!(out, " {p:>24}");
    }
    let _ = writeln!(out);
    let mut coverage = Coverage::default();
    for row in cells.chunks(header.profiles.len().max(1)) {
        let _ = write!(out, "{:<18}", row[0].0.strategy.name());
        for (cell, seeds) in row {
            let _ = write!(out, " {:>24}", cell.text());
            seeds.add_coverage(&mut coverage, &|seed| header.replay(seed, cell.strategy, cell.profile));
        }
        let _ = writeln!(out);
    }
    let missing = coverage_text(&mut out, &coverage, required);
    (out, missing)
}

/// The compare's first line.
pub fn compare_legend(file: &str, seeds: u64, strict: bool) -> String {
    let strict_note = if strict { " (strict: availability fails too)" } else { "" };
    format!(
        "compare: file={file} seeds={seeds}{strict_note}; per cell: failed/total, then seeds by their worst violation: Sn safety (wrong answer or lost data), Ln liveness (no convergence once faults stopped, or an error with no fault active), Un only availability (errors during faults: not failed unless strict), then the first failing seed"
    )
}

/// FNV-1a 64 of `bytes`, as 16 hex digits.
pub fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The build id: FNV-1a 64 of this process's executable (`unknown` if it cannot be read).
pub fn build_id() -> String {
    std::env::current_exe().and_then(std::fs::read).map_or_else(|_| "unknown".to_string(), |b| fnv_hex(&b))
}

/// A report being written: the header first, then each seed as it finishes (flushed, so a run killed part way
/// leaves every finished seed behind), then the end line.
pub struct ReportWriter {
    out: std::sync::Mutex<std::io::BufWriter<std::fs::File>>,
    path: String,
}

impl ReportWriter {
    pub fn create(path: &Path, header: &Header) -> Result<ReportWriter, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let writer = ReportWriter {
            out: std::sync::Mutex::new(std::io::BufWriter::new(file)),
            path: path.display().to_string(),
        };
        writer.write(&Line::Header(header.clone()))?;
        Ok(writer)
    }

    pub fn write(&self, line: &Line) -> Result<(), String> {
        let text = serde_json::to_string(line).map_err(|e| format!("{}: {e}", self.path))?;
        let mut out = self.out.lock().expect("report lock");
        writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| format!("{}: {e}", self.path))
    }
}

/// One report read back: its header, seeds and end line (none: the run did not finish).
#[derive(Clone, Debug)]
pub struct Report {
    pub path: String,
    pub header: Header,
    pub seeds: Vec<SeedRecord>,
    pub end: Option<End>,
}

/// Reads a report; errors name `file:line`.
pub fn read(path: &Path) -> Result<Report, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let parse = |(i, l): (usize, &str)| {
        serde_json::from_str::<Line>(l).map_err(|e| format!("{name}:{}: not a report line: {e}", i + 1))
    };
    let header = match lines.next().map(parse).transpose()? {
        Some(Line::Header(h)) if h.format == FORMAT => h,
        Some(Line::Header(h)) => return Err(format!("{name}:1: report format {} (this sim reads {FORMAT})", h.format)),
        _ => return Err(format!("{name}:1: a report starts with its header line")),
    };
    let mut report = Report { path: name.clone(), header, seeds: Vec::new(), end: None };
    for (i, line) in lines {
        match parse((i, line))? {
            Line::Seed(s) if report.end.is_none() => report.seeds.push(s),
            Line::End(e) if report.end.is_none() => report.end = Some(e),
            _ => return Err(format!("{name}:{}: a header or a line after the end line", i + 1)),
        }
    }
    Ok(report)
}

/// The reports of one run's shards, checked and merged.
#[derive(Debug)]
pub struct Merged {
    pub header: Header,
    pub records: Vec<SeedRecord>,
    /// One note per shard that stopped early or did not finish (printed on stderr by `sim merge`).
    pub notes: Vec<String>,
    /// The reports merged (a fuzz merge reads their end lines).
    pub reports: Vec<Report>,
}

/// Merges the reports of one run's shards. Refuses reports of different scenarios, builds or options, a shard
/// missing or given twice, a seed outside its shard or twice, and (unless `partial`) a report without its end
/// line.
pub fn merge(reports: &[Report], partial: bool, mixed_builds: bool) -> Result<Merged, String> {
    let first = reports.first().ok_or("no report to merge")?;
    let mut notes = Vec::new();
    for r in &reports[1..] {
        same_run(first, r, mixed_builds)?;
    }
    let count = first.header.shard.count;
    let mut shards: BTreeMap<u64, &str> = BTreeMap::new();
    for r in reports {
        if let Some(other) = shards.insert(r.header.shard.index, &r.path) {
            return Err(format!("{other} and {} are both shard {}", r.path, r.header.shard));
        }
    }
    let missing: Vec<String> = (0..count).filter(|i| !shards.contains_key(i)).map(|i| format!("{i}/{count}")).collect();
    if !missing.is_empty() && !partial {
        return Err(format!("shards missing: {} (--partial merges what is there)", missing.join(", ")));
    }
    let mut records: BTreeMap<(Option<[String; 2]>, u64), SeedRecord> = BTreeMap::new();
    for r in reports {
        let range = r.header.seeds[0]..r.header.seeds[1];
        let allowed = r.header.shard.seeds(range);
        for s in &r.seeds {
            if allowed.binary_search(&s.seed).is_err() {
                return Err(format!("{}: seed {} is not in shard {}", r.path, s.seed, r.header.shard));
            }
            if records.insert((s.cell.clone(), s.seed), s.clone()).is_some() {
                return Err(format!("{}: seed {} appears twice", r.path, s.seed));
            }
        }
        match &r.end {
            None if !partial => {
                return Err(format!("{}: no end line: that run did not finish (--partial merges it)", r.path))
            }
            None => notes.push(format!("{}: shard {} did not finish: {} seeds", r.path, r.header.shard, r.seeds.len())),
            Some(end) if end.ran < end.planned => notes.push(format!(
                "{}: shard {} stopped by {} after {} of {} seeds",
                r.path,
                r.header.shard,
                end.stopped.as_deref().unwrap_or("?"),
                end.ran,
                end.planned
            )),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        notes.push(format!("shards missing: {}", missing.join(", ")));
    }
    let header = Header { shard: Shard::ALL, ..first.header.clone() };
    Ok(Merged { header, records: records.into_values().collect(), notes, reports: reports.to_vec() })
}

/// Whether two reports are shards of one run: same scenario bytes, same build, same options.
fn same_run(a: &Report, b: &Report, mixed_builds: bool) -> Result<(), String> {
    let (x, y) = (&a.header, &b.header);
    let differ = |what: &str, p: String, q: String| -> Result<(), String> {
        if p == q {
            Ok(())
        } else {
            Err(format!("{} and {} are not shards of one run: {what} {p} vs {q}", a.path, b.path))
        }
    };
    differ(
        "scenario (file, bytes' hash)",
        format!("{} {}", x.file, x.scenario_hash),
        format!("{} {}", y.file, y.scenario_hash),
    )?;
    differ("harness", x.harness.clone(), y.harness.clone())?;
    if !mixed_builds {
        differ("sim build (--mixed-builds merges anyway)", x.build.clone(), y.build.clone())?;
    }
    differ("command", x.command.clone(), y.command.clone())?;
    differ("strategies", x.strategies.join(","), y.strategies.join(","))?;
    differ("profiles", x.profiles.join(","), y.profiles.join(","))?;
    differ("seeds", format!("{:?}", x.seeds), format!("{:?}", y.seeds))?;
    differ("buggify", x.buggify.to_string(), y.buggify.to_string())?;
    differ("strict", format!("{} {}", x.strict, x.strict_flag), format!("{} {}", y.strict, y.strict_flag))?;
    differ("shard count", x.shard.count.to_string(), y.shard.count.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::sweep;

    fn header(shard: Shard) -> Header {
        Header {
            format: FORMAT,
            command: "sweep".into(),
            harness: "sim 0.1.0".into(),
            build: "b1".into(),
            file: "scenarios/meet_read_your_writes.scn".into(),
            scenario_hash: "h1".into(),
            strategies: vec!["fire-and-forget".into()],
            profiles: vec!["lan".into()],
            buggify: false,
            strict: false,
            strict_flag: false,
            seeds: [0, 8],
            shard,
        }
    }

    /// Seeds 0..8 of meet_read_your_writes under fire-and-forget (most fail), as records.
    fn swept() -> Seeds {
        let text = std::fs::read_to_string("../scenarios/meet_read_your_writes.scn").expect("shipped scenario");
        let scenario = crate::scenario::parse("meet_read_your_writes.scn", &text).expect("parses");
        records(&sweep(&scenario, Strategy::FireAndForget, Profile::Lan, 0..8, 1, &|_| {}))
    }

    /// The reports shards of `count` would write for `all`.
    fn shards(all: &Seeds, count: u64) -> Vec<Report> {
        (0..count)
            .map(|index| {
                let shard = Shard { index, count };
                let seeds: Vec<SeedRecord> = all.0.iter().filter(|r| r.seed % count == index).cloned().collect();
                let end = Some(End { ran: seeds.len(), planned: seeds.len(), stopped: None, wall_s: 1.0, fuzz: None });
                Report { path: format!("r{index}.jsonl"), header: header(shard), seeds, end }
            })
            .collect()
    }

    #[test]
    fn merged_shards_print_exactly_what_the_unsharded_sweep_prints() {
        let all = swept();
        assert!(all.failed_count() > 0, "the test needs failing seeds");
        let (one, code) = sweep_text(&header(Shard::ALL), &all, &[]).unwrap();
        let mut reports = shards(&all, 3);
        reports.reverse();
        let merged = merge(&reports, false, false).unwrap();
        assert!(merged.notes.is_empty());
        let (text, merged_code) = sweep_text(&merged.header, &Seeds::new(merged.records), &[]).unwrap();
        assert_eq!(text, one);
        assert_eq!((merged_code, code), (1, 1));
        assert!(text.contains("sweep: file=scenarios/meet_read_your_writes.scn strategy=fire-and-forget seeds=8"));
    }

    #[test]
    fn a_report_reads_back_what_was_written() {
        let all = swept();
        let path = std::env::temp_dir().join(format!("sim-report-test-{}.jsonl", std::process::id()));
        let writer = ReportWriter::create(&path, &header(Shard::ALL)).unwrap();
        for r in all.0.iter().rev() {
            writer.write(&Line::Seed(r.clone())).unwrap();
        }
        let end = End { ran: 8, planned: 8, stopped: None, wall_s: 0.5, fuzz: None };
        writer.write(&Line::End(end.clone())).unwrap();
        drop(writer);
        let back = read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.header, header(Shard::ALL));
        assert_eq!(Seeds::new(back.seeds).0, all.0);
        assert_eq!(back.end, Some(end));
    }

    #[test]
    fn a_malformed_report_line_is_named_by_file_and_line() {
        let path = std::env::temp_dir().join(format!("sim-report-bad-{}.jsonl", std::process::id()));
        let head = serde_json::to_string(&Line::Header(header(Shard::ALL))).unwrap();
        std::fs::write(&path, format!("{head}\n{{\"type\":\"seed\",\"seed\":\"x\"}}\n")).unwrap();
        let err = read(&path).unwrap_err();
        let end = Line::End(End { ran: 0, planned: 0, stopped: None, wall_s: 0.0, fuzz: None });
        std::fs::write(&path, serde_json::to_string(&end).unwrap()).unwrap();
        let no_header = read(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.starts_with(&format!("{}:2: not a report line", path.display())), "{err}");
        assert!(no_header.contains(":1: a report starts with its header line"), "{no_header}");
    }

    #[test]
    fn reports_of_different_runs_or_incomplete_sets_of_shards_are_refused() {
        let all = swept();
        let reports = shards(&all, 2);
        let mut other = reports.clone();
        other[1].header.scenario_hash = "h2".into();
        assert!(merge(&other, false, false).unwrap_err().contains("scenario"));
        let mut rebuilt = reports.clone();
        rebuilt[1].header.build = "b2".into();
        assert!(merge(&rebuilt, false, false).unwrap_err().contains("sim build"));
        assert!(merge(&rebuilt, false, true).is_ok(), "--mixed-builds merges anyway");
        let mut strategy = reports.clone();
        strategy[1].header.strategies = vec!["read-index".into()];
        assert!(merge(&strategy, false, false).unwrap_err().contains("strategies"));
        assert!(merge(&reports[..1], false, false).unwrap_err().contains("shards missing: 1/2"));
        let twice = vec![reports[0].clone(), reports[0].clone()];
        assert!(merge(&twice, false, false).unwrap_err().contains("are both shard 0/2"));
        let mut unfinished = reports.clone();
        unfinished[0].end = None;
        assert!(merge(&unfinished, false, false).unwrap_err().contains("no end line"));
        let partial = merge(&unfinished, true, false).unwrap();
        assert_eq!(partial.records.len(), 8);
        assert_eq!(partial.notes.len(), 1);
        let mut stray = reports.clone();
        let foreign = stray[1].seeds[0].clone();
        stray[0].seeds.push(foreign);
        assert!(merge(&stray, false, false).unwrap_err().contains("is not in shard 0/2"));
    }

    #[test]
    fn the_records_count_as_the_sweep_report_does() {
        let text = std::fs::read_to_string("../scenarios/meet_read_your_writes.scn").expect("shipped scenario");
        let scenario = crate::scenario::parse("meet_read_your_writes.scn", &text).expect("parses");
        for strategy in [Strategy::FireAndForget, Strategy::ReadIndex] {
            let report = sweep(&scenario, strategy, Profile::Lan, 0..6, 2, &|_| {});
            let seeds = records(&report);
            assert_eq!(seeds.summary("f", strategy), report.summary("f", strategy));
            assert_eq!(cell_of(&seeds, strategy, Profile::Lan), CompareCell::of(&report, strategy, Profile::Lan));
        }
    }

    #[test]
    fn a_seed_record_keeps_the_verdict_the_counts_and_the_trace_hash() {
        let all = swept();
        let failed = all.0.iter().find(|r| !r.passed()).unwrap();
        assert_eq!(failed.verdict, "fail");
        assert_eq!(failed.trace_hash.as_ref().map(String::len), Some(16));
        assert_eq!(failed.class.as_deref(), Some("safety"));
        assert!(failed.findings.iter().any(|f| f.property == "linearizable-reads"));
        assert!(failed.tally.calls > 0);
    }
}
