//! Real mode (`sim real`): the same scenario file, client and checkers as a simulated run, against real server
//! processes on 127.0.0.1 over real TCP and the real clock.
//!
//! Host `nK` is a process listening on `base_port + K - 1` (bus port + 10000) with, under the `clustersim`
//! server, node id `K` (the ids a simulated run uses, so traces and violations read the same) and, under the Raft
//! strategies, a data directory of its own (`--dir`). Any other server ([`Server::Command`]: `redis`, or a
//! command template) is started from its command line with a directory of its own (`{dir}`) and its id is learned
//! with CLUSTER MYID once it listens; `{nK.id}` then means that id. `kill` and `restart` mean what they mean in
//! simulation: the process dies (SIGKILL) and the same command starts it again over the same directory (Redis
//! reloads its nodes.conf). `pause`/`resume` are SIGSTOP/SIGCONT. Faults only the simulator can make
//! (partitions, clogs, latency, loss, network profiles, clock drift) are refused before anything starts
//! ([`crate::scenario::simulator_only`]). Every process started is killed and reaped by pid when the run ends,
//! whatever happens.
//!
//! A real run is not deterministic: its trace carries wall times and the OS schedules it. It judges with the
//! same checkers, and its verdict means the same.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clustersim::meta::NodeId;
use clustersim::resp::{self, Reply};
use clustersim::server::Strategy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::executor::{execute, Control};
use crate::hosts::Host;
use crate::outcome::{finish, Outcome, RunOptions};
use crate::profile::Profile;
use crate::scenario::{Fault, Scenario};
use crate::trace::{now, TraceSink};
use crate::verdict::{FaultWindow, WindowLog};

/// The server every node of a real run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    /// `clustersim-node` (real flavour) with this strategy: ids `1..=N` given with `--node-id`.
    Clustersim { bin: PathBuf, strategy: Strategy },
    /// Any RESP cluster server, started as `sh -c 'exec <template>'` with `{port}`, `{bus_port}` and `{dir}`
    /// (shell-quoted) filled in; its id is learned with CLUSTER MYID. `name` is how reports show it.
    Command { name: String, template: String },
}

/// `--server redis`: Redis 7 in cluster mode, its nodes.conf in its own directory, no persistence (RDB and AOF
/// off: a restart keeps the cluster configuration, as Redis always does, not the keys), loopback only, its log
/// on stdout (the harness keeps it in `nK.log`).
pub const REDIS_TEMPLATE: &str = "redis-server --port {port} --cluster-port {bus_port} --cluster-enabled yes \
--cluster-config-file nodes.conf --dir {dir} --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile ''";

impl Server {
    /// A `--server` value: `clustersim` (with this binary and strategy), `redis`, or a command template (any
    /// text with `{port}` in it).
    pub fn parse(text: &str, bin: PathBuf, strategy: Option<Strategy>) -> Result<Server, String> {
        match text {
            "clustersim" => strategy
                .map(|strategy| Server::Clustersim { bin, strategy })
                .ok_or_else(|| "the clustersim server needs a strategy: pass --strategy <local-only|fire-and-forget|commit-then-sleep|read-index>".to_string()),
            "redis" => Ok(Server::Command { name: "redis".into(), template: REDIS_TEMPLATE.into() }),
            template if template.contains("{port}") => {
                Ok(Server::Command { name: "command".into(), template: template.into() })
            }
            other => Err(format!(
                "--server wants clustersim, redis, or a command template with {{port}} (and {{bus_port}}, {{dir}}) in it; found '{other}'"
            )),
        }
    }

    /// How reports name it: `clustersim strategy=read-index`, `redis`, `command`.
    pub fn describe(&self) -> String {
        match self {
            Server::Clustersim { strategy, .. } => format!("clustersim strategy={strategy}"),
            Server::Command { name, .. } => name.clone(),
        }
    }

    /// The command line of host `host` whose directory is `dir`, as a shell would run it.
    fn command_line(&self, host: &Host, dir: &Path) -> String {
        match self {
            Server::Clustersim { bin, strategy } => {
                let mut line = format!(
                    "{} --port {} --bus-port {} --bind {} --node-id {} --strategy {}",
                    shell_quote(&bin.display().to_string()),
                    host.port,
                    host.bus_port,
                    host.ip,
                    host.id,
                    strategy.name()
                );
                if *strategy != Strategy::LocalOnly {
                    line.push_str(&format!(" --dir {}", shell_quote(&dir.display().to_string())));
                }
                line
            }
            Server::Command { template, .. } => template
                .replace("{port}", &host.port.to_string())
                .replace("{bus_port}", &host.bus_port.to_string())
                .replace("{dir}", &shell_quote(&dir.display().to_string())),
        }
    }
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@,".contains(&b)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// What to run a scenario with, for real.
#[derive(Clone, Debug)]
pub struct RealOptions {
    pub server: Server,
    /// Port of `n1` (the scenario's `base-port` header, or 7000, unless overridden).
    pub base_port: u16,
    /// Where each node's data directory (`nK/`) and log (`nK.log`) go; must exist.
    pub work_dir: PathBuf,
}

/// How long a started process gets to accept connections, and then to answer CLUSTER MYID.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The hosts of a real run: 127.0.0.1, consecutive ports from `base_port`, ids `1..=N` (a server that picks its
/// own gets them replaced by what CLUSTER MYID answers).
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

/// Runs `scenario` on real processes. Errors: a node that would not start or answer (naming it, its command line
/// and the end of its log), an unsupported step, a runtime that could not be built.
pub fn run(scenario: &Scenario, options: &RealOptions) -> Result<Outcome, String> {
    let problems = crate::scenario::simulator_only(scenario, Profile::Lan);
    if !problems.is_empty() {
        return Err(format!("needs the simulator: {}", problems.join("; ")));
    }
    let mut hosts = hosts(scenario, options.base_port)?;
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
        if matches!(options.server, Server::Command { .. }) {
            for node in 1..=hosts.len() {
                hosts[node - 1].id = processes.learn_id(node).await?;
            }
            let ids: BTreeSet<NodeId> = hosts.iter().map(|h| h.id).collect();
            if ids.len() != hosts.len() {
                return Err("two nodes answered CLUSTER MYID with the same id (a data directory reused?)".into());
            }
        }
        let control: Arc<dyn Control> = processes.clone();
        Ok::<_, String>(execute(scenario, &hosts, sink.clone(), control).await)
    });
    processes.stop_every_process();
    let raw = raw?;
    // The strategy is the clustersim server's; no checker reads it (a Redis run's outcome carries read-index).
    let strategy = match options.server {
        Server::Clustersim { strategy, .. } => strategy,
        Server::Command { .. } => Strategy::ReadIndex,
    };
    Ok(finish(raw, sink, hosts, &RunOptions::new(0, strategy)))
}

/// The node processes of one run.
struct Processes {
    server: Server,
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
            server: options.server.clone(),
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

    fn dir(&self, node: usize) -> PathBuf {
        self.work_dir.join(format!("n{node}"))
    }

    fn command_line(&self, node: usize) -> String {
        self.server.command_line(&self.hosts[node - 1], &self.dir(node))
    }

    /// Starts the node's command line under `sh -c 'exec …'` (so the pid is the server's), stdout and stderr
    /// appended to its log; its directory is created first.
    fn spawn(&self, node: usize) -> Result<Child, String> {
        let log_path = self.log_path(node);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let stdout = log.try_clone().map_err(|e| format!("{}: {e}", log_path.display()))?;
        let dir = self.dir(node);
        let uses_dir = !matches!(self.server, Server::Clustersim { strategy: Strategy::LocalOnly, .. });
        if uses_dir {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let line = self.command_line(node);
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec {line}"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("n{node}: cannot start `{line}`: {e}"))
    }

    /// What a start-up error says about `node`: its command line and the end of its log.
    fn start_facts(&self, node: usize) -> String {
        format!("command: {}; {}", self.command_line(node), log_tail(&self.log_path(node)))
    }

    /// Waits until `node` accepts connections on its client port; fails if its process exits first.
    async fn wait_ready(&self, node: usize) -> Result<(), String> {
        let host = &self.hosts[node - 1];
        let addr = SocketAddr::new(host.ip, host.port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.lock().children[node].as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("n{node} exited at start ({status}); {}", self.start_facts(node)));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let secs = START_TIMEOUT.as_secs();
                return Err(format!("n{node} did not listen on {addr} within {secs}s; {}", self.start_facts(node)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The id `node` answers to CLUSTER MYID (40 hex digits), within the start-up bound.
    async fn learn_id(&self, node: usize) -> Result<NodeId, String> {
        let addr = SocketAddr::new(self.hosts[node - 1].ip, self.hosts[node - 1].port);
        let asked = tokio::time::timeout(START_TIMEOUT, ask_myid(addr)).await;
        let failure = match asked {
            Ok(Ok(reply)) => match NodeId::parse(reply.as_bytes()) {
                Some(id) => return Ok(id),
                None => format!("answered CLUSTER MYID with '{}', not a 40-hex node id", reply.escape_debug()),
            },
            Ok(Err(e)) => format!("CLUSTER MYID failed: {e}"),
            Err(_) => format!("did not answer CLUSTER MYID within {}s", START_TIMEOUT.as_secs()),
        };
        Err(format!("n{node} at {addr} {failure} (is it a cluster-mode server?); {}", self.start_facts(node)))
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

/// One CLUSTER MYID on a fresh connection, with the node crate's RESP codec (`encode_request`, `take_reply`):
/// the reply's text, or an error's. A reply that never ends is the caller's timeout.
async fn ask_myid(addr: SocketAddr) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request = resp::encode_request(&[Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"MYID")]);
    stream.write_all(&request).await.map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    loop {
        match resp::take_reply(&mut buf).map_err(|e| e.to_string())? {
            Some(Reply::Error(e)) => return Err(e),
            Some(reply) => return reply.as_text().map(|t| t.into_owned()).ok_or(format!("a reply of {reply:?}")),
            None if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 => {
                return Err("connection closed".into())
            }
            None => {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host::new(2, IpAddr::V4(Ipv4Addr::LOCALHOST), 7001).expect("port fits")
    }

    #[test]
    fn server_names_parse_to_presets_and_templates_need_a_port() {
        let bin = PathBuf::from("node");
        assert_eq!(
            Server::parse("clustersim", bin.clone(), Some(Strategy::ReadIndex)),
            Ok(Server::Clustersim { bin: bin.clone(), strategy: Strategy::ReadIndex })
        );
        assert!(Server::parse("clustersim", bin.clone(), None).unwrap_err().contains("needs a strategy"));
        assert_eq!(
            Server::parse("redis", bin.clone(), None),
            Ok(Server::Command { name: "redis".into(), template: REDIS_TEMPLATE.into() })
        );
        assert!(matches!(Server::parse("my-server --port {port}", bin.clone(), None), Ok(Server::Command { .. })));
        assert!(Server::parse("my-server", bin, None).unwrap_err().contains("{port}"));
    }

    #[test]
    fn templates_get_each_node_s_ports_and_a_quoted_directory() {
        let redis = Server::Command { name: "redis".into(), template: REDIS_TEMPLATE.into() };
        let line = redis.command_line(&host(), Path::new("/tmp/my runs/n2"));
        assert!(line.starts_with("redis-server --port 7001 --cluster-port 17001 --cluster-enabled yes"), "{line}");
        assert!(line.contains("--dir '/tmp/my runs/n2' "), "{line}");
        assert!(line.ends_with("--save '' --appendonly no --daemonize no --logfile ''"), "{line}");
        let clustersim = Server::Clustersim { bin: "bin/node".into(), strategy: Strategy::LocalOnly };
        assert_eq!(
            clustersim.command_line(&host(), Path::new("/d")),
            format!(
                "bin/node --port 7001 --bus-port 17001 --bind 127.0.0.1 --node-id {} --strategy local-only",
                host().id
            )
        );
    }

    #[test]
    fn shell_quoting_keeps_one_word() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's here"), "'it'\\''s here'");
    }
}
