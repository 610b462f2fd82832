//! `sim`: sweep a scenario over many seeds, replay one seed with its full trace, compare every strategy under
//! every profile, fuzz generated scenarios, benchmark; `sim real` runs a scenario on real processes.
//!
//! One subcommand is one variant of `Command` (its help text) and one `…Args` struct whose `run` carries it out.

/// mimalloc instead of glibc's allocator: a seed allocates and frees ~100,000 small blocks (docs/RESULTS.md, "Speed").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(madsim))]
fn main() {
    std::process::exit(real_cli::main());
}

/// The real flavour's `sim`: only `sim real` (every other command needs the simulator).
#[cfg(not(madsim))]
mod real_cli {
    use std::path::PathBuf;
    use std::time::Instant;

    use clap::{Parser, Subcommand};
    use clustersim::server::Strategy;
    use sim::real::Server;

    #[derive(Parser)]
    #[command(
        name = "sim",
        version,
        about = "sim, real flavour: run a scenario on real server processes (the simulation commands need the default build)"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Run a scenario on real processes on 127.0.0.1 over real TCP, with the same client and checkers.
        Real(RealArgs),
    }

    #[derive(clap::Args)]
    pub struct RealArgs {
        file: PathBuf,
        /// What every node runs: `clustersim` (clustersim-node), `redis` (redis-server 7 in cluster mode: its
        /// own nodes.conf in its own directory, persistence off, loopback; ids learned with CLUSTER MYID), or a
        /// command template for any RESP cluster server, with {port}, {bus_port} and {dir} filled in per node
        /// (run as `sh -c 'exec <template>'`).
        #[arg(long, default_value = "clustersim")]
        server: String,
        /// The clustersim server's strategy (default: the scenario's); ignored by other servers.
        #[arg(long, value_parser = parse_strategy)]
        strategy: Option<Strategy>,
        /// Port of n1 (n2 gets the next, ...; bus ports are +10000). Default: the scenario's base-port header.
        #[arg(long)]
        base_port: Option<u16>,
        /// The clustersim-node binary (default: the one beside this sim binary).
        #[arg(long)]
        node_bin: Option<PathBuf>,
        /// Keep the nodes' data directories and logs here (default: a temporary directory, removed after a
        /// passing run and kept after a failing one).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    }

    fn parse_strategy(text: &str) -> Result<Strategy, String> {
        text.parse().map_err(|e: clustersim::server::StrategyParseError| e.to_string())
    }

    pub fn main() -> i32 {
        let Command::Real(args) = Cli::parse().command;
        let scenario = match sim::scenario::load(&args.file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        };
        let profile = scenario.header.profile.unwrap_or(sim::profile::Profile::Lan);
        let unsupported = sim::scenario::simulator_only(&scenario, profile);
        if !unsupported.is_empty() {
            for u in &unsupported {
                eprintln!("{}: unsupported in real mode: {u}", args.file.display());
            }
            eprintln!(
                "sim real: not run; the simulator runs it: cargo run --release -p sim -- replay {} --seed 0",
                args.file.display()
            );
            return 2;
        }
        let node_bin = args.node_bin.unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap_or_default();
            exe.with_file_name(format!("clustersim-node{}", std::env::consts::EXE_SUFFIX))
        });
        let server = match Server::parse(&args.server, node_bin, args.strategy.or(scenario.header.strategy)) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("{}: {e}", args.file.display());
                return 2;
            }
        };
        let (work_dir, temporary) = match args.work_dir {
            Some(dir) => (dir, false),
            None => (std::env::temp_dir().join(format!("clustersim-real-{}", std::process::id())), true),
        };
        if let Err(e) = std::fs::create_dir_all(&work_dir) {
            eprintln!("{}: {e}", work_dir.display());
            return 2;
        }
        let base_port = args.base_port.unwrap_or(scenario.header.base_port);
        let options = sim::real::RealOptions { server: server.clone(), base_port, work_dir: work_dir.clone() };
        println!(
            "# real: file={} server={} base-port={base_port} nodes={}",
            args.file.display(),
            server.describe(),
            scenario.header.nodes
        );
        let started = Instant::now();
        let outcome = match sim::real::run(&scenario, &options) {
            Ok(outcome) => outcome,
            Err(e) => {
                eprintln!("sim real: {e} (logs in {})", work_dir.display());
                return 2;
            }
        };
        let wall = started.elapsed();
        if let Server::Command { .. } = &server {
            // Learned with CLUSTER MYID; the trace and the report show them as `<nK>`.
            let ids: Vec<String> = outcome.hosts.iter().map(|h| format!("{}={}", h.name, h.id)).collect();
            println!("# ids (CLUSTER MYID): {}", ids.join(" "));
        }
        print!("{}", sim::outcome_report(&outcome));
        if outcome.passed() && temporary {
            let _ = std::fs::remove_dir_all(&work_dir);
        } else if !outcome.passed() {
            println!("node logs: {}", work_dir.display());
            if let Server::Clustersim { strategy, .. } = &server {
                println!(
                    "in simulation: cargo run --release -p sim -- replay {} --seed 0 --strategy {strategy}",
                    args.file.display()
                );
            }
        }
        println!("wall: {:.3}s", wall.as_secs_f64());
        i32::from(!outcome.passed())
    }
}

#[cfg(madsim)]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(madsim)]
mod cli {
    use std::io::IsTerminal;
    use std::ops::Range;
    use std::path::{Path, PathBuf};

    use clap::{Parser, Subcommand};
    use clustersim::server::Strategy;
    use sim::profile::Profile;
    use sim::scenario::{load, Scenario};
    use sim::sweep::{sweep, CompareCell, CompareMatrix};
    use sim::RunOptions;

    #[derive(Parser)]
    #[command(
        name = "sim",
        version,
        about = "Deterministic simulation of clustersim nodes: sweep seeds, replay one, benchmark"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    /// One variant per subcommand; each one's arguments are a struct whose `run` carries it out.
    #[derive(Subcommand)]
    enum Command {
        /// Run a scenario under many seeds; one line per failing seed (with its replay command), then a summary.
        Sweep(SweepArgs),
        /// Run every strategy under every network profile and print per cell failed/total, the seeds by their worst
        /// class (S safety, L liveness, U only availability) and the first failing seed.
        Compare(CompareArgs),
        /// Run one seed and print its full trace, the verdict, and `trace-hash: <hex>` last.
        Replay(ReplayArgs),
        /// Run generated scenarios until a checker fires; shrink the failing case and write it under
        /// scenarios/regressions/. Summary line: `fuzz: strategy=… cases=… passed=… found=<kind|none> …`. Findings are
        /// violations that fail a run: safety and liveness (availability too with --strict).
        Fuzz(FuzzArgs),
        /// Run a scenario on real server processes (clustersim-node, redis-server, …) over real TCP: builds the real flavour (empty
        /// RUSTFLAGS, target/real) of clustersim-node and sim, then runs `target/real/<profile>/sim real`.
        /// Arguments after the file: --server (clustersim, redis, or a command template), --strategy,
        /// --base-port, --node-bin, --work-dir (see `sim real --help` there).
        #[command(disable_help_flag = true)]
        Real {
            #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
            args: Vec<String>,
        },
        /// Measure seeds per second (1 job and 2 jobs) and virtual seconds per wall second, per strategy.
        Bench(BenchArgs),
        /// The battery for CI: within --budget, every scenario under read-index (lan, then swarm faults), every
        /// regression file, generated cases with workloads and faults, and a canary that must fail. One line
        /// per part, every failure with its replay command; exit 1 on any failure.
        Check(CheckArgs),
        /// Merge the `--report` files of one run's shards and print what the unsharded run prints (a sweep's seed
        /// lines, summary line and coverage; a compare's matrix; a fuzz run's first finding and counts). Refuses
        /// reports of different scenarios, builds or options, and a shard missing or given twice.
        Merge(MergeArgs),
    }

    // `sim merge`.
    #[derive(clap::Args)]
    struct MergeArgs {
        /// The reports (`--report` files of `sweep`, `compare` or `fuzz`), one per shard, any order.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Merge even with shards missing or unfinished (the output counts the seeds that are there).
        #[arg(long)]
        partial: bool,
        /// Merge reports written by different `sim` binaries (their build hashes differ).
        #[arg(long)]
        mixed_builds: bool,
        /// Exit 1 naming each probe of this file (one name per line, `#` comments) that no seed reached.
        #[arg(long)]
        require_probes: Option<PathBuf>,
        /// A compare's reports: also write the matrix as JSON (as `compare --json`).
        #[arg(long)]
        json: Option<PathBuf>,
        /// A compare's reports: also write the matrix as an HTML heat map (as `compare --html`).
        #[arg(long)]
        html: Option<PathBuf>,
    }

    // `sim check`.
    #[derive(clap::Args)]
    struct CheckArgs {
        /// Wall-clock budget, e.g. 120s or 5m (the regressions and the canary run whole, first).
        #[arg(long, default_value = "120s", value_parser = parse_budget)]
        budget: std::time::Duration,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// The directory of the scenario files (its regressions/ subdirectory holds the regression files).
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
        /// A file of probe names (one per line, `#` comments) the battery must reach: exit 1 naming each one no
        /// run reached. The shipped list is scenarios/battery.probes.
        #[arg(long)]
        require_probes: Option<PathBuf>,
        /// Stop at the first failing run and print how long it took (`check: first-failure-after=…`).
        #[arg(long)]
        fail_fast: bool,
    }

    // `sim sweep`.
    #[derive(clap::Args)]
    struct SweepArgs {
        /// Scenario file (.scn).
        file: PathBuf,
        /// Consistency strategy (overrides the scenario's header).
        #[arg(long, value_parser = parse_strategy)]
        strategy: Option<Strategy>,
        /// Seeds as a half-open range a..b (0..1000 runs 1000 seeds), or a count n (= 0..n).
        #[arg(long, default_value = "0..100", value_parser = parse_range)]
        seeds: Range<u64>,
        /// Parallel jobs (OS threads), each running whole simulations.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Network profile (overrides the scenario's header; default lan).
        #[arg(long, value_parser = parse_profile, conflicts_with = "swarm")]
        profile: Option<Profile>,
        /// Swarm testing: each seed draws its own network and fault schedule (= --profile swarm).
        #[arg(long)]
        swarm: bool,
        /// Availability violations (errors during a fault window) fail a seed too, as the scenario header's
        /// `strict` does.
        #[arg(long)]
        strict: bool,
        /// BUGGIFY: the node's injection points may fire (the seed decides where; docs/CHECKERS.md).
        #[arg(long)]
        buggify: bool,
        /// Exit 1 naming each probe of this file (one name per line, `#` comments) that no run reached.
        #[arg(long)]
        require_probes: Option<PathBuf>,
        #[command(flatten)]
        batch: BatchArgs,
        /// Stop starting seeds after this much wall time (e.g. 90s, 30m, 2h); the seeds started finish, and the
        /// output says how many ran.
        #[arg(long = "for", value_parser = parse_budget)]
        for_time: Option<std::time::Duration>,
        /// Write each failing seed as a scenario file here: the original text under a header with its seed,
        /// violation and the command that replays it.
        #[arg(long)]
        save_failures: Option<PathBuf>,
    }

    /// Sharding and reports, shared by `sweep` and `compare`.
    #[derive(clap::Args)]
    struct BatchArgs {
        /// Run only shard I of N (0-based): the seeds at positions I, I+N, … of the range. Default: from the
        /// batch variables (SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT; JOB_COMPLETION_INDEX with --shards).
        #[arg(long, value_parser = sim::shard::Shard::parse)]
        shard: Option<sim::shard::Shard>,
        /// The shard count when the index comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
        #[arg(long)]
        shards: Option<u64>,
        /// Write a JSON-lines report (header, one line per seed, end line) that `sim merge` reads.
        #[arg(long)]
        report: Option<PathBuf>,
    }

    // `sim compare`.
    #[derive(clap::Args)]
    struct CompareArgs {
        file: PathBuf,
        /// Seeds per cell (0..n).
        #[arg(long, default_value_t = 50)]
        seeds: u64,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Also write the matrix as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write the matrix as one self-contained HTML page: a heat map of failed shares, each cell's class
        /// breakdown and the replay command of its first failing seed.
        #[arg(long)]
        html: Option<PathBuf>,
        #[command(flatten)]
        batch: BatchArgs,
        /// Availability violations fail a seed too (see `sweep --strict`).
        #[arg(long)]
        strict: bool,
        /// BUGGIFY: the node's injection points may fire (the seed decides where; docs/CHECKERS.md).
        #[arg(long)]
        buggify: bool,
        /// Exit 1 naming each probe of this file (one name per line, `#` comments) that no run reached.
        #[arg(long)]
        require_probes: Option<PathBuf>,
    }

    // `sim replay`.
    #[derive(clap::Args)]
    struct ReplayArgs {
        file: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long, value_parser = parse_strategy)]
        strategy: Option<Strategy>,
        #[arg(long, value_parser = parse_profile, conflicts_with = "swarm")]
        profile: Option<Profile>,
        /// = --profile swarm.
        #[arg(long)]
        swarm: bool,
        /// Availability violations fail the run too (see `sweep --strict`).
        #[arg(long)]
        strict: bool,
        /// BUGGIFY (see `sweep --buggify`).
        #[arg(long)]
        buggify: bool,
        /// Also print the nodes' Raft events (what the Raft checkers judged), one per line, ids normalized.
        #[arg(long)]
        raft_events: bool,
        /// Also write the run's timeline to this file: one self-contained HTML page (lanes per node, calls, bus
        /// messages, Raft roles, fault windows, every violation marked), opened from disk.
        #[arg(long)]
        html: Option<PathBuf>,
    }

    // `sim fuzz`.
    #[derive(clap::Args)]
    struct FuzzArgs {
        /// Generated cases to run (shrinking runs come on top).
        #[arg(long, default_value_t = 100)]
        cases: u32,
        /// The strategy under test: read-index must hold every property; weaker ones show what the
        /// generator finds on its own.
        #[arg(long, default_value = "read-index", value_parser = parse_strategy)]
        strategy: Strategy,
        #[arg(long, default_value = "lan", value_parser = parse_profile)]
        profile: Profile,
        /// Cluster sizes, as an inclusive range a..=b.
        #[arg(long, default_value = "3..=9", value_parser = parse_inclusive)]
        nodes: std::ops::RangeInclusive<usize>,
        /// Generate no fault steps.
        #[arg(long)]
        no_faults: bool,
        /// Generate no background workloads (by default about half the cases start a read workload, a third a write
        /// workload).
        #[arg(long)]
        no_workloads: bool,
        /// Count only safety violations (linearizable reads, durability, slot safety, wrong answers), not
        /// liveness.
        #[arg(long)]
        safety_only: bool,
        /// Availability violations (errors during a fault window) count as findings too; the regression
        /// file written gets the `strict` header, so it replays under the same rule.
        #[arg(long)]
        strict: bool,
        /// Largest number of extra actions (reads, sleeps, FORGETs, fault windows) per case.
        #[arg(long, default_value_t = 12)]
        extras: usize,
        /// Longest generated sleep, in ms.
        #[arg(long, default_value_t = 2000)]
        sleep_ms_max: u64,
        /// Seed of the case generator (the same seed finds and shrinks the same case).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Bound on shrinking steps.
        #[arg(long, default_value_t = 512)]
        shrink_iters: u32,
        /// Where to write the shrunk case (default: scenarios/regressions/).
        #[arg(long, default_value = "scenarios/regressions")]
        out: PathBuf,
        #[command(flatten)]
        batch: BatchArgs,
        /// BUGGIFY: the node's injection points may fire (the seed decides where; docs/CHECKERS.md).
        #[arg(long)]
        buggify: bool,
        /// Exit 1 naming each probe of this file (one name per line, `#` comments) that no run reached.
        #[arg(long)]
        require_probes: Option<PathBuf>,
    }

    // `sim bench`.
    #[derive(clap::Args)]
    struct BenchArgs {
        #[arg(default_value = "scenarios/aikv_cluster_init.scn")]
        file: PathBuf,
        /// Seeds per measurement.
        #[arg(long, default_value_t = 40)]
        seeds: u64,
        /// Strategies to measure (default: all four).
        #[arg(long, value_parser = parse_strategy, num_args = 1..)]
        strategy: Vec<Strategy>,
    }

    pub fn main() -> i32 {
        match Cli::parse().command {
            Command::Sweep(args) => args.run(),
            Command::Compare(args) => args.run(),
            Command::Replay(args) => args.run(),
            Command::Fuzz(args) => args.run(),
            Command::Real { args } => real(&args),
            Command::Bench(args) => args.run(),
            Command::Check(args) => args.run(),
            Command::Merge(args) => args.run(),
        }
    }

    fn parse_strategy(text: &str) -> Result<Strategy, String> {
        text.parse().map_err(|e: clustersim::server::StrategyParseError| e.to_string())
    }

    fn parse_profile(text: &str) -> Result<Profile, String> {
        text.parse().map_err(|e: sim::profile::ProfileParseError| e.to_string())
    }

    fn parse_inclusive(text: &str) -> Result<std::ops::RangeInclusive<usize>, String> {
        let (a, b) = text.split_once("..=").ok_or_else(|| format!("expected a..=b, found '{text}'"))?;
        let a: usize = a.parse().map_err(|_| format!("'{a}' is not a node count"))?;
        let b: usize = b.parse().map_err(|_| format!("'{b}' is not a node count"))?;
        if !(2..=16).contains(&a) || !(a..=16).contains(&b) {
            return Err(format!("node counts are from 2 to 16, a <= b; found {a}..={b}"));
        }
        Ok(a..=b)
    }

    fn parse_range(text: &str) -> Result<Range<u64>, String> {
        if let Ok(n) = text.parse::<u64>() {
            return if n == 0 { Err("0 seeds is no sweep".to_string()) } else { Ok(0..n) };
        }
        let (a, b) = text.split_once("..").ok_or_else(|| format!("expected a..b or a count, found '{text}'"))?;
        let a: u64 = a.parse().map_err(|_| format!("'{a}' is not a seed"))?;
        let b: u64 = b.parse().map_err(|_| format!("'{b}' is not a seed"))?;
        if a >= b {
            return Err(format!("the range {a}..{b} holds no seed"));
        }
        Ok(a..b)
    }

    /// Loads a scenario; `strict` (the CLI's `--strict`) turns on its header's `strict`.
    fn load_or_exit(file: &Path, strict: bool) -> Scenario {
        match load(file) {
            Ok(mut s) => {
                s.header.strict |= strict;
                s
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }

    fn strategy_or_exit(cli: Option<Strategy>, scenario: &Scenario, file: &Path) -> Strategy {
        match cli.or(scenario.header.strategy) {
            Some(s) => s,
            None => {
                eprintln!("{}: the scenario names no strategy; pass --strategy <local-only|fire-and-forget|commit-then-sleep|read-index>", file.display());
                std::process::exit(2);
            }
        }
    }

    /// The profile a run uses: `--swarm`, else `--profile`, else the scenario header's, else lan.
    fn profile_of(cli: Option<Profile>, swarm: bool, scenario: &Scenario) -> Profile {
        let cli = if swarm { Some(Profile::Swarm) } else { cli };
        cli.or(scenario.header.profile).unwrap_or(Profile::Lan)
    }

    fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
        let (digits, scale) = match (text.strip_suffix('h'), text.strip_suffix('m')) {
            (Some(d), _) => (d, 3600),
            (None, Some(d)) => (d, 60),
            (None, None) => (text.strip_suffix('s').unwrap_or(text), 1),
        };
        match digits.parse::<u64>() {
            Ok(n) if n > 0 => Ok(std::time::Duration::from_secs(n * scale)),
            _ => Err(format!("expected a duration such as 120s, 30m or 2h, found '{text}'")),
        }
    }

    impl CheckArgs {
        fn run(self) -> i32 {
            let required = required_or_exit(&self.require_probes);
            let options = sim::battery::BatteryOptions {
                budget: self.budget,
                jobs: self.jobs,
                dir: self.dir.clone(),
                strategy: Strategy::ReadIndex,
                fail_fast: self.fail_fast,
            };
            println!("# check: budget={}s jobs={} dir={}", self.budget.as_secs(), self.jobs, self.dir.display());
            let started = std::time::Instant::now();
            let report = match sim::battery::run_battery(&options, &|part| eprintln!("# running: {part}")) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("sim check: {e}");
                    return 2;
                }
            };
            for part in &report.parts {
                println!(
                    "{:<18} runs={:<5} failed={:<3} {:>6.1}s  {}",
                    format!("{}:", part.name),
                    part.runs,
                    part.failed,
                    part.wall.as_secs_f64(),
                    part.scope
                );
            }
            for f in &report.failures {
                println!("FAIL [{}] {} | replay: {}", f.part, f.line, f.replay);
            }
            if let Some(after) = report.first_failure {
                println!("check: first-failure-after={:.1}s", after.as_secs_f64());
            }
            let unreached = report_coverage(&report.coverage, &required);
            let passed = report.passed() && unreached == 0;
            println!(
                "check: runs={} failed={} required-probes-missed={} wall={:.0}s verdict={}",
                report.runs(),
                report.failures.len(),
                report.coverage.missing(&required).len(),
                started.elapsed().as_secs_f64(),
                if passed { "PASS" } else { "FAIL" }
            );
            i32::from(!passed)
        }
    }

    /// The replay command of a run with these options (`--buggify` added when it was on).
    fn replay_with(file: &Path, options: &RunOptions, strict: bool) -> String {
        let file = file.display().to_string();
        sim::report::replay_command(&file, options.seed, options.strategy, options.profile, strict, options.buggify)
    }

    /// The `--require-probes` file's names; exits 2 on an unreadable file or an unknown name (`file:line`).
    fn required_or_exit(file: &Option<PathBuf>) -> Vec<String> {
        let Some(file) = file else { return Vec::new() };
        let parsed = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|text| sim::coverage::parse_required(&file.display().to_string(), &text));
        parsed.unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        })
    }

    /// Prints the coverage table; 1 (after naming each) if a required probe was never reached, else 0.
    fn report_coverage(coverage: &sim::coverage::Coverage, required: &[String]) -> i32 {
        print!("{}", coverage.table());
        let missing = coverage.missing(required);
        for name in &missing {
            println!("required probe never reached: {name}");
        }
        i32::from(!missing.is_empty())
    }

    impl BatchArgs {
        /// The shard to run (flag, else batch variables, else all); exits 2 on a bad combination.
        fn shard_or_exit(&self) -> sim::shard::Shard {
            let var = |name: &str| std::env::var(name).ok();
            match sim::shard::Shard::choose(self.shard, self.shards, &var) {
                Ok((shard, source)) => {
                    if !shard.is_all() {
                        eprintln!("# shard {shard} (from {source})");
                    }
                    shard
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(2)
                }
            }
        }

        /// The report writer, if `--report` was given; exits 2 if the file cannot be created.
        fn writer_or_exit(&self, header: &sim::report::Header) -> Option<sim::report::ReportWriter> {
            let path = self.report.as_ref()?;
            Some(sim::report::ReportWriter::create(path, header).unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2)
            }))
        }
    }

    /// A report header for a run of `file` (its bytes hashed) with these options.
    struct HeaderFor<'a> {
        command: &'a str,
        file: &'a Path,
        strategies: Vec<String>,
        profiles: Vec<String>,
        buggify: bool,
        strict: bool,
        strict_flag: bool,
        seeds: Range<u64>,
        shard: sim::shard::Shard,
    }

    impl HeaderFor<'_> {
        fn header(self, build: bool) -> sim::report::Header {
            let bytes = std::fs::read(self.file).unwrap_or_default();
            sim::report::Header {
                format: sim::report::FORMAT,
                command: self.command.to_string(),
                harness: format!("sim {}", env!("CARGO_PKG_VERSION")),
                build: if build { sim::report::build_id() } else { String::new() },
                file: self.file.display().to_string(),
                scenario_hash: sim::report::fnv_hex(&bytes),
                strategies: self.strategies,
                profiles: self.profiles,
                buggify: self.buggify,
                strict: self.strict,
                strict_flag: self.strict_flag,
                seeds: [self.seeds.start, self.seeds.end],
                shard: self.shard,
            }
        }
    }

    impl SweepArgs {
        fn run(self) -> i32 {
            let mut scenario = load_or_exit(&self.file, false);
            // The replay command needs --strict only when the file's header does not say it.
            let strict_flag = self.strict && !scenario.header.strict;
            scenario.header.strict |= self.strict;
            let strategy = strategy_or_exit(self.strategy, &scenario, &self.file);
            let profile = profile_of(self.profile, self.swarm, &scenario);
            let required = required_or_exit(&self.require_probes);
            let shard = self.batch.shard_or_exit();
            let header = HeaderFor {
                command: "sweep",
                file: &self.file,
                strategies: vec![strategy.to_string()],
                profiles: vec![profile.to_string()],
                buggify: self.buggify,
                strict: scenario.header.strict,
                strict_flag,
                seeds: self.seeds.clone(),
                shard,
            }
            .header(self.batch.report.is_some());
            let writer = self.batch.writer_or_exit(&header);
            let base = RunOptions::new(0, strategy).profile(profile).buggify(self.buggify);
            let seeds = shard.seeds(self.seeds.clone());
            let bar = progress_bar(seeds.len() as u64);
            let deadline = self.for_time.map(|d| std::time::Instant::now() + d);
            let report =
                sim::sweep::sweep_seeds(&scenario, &base, &seeds, self.jobs, deadline, &|done, seed, r, wall| {
                    bar.set_position(done);
                    if let Some(w) = &writer {
                        if let Err(e) = w.write(&sim::report::Line::Seed(sim::report::SeedRecord::of(seed, r, wall))) {
                            eprintln!("{e}");
                        }
                    }
                });
            bar.finish_and_clear();
            let stopped = (report.results.len() < seeds.len()).then(|| format!("--for {}", self.for_arg()));
            if let Some(by) = &stopped {
                println!("stopped: {by} reached after {} of {} seeds", report.results.len(), seeds.len());
            }
            let end = sim::report::End {
                ran: report.results.len(),
                planned: seeds.len(),
                stopped,
                wall_s: report.wall.as_secs_f64(),
                fuzz: None,
            };
            if let Some(Err(e)) = writer.map(|w| w.write(&sim::report::Line::End(end))) {
                eprintln!("{e}");
            }
            let (text, code) =
                sim::report::sweep_text(&header, &sim::report::records(&report), &required).expect("own header");
            print!("{text}");
            match &self.save_failures {
                Some(dir) => code.max(save_failures(dir, &header, &report)),
                None => code,
            }
        }

        /// `--for` as given.
        fn for_arg(&self) -> String {
            let secs = self.for_time.map_or(0, |d| d.as_secs());
            if secs % 3600 == 0 {
                format!("{}h", secs / 3600)
            } else if secs % 60 == 0 {
                format!("{}m", secs / 60)
            } else {
                format!("{secs}s")
            }
        }
    }

    /// Writes each failing seed under `dir` (`sim::save`); 2 if one cannot be written, else 0.
    fn save_failures(dir: &Path, header: &sim::report::Header, report: &sim::sweep::SweepReport) -> i32 {
        let mut code = 0;
        for (seed, result) in report.failed() {
            match sim::save::save_failure(dir, header, *seed, result) {
                Ok(path) => println!("saved: seed {seed} -> {}", path.display()),
                Err(e) => {
                    eprintln!("{e}");
                    code = 2;
                }
            }
        }
        code
    }

    impl ReplayArgs {
        fn run(self) -> i32 {
            let (file, seed) = (&self.file, self.seed);
            let scenario = load_or_exit(file, self.strict);
            let strategy = strategy_or_exit(self.strategy, &scenario, file);
            let profile = profile_of(self.profile, self.swarm, &scenario);
            let options = RunOptions::new(seed, strategy).profile(profile).buggify(self.buggify);
            let outcome = sim::run(&scenario, &options);
            let buggify = if self.buggify { " buggify" } else { "" };
            println!("# replay: file={} seed={seed} strategy={strategy} profile={profile}{buggify}", file.display());
            if self.raft_events {
                for event in &outcome.raft_events {
                    println!("# raft: {}", sim::normalize(&event.to_string(), &outcome.hosts));
                }
            }
            print!("{}", sim::outcome_report(&outcome));
            for (name, at) in &outcome.probes {
                println!("# probe reached: {name} (first at {})", sim::stamp(*at).trim());
            }
            if !outcome.passed() {
                println!("replay: {}", replay_with(file, &options, self.strict));
            }
            println!("trace-hash: {:016x}", outcome.trace_hash);
            if let Some(path) = &self.html {
                let page = sim::html::timeline(
                    &file.display().to_string(),
                    &outcome,
                    &replay_with(file, &options, self.strict),
                );
                if let Err(e) = std::fs::write(path, page) {
                    eprintln!("{}: {e}", path.display());
                    return 2;
                }
                println!("timeline: {}", path.display());
            }
            i32::from(!outcome.passed())
        }
    }

    impl FuzzArgs {
        fn run(self) -> i32 {
            let gen = sim::gen::GenConfig {
                nodes: self.nodes.clone(),
                faults: !self.no_faults,
                workloads: !self.no_workloads,
                extras_max: self.extras,
                sleep_ms_max: self.sleep_ms_max,
                settle_ms: 30_000,
            };
            let shard = self.batch.shard_or_exit();
            let options = sim::fuzz::FuzzOptions {
                cases: self.cases,
                strategy: self.strategy,
                profile: self.profile,
                gen,
                seed: self.seed,
                shrink_iters_max: self.shrink_iters,
                safety_only: self.safety_only,
                strict: self.strict,
                buggify: self.buggify,
                shard,
            };
            let required = required_or_exit(&self.require_probes);
            let header = self.header(&options);
            let writer = self.batch.writer_or_exit(&header);
            let bar = progress_bar(u64::from(self.cases));
            let report = sim::fuzz::fuzz(&options, &|passed, runs| {
                bar.set_position(passed);
                bar.set_message(format!("{runs} runs"));
            });
            bar.finish_and_clear();
            let found = match &report.found {
                Some(found) => match self.write_found(found) {
                    Ok((lines, tail)) => Some(sim::report::FoundRecord { case: last_case(&report), lines, tail }),
                    Err(code) => return code,
                },
                None => None,
            };
            let summary = sim::report::FuzzSummary {
                strategy: self.strategy,
                profile: self.profile,
                cases: u64::from(self.cases),
                passed: report.passed,
                runs: report.runs,
                found,
                aborted: report.aborted.clone(),
                coverage: report.coverage.clone(),
            };
            if let Some(w) = &writer {
                write_fuzz_report(w, &report, &summary, shard.seeds(0..u64::from(self.cases)).len());
            }
            let (text, code) = summary.text(&required);
            print!("{text}");
            code
        }

        /// The report header of this fuzz run: the generator's options stand for the scenario (their hash).
        fn header(&self, options: &sim::fuzz::FuzzOptions) -> sim::report::Header {
            let generator = format!(
                "{:?} seed={} shrink={} safety_only={} strict={} buggify={}",
                options.gen, self.seed, self.shrink_iters, self.safety_only, self.strict, self.buggify
            );
            sim::report::Header {
                format: sim::report::FORMAT,
                command: "fuzz".to_string(),
                harness: format!("sim {}", env!("CARGO_PKG_VERSION")),
                build: if self.batch.report.is_some() { sim::report::build_id() } else { String::new() },
                file: "(generated)".to_string(),
                scenario_hash: sim::report::fnv_hex(generator.as_bytes()),
                strategies: vec![self.strategy.to_string()],
                profiles: vec![self.profile.to_string()],
                buggify: self.buggify,
                strict: self.strict,
                strict_flag: false,
                seeds: [0, u64::from(self.cases)],
                shard: options.shard,
            }
        }

        /// Writes the shrunk case under `--out`; the lines printed for it and the summary's tail (exit code 2
        /// if the file cannot be written).
        fn write_found(&self, found: &sim::fuzz::Found) -> Result<(Vec<String>, String), i32> {
            let (strategy, profile) = (self.strategy, self.profile);
            let path = self.out.join(sim::fuzz::regression_name(strategy, found));
            let text = sim::fuzz::regression_text(&path, strategy, profile, found);
            if let Err(e) = std::fs::create_dir_all(&self.out).and_then(|()| std::fs::write(&path, &text)) {
                eprintln!("{}: {e}", path.display());
                return Err(2);
            }
            let mut lines: Vec<String> = found.findings.iter().map(|f| f.to_string()).collect();
            lines.push(format!("shrunk to {} steps: {}", found.scenario.steps.len(), path.display()));
            lines.push(format!(
                "replay: cargo run --release -p sim -- replay {} --seed {}",
                path.display(),
                found.case.seed
            ));
            let first = found.first();
            let tail = format!("found={} class={} file={}", first.violation.kind(), first.class(), path.display());
            Ok((lines, tail))
        }
    }

    /// The index of the last generated case a fuzz run ran (its failing one, when it found something).
    fn last_case(report: &sim::fuzz::FuzzReport) -> u64 {
        report.cases.last().map_or(0, |c| c.index)
    }

    /// A fuzz run's report: one line per case it ran before the first failure (and that one), then the end line
    /// with what `sim merge` needs to print the run.
    fn write_fuzz_report(
        w: &sim::report::ReportWriter,
        report: &sim::fuzz::FuzzReport,
        summary: &sim::report::FuzzSummary,
        planned: usize,
    ) {
        let mut lines: Vec<sim::report::Line> = report
            .cases
            .iter()
            .map(|c| {
                let passed = c.passed;
                sim::report::Line::Seed(sim::report::SeedRecord {
                    seed: c.index,
                    verdict: if passed { "pass" } else { "fail" }.to_string(),
                    class: None,
                    line: String::new(),
                    findings: Vec::new(),
                    trace_hash: None,
                    wall_ms: 0.0,
                    virtual_ms: 0,
                    tally: Default::default(),
                    probes: sim::report::probes_in_ms(&c.probes),
                    cell: None,
                    case_seed: Some(c.seed),
                })
            })
            .collect();
        let fuzz = sim::report::FuzzEnd {
            passed: summary.passed,
            runs: summary.runs,
            found: summary.found.clone(),
            aborted: summary.aborted.clone(),
            shrink_runs: report.shrink_runs.iter().map(|(seed, p)| (*seed, sim::report::probes_in_ms(p))).collect(),
        };
        let stopped = summary.found.as_ref().map(|f| format!("a finding at case {} ({})", f.case, f.tail));
        let ran = report.cases.len();
        lines.push(sim::report::Line::End(sim::report::End { ran, planned, stopped, wall_s: 0.0, fuzz: Some(fuzz) }));
        for line in &lines {
            if let Err(e) = w.write(line) {
                eprintln!("{e}");
                return;
            }
        }
    }

    impl BenchArgs {
        fn run(self) -> i32 {
            let (file, seeds) = (&self.file, self.seeds);
            let scenario = load_or_exit(file, false);
            let strategies = if self.strategy.is_empty() { Strategy::ALL.to_vec() } else { self.strategy };
            println!("bench: file={} seeds={seeds} per measurement", file.display());
            println!(
                "{:<18} {:>12} {:>12} {:>9} {:>16}",
                "strategy", "seeds/s 1job", "seeds/s 2job", "speedup", "virtual s/wall s"
            );
            for s in strategies {
                let one = sweep(&scenario, s, Profile::Lan, 0..seeds, 1, &|_| {});
                let two = sweep(&scenario, s, Profile::Lan, seeds..2 * seeds, 2, &|_| {});
                let rate = |r: &sim::sweep::SweepReport| seeds as f64 / r.wall.as_secs_f64();
                let speed = one.virtual_time().as_secs_f64() / one.wall.as_secs_f64();
                println!(
                    "{:<18} {:>12.1} {:>12.1} {:>8.2}x {:>16.0}",
                    s.name(),
                    rate(&one),
                    rate(&two),
                    rate(&two) / rate(&one),
                    speed
                );
            }
            0
        }
    }

    impl CompareArgs {
        fn run(self) -> i32 {
            let (file, seeds) = (&self.file, self.seeds);
            let mut scenario = load_or_exit(file, false);
            let strict_flag = self.strict && !scenario.header.strict;
            scenario.header.strict |= self.strict;
            let required = required_or_exit(&self.require_probes);
            let shard = self.batch.shard_or_exit();
            let header = HeaderFor {
                command: "compare",
                file,
                strategies: Strategy::ALL.iter().map(|s| s.to_string()).collect(),
                profiles: Profile::NAMED.iter().map(|p| p.to_string()).collect(),
                buggify: self.buggify,
                strict: scenario.header.strict,
                strict_flag,
                seeds: 0..seeds,
                shard,
            }
            .header(self.batch.report.is_some());
            let writer = self.batch.writer_or_exit(&header);
            let mut records = Vec::new();
            // The matrix is printed once every cell ran (the same text `sim merge` prints); the cells go by on
            // stderr meanwhile.
            for s in Strategy::ALL {
                for p in Profile::NAMED {
                    let base = RunOptions::new(0, s).profile(p).buggify(self.buggify);
                    let cell = [s.to_string(), p.to_string()];
                    let on_seed = |_, seed, r: &sim::sweep::SeedResult, wall| {
                        let Some(w) = &writer else { return };
                        let mut record = sim::report::SeedRecord::of(seed, r, wall);
                        record.cell = Some(cell.clone());
                        if let Err(e) = w.write(&sim::report::Line::Seed(record)) {
                            eprintln!("{e}");
                        }
                    };
                    let report =
                        sim::sweep::sweep_seeds(&scenario, &base, &shard.seeds(0..seeds), self.jobs, None, &on_seed);
                    let cell_seeds = sim::report::records(&report);
                    eprintln!("# {s} {p}: {}", sim::report::cell_of(&cell_seeds, s, p).text());
                    records.extend(cell_seeds.0.into_iter().map(|mut r| {
                        r.cell = Some(cell.clone());
                        r
                    }));
                }
            }
            if let Some(w) = &writer {
                let planned = Strategy::ALL.len() * Profile::NAMED.len() * shard.seeds(0..seeds).len();
                let end = sim::report::End { ran: records.len(), planned, stopped: None, wall_s: 0.0, fuzz: None };
                if let Err(e) = w.write(&sim::report::Line::End(end)) {
                    eprintln!("{e}");
                }
            }
            print_compare(&header, &records, &required, [self.json.as_deref(), self.html.as_deref()])
        }
    }

    /// Prints a compare's matrix and coverage from its records and writes `--json`; the exit code.
    /// `[json, html]`: where to write the matrix as JSON and as an HTML page (`--json`, `--html`).
    fn print_compare(
        header: &sim::report::Header,
        records: &[sim::report::SeedRecord],
        required: &[String],
        [json, html]: [Option<&Path>; 2],
    ) -> i32 {
        let cells = match sim::report::compare_cells(header, records) {
            Ok(cells) => cells,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        };
        let (text, missing) = sim::report::compare_text(header, &cells, required);
        print!("{text}");
        let cells = cells.into_iter().map(|(cell, _)| cell).collect();
        let matrix = CompareMatrix { file: header.file.clone(), strict: header.strict, cells };
        if let Some(path) = json {
            if let Err(e) = std::fs::write(path, matrix.to_json()) {
                eprintln!("{}: {e}", path.display());
                return 2;
            }
        }
        if let Some(path) = html {
            let replay = |c: &CompareCell| c.first_failed.map(|seed| header.replay(seed, c.strategy, c.profile));
            if let Err(e) = std::fs::write(path, sim::html::matrix(&matrix, &replay)) {
                eprintln!("{}: {e}", path.display());
                return 2;
            }
        }
        missing
    }

    impl MergeArgs {
        fn run(self) -> i32 {
            let required = required_or_exit(&self.require_probes);
            let reports: Result<Vec<_>, String> = self.reports.iter().map(|p| sim::report::read(p)).collect();
            let merged = reports.and_then(|r| sim::report::merge(&r, self.partial, self.mixed_builds));
            let merged = match merged {
                Ok(merged) => merged,
                Err(e) => {
                    eprintln!("sim merge: {e}");
                    return 2;
                }
            };
            for note in &merged.notes {
                eprintln!("# {note}");
            }
            let header = &merged.header;
            match header.command.as_str() {
                "sweep" => {
                    let seeds = sim::report::Seeds::new(merged.records);
                    match sim::report::sweep_text(header, &seeds, &required) {
                        Ok((text, code)) => {
                            print!("{text}");
                            code
                        }
                        Err(e) => {
                            eprintln!("sim merge: {e}");
                            2
                        }
                    }
                }
                "compare" => {
                    print_compare(header, &merged.records, &required, [self.json.as_deref(), self.html.as_deref()])
                }
                "fuzz" => match sim::report::merge_fuzz(header, &merged.reports, &merged.records) {
                    Ok(summary) => {
                        let (text, code) = summary.text(&required);
                        print!("{text}");
                        code
                    }
                    Err(e) => {
                        eprintln!("sim merge: {e}");
                        2
                    }
                },
                other => {
                    eprintln!("sim merge: reports of `{other}` cannot be merged (sweep, compare and fuzz can)");
                    2
                }
            }
        }
    }

    /// `sim real` from the simulation build: build the real flavour, then hand over to its `sim real`.
    fn real(args: &[String]) -> i32 {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sim/ sits in the workspace").to_path_buf();
        let target = root.join("target").join("real");
        let release = !cfg!(debug_assertions);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.current_dir(&root).env("RUSTFLAGS", "").env("CARGO_TARGET_DIR", &target);
        build.args(["build", "-p", "clustersim", "--bin", "clustersim-node", "-p", "sim", "--bin", "sim"]);
        if release {
            build.arg("--release");
        }
        eprintln!("sim real: building the real flavour (RUSTFLAGS= CARGO_TARGET_DIR={})", target.display());
        match build.status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("sim real: the real-flavour build failed ({s})");
                return 2;
            }
            Err(e) => {
                eprintln!("sim real: cannot run cargo: {e}");
                return 2;
            }
        }
        let bin = target.join(if release { "release" } else { "debug" }).join("sim");
        match std::process::Command::new(&bin).arg("real").args(args).status() {
            Ok(s) => s.code().unwrap_or(2),
            Err(e) => {
                eprintln!("{}: {e}", bin.display());
                2
            }
        }
    }

    fn progress_bar(total: u64) -> indicatif::ProgressBar {
        if !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    }
}
