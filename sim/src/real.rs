//! Real mode (`sim real`): the same scenario file, client and checkers as a simulated run, against real
//! `clustersim-node` processes on 127.0.0.1 over real TCP and the real clock.
//!
//! Host `nK` is a process listening on `base_port + K - 1` (bus port + 10000) with node id `K` (the ids a
//! simulated run uses, so traces and violations read the same), and, under the Raft strategies, a data directory
//! of its own (`--dir`), so `kill` and `restart` mean what they mean in simulation: the process dies (SIGKILL)
//! and comes back from its disk. `pause`/`resume` are SIGSTOP/SIGCONT. Faults only the simulator can make
//! (partitions, clogs, latency, loss, network profiles, clock drift) are refused before anything starts
//! ([`crate::scenario::simulator_only`]). Every process started is killed and reaped by pid when the run ends, whatever happens.
//!
//! A real run is not deterministic: its trace carries wall times and the OS schedules it. It judges with the
//! same checkers, and its verdict means the same.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clustersim::server::Strategy;

use crate::executor::{execute, Control};
use crate::hosts::Host;
use crate::outcome::{finish, Outcome, RunOptions};
use crate::profile::Profile;
use crate::scenario::{Fault, Scenario};
use crate::trace::{now, TraceSink};
use crate::verdict::{FaultWindow, WindowLog};

/// What to run a scenario with, for real.
#[derive(Clone, Debug)]
pub struct RealOptions {
    pub strategy: Strategy,
    /// Port of `n1` (the scenario's `base-port` header, or 7000, unless overridden).
    pub base_port: u16,
    /// The `clustersim-node` binary (real flavour).
    pub node_bin: PathBuf,
    /// Where each node's data directory (`nK/`) and log (`nK.log`) go; must exist.
    pub work_dir: PathBuf,
}

/// How long a started process gets to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The hosts of a real run: 127.0.0.1, consecutive ports from `base_port`, ids `1..=N`.
pub fn hosts(scenario: &Scenario, base_port: u16) -> Result<Vec<Host>, String> {
    let nodes = scenario.header.nodes;
    (1..=nodes)
        .map(|i| {
            let port = u16::try_from(usize::from(base_port) + i - 1).ok();
            port.and_then(|port| Host::new(i, IpAddr::V4(Ipv4Addr::LOCALHOST), port)).ok_or_else(|| {
                format!("--base-port {base_port}: {nodes} nodes need ports and bus ports (port + 10000) up to 65535")
            })
        })
        .collect()
}

/// Runs `scenario` on real processes. Errors: a node that would not start (with the end of its log), an
/// unsupported step, a runtime that could not be built.
pub fn run(scenario: &Scenario, options: &RealOptions) -> Result<Outcome, String> {
    let problems = crate::scenario::simulator_only(scenario, Profile::Lan);
    if !problems.is_empty() {
        return Err(format!("needs the simulator: {}", problems.join("; ")));
    }
    let hosts = hosts(scenario, options.base_port)?;
    let sink = TraceSink::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    crate::trace::start_wall_clock();
    let processes = Arc::new(Processes::new(&hosts, options, sink.clone()));
    let raw = runtime.block_on(async {
        for node in 1..=hosts.len() {
            processes.start(node)?;
        }
        for node in 1..=hosts.len() {
            processes.wait_ready(node).await?;
        }
        let control: Arc<dyn Control> = processes.clone();
        Ok::<_, String>(execute(scenario, &hosts, sink.clone(), control).await)
    });
    processes.stop_every_process();
    let raw = raw?;
    Ok(finish(raw, sink, hosts, &RunOptions::new(0, options.strategy)))
}

/// The node processes of one run.
struct Processes {
    bin: PathBuf,
    strategy: Strategy,
    hosts: Vec<Host>,
    work_dir: PathBuf,
    sink: TraceSink,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Index 0 unused; `None` while a node is killed.
    children: Vec<Option<Child>>,
    paused: BTreeSet<usize>,
    killed: BTreeSet<usize>,
    generation: Vec<u64>,
    /// Fault windows: while some process is killed or stopped (`crate::verdict`).
    windows: WindowLog,
}

impl State {
    fn track(&mut self, label: &str) {
        let faulty = !self.killed.is_empty() || !self.paused.is_empty();
        self.windows.update(now(), faulty, label);
    }
}

impl Processes {
    fn new(hosts: &[Host], options: &RealOptions, sink: TraceSink) -> Self {
        let state = State {
            children: (0..=hosts.len()).map(|_| None).collect(),
            generation: vec![0; hosts.len() + 1],
            ..State::default()
        };
        Processes {
            bin: options.node_bin.clone(),
            strategy: options.strategy,
            hosts: hosts.to_vec(),
            work_dir: options.work_dir.clone(),
            sink,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log_path(&self, node: usize) -> PathBuf {
        self.work_dir.join(format!("n{node}.log"))
    }

    /// Starts `node`'s process (its data directory kept from any earlier process of it).
    fn start(&self, node: usize) -> Result<(), String> {
        let child = self.spawn(node)?;
        self.lock().children[node] = Some(child);
        Ok(())
    }

    fn spawn(&self, node: usize) -> Result<Child, String> {
        let host = &self.hosts[node - 1];
        let log_path = self.log_path(node);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut command = Command::new(&self.bin);
        command
            .args(["--port", &host.port.to_string(), "--bus-port", &host.bus_port.to_string()])
            .args(["--bind", &host.ip.to_string(), "--node-id", &host.id.to_string()])
            .args(["--strategy", self.strategy.name()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if self.strategy != Strategy::LocalOnly {
            command.arg("--dir").arg(self.work_dir.join(format!("n{node}")));
        }
        command.spawn().map_err(|e| format!("starting {} for n{node}: {e}", self.bin.display()))
    }

    /// Waits until `node` accepts connections on its client port; fails if its process exits first.
    async fn wait_ready(&self, node: usize) -> Result<(), String> {
        let host = &self.hosts[node - 1];
        let addr = SocketAddr::new(host.ip, host.port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.lock().children[node].as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("n{node} exited at start ({status}): {}", log_tail(&self.log_path(node))));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "n{node} did not listen on {addr} within {}s: {}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&self.log_path(node))
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(state: &mut State, node: usize) {
        if let Some(mut child) = state.children[node].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        state.paused.remove(&node);
    }

    fn signal(state: &State, node: usize, signal: &str) {
        if let Some(child) = &state.children[node] {
            let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
        }
    }

    fn restart(&self, state: &mut State, node: usize) {
        Self::kill(state, node);
        state.killed.remove(&node);
        state.generation[node] += 1;
        match self.spawn(node) {
            Ok(child) => state.children[node] = Some(child),
            Err(e) => self.sink.push("fault", &format!("restart n{node} failed: {e}")),
        }
    }

    /// Kills every process still running and reaps it.
    fn stop_every_process(&self) {
        let mut state = self.lock();
        for node in 1..state.children.len() {
            Self::kill(&mut state, node);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_every_process();
    }
}

impl Control for Processes {
    fn apply(&self, fault: &Fault) {
        self.sink.push("fault", &fault.to_string());
        let mut state = self.lock();
        match fault {
            Fault::Kill(n) => {
                Self::kill(&mut state, *n);
                state.killed.insert(*n);
                state.generation[*n] += 1;
            }
            Fault::Restart(n) => self.restart(&mut state, *n),
            Fault::Pause(n) => {
                if state.paused.insert(*n) {
                    Self::signal(&state, *n, "-STOP");
                }
            }
            Fault::Resume(n) => {
                if state.paused.remove(n) {
                    Self::signal(&state, *n, "-CONT");
                }
            }
            other => unreachable!("`{other}` is refused before a real run starts (unsupported)"),
        }
        if matches!(fault, Fault::Restart(_)) {
            state.windows.instant(now(), &fault.to_string());
        }
        state.track(&fault.to_string());
    }

    fn stop_all(&self) {
        let mut state = self.lock();
        for n in std::mem::take(&mut state.paused) {
            Self::signal(&state, n, "-CONT");
        }
        for n in std::mem::take(&mut state.killed) {
            self.restart(&mut state, n);
        }
        state.track("faults stop");
        drop(state);
        self.sink.push("fault", "faults stop: hosts resumed and restarted");
    }

    fn generation(&self, node: usize) -> u64 {
        self.lock().generation.get(node).copied().unwrap_or(0)
    }

    fn windows(&self) -> Vec<FaultWindow> {
        self.lock().windows.windows(now())
    }
}

/// The last lines of a node's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    if lines.is_empty() {
        format!("{} is empty", path.display())
    } else {
        format!("{} ends: {}", path.display(), lines.into_iter().rev().collect::<Vec<_>>().join(" | "))
    }
}
