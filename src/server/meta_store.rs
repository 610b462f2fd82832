//! Where a node's metadata lives and how it is read and written: the consistency strategy.
//!
//! `local-only` edits a private table. The three Raft strategies keep the table in a Raft group
//! (`crate::raft::RaftGroup`) and differ only in when a write answers, how a read is guarded and how long a write
//! may take (README, "Strategies"). [`Strategy::behaviour`] states those facts once; the code reads them from
//! there. Group membership (MEET / FORGET / RESET) is in `membership.rs`; docs/MEMBERSHIP.md explains it.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bus::{self, BusReply, BusRequest, BusTransport, CallFailure, GroupSummary, LeaderOp};
use super::NodeConfig;
use crate::cluster::View;
use crate::meta::{Command, Event, MetaState, NodeId};
use crate::raft::{GroupId, RaftAdapterError, RaftGroup, RaftRpc, Transport};
use crate::resp::Reply;

/// How CLUSTER writes and metadata reads reach the table (see README, "Strategies").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Each node edits only its own table (AiKv at the "fix" commit: Raft was never wired).
    LocalOnly,
    /// Propose to Raft in a spawned task and answer OK at once; read the local state machine.
    FireAndForget,
    /// Await the commit (5 s timeout), then sleep 200 ms; read the local state machine (the seed's fix).
    CommitThenSleep,
    /// Await the commit; reads first pass a linearizable barrier (read index), or answer an error.
    ReadIndex,
}

impl Strategy {
    pub const ALL: [Strategy; 4] =
        [Strategy::LocalOnly, Strategy::FireAndForget, Strategy::CommitThenSleep, Strategy::ReadIndex];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::LocalOnly => "local-only",
            Strategy::FireAndForget => "fire-and-forget",
            Strategy::CommitThenSleep => "commit-then-sleep",
            Strategy::ReadIndex => "read-index",
        }
    }

    /// Everything the node does differently under this strategy; every strategy-dependent branch reads it.
    pub fn behaviour(self) -> Behaviour {
        match self {
            Strategy::LocalOnly => Behaviour {
                uses_raft: false,
                write_timing: WriteTiming::AfterCommit,
                read_guard: ReadGuard::LocalState,
                write_deadline_ms: WRITE_DEADLINE_MS,
            },
            Strategy::FireAndForget => Behaviour {
                uses_raft: true,
                write_timing: WriteTiming::BeforeCommit,
                read_guard: ReadGuard::LocalState,
                write_deadline_ms: WRITE_DEADLINE_MS,
            },
            Strategy::CommitThenSleep => Behaviour {
                uses_raft: true,
                write_timing: WriteTiming::AfterCommitThenSleep { settle_ms: SETTLE_SLEEP_MS },
                read_guard: ReadGuard::LocalState,
                write_deadline_ms: COMMIT_TIMEOUT_MS,
            },
            Strategy::ReadIndex => Behaviour {
                uses_raft: true,
                write_timing: WriteTiming::AfterCommit,
                read_guard: ReadGuard::ReadIndexBarrier,
                write_deadline_ms: WRITE_DEADLINE_MS,
            },
        }
    }
}

/// What a [`Strategy`] means for the node, as plain facts ([`Strategy::behaviour`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Whether the table lives in a Raft group (MEET / FORGET / RESET then change the group's membership, and a
    /// node founds or reopens its instance at start). Otherwise each node edits a private table.
    pub uses_raft: bool,
    /// When a CLUSTER write (or a MEET merge) answers.
    pub write_timing: WriteTiming,
    /// What a metadata read a client sees (NODES / INFO / SLOTS / SHARDS / REPLICAS, and MEET of a node already
    /// met) must pass first.
    pub read_guard: ReadGuard,
    /// How long a Raft write or group operation may take, retries included (no use without Raft).
    pub write_deadline_ms: u64,
}

/// When a write answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteTiming {
    /// At once: the write is proposed in a spawned task and its outcome only logged.
    BeforeCommit,
    /// Once committed (local-only: once applied to the private table, its only copy).
    AfterCommit,
    /// Once committed, then after a sleep of `settle_ms` on the node's clock.
    AfterCommitThenSleep { settle_ms: u64 },
}

/// What a metadata read must pass before it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadGuard {
    /// Nothing: it reads this node's table as it is.
    LocalState,
    /// A linearizable barrier: the leader's read index, applied here within [`READ_BARRIER_TIMEOUT_MS`]; if it
    /// fails, the read answers `CLUSTERDOWN` instead.
    ReadIndexBarrier,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy '{0}' (expected one of: local-only, fire-and-forget, commit-then-sleep, read-index)")]
pub struct StrategyParseError(pub String);

impl FromStr for Strategy {
    type Err = StrategyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| StrategyParseError(s.to_string()))
    }
}

/// Deadline of a write (commit) or of a group operation, retries included, under commit-then-sleep: the seed's
/// fix awaited the commit for 5 s.
pub const COMMIT_TIMEOUT_MS: u64 = 5_000;
/// The same deadline under the other Raft strategies: long enough to ride out one leader election (2.5–5 s of
/// election timeout plus the vote), so a write forwarded while the leader dies still lands.
pub const WRITE_DEADLINE_MS: u64 = 12_000;
/// What commit-then-sleep sleeps after a commit (the seed's "wait for the sync").
pub const SETTLE_SLEEP_MS: u64 = 200;
/// Deadline of the read barrier (read index from the leader, then the local apply).
pub const READ_BARRIER_TIMEOUT_MS: u64 = 2_000;
/// First and largest pause between two attempts to reach a group's leader.
pub const RETRY_BACKOFF_FIRST_MS: u64 = 50;
pub const RETRY_BACKOFF_MAX_MS: u64 = 1_000;

/// Where a leader operation is tried next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// On this node's own Raft instance.
    Local,
    /// On the node with this bus address.
    Remote(String),
}

/// The node's metadata under its strategy. Cheap to clone (one `Arc`), so strategies can spawn work.
#[derive(Clone)]
pub struct MetaStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub strategy: Strategy,
    pub config: NodeConfig,
    /// This node's id; CLUSTER RESET HARD changes it.
    pub myself: Mutex<NodeId>,
    /// local-only: the table. Raft strategies: the table shown before the first bootstrap, and while joining a
    /// group until the merge has been replicated here (`joining`).
    pub local: Mutex<MetaState>,
    /// Set when this node replaces its cluster of one by an empty instance of another group; cleared once that
    /// group's table, as applied here, contains this node.
    pub joining: Mutex<bool>,
    /// Raft strategies: this node's current Raft instance.
    pub group: Mutex<Option<Arc<RaftGroup>>>,
    /// Serializes replacements of `group` (join, leave, reset).
    pub swapping: tokio::sync::Mutex<()>,
    /// One lock per joiner this node is merging: two MEETs of one node sent to this node run their merges one
    /// after the other, so one's call-off can never forget what the other just joined.
    pub merging: Mutex<std::collections::BTreeMap<NodeId, Arc<tokio::sync::Mutex<()>>>>,
    /// Held shared by every write in flight, and exclusively by a joiner while it checks its table and swaps
    /// its cluster of one for the group's instance: no acknowledged write can fall between the two.
    pub write_gate: tokio::sync::RwLock<()>,
    /// Raft strategies: set once `start` has founded or reopened this node's instance. Until then the bus
    /// answers `Hello` only after it (a peer's MEET must not see a node with no group yet).
    /// (A flag and a `Notify`: `tokio::sync::watch` draws from tokio's unseeded RNG, see docs/ARCHITECTURE.md.)
    pub started: std::sync::atomic::AtomicBool,
    pub started_notify: tokio::sync::Notify,
    pub transport: Arc<dyn Transport>,
}

impl MetaStore {
    pub(crate) fn new(config: &NodeConfig) -> Self {
        MetaStore {
            inner: Arc::new(Inner {
                strategy: config.strategy,
                config: config.clone(),
                myself: Mutex::new(config.node_id),
                local: Mutex::new(MetaState::new(config.initial_entry())),
                joining: Mutex::new(false),
                group: Mutex::new(None),
                swapping: tokio::sync::Mutex::new(()),
                merging: Mutex::new(std::collections::BTreeMap::new()),
                write_gate: tokio::sync::RwLock::new(()),
                started: std::sync::atomic::AtomicBool::new(!config.strategy.behaviour().uses_raft),
                started_notify: tokio::sync::Notify::new(),
                transport: Arc::new(BusTransport),
            }),
        }
    }

    /// What this node's strategy means ([`Strategy::behaviour`]).
    pub fn behaviour(&self) -> Behaviour {
        self.inner.strategy.behaviour()
    }

    /// Raft strategies: reopens the instance the node's disk holds (a restart), or founds this node's cluster of
    /// one. Called once by `serve`, after binding the bus.
    pub(crate) async fn start(&self) -> Result<(), RaftAdapterError> {
        if !self.behaviour().uses_raft {
            return Ok(());
        }
        let _swap = self.inner.swapping.lock().await;
        let disk = &self.inner.config.disk;
        if let Some(reopened) = RaftGroup::reopen(disk, self.inner.config.clock, self.inner.transport.clone()).await {
            let (group, joined, local) = reopened?;
            let me = group.node_id();
            *self.inner.myself.lock().expect("myself lock") = me;
            let merged = group.read(|s| s.contains(&me));
            if joined && !merged {
                *self.inner.local.lock().expect("meta lock") = local;
                *self.inner.joining.lock().expect("joining lock") = true;
            } else {
                *self.inner.local.lock().expect("meta lock") = group.read(MetaState::clone);
            }
            *self.inner.group.lock().expect("group lock") = Some(Arc::new(group));
        } else {
            let entry = self.inner.config.initial_entry();
            let group = RaftGroup::found(
                entry,
                Vec::new(),
                self.bus_addr(),
                disk,
                self.inner.config.clock,
                self.inner.transport.clone(),
            )
            .await?;
            *self.inner.group.lock().expect("group lock") = Some(Arc::new(group));
        }
        crate::raft::rt::spawn_boxed(self.clone().repair_loop());
        self.mark_started();
        Ok(())
    }

    fn mark_started(&self) {
        self.inner.started.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.started_notify.notify_waiters();
    }

    /// Returns once `start` has given this node its Raft instance (at once under local-only).
    pub(crate) async fn wait_started(&self) {
        loop {
            // Registered before the flag is read, so a `mark_started` in between still wakes this waiter.
            let notified = self.inner.started_notify.notified();
            if self.inner.started.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Applies a CLUSTER write under the strategy. `Ok(None)`: accepted but not awaited (fire-and-forget).
    pub async fn write(&self, command: Command) -> Result<Option<Event>, Reply> {
        if !self.behaviour().uses_raft {
            return self.write_local(command).map(Some);
        }
        let store = self.clone();
        let written = self.run_write(async move { store.propose(command).await.map(Some) }).await?;
        if self.behaviour().read_guard != ReadGuard::LocalState {
            // Read your own writes here too: key routing (MOVED / ASK, a SETSLOT's target serving its slot) reads
            // this node's own table, which may not have applied the entry yet when the leader acknowledges it. A
            // read barrier after the commit waits for it (the leader's read index covers the write). Found by
            // scenarios/slot_migration.scn: the target of SETSLOT NODE answered MOVED to the source after its OK.
            // If the barrier fails the write stands, but this node cannot promise its own routing reflects it:
            // it answers an error (a client takes it as "may or may not have happened"), never an OK it would
            // then contradict (an OK here was found answering GET as if the slot were not migrating).
            if let Err(reason) = self.read_barrier().await {
                crate::probe::hit("write.own_apply_unconfirmed");
                return Err(Reply::error(format!(
                    "CLUSTERDOWN metadata write committed, but this node could not confirm it applied it: {reason}"
                )));
            }
        }
        Ok(written)
    }

    fn write_local(&self, command: Command) -> Result<Event, Reply> {
        let mut state = self.inner.local.lock().expect("meta lock");
        let result = state.apply(&command);
        match &result {
            Ok(event) => {
                tracing::debug!(verb = command.verb(), ?event, "meta: applied");
                if let Event::Reset { node, .. } = event {
                    *self.inner.myself.lock().expect("myself lock") = *node;
                }
            }
            Err(e) => tracing::debug!(verb = command.verb(), error = %e, "meta: refused"),
        }
        result.map_err(|e| Reply::error(e.to_string()))
    }

    /// Runs a Raft-backed write (or a whole membership change) with the strategy's [`WriteTiming`]: spawned and
    /// answered at once, awaited, or awaited then followed by a sleep.
    pub(super) async fn run_write<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<Option<T>, Reply>> + Send + 'static,
    ) -> Result<Option<T>, Reply> {
        match self.behaviour().write_timing {
            WriteTiming::BeforeCommit => {
                crate::raft::rt::spawn_boxed(async move {
                    if let Err(reply) = work.await {
                        crate::probe::hit("write.background_failed");
                        tracing::info!("meta: background write failed: {}", reply_text(&reply));
                    }
                });
                Ok(None)
            }
            WriteTiming::AfterCommitThenSleep { settle_ms } => {
                let result = work.await?;
                tokio::time::sleep(self.local_ms(settle_ms)).await;
                Ok(result)
            }
            WriteTiming::AfterCommit => work.await,
        }
    }

    /// Proposes `command` to this node's group through its leader (here, or forwarded over the bus) and waits
    /// for the commit.
    pub(super) async fn propose(&self, command: Command) -> Result<Event, Reply> {
        let _in_flight = self.inner.write_gate.read().await;
        let group = self.current_group().map_err(write_failed)?;
        let route = self.route_to_leader(&group);
        match self.leader_call(group.id(), route, LeaderOp::Write(command)).await.map_err(write_failed)? {
            BusReply::Written(result) => result.map_err(|e| Reply::error(e.to_string())),
            other => Err(write_failed(format!("unexpected reply {other:?}"))),
        }
    }

    /// A metadata read that a client sees (NODES / INFO / SLOTS / SHARDS / REPLICAS), with the strategy's
    /// consistency guarantee.
    ///
    /// A table that does not list this node is never shown: every view has its `myself` line. That happens
    /// between a FORGET of this node committing in its group and this node becoming a cluster of one again (the
    /// repair round): the read answers an error meanwhile (found by `sim check`: a read workload racing a FORGET).
    pub async fn read<R>(&self, f: impl FnOnce(View<'_>) -> R) -> Result<R, Reply> {
        let myself = self.myself();
        // A sealed table (another cluster is absorbing this one) is not shown either: the other side may already
        // show its nodes with the epochs the merge gave them.
        let shown = |state: &MetaState| match (state.sealed().is_some(), state.contains(&myself)) {
            (false, true) => Ok(f(View { state, myself })),
            (true, _) => Err(true),
            (false, false) => Err(false),
        };
        let view = if self.behaviour().read_guard == ReadGuard::LocalState {
            self.read_local(shown)
        } else {
            match self.read_barrier().await {
                Ok(group) => group.read(shown),
                Err(reason) => return Err(Reply::error(format!("CLUSTERDOWN metadata read barrier failed: {reason}"))),
            }
        };
        view.map_err(|sealed| {
            if sealed {
                crate::probe::hit("read.sealed_table");
                Reply::error("CLUSTERDOWN this cluster is merging into another one, try again")
            } else {
                crate::probe::hit("read.removed_from_table");
                Reply::error("CLUSTERDOWN this node is no longer in its cluster's table; it is leaving it")
            }
        })
    }

    /// ReadIndex: the leader's read index (asked over the bus unless this node leads), then a bounded wait until
    /// this node's state machine has applied it.
    async fn read_barrier(&self) -> Result<Arc<RaftGroup>, String> {
        let result = self.try_read_barrier().await;
        if result.is_err() {
            crate::probe::hit("read.barrier_failed");
        }
        result
    }

    async fn try_read_barrier(&self) -> Result<Arc<RaftGroup>, String> {
        let group = self.current_group()?;
        let timeout = self.local_ms(READ_BARRIER_TIMEOUT_MS);
        let index = match group.leader() {
            None => {
                crate::probe::hit("read.barrier_no_leader");
                return Err("no leader known".to_string());
            }
            Some((leader, _)) if leader == group.node_id() => {
                match tokio::time::timeout(timeout, group.read_index()).await {
                    Ok(result) => result.map_err(|e| e.to_string())?,
                    Err(_) => return Err(format!("no read index within {READ_BARRIER_TIMEOUT_MS} ms")),
                }
            }
            Some((_, addr)) => match bus::call(&addr, &BusRequest::ReadIndex { group: group.id() }, timeout).await {
                Ok(BusReply::ReadIndex(index)) => index,
                Ok(BusReply::NotLeader { .. }) => {
                    crate::probe::hit("read.barrier_leader_moved");
                    return Err(format!("{addr} is no longer the leader"));
                }
                Ok(BusReply::Error(e)) => return Err(e),
                Ok(other) => return Err(format!("unexpected reply {other:?}")),
                Err(e) => return Err(e.to_string()),
            },
        };
        group.wait_applied(index, timeout).await.map_err(|e| e.to_string())?;
        Ok(group)
    }

    /// An interval of `ms` on this node's clock, in true time (see `raft::ClockRate`).
    pub(super) fn local_ms(&self, ms: u64) -> Duration {
        Duration::from_millis(self.inner.config.clock.true_ms(ms))
    }

    pub fn myself(&self) -> NodeId {
        *self.inner.myself.lock().expect("myself lock")
    }

    /// The table as it is now on this node, without any barrier: for routing and for validation before a write.
    pub fn read_local<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        let mut f = Some(f);
        if let Some(group) = self.group() {
            let me = self.myself();
            let joining = *self.inner.joining.lock().expect("joining lock");
            let from_group =
                group.read(
                    |s| {
                        if !joining || s.contains(&me) {
                            f.take().map(|f| (f(s), s.contains(&me)))
                        } else {
                            None
                        }
                    },
                );
            if let Some((r, contains_me)) = from_group {
                if joining && contains_me {
                    // The merge has reached this node: from now on its group's table is the one shown.
                    *self.inner.joining.lock().expect("joining lock") = false;
                }
                return r;
            }
        }
        let f = f.take().expect("the closure is taken only when its result is returned");
        f(&self.inner.local.lock().expect("meta lock"))
    }

    pub(super) fn group(&self) -> Option<Arc<RaftGroup>> {
        self.inner.group.lock().expect("group lock").clone()
    }

    pub(super) fn current_group(&self) -> Result<Arc<RaftGroup>, String> {
        self.group().ok_or_else(|| "this node has no Raft group (it failed to start)".to_string())
    }

    /// This node's bus address as the members of its group reach it.
    pub(super) fn bus_addr(&self) -> String {
        format!("{}:{}", self.inner.config.ip, self.inner.config.bus_port)
    }

    /// Where this node's group's leader is, as far as this node knows.
    pub(super) fn route_to_leader(&self, group: &RaftGroup) -> Route {
        match group.leader() {
            Some((_, addr)) if addr != self.bus_addr() => Route::Remote(addr),
            _ => Route::Local,
        }
    }

    /// Runs `op` on the leader of `group`, starting at `route` and following "not leader" hints. Retries only
    /// what certainly did not happen (not leader, busy, connection refused), with exponential backoff
    /// (50 ms doubling to 1 s) within the strategy's `write_deadline_ms` in total ([`Behaviour`]).
    pub(super) async fn leader_call(&self, group: GroupId, origin: Route, op: LeaderOp) -> Result<BusReply, String> {
        let deadline_ms = self.behaviour().write_deadline_ms;
        let deadline = Instant::now() + self.local_ms(deadline_ms);
        let mut backoff = Duration::from_millis(RETRY_BACKOFF_FIRST_MS);
        let mut route = origin.clone();
        let mut last_error;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = match &route {
                Route::Local => match tokio::time::timeout(remaining, self.serve_leader_op(group, op.clone())).await {
                    Ok(reply) => Ok(reply),
                    Err(_) => Err(CallFailure::Failed(format!("no outcome within {deadline_ms} ms"))),
                },
                Route::Remote(addr) => bus::call(addr, &BusRequest::Leader { group, op: op.clone() }, remaining).await,
            };
            let hint = match outcome {
                Ok(BusReply::NotLeader { leader }) => {
                    crate::probe::hit("write.not_leader");
                    last_error = "no leader".to_string();
                    leader
                }
                Ok(BusReply::Busy(why)) => {
                    last_error = why;
                    None
                }
                Err(CallFailure::Unreachable(why)) => {
                    crate::probe::hit("write.leader_unreachable");
                    last_error = why;
                    None
                }
                Ok(BusReply::Error(e)) => return Err(e),
                Ok(reply) => return Ok(reply),
                Err(CallFailure::Failed(e)) => return Err(e),
            };
            route = match hint {
                Some(addr) if addr == self.bus_addr() => Route::Local,
                Some(addr) => Route::Remote(addr),
                None => match self.group() {
                    Some(own) if own.id() == group => self.route_to_leader(&own),
                    _ => origin.clone(),
                },
            };
            if Instant::now() + backoff >= deadline {
                crate::probe::hit("write.deadline_exceeded");
                return Err(format!("no leader answered within {deadline_ms} ms (last: {last_error})"));
            }
            tokio::time::sleep(self.inner.config.clock.true_duration(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_millis(RETRY_BACKOFF_MAX_MS));
        }
    }

    /// Raft strategies: this node's role (`leader`, `follower`, `learner`, ...) and the leader's id (`-` if
    /// unknown).
    pub fn raft_role(&self) -> Option<(String, String)> {
        let group = self.group()?;
        let leader = group.leader().map_or_else(|| "-".to_string(), |(id, _)| id.to_string());
        Some((group.role(), leader))
    }

    // ---- the bus side: what other nodes ask of this one ----

    /// What `Hello` says of this node's group.
    pub(super) fn group_summary(&self) -> Option<GroupSummary> {
        let group = self.group()?;
        let (size, shown) = group.read(|s| (s.node_count(), s.shown_epochs()));
        Some(GroupSummary { id: group.id(), size, applied: group.applied_index(), shown })
    }

    pub(super) async fn serve_raft(&self, group: GroupId, rpc: RaftRpc) -> BusReply {
        match self.group() {
            Some(g) if g.id() == group => BusReply::Raft(g.serve(rpc).await),
            _ => BusReply::Error(format!("not a member of group {group}")),
        }
    }

    /// Runs a leader operation on this node's instance of `group` (answers `NotLeader` if it does not lead).
    pub(super) async fn serve_leader_op(&self, group: GroupId, op: LeaderOp) -> BusReply {
        let g = match self.group() {
            Some(g) if g.id() == group => g,
            _ => return BusReply::Error(format!("not a member of group {group}")),
        };
        let result = match op {
            LeaderOp::Write(command) => g.write(command).await.map(BusReply::Written),
            LeaderOp::AddMember { node, addr } => g.add_member(node, addr).await.map(|()| BusReply::Done),
            LeaderOp::RemoveMember { node } => g.remove_member(node).await.map(|()| BusReply::Done),
            LeaderOp::Promote { node } => g.promote(node).await.map(|()| BusReply::Done),
            LeaderOp::IsMember { node } => {
                g.lists(node, self.local_ms(READ_BARRIER_TIMEOUT_MS)).await.map(BusReply::Member)
            }
        };
        result.unwrap_or_else(|e| match e {
            RaftAdapterError::NotLeader { leader } => BusReply::NotLeader { leader },
            RaftAdapterError::Busy(why) => BusReply::Busy(why),
            RaftAdapterError::Failed(why) => BusReply::Error(why),
        })
    }

    pub(super) async fn serve_read_index(&self, group: GroupId) -> BusReply {
        let g = match self.group() {
            Some(g) if g.id() == group => g,
            _ => return BusReply::Error(format!("not a member of group {group}")),
        };
        let timeout = self.local_ms(READ_BARRIER_TIMEOUT_MS);
        match tokio::time::timeout(timeout, g.read_index()).await {
            Ok(Ok(index)) => BusReply::ReadIndex(index),
            Ok(Err(RaftAdapterError::NotLeader { leader })) => BusReply::NotLeader { leader },
            Ok(Err(e)) => BusReply::Error(e.to_string()),
            Err(_) => BusReply::Error(format!("no read index within {READ_BARRIER_TIMEOUT_MS} ms")),
        }
    }
}

fn write_failed(reason: impl fmt::Display) -> Reply {
    Reply::error(format!("CLUSTERDOWN metadata write failed: {reason}"))
}

pub(super) fn reply_text(reply: &Reply) -> String {
    match reply {
        Reply::Error(e) => e.clone(),
        other => format!("{other:?}"),
    }
}
