//! The Raft log and the metadata state machine ([`MetaState`] behind openraft's storage traits), and the
//! [`Disk`] they live on.
//!
//! Both are held in memory. What survives a restart is what the node's [`Disk`] keeps: the harness gives each
//! simulated host one `Disk` for its whole life, so a killed-and-restarted host finds its vote, log and applied
//! table again; a node started with a fresh `Disk` (the real binary today) starts as a cluster of one. Every
//! write is complete when its call returns (an "fsync'd on return" disk): a crash never loses an acknowledged
//! append, vote or apply, and never leaves half of one. Locks are `std::sync::Mutex`, never held across `.await`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{Stream, TryStreamExt};
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{EntryPayload, LogState, OptionalSend, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta};

use super::{GroupId, TypeConfig};
use crate::meta::{MetaState, NodeId};

type C = TypeConfig;
type Entry = <C as openraft::RaftTypeConfig>::Entry;

#[derive(Debug, Default)]
struct LogInner {
    last_purged: Option<LogIdOf<C>>,
    log: BTreeMap<u64, Entry>,
    committed: Option<LogIdOf<C>>,
    vote: Option<VoteOf<C>>,
}

/// The Raft log of one group incarnation.
#[derive(Debug, Clone, Default)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

impl LogStore {
    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RaftLogReader<C> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self.lock().log.range(range).map(|(_, e)| e.clone()).collect())
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        Ok(self.lock().vote)
    }
}

impl RaftLogStorage<C> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let g = self.lock();
        let last = g.log.values().next_back().map(|e| e.log_id()).or(g.last_purged);
        Ok(LogState { last_purged_log_id: g.last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        self.lock().vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        self.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        Ok(self.lock().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut g = self.lock();
            for e in entries {
                g.log.insert(e.index(), e);
            }
        }
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let mut g = self.lock();
        let from = last_log_id.map_or(0, |l| l.index() + 1);
        let _ = g.log.split_off(&from);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        let mut g = self.lock();
        if g.last_purged.as_ref() > Some(&log_id) {
            return Err(io::Error::other(format!("purge({log_id}) is behind the last purge {:?}", g.last_purged)));
        }
        g.last_purged = Some(log_id);
        g.log = g.log.split_off(&(log_id.index() + 1));
        Ok(())
    }
}

#[derive(Debug)]
struct SmInner {
    last_applied: Option<LogIdOf<C>>,
    last_membership: StoredMembershipOf<C>,
    state: MetaState,
    snapshot: Option<(SnapshotMetaOf<C>, MetaState)>,
}

/// The replicated metadata table. Starts as `MetaState::empty()`; the group's first entry is a `Bootstrap`.
#[derive(Debug, Clone)]
pub struct MetaMachine {
    inner: Arc<Mutex<SmInner>>,
}

impl Default for MetaMachine {
    fn default() -> Self {
        MetaMachine {
            inner: Arc::new(Mutex::new(SmInner {
                last_applied: None,
                last_membership: Default::default(),
                state: MetaState::empty(),
                snapshot: None,
            })),
        }
    }
}

impl MetaMachine {
    fn lock(&self) -> MutexGuard<'_, SmInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the table as applied so far.
    pub fn read<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        f(&self.lock().state)
    }

    /// Index of the last applied entry.
    pub fn applied_index(&self) -> Option<u64> {
        self.lock().last_applied.map(|l| l.index())
    }
}

impl RaftSnapshotBuilder<C> for MetaMachine {
    type SnapshotData = MetaState;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, MetaState>, io::Error> {
        let mut g = self.lock();
        let meta = SnapshotMeta { last_log_id: g.last_applied, last_membership: g.last_membership.clone() };
        let data = g.state.clone();
        g.snapshot = Some((meta.clone(), data.clone()));
        Ok(openraft::Snapshot { meta, snapshot: data })
    }
}

impl RaftStateMachine<C> for MetaMachine {
    type SnapshotData = MetaState;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogIdOf<C>>, StoredMembershipOf<C>), io::Error> {
        let g = self.lock();
        Ok((g.last_applied, g.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id;
            let response = {
                let mut g = self.lock();
                g.last_applied = Some(log_id);
                match entry.payload {
                    EntryPayload::Blank => None,
                    EntryPayload::Normal(command) => {
                        let result = g.state.apply(&command);
                        tracing::debug!(index = log_id.index(), verb = command.verb(), ok = result.is_ok(), "raft: applied");
                        Some(result)
                    }
                    EntryPayload::Membership(m) => {
                        g.last_membership = openraft::StoredMembership::new(Some(log_id), m);
                        None
                    }
                }
            };
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMetaOf<C>, snapshot: MetaState) -> Result<(), io::Error> {
        if let Err(broken) = snapshot.check_invariants() {
            return Err(io::Error::other(format!("snapshot breaks an invariant: {broken}")));
        }
        let mut g = self.lock();
        g.last_applied = meta.last_log_id;
        g.last_membership = meta.last_membership.clone();
        g.state = snapshot.clone();
        g.snapshot = Some((meta.clone(), snapshot));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<C, MetaState>>, io::Error> {
        Ok(self.lock().snapshot.clone().map(|(meta, snapshot)| openraft::Snapshot { meta, snapshot }))
    }
}

/// What a node keeps across a restart: which node it is, which Raft group incarnation it belongs to, that
/// instance's log (vote, entries, committed id) and state machine (applied table, membership, snapshot), and the
/// table it showed while joining. Cheap to clone: clones share one store.
#[derive(Clone, Default)]
pub struct Disk {
    inner: Arc<Mutex<Option<Persisted>>>,
}

/// The contents of a [`Disk`].
#[derive(Clone)]
pub(crate) struct Persisted {
    pub me: NodeId,
    pub group: GroupId,
    /// Whether this instance was started empty to join another node's group (rather than founded here).
    pub joined: bool,
    /// The table shown while joining, until the group's table (as applied here) contains this node.
    pub local: MetaState,
    pub log: LogStore,
    pub sm: MetaMachine,
}

impl Persisted {
    /// Whether the instance never wrote anything: no vote, no entry.
    pub fn is_blank(&self) -> bool {
        let g = self.log.lock();
        g.vote.is_none() && g.log.is_empty() && g.last_purged.is_none()
    }
}

impl Disk {
    /// A disk with nothing on it.
    pub fn new() -> Self {
        Disk::default()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Persisted>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn load(&self) -> Option<Persisted> {
        self.lock().clone()
    }

    /// Replaces what the disk holds with a new instance's (fresh) stores.
    pub(crate) fn store(&self, persisted: Persisted) {
        *self.lock() = Some(persisted);
    }

    /// Whether anything was ever written to this disk.
    pub fn is_empty(&self) -> bool {
        self.lock().is_none()
    }
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.lock() {
            None => f.write_str("Disk(empty)"),
            Some(p) => write!(f, "Disk(node {}, group {}, joined {})", p.me, p.group, p.joined),
        }
    }
}
