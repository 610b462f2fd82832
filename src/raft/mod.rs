//! Raft under the metadata: the only module that imports openraft.
//!
//! - [`rt`]: the runtime seam (openraft's `AsyncRuntime` on madsim-tokio; the node's randomness).
//! - `store`: in-memory log and the [`MetaState`] state machine (snapshots are the serialized table).
//! - [`network`]: Raft RPCs and the [`Transport`] the cluster bus implements.
//! - [`RaftGroup`]: one Raft instance of this node — a group founded by this node (a cluster of one), or an
//!   empty instance waiting to be added to another group. See docs/MEMBERSHIP.md for how groups merge.
//!
//! Raft node ids are the metadata's [`NodeId`]s; a Raft node is a [`BasicNode`] holding the bus address
//! (`ip:bus_port`). Log entries are [`Command`]s; applying one answers `Some(Result<Event, MetaError>)`
//! (`None` for Raft's own blank and membership entries).

mod channels;
mod events;
mod journal;
pub mod network;
pub mod rt;
mod store;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Config, ReadPolicy, ServerState, SnapshotPolicy};
use openraft_rt::WatchReceiver;

pub use network::{RaftRpc, RaftRpcReply, Transport};
pub use openraft::BasicNode as RaftPeer;

use crate::meta::{Command, Event, MetaError, MetaState, NodeId, NodeInfo};
pub use events::TARGET as EVENT_TARGET;
pub use journal::JournalError;
pub use store::Disk;
use store::{LogStore, MetaMachine};

/// What applying a log entry answers: the metadata result for a [`Command`], `None` for Raft's own entries.
pub type Applied = Option<Result<Event, MetaError>>;

openraft::declare_raft_types!(
    /// Raft types of the metadata groups. `AsyncRuntime` must be given: openraft's default (tokio) is not built.
    /// Commands are boxed (as are snapshots: `SnapshotData` in `store`): openraft moves entries, its own
    /// commands and the futures that run them by value, and each is as large as its largest variant. A `Meet`
    /// carries a whole `NodeInfo` (a `Command` is 176 bytes) and a snapshot the table (`MetaState`, 248 bytes);
    /// boxed, openraft's engine command is 232 bytes instead of 472 and the future running one 2,112 instead of
    /// 4,640 (`-Zprint-type-sizes`), and a seed of the init script copies half as many bytes (docs/RESULTS.md).
    pub TypeConfig:
        D = Box<Command>,
        R = Applied,
        NodeId = NodeId,
        Node = BasicNode,
        AsyncRuntime = rt::Rt,
);

type Raft = openraft::Raft<TypeConfig, MetaMachine>;

/// A tag naming one Raft group incarnation. Every bus RPC of a group carries it, so a node refuses the RPCs of
/// a group it has left (a stale leader must not take over a node that reset to a cluster of one).
pub type GroupId = u64;

/// Largest number of voters in a group: more only add latency to every commit (a quorum of 3 of 5 survives
/// two failures, which is plenty for a metadata table); further members stay learners.
pub const VOTERS_MAX: usize = 5;

/// Why a group operation did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RaftAdapterError {
    /// This node is not the leader; `leader` is the leader's bus address, if known. Safe to retry elsewhere:
    /// nothing was proposed.
    #[error("not the leader (leader: {})", leader.as_deref().unwrap_or("unknown"))]
    NotLeader { leader: Option<String> },
    /// A transient refusal (e.g. a membership change in progress). Safe to retry.
    #[error("busy: {0}")]
    Busy(String),
    /// The operation failed, or its outcome is unknown.
    #[error("{0}")]
    Failed(String),
}

/// Raft timing, in milliseconds. openraft bounds every replication RPC by the heartbeat interval, so the interval
/// must exceed the slowest round trip the node runs over (400 ms on the harness's WAN profile), and the election
/// timeout must be several heartbeats (etcd's rule: ten round trips), or followers call elections while the
/// leader is alive.
pub const HEARTBEAT_INTERVAL_MS: u64 = 500;
pub const ELECTION_TIMEOUT_MIN_MS: u64 = 2_500;
pub const ELECTION_TIMEOUT_MAX_MS: u64 = 5_000;

/// How fast a node's clock runs against true time, in parts per million (+50,000: 5 % fast). Every timer a
/// node sets — Raft's heartbeat, election timeouts and leader lease, and the node's own deadlines — is measured
/// on its clock, so a fast clock fires them early in true time and a slow one late. A clock *offset* changes
/// nothing here: no node reads wall-clock time, only intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockRate {
    pub ppm: i32,
}

impl ClockRate {
    /// Bounds: a clock at most 10x fast and at least 10x slow.
    pub const PPM_MIN: i32 = -900_000;
    pub const PPM_MAX: i32 = 9_000_000;

    /// The true-time length of an interval this node measures as `local_ms` on its clock.
    pub fn true_ms(self, local_ms: u64) -> u64 {
        let rate = 1_000_000 + i64::from(self.ppm.clamp(Self::PPM_MIN, Self::PPM_MAX));
        ((u128::from(local_ms) * 1_000_000 + rate as u128 / 2) / rate as u128) as u64
    }

    pub fn true_duration(self, local: Duration) -> Duration {
        Duration::from_millis(self.true_ms(local.as_millis() as u64))
    }
}

/// BUGGIFY's tiny log: a snapshot every this many entries.
const BUGGIFY_SNAPSHOT_EVERY: u64 = 4;

fn raft_config(clock: ClockRate) -> Result<Arc<Config>, RaftAdapterError> {
    let config = Config {
        cluster_name: "clustersim".to_string(),
        heartbeat_interval: clock.true_ms(HEARTBEAT_INTERVAL_MS),
        election_timeout_min: clock.true_ms(ELECTION_TIMEOUT_MIN_MS),
        election_timeout_max: clock.true_ms(ELECTION_TIMEOUT_MAX_MS),
        ..Default::default()
    };
    // BUGGIFY: snapshots every few entries and no log kept behind them, so a lagging or restarted follower is
    // caught up by a snapshot (install_snapshot, purge), paths the default 5000-entry policy never reaches.
    let config = if rt::buggify("buggify.raft_tiny_log", 1.0) {
        Config {
            snapshot_policy: SnapshotPolicy::LogsSinceLast(BUGGIFY_SNAPSHOT_EVERY),
            max_in_snapshot_log_to_keep: 0,
            replication_lag_threshold: BUGGIFY_SNAPSHOT_EVERY * 2,
            ..config
        }
    } else {
        config
    };
    config.validate().map(Arc::new).map_err(|e| RaftAdapterError::Failed(format!("raft config: {e}")))
}

fn write_error(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> RaftAdapterError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            RaftAdapterError::NotLeader { leader: f.leader_node.map(|n| n.addr) }
        }
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => RaftAdapterError::Busy(c.to_string()),
        other => RaftAdapterError::Failed(other.to_string()),
    }
}

/// One Raft instance of this node.
pub struct RaftGroup {
    group: GroupId,
    me: NodeId,
    raft: Raft,
    sm: MetaMachine,
    /// Started empty to join another node's group (rather than founded here).
    joined: bool,
    /// For a joined instance: the group members' bus addresses when it joined (whom to ask whether the join
    /// went through, before any membership has reached this instance).
    peers: Vec<String>,
}

impl RaftGroup {
    /// Starts an instance on `log` and `sm` (fresh ones, or what a disk kept).
    #[allow(clippy::too_many_arguments)]
    async fn open(
        me: NodeId,
        group: GroupId,
        joined: bool,
        peers: Vec<String>,
        log: LogStore,
        sm: MetaMachine,
        clock: ClockRate,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, RaftAdapterError> {
        let net = network::NetworkFactory { me, group, transport };
        let raft = Raft::new(me, raft_config(clock)?, net, log, sm.clone())
            .await
            .map_err(|e| RaftAdapterError::Failed(format!("raft start: {e}")))?;
        rt::spawn_boxed(watch_metrics(raft.clone(), me, group));
        Ok(RaftGroup { group, me, raft, sm, joined, peers })
    }

    /// Starts a fresh instance tagged `group` whose stores live on `disk` (replacing what the disk held).
    #[allow(clippy::too_many_arguments)]
    async fn start(
        me: NodeId,
        group: GroupId,
        joined: bool,
        local: MetaState,
        peers: Vec<String>,
        disk: &Disk,
        clock: ClockRate,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, RaftAdapterError> {
        let (log, sm) = disk
            .start_instance(me, group, joined, local, peers.clone())
            .map_err(|e| RaftAdapterError::Failed(format!("data file: {e}")))?;
        Self::open(me, group, joined, peers, log, sm, clock, transport).await
    }

    /// Reopens the instance a disk holds, as a restarted process does: same node, group, vote, log and applied
    /// table. `None` when there is nothing worth reopening (an empty disk, or a cluster of one that crashed
    /// before writing anything — founding again is equivalent). Also answers whether the instance had joined
    /// another node's group and the table it showed meanwhile.
    pub async fn reopen(
        disk: &Disk,
        clock: ClockRate,
        transport: Arc<dyn Transport>,
    ) -> Option<Result<(Self, bool, MetaState), RaftAdapterError>> {
        let p = disk.load()?;
        if !p.joined && p.is_blank() {
            return None;
        }
        tracing::info!(node = %p.me, group = p.group, "raft: reopening the instance kept on disk");
        crate::probe::hit("raft.reopened");
        events::started(events::Who { me: p.me, group: p.group }, false);
        let (joined, local) = (p.joined, p.local);
        Some(
            Self::open(p.me, p.group, p.joined, p.peers, p.log, p.sm, clock, transport)
                .await
                .map(|g| (g, joined, local)),
        )
    }

    /// Founds a cluster of one: a single-voter group whose first entry is `Bootstrap { entry }`, followed by an
    /// `AddSlots` of `slots` when the node keeps slots it served before (a join that was called off).
    /// `bus_addr` is where the other members will reach this node (`ip:bus_port`).
    pub async fn found(
        entry: NodeInfo,
        slots: Vec<crate::meta::SlotSpan>,
        bus_addr: String,
        disk: &Disk,
        clock: ClockRate,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, RaftAdapterError> {
        let group = rt::random_u64();
        let me = entry.id;
        let g =
            Self::start(me, group, false, MetaState::new(entry.clone()), Vec::new(), disk, clock, transport).await?;
        let members = BTreeMap::from([(me, BasicNode::new(bus_addr))]);
        g.raft.initialize(members).await.map_err(|e| RaftAdapterError::Failed(format!("raft initialize: {e}")))?;
        let deadline = Some(clock.true_duration(Duration::from_secs(5)));
        g.raft
            .wait(deadline)
            .current_leader(me, "single-voter group elects itself")
            .await
            .map_err(|e| RaftAdapterError::Failed(format!("raft bootstrap: {e}")))?;
        match g.raft.client_write(Box::new(Command::Bootstrap { node: entry })).await.map_err(write_error)?.data {
            Some(Ok(_)) => {}
            other => return Err(RaftAdapterError::Failed(format!("bootstrap entry answered {other:?}"))),
        }
        if !slots.is_empty() {
            match g
                .raft
                .client_write(Box::new(Command::AddSlots { node: me, spans: slots }))
                .await
                .map_err(write_error)?
                .data
            {
                Some(Ok(_)) => {}
                other => return Err(RaftAdapterError::Failed(format!("restoring its slots answered {other:?}"))),
            }
        }
        Ok(g)
    }

    /// Starts an empty instance tagged `group`, which the group's leader then adds as a learner. `local` is the
    /// table the node shows until the group's table reaches it; `peers` are the members' bus addresses.
    pub async fn join(
        me: NodeId,
        group: GroupId,
        local: MetaState,
        peers: Vec<String>,
        disk: &Disk,
        clock: ClockRate,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, RaftAdapterError> {
        Self::start(me, group, true, local, peers, disk, clock, transport).await
    }

    pub fn id(&self) -> GroupId {
        self.group
    }

    /// Whether this instance was started empty to join another node's group.
    pub fn is_joined(&self) -> bool {
        self.joined
    }

    /// For a joined instance: the group members' bus addresses when it joined.
    pub fn peers(&self) -> &[String] {
        &self.peers
    }

    /// Reads the table as this instance has applied it (no barrier).
    pub fn read<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        self.sm.read(f)
    }

    pub fn applied_index(&self) -> Option<u64> {
        self.sm.applied_index()
    }

    /// `node`'s entry as this instance's table held it when a `Forget` removed it (since this process started).
    pub fn forgotten_entry(&self, node: &NodeId) -> Option<NodeInfo> {
        self.sm.forgotten_entry(node)
    }

    /// The leader this instance knows of: its id and bus address.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let leader = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&leader)?.addr.clone();
        Some((leader, addr))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().state == ServerState::Leader
    }

    /// `leader`, `candidate`, `follower`, `learner` or `shutdown`.
    pub fn role(&self) -> String {
        role_name(self.raft.metrics().borrow_watched().state).to_string()
    }

    pub fn voters(&self) -> BTreeSet<NodeId> {
        self.raft.voter_ids().collect()
    }

    /// Leader only: the members other than this node whose last acknowledged heartbeat or replication is older
    /// than `silent`, or that never acknowledged one (openraft's heartbeat metrics).
    pub fn silent_members(&self, silent: Duration) -> BTreeSet<NodeId> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let Some(acked) = &m.heartbeat else { return BTreeSet::new() };
        let now = std::time::Instant::now();
        acked
            .iter()
            .filter(|(id, at)| {
                **id != self.me && at.as_ref().is_none_or(|t| now.saturating_duration_since(**t) > silent)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The members (voters and learners) and their bus addresses.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        m.membership_config.membership().nodes().map(|(id, n)| (*id, n.addr.clone())).collect()
    }

    /// Proposes `command` (this node must be the leader) and waits until it is committed and applied here.
    pub async fn write(&self, command: Command) -> Result<Result<Event, MetaError>, RaftAdapterError> {
        let response = self.raft.client_write(Box::new(command)).await.map_err(write_error)?;
        response.data.ok_or_else(|| RaftAdapterError::Failed("a command entry answered nothing".to_string()))
    }

    /// Leader only: adds `node` as a learner, waits until it has caught up, then makes it a voter while the
    /// group has fewer than [`VOTERS_MAX`] voters.
    pub async fn add_member(&self, node: NodeId, bus_addr: String) -> Result<(), RaftAdapterError> {
        if !self.is_leader() {
            return Err(RaftAdapterError::NotLeader { leader: self.leader().map(|(_, a)| a) });
        }
        let voters = self.voters();
        if voters.contains(&node) {
            return Ok(());
        }
        self.raft.add_learner(node, BasicNode::new(bus_addr), true).await.map_err(write_error)?;
        if voters.len() < VOTERS_MAX {
            self.raft
                .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node])), false)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }

    /// Leader only: makes the learner `node` a voter.
    pub async fn promote(&self, node: NodeId) -> Result<(), RaftAdapterError> {
        if !self.is_leader() {
            return Err(RaftAdapterError::NotLeader { leader: self.leader().map(|(_, a)| a) });
        }
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node])), false)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    /// Leader only: removes `node` from the group (voter or learner).
    pub async fn remove_member(&self, node: NodeId) -> Result<(), RaftAdapterError> {
        if !self.is_leader() {
            return Err(RaftAdapterError::NotLeader { leader: self.leader().map(|(_, a)| a) });
        }
        if self.voters().contains(&node) {
            self.raft
                .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node])), false)
                .await
                .map_err(write_error)?;
        } else if self.members().contains_key(&node) {
            self.raft
                .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([node])), false)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }

    /// Leader only: the index a linearizable read must wait for (ReadIndex: the leader confirms its leadership
    /// with a quorum first). The caller waits until its own state machine has applied it.
    pub async fn read_index(&self) -> Result<u64, RaftAdapterError> {
        match self.raft.get_read_log_id(ReadPolicy::ReadIndex).await {
            Ok((read_log_id, _applied)) => Ok(read_log_id.index()),
            Err(e) => match e.forward_to_leader() {
                Some(f) => Err(RaftAdapterError::NotLeader { leader: f.leader_node.clone().map(|n| n.addr) }),
                None => Err(RaftAdapterError::Failed(e.to_string())),
            },
        }
    }

    /// Leader only: whether the table lists `node`, read after a barrier (leadership confirmed by a quorum,
    /// everything committed before applied here), so a `false` is final for the entry it is about.
    pub async fn lists(&self, node: NodeId, timeout: Duration) -> Result<bool, RaftAdapterError> {
        let index = match tokio::time::timeout(timeout, self.read_index()).await {
            Ok(index) => index?,
            Err(_) => return Err(RaftAdapterError::Failed(format!("no read index within {} ms", timeout.as_millis()))),
        };
        self.wait_applied(index, timeout).await?;
        Ok(self.read(|s| s.contains(&node)))
    }

    /// Waits (at most `timeout`) until this instance has applied `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), RaftAdapterError> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read barrier")
            .await
            .map(|_| ())
            .map_err(|e| RaftAdapterError::Failed(format!("not applied up to index {index}: {e}")))
    }

    /// Serves a Raft RPC from a member of this group.
    pub async fn serve(&self, rpc: RaftRpc) -> RaftRpcReply {
        network::serve_rpc(&self.raft, rpc).await
    }

    /// Stops this instance (its tasks end; RPCs to it are refused by the bus from now on).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft: shutdown");
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.me
    }
}

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Candidate => "candidate",
        ServerState::Follower => "follower",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

/// Emits one trace event per change of role, term, leader or applied index of one instance.
async fn watch_metrics(raft: Raft, me: NodeId, group: GroupId) {
    let mut rx = raft.metrics();
    // What the traced line shows; it is formatted only when this changes (the metrics change on almost every
    // pass of the leader's loop, with the replication progress of every member).
    let mut last_shown = None;
    let mut had_leader = false;
    let mut last_role = None;
    let who = events::Who { me, group };
    loop {
        let (line, stopped) = {
            let m = rx.borrow_watched();
            if had_leader && m.current_leader.is_none() && m.running_state.is_ok() {
                crate::probe::hit("raft.leader_lost");
            }
            had_leader = m.current_leader.is_some();
            let role = (m.state, m.vote);
            if last_role != Some(role) {
                events::role(who, role_name(m.state), &m.vote);
                last_role = Some(role);
            }
            let shown = (m.state, m.current_term, m.current_leader, m.last_applied.map(|l| l.index()));
            let line = (last_shown != Some(shown)).then(|| {
                last_shown = Some(shown);
                let leader = m.current_leader.map_or_else(|| "none".to_string(), |l| l.to_string());
                let applied = m.last_applied.map_or_else(|| "none".to_string(), |l| l.index().to_string());
                format!("role={:?} term={} leader={leader} applied={applied}", m.state, m.current_term)
            });
            (line, m.running_state.is_err())
        };
        if let Some(line) = line {
            tracing::info!(node = %me, group, "raft: {line}");
        }
        if stopped || rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn a_fast_clock_fires_its_timers_early_and_a_slow_one_late() {
        assert_eq!(ClockRate::default().true_ms(500), 500);
        assert_eq!(ClockRate { ppm: 250_000 }.true_ms(500), 400, "25 % fast: 500 ms on its clock are 400 ms");
        assert_eq!(ClockRate { ppm: -500_000 }.true_ms(500), 1000, "half speed: twice as long");
        assert_eq!(ClockRate { ppm: i32::MIN }.true_ms(100), 1000, "clamped at 10x slow");
    }

    #[test]
    fn raft_timing_is_measured_on_the_nodes_clock() {
        let c = raft_config(ClockRate { ppm: 1_000_000 }).expect("valid");
        assert_eq!((c.heartbeat_interval, c.election_timeout_min, c.election_timeout_max), (250, 1250, 2500));
    }
}
