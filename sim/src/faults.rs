//! The fault injector: the one place that kills, restarts, pauses and resumes hosts and clogs links, for both
//! the scenario's fault steps and the network profile's schedule.
//!
//! Two sources of faults share the hosts, so the injector keeps both intents and applies their union: a link is
//! clogged while the scenario (a partition or a `clog`) or the profile (a flaky moment) wants it clogged; a host
//! is paused while the scenario or the profile (slow-follower) wants it paused, and a killed host is not paused
//! or resumed by the profile. `settle` stops every fault at once ([`Faults::stop_all`]).
//!
//! Seeing both sources, the injector is also where fault windows are recorded (`crate::verdict`): after every
//! change it asks whether any fault is active — a killed or paused host, a clogged link, latency or loss a
//! scenario step set away from lan, or a non-lan profile's impairment (from the start until `settle`) — and opens
//! or closes the current window. Clock drift is permanent and not a fault window.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::task::NodeId as HostId;

use crate::scenario::Fault;
use crate::trace::{now, TraceSink};
use crate::verdict::{FaultWindow, WindowLog};

/// One directed link between cluster hosts, as 1-based node numbers.
type Link = (usize, usize);

#[derive(Default)]
struct State {
    scenario_clogs: BTreeSet<Link>,
    profile_clogs: BTreeSet<Link>,
    scenario_paused: BTreeSet<usize>,
    profile_paused: BTreeSet<usize>,
    killed: BTreeSet<usize>,
    /// Nodes the profile (swarm) killed; a subset of `killed`.
    profile_killed: BTreeSet<usize>,
    /// How many times each node's process was restarted (index 0 unused); the client reconnects on a change.
    generation: Vec<u64>,
    /// Set by `stop_all`: the profile's schedule ends and injects nothing more.
    profile_stopped: bool,
    /// The profile impairs the network from the start until `stop_all` (every profile but lan).
    profile_impaired: bool,
    /// A scenario `latency` / `loss` step left the network away from lan.
    net_impaired: bool,
    windows: WindowLog,
}

impl State {
    /// Whether any fault is active now.
    fn faulty(&self) -> bool {
        (self.profile_impaired && !self.profile_stopped)
            || self.net_impaired
            || !self.killed.is_empty()
            || !self.scenario_paused.is_empty()
            || !self.profile_paused.is_empty()
            || !self.scenario_clogs.is_empty()
            || !self.profile_clogs.is_empty()
    }

    /// Opens or closes the fault window after a change named `label`.
    fn track(&mut self, label: &str) {
        let faulty = self.faulty();
        self.windows.update(now(), faulty, label);
    }
}

/// Shared handle on the run's faults (cheap to clone).
#[derive(Clone)]
pub struct Faults {
    hosts: Arc<Vec<HostId>>,
    state: Arc<Mutex<State>>,
    sink: TraceSink,
    /// The network configuration `stop_all` restores (lan).
    calm: madsim::net::Config,
}

impl Faults {
    /// `hosts`: madsim ids of the cluster hosts, in node order. `impaired_by`: the name of the profile when it
    /// impairs the network from the start (every profile but lan), which opens the first fault window now.
    pub fn new(hosts: Vec<HostId>, sink: TraceSink, impaired_by: Option<String>) -> Self {
        let mut state =
            State { generation: vec![0; hosts.len() + 1], profile_impaired: impaired_by.is_some(), ..State::default() };
        if let Some(profile) = impaired_by {
            state.track(&format!("profile {profile}"));
        }
        Faults {
            hosts: Arc::new(hosts),
            state: Arc::new(Mutex::new(state)),
            sink,
            calm: madsim::net::Config::default(),
        }
    }

    pub fn node_count(&self) -> usize {
        self.hosts.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn host(&self, node: usize) -> HostId {
        self.hosts[node - 1]
    }

    /// Brings one link in line with the union of intents.
    fn sync_link(&self, state: &State, link: Link) {
        let net = NetSim::current();
        let (a, b) = (self.host(link.0), self.host(link.1));
        if state.scenario_clogs.contains(&link) || state.profile_clogs.contains(&link) {
            net.clog_link(a, b);
        } else {
            net.unclog_link(a, b);
        }
    }

    fn sync_pause(&self, state: &State, node: usize) {
        if state.killed.contains(&node) {
            return;
        }
        let handle = Handle::current();
        if state.scenario_paused.contains(&node) || state.profile_paused.contains(&node) {
            handle.pause(self.host(node));
        } else {
            handle.resume(self.host(node));
        }
    }

    /// Applies a scenario fault step.
    pub fn apply(&self, fault: &Fault) {
        self.sink.push("fault", &fault.to_string());
        let mut state = self.lock();
        let handle = Handle::current();
        match fault {
            Fault::Kill(n) => {
                state.killed.insert(*n);
                state.profile_killed.remove(n);
                state.scenario_paused.remove(n);
                handle.kill(self.host(*n));
                state.generation[*n] += 1;
            }
            Fault::Restart(n) => {
                state.killed.remove(n);
                state.profile_killed.remove(n);
                state.scenario_paused.remove(n);
                state.generation[*n] += 1;
                // Kill first: that closes the old process's sockets (a live process's listeners would otherwise
                // still hold its ports), as a real restart does.
                handle.kill(self.host(*n));
                handle.restart(self.host(*n));
                // A restarted process runs unless the profile is pausing it right now.
                self.sync_pause(&state, *n);
            }
            Fault::Pause(n) => {
                state.scenario_paused.insert(*n);
                self.sync_pause(&state, *n);
            }
            Fault::Resume(n) => {
                state.scenario_paused.remove(n);
                self.sync_pause(&state, *n);
            }
            Fault::Partition(groups) => self.partition(&mut state, groups),
            Fault::Heal => {
                let old = std::mem::take(&mut state.scenario_clogs);
                for link in old {
                    self.sync_link(&state, link);
                }
            }
            Fault::Clog { from, to } => {
                state.scenario_clogs.insert((*from, *to));
                self.sync_link(&state, (*from, *to));
            }
            Fault::Unclog { from, to } => {
                state.scenario_clogs.remove(&(*from, *to));
                self.sync_link(&state, (*from, *to));
            }
            Fault::Latency { min_ms, max_ms } => self.impair(&mut state, |c| {
                c.send_latency = Duration::from_millis(*min_ms)..Duration::from_millis(*max_ms)
            }),
            Fault::Loss { percent } => self.impair(&mut state, |c| c.packet_loss_rate = f64::from(*percent) / 100.0),
        }
        if matches!(fault, Fault::Restart(_)) {
            state.windows.instant(now(), &fault.to_string());
        }
        state.track(&fault.to_string());
    }

    /// `partition`: links between hosts of different groups cut both ways, replacing any earlier partition.
    fn partition(&self, state: &mut State, groups: &[Vec<usize>]) {
        let old = std::mem::take(&mut state.scenario_clogs);
        for (i, g) in groups.iter().enumerate() {
            for h in groups.iter().skip(i + 1) {
                for &a in g {
                    for &b in h {
                        state.scenario_clogs.insert((a, b));
                        state.scenario_clogs.insert((b, a));
                    }
                }
            }
        }
        let touched: BTreeSet<Link> = old.union(&state.scenario_clogs).copied().collect();
        for link in touched {
            self.sync_link(state, link);
        }
    }

    /// `latency` / `loss`: changes madsim's network configuration; the network counts as impaired while it
    /// differs from the run's calm configuration.
    fn impair(&self, state: &mut State, change: impl FnOnce(&mut madsim::net::Config)) {
        let calm = &self.calm;
        NetSim::current().update_config(|c| {
            change(c);
            state.net_impaired = c.send_latency != calm.send_latency || c.packet_loss_rate != calm.packet_loss_rate;
        })
    }

    /// The liveness phase begins: the profile's schedule stops, every link is healed, every paused host resumed,
    /// every killed host restarted, latency and loss go back to lan, and BUGGIFY's injections stop for the rest of
    /// the run (a bus call failed on purpose during the liveness phase would judge luck, not the node: at 64
    /// nodes a settle round needs 128 clean reads).
    pub fn stop_all(&self) {
        clustersim::raft::rt::set_buggify(false);
        let mut state = self.lock();
        state.profile_stopped = true;
        let links: BTreeSet<Link> = state.scenario_clogs.union(&state.profile_clogs).copied().collect();
        state.scenario_clogs.clear();
        state.profile_clogs.clear();
        for link in links {
            self.sync_link(&state, link);
        }
        let killed = std::mem::take(&mut state.killed);
        state.profile_killed.clear();
        let handle = Handle::current();
        for n in &killed {
            handle.kill(self.host(*n));
            handle.restart(self.host(*n));
            state.generation[*n] += 1;
        }
        let paused: BTreeSet<usize> = state.scenario_paused.union(&state.profile_paused).copied().collect();
        state.scenario_paused.clear();
        state.profile_paused.clear();
        for n in paused {
            self.sync_pause(&state, n);
        }
        let calm = self.calm.clone();
        NetSim::current().update_config(|c| *c = calm);
        state.net_impaired = false;
        state.track("faults stop");
        drop(state);
        self.sink.push("fault", "faults stop: links healed, hosts resumed and restarted, latency and loss at lan");
    }

    /// How many times `node`'s process has been killed or restarted so far: a client holding a connection from
    /// an earlier generation must reconnect (that process and its sockets are gone).
    pub fn generation(&self, node: usize) -> u64 {
        self.lock().generation.get(node).copied().unwrap_or(0)
    }

    /// The fault windows so far; one still open ends now.
    pub fn windows(&self) -> Vec<FaultWindow> {
        self.lock().windows.windows(now())
    }

    // ---- the profile's side ----

    /// The profile kills a host (unless stopped, or already killed); returns whether it did.
    pub fn profile_kill(&self, node: usize) -> bool {
        let mut state = self.lock();
        if state.profile_stopped || state.killed.contains(&node) {
            return false;
        }
        state.killed.insert(node);
        state.profile_killed.insert(node);
        Handle::current().kill(self.host(node));
        state.generation[node] += 1;
        state.track(&format!("swarm: kill n{node}"));
        drop(state);
        self.sink.push("fault", &format!("swarm: kill n{node}"));
        true
    }

    /// The profile restarts a host it killed (if the scenario has not taken it over meanwhile).
    pub fn profile_restart(&self, node: usize) {
        let mut state = self.lock();
        if !state.profile_killed.remove(&node) {
            return;
        }
        state.killed.remove(&node);
        let handle = Handle::current();
        handle.kill(self.host(node));
        handle.restart(self.host(node));
        state.generation[node] += 1;
        self.sync_pause(&state, node);
        state.track(&format!("swarm: restart n{node}"));
        drop(state);
        self.sink.push("fault", &format!("swarm: restart n{node}"));
    }

    /// The profile clogs (or unclogs) one direction of a link; ignored once stopped.
    pub fn profile_clog_one_way(&self, from: usize, to: usize, clogged: bool) {
        let mut state = self.lock();
        if state.profile_stopped {
            return;
        }
        if clogged {
            state.profile_clogs.insert((from, to));
        } else {
            state.profile_clogs.remove(&(from, to));
        }
        self.sync_link(&state, (from, to));
        state.track(&format!("profile: clog n{from}->n{to}"));
    }

    pub fn trace(&self, text: &str) {
        self.sink.push("fault", text);
    }

    /// Whether the profile's schedule has been stopped.
    pub fn profile_stopped(&self) -> bool {
        self.lock().profile_stopped
    }

    /// The profile clogs (or unclogs) both directions of a link; ignored once stopped.
    pub fn profile_clog(&self, a: usize, b: usize, clogged: bool) {
        let mut state = self.lock();
        if state.profile_stopped {
            return;
        }
        for link in [(a, b), (b, a)] {
            if clogged {
                state.profile_clogs.insert(link);
            } else {
                state.profile_clogs.remove(&link);
            }
            self.sync_link(&state, link);
        }
        state.track(&format!("profile: clog n{a}<->n{b}"));
    }

    /// The profile pauses (or resumes) a host; ignored once stopped, and for killed hosts.
    pub fn profile_pause(&self, node: usize, paused: bool) {
        let mut state = self.lock();
        if state.profile_stopped {
            return;
        }
        if paused {
            state.profile_paused.insert(node);
        } else {
            state.profile_paused.remove(&node);
        }
        self.sync_pause(&state, node);
        state.track(&format!("profile: pause n{node}"));
    }
}

impl crate::executor::Control for Faults {
    fn apply(&self, fault: &Fault) {
        Faults::apply(self, fault);
    }

    fn stop_all(&self) {
        Faults::stop_all(self);
    }

    fn generation(&self, node: usize) -> u64 {
        Faults::generation(self, node)
    }

    fn windows(&self) -> Vec<FaultWindow> {
        Faults::windows(self)
    }
}
