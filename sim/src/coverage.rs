//! Coverage probes of a run: which named rare branches it reached (FoundationDB's code probes), each with the
//! virtual time it was first reached.
//!
//! The node's probes (`clustersim::probe::ALL`) arrive as tracing events under `clustersim::probe::TARGET`; the
//! trace layer hands every event to [`on_event`] first, which takes the probe events out of the trace (so the
//! trace and its hash are the same with or without probes) and records them for the run on this thread. The
//! harness's own probes ([`SIM_PROBES`]) are recorded with [`note`]. Collection is per thread, like the trace: a
//! simulation runs on the thread that started it. Real mode collects nothing from the nodes (other processes).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use clustersim::probe::Probe;

/// The probes a run reached, by name, with the virtual time each was first reached.
pub type Probes = BTreeMap<String, Duration>;

/// The harness's own probes: rare interleavings of the scenario with its faults.
pub const SIM_PROBES: &[Probe] = &[
    Probe {
        name: "sim.read_in_fault_window",
        about: "a scenario read ran while a fault (or its recovery bound) was on",
    },
    Probe {
        name: "sim.write_in_fault_window",
        about: "a scenario write ran while a fault (or its recovery bound) was on",
    },
    Probe { name: "sim.kill_during_call", about: "a node was killed while a scenario call was in flight" },
    Probe { name: "sim.settle_polled_again", about: "a settle needed more than one poll round to converge" },
];

/// Every probe a report lists: the node's, then the harness's.
pub fn all() -> impl Iterator<Item = &'static Probe> {
    clustersim::probe::ALL.iter().chain(SIM_PROBES)
}

/// The probe named `name`, node or harness.
pub fn find(name: &str) -> Option<&'static Probe> {
    all().find(|p| p.name == name)
}

/// The BUGGIFY points that inject a fault (an answer lost, a call failed): each firing is a fault the verdict
/// must know of, as a kill or a partition is (`Collecting::take_faults`). The others only delay, or change the
/// Raft log policy, and are no fault.
pub const FAULT_POINTS: &[&str] = &["buggify.bus_reply_dropped", "buggify.bus_call_failed"];

thread_local! {
    /// The probes of the run on this thread (`None`: not collecting).
    static HITS: RefCell<Option<Probes>> = const { RefCell::new(None) };
    /// Every firing of a [`FAULT_POINTS`] point in this thread's run: the point and the virtual time.
    static FAULTS: RefCell<Vec<(String, Duration)>> = const { RefCell::new(Vec::new()) };
}

/// Starts collecting this thread's probes (forgetting earlier ones) until the guard drops.
pub fn collect() -> Collecting {
    HITS.with(|h| *h.borrow_mut() = Some(Probes::new()));
    FAULTS.with(|f| f.borrow_mut().clear());
    Collecting
}

/// Stops collecting when dropped.
pub struct Collecting;

impl Collecting {
    /// The probes collected so far (collection goes on).
    pub fn take(&self) -> Probes {
        HITS.with(|h| h.borrow_mut().as_mut().map(std::mem::take).unwrap_or_default())
    }

    /// Every firing of a fault-injecting BUGGIFY point so far, in order: (point, virtual time).
    pub fn take_faults(&self) -> Vec<(String, Duration)> {
        FAULTS.with(|f| std::mem::take(&mut *f.borrow_mut()))
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        HITS.with(|h| *h.borrow_mut() = None);
    }
}

/// Records `name` as reached at `at` (the earliest time is kept), if this thread collects.
pub fn note(name: &str, at: Duration) {
    let collecting = HITS.with(|h| match h.borrow_mut().as_mut() {
        Some(hits) => {
            record(hits, name, at);
            true
        }
        None => false,
    });
    if collecting && FAULT_POINTS.contains(&name) {
        FAULTS.with(|f| f.borrow_mut().push((name.to_string(), at)));
    }
}

/// Adds `name` at `at` to `hits`, keeping the earliest time.
pub fn record(hits: &mut Probes, name: &str, at: Duration) {
    // A probe is usually hit again and again in one run: no allocation once it is known.
    match hits.get_mut(name) {
        Some(first) => *first = (*first).min(at),
        None => {
            hits.insert(name.to_string(), at);
        }
    }
}

/// The trace layer's hook: `true` (and the probe recorded, stamped `now()`) for a probe event, which then is no
/// trace line; `false` for any other event.
pub fn on_event(event: &tracing::Event<'_>, now: fn() -> Duration) -> bool {
    if event.metadata().target() != clustersim::probe::TARGET {
        return false;
    }
    let mut name = ProbeName(None);
    event.record(&mut name);
    if let Some(name) = name.0 {
        note(&name, now());
    }
    true
}

/// The `probe` field of a probe event.
struct ProbeName(Option<String>);

impl tracing::field::Visit for ProbeName {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "probe" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "probe" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The probes of many runs (a sweep, a fuzz run, a compare matrix): per probe, how many runs reached it and the
/// replay command of the first run that did.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    runs: usize,
    reached: BTreeMap<String, (usize, String)>,
}

impl Coverage {
    /// Adds one run's probes; `replay` (called only for a probe's first run) is that run's replay command.
    pub fn add(&mut self, probes: &Probes, replay: &dyn Fn() -> String) {
        self.runs += 1;
        for name in probes.keys() {
            let entry = self.reached.entry(name.clone()).or_insert_with(|| (0, replay()));
            entry.0 += 1;
        }
    }

    /// Adds another report's runs and probes (its first-run replay commands kept where this one has none).
    pub fn merge(&mut self, other: &Coverage) {
        self.runs += other.runs;
        for (name, (count, replay)) in &other.reached {
            let entry = self.reached.entry(name.clone()).or_insert_with(|| (0, replay.clone()));
            entry.0 += count;
        }
    }

    /// How many runs reached `name`.
    pub fn count(&self, name: &str) -> usize {
        self.reached.get(name).map_or(0, |(n, _)| *n)
    }

    /// The table printed after a summary: every known probe (never-hit ones with 0), then any other name a run
    /// reported, each with `reached/runs` and the first run's replay command.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let hit = all().filter(|p| self.count(p.name) > 0).count();
        let mut out = format!(
            "coverage: {hit}/{} probes reached in {} runs
",
            all().count(),
            self.runs
        );
        let known = all().map(|p| p.name.to_string());
        let unknown = self.reached.keys().filter(|n| find(n).is_none()).cloned();
        for name in known.chain(unknown) {
            let first = self.reached.get(&name).map_or("-", |(_, replay)| replay.as_str());
            let _ = writeln!(out, "  {name:<28} {:>5}/{:<5} {first}", self.count(&name), self.runs);
        }
        out
    }

    /// The names of `required` that no run reached.
    pub fn missing<'a>(&self, required: &'a [String]) -> Vec<&'a str> {
        required.iter().filter(|n| self.count(n) == 0).map(String::as_str).collect()
    }
}

/// Reads a `--require-probes` file: one probe name per line, `#` comments and blank lines ignored. An unknown
/// name is an error naming `file:line`.
pub fn parse_required(file: &str, text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.split('#').next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        if find(name).is_none() {
            return Err(format!("{file}:{}: unknown probe '{name}' (see docs/CHECKERS.md, Coverage probes)", i + 1));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_time_of_a_probe_is_kept() {
        let mut hits = Probes::new();
        record(&mut hits, "raft.reopened", Duration::from_millis(900));
        record(&mut hits, "raft.reopened", Duration::from_millis(300));
        record(&mut hits, "raft.reopened", Duration::from_millis(600));
        assert_eq!(hits.get("raft.reopened"), Some(&Duration::from_millis(300)));
    }

    #[test]
    fn probes_are_collected_only_while_collecting() {
        note("sim.settle_polled_again", Duration::ZERO);
        let collecting = collect();
        assert!(collecting.take().is_empty(), "nothing from before collection started");
        note("sim.settle_polled_again", Duration::from_millis(5));
        assert_eq!(collecting.take().get("sim.settle_polled_again"), Some(&Duration::from_millis(5)));
    }

    #[test]
    fn every_firing_of_a_fault_injecting_point_is_kept_and_other_probes_are_not_faults() {
        let collecting = collect();
        note("buggify.bus_call_failed", Duration::from_millis(10));
        note("buggify.apply_delay", Duration::from_millis(20));
        note("buggify.bus_call_failed", Duration::from_millis(30));
        let faults = collecting.take_faults();
        let at = |ms| ("buggify.bus_call_failed".to_string(), Duration::from_millis(ms));
        assert_eq!(faults, vec![at(10), at(30)]);
    }

    #[test]
    fn probe_events_are_taken_out_and_recorded_and_other_events_pass() {
        use tracing_subscriber::layer::SubscriberExt;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Hook(std::sync::Arc<std::sync::Mutex<Vec<bool>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Hook {
            fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                self.0.lock().unwrap().push(on_event(event, || Duration::from_millis(7)));
            }
        }
        let subscriber = tracing_subscriber::registry().with(Hook(seen.clone()));
        let collecting = collect();
        tracing::subscriber::with_default(subscriber, || {
            clustersim::probe::hit("raft.snapshot_installed");
            tracing::info!(target: "clustersim::raft", "raft: an ordinary line");
        });
        assert_eq!(*seen.lock().unwrap(), vec![true, false]);
        assert_eq!(collecting.take().get("raft.snapshot_installed"), Some(&Duration::from_millis(7)));
    }

    #[test]
    fn the_table_lists_never_hit_probes_and_the_first_run_reaching_each() {
        let mut coverage = Coverage::default();
        let one: Probes = [("raft.reopened".to_string(), Duration::ZERO)].into_iter().collect();
        coverage.add(&Probes::new(), &|| "replay seed 0".into());
        coverage.add(&one, &|| "replay seed 1".into());
        coverage.add(&one, &|| "replay seed 2".into());
        let table = coverage.table();
        assert!(table.contains("raft.reopened"), "{table}");
        let line = |name: &str| table.lines().find(|l| l.trim_start().starts_with(name)).unwrap().to_string();
        assert!(line("raft.reopened").contains("2/3") && line("raft.reopened").ends_with("replay seed 1"));
        assert!(line("raft.snapshot_installed").contains("0/3"), "never-hit probes are listed: {table}");
        let required = vec!["raft.reopened".to_string(), "repair.is_member_no".to_string()];
        assert_eq!(coverage.missing(&required), vec!["repair.is_member_no"]);
    }

    #[test]
    fn a_required_probes_file_skips_comments_and_names_the_line_of_an_unknown_probe() {
        let text = "# rare branches\nraft.reopened\n\nsim.settle_polled_again  # harness\nraft.nope\n";
        assert_eq!(
            parse_required("req.txt", text).unwrap_err().split(':').take(2).collect::<Vec<_>>(),
            ["req.txt", "5"]
        );
        let ok = parse_required("req.txt", "raft.reopened\n# x\nsim.settle_polled_again # y\n").unwrap();
        assert_eq!(ok, ["raft.reopened", "sim.settle_polled_again"]);
    }

    #[test]
    fn node_and_harness_probe_names_are_distinct() {
        let names: std::collections::BTreeSet<&str> = all().map(|p| p.name).collect();
        assert_eq!(names.len(), all().count());
        assert!(find("sim.kill_during_call").is_some() && find("write.not_leader").is_some());
    }
}
