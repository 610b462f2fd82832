//! The Raft log and the metadata state machine ([`MetaState`] behind openraft's storage traits), and the
//! [`Disk`] they live on.
//!
//! Both are held in memory. What survives a restart is what the node's [`Disk`] keeps: the harness gives each
//! simulated host one `Disk` for its whole life, so a killed-and-restarted host finds its vote, log and applied
//! table again; a real node started with `--dir` keeps the same stores backed by a data file ([`journal`]),
//! replayed when it starts again; without `--dir` it starts as a cluster of one. Either way every write is
//! complete when its call returns (an "fsync'd on return" disk): a crash never loses an acknowledged append, vote
//! or apply, and never leaves half of one (a half-written record in a data file is refused at start). Locks are
//! `std::sync::Mutex`, never held across `.await`.
//!
//! [`journal`]: super::journal

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{EntryPayload, LogState, OptionalSend, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta};

use super::events::{self, Who};
use super::journal::{Journal, JournalError, Record};
use super::{GroupId, TypeConfig};
use crate::meta::{Command, MetaState, NodeId};

/// BUGGIFY: how often an active apply delay fires per batch, and how long it sleeps (virtual ms; well under a
/// heartbeat interval, so it slows applies without looking like a dead node).
const BUGGIFY_APPLY_CHANCE: f64 = 0.1;
const BUGGIFY_APPLY_DELAY_MS: u64 = 100;

type C = TypeConfig;
type Entry = <C as openraft::RaftTypeConfig>::Entry;

#[derive(Debug, Default)]
struct LogInner {
    last_purged: Option<LogIdOf<C>>,
    log: BTreeMap<u64, Entry>,
    committed: Option<LogIdOf<C>>,
    vote: Option<VoteOf<C>>,
}

impl LogInner {
    /// The log's own invariant for an append (checked when [`crate::meta::CHECK_INVARIANTS`] is on, as in every
    /// simulated run): openraft appends right after the last entry the store holds (it truncates a conflicting
    /// tail first), the batch is contiguous, and leader ids never go back along the log. A store that kept an
    /// entry openraft believes gone, or lost one it believes kept, fails here at once.
    fn check_append(&self, entries: &[Entry]) -> Result<(), String> {
        let Some(first) = entries.first() else { return Ok(()) };
        let last = self.log.last_key_value().map(|(_, e)| e.log_id).or(self.last_purged);
        if let Some(last) = last {
            if first.index() != last.index() + 1 {
                return Err(format!("append of {} to a log whose last entry is {last}", first.log_id));
            }
            if first.log_id.leader_id < last.leader_id {
                return Err(format!("append of {} after {last}: the leader id went back", first.log_id));
            }
        }
        for pair in entries.windows(2) {
            let (a, b) = (&pair[0].log_id, &pair[1].log_id);
            if b.index() != a.index() + 1 || b.leader_id < a.leader_id {
                return Err(format!("appended batch not in log order: {a} then {b}"));
            }
        }
        Ok(())
    }

    fn append(&mut self, entries: Vec<Entry>) {
        for e in entries {
            self.log.insert(e.index(), e);
        }
    }

    fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) {
        let from = last_log_id.map_or(0, |l| l.index() + 1);
        let _ = self.log.split_off(&from);
    }

    fn purge(&mut self, log_id: LogIdOf<C>) {
        self.last_purged = Some(log_id);
        self.log = self.log.split_off(&(log_id.index() + 1));
    }
}

/// The Raft log of one group incarnation.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
    journal: Option<Arc<Journal>>,
    /// Whose log it is (the node and group its Raft events name).
    who: Who,
}

impl LogStore {
    fn new(who: Who, journal: Option<Arc<Journal>>) -> Self {
        LogStore { inner: Default::default(), journal, who }
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `record` in the data file, if the disk has one (called with the store locked, before the change
    /// is made in memory: a failed write changes nothing).
    fn journal(&self, record: impl FnOnce() -> Record) -> Result<(), io::Error> {
        self.journal.as_ref().map_or(Ok(()), |j| j.write(&record()))
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
        let vote = self.lock().vote;
        events::vote_read(self.who, vote.as_ref());
        Ok(vote)
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
        let mut g = self.lock();
        self.journal(|| Record::Vote(*vote))?;
        g.vote = Some(*vote);
        events::vote(self.who, vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let mut g = self.lock();
        if g.committed != committed {
            self.journal(|| Record::Committed(committed))?;
            g.committed = committed;
            events::committed(self.who, committed.as_ref());
        }
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
        let entries: Vec<Entry> = entries.into_iter().collect();
        let written = {
            let mut g = self.lock();
            let written = self.journal(|| Record::Append(entries.clone()));
            if written.is_ok() {
                if crate::meta::CHECK_INVARIANTS {
                    if let Err(broken) = g.check_append(&entries) {
                        panic!("Raft log store invariant broken ({}): {broken}", self.who.me);
                    }
                }
                for e in &entries {
                    events::append(self.who, &e.log_id, &e.payload);
                }
                g.append(entries);
            }
            written
        };
        // A failed write is a storage error: openraft stops this instance (the callback is dropped unanswered).
        written?;
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let mut g = self.lock();
        if g.log.range(last_log_id.map_or(0, |l| l.index() + 1)..).next().is_some() {
            crate::probe::hit("raft.log_truncated");
        }
        self.journal(|| Record::TruncateAfter(last_log_id))?;
        g.truncate_after(last_log_id);
        if crate::meta::CHECK_INVARIANTS {
            let kept = g.log.last_key_value().map(|(i, _)| *i);
            let bound = last_log_id.map(|l| l.index());
            assert!(
                kept <= bound,
                "Raft log store invariant broken ({}): truncated after {bound:?}, kept {kept:?}",
                self.who.me
            );
        }
        events::truncate(self.who, last_log_id.as_ref());
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        let mut g = self.lock();
        if g.last_purged.as_ref() > Some(&log_id) {
            return Err(io::Error::other(format!("purge({log_id}) is behind the last purge {:?}", g.last_purged)));
        }
        self.journal(|| Record::Purge(log_id))?;
        g.purge(log_id);
        events::purge(self.who, &log_id);
        Ok(())
    }
}

#[derive(Debug)]
struct SmInner {
    last_applied: Option<LogIdOf<C>>,
    last_membership: StoredMembershipOf<C>,
    state: MetaState,
    snapshot: Option<(SnapshotMetaOf<C>, MetaState)>,
    /// The last entry of each node a `Forget` removed, as the table held it just before (in memory only): a
    /// forgotten node that missed its notice starts over from it, keeping its latest config epoch.
    forgotten: std::collections::BTreeMap<crate::meta::NodeId, crate::meta::NodeInfo>,
}

impl SmInner {
    /// Applies one entry; what the entry answers (`None` for Raft's own entries).
    fn apply(&mut self, entry: Entry) -> super::Applied {
        let log_id = entry.log_id;
        self.last_applied = Some(log_id);
        match entry.payload {
            EntryPayload::Blank => None,
            EntryPayload::Normal(command) => {
                let before = match &*command {
                    Command::Forget { target, .. } | Command::CallOff { target, .. } => {
                        self.state.node(target).cloned()
                    }
                    _ => None,
                };
                let result = self.state.apply(&command);
                if let (Some(entry), Ok(_)) = (before, &result) {
                    self.forgotten.insert(entry.id, entry);
                }
                tracing::debug!(index = log_id.index(), verb = command.verb(), ok = result.is_ok(), "raft: applied");
                Some(result)
            }
            EntryPayload::Membership(m) => {
                self.last_membership = openraft::StoredMembership::new(Some(log_id), m);
                None
            }
        }
    }
}

/// The replicated metadata table. Starts as `MetaState::empty()`; the group's first entry is a `Bootstrap`.
#[derive(Debug, Clone)]
pub struct MetaMachine {
    inner: Arc<Mutex<SmInner>>,
    journal: Option<Arc<Journal>>,
    /// Whose state machine it is (the node and group its Raft events name).
    who: Who,
}

impl MetaMachine {
    fn new(who: Who, journal: Option<Arc<Journal>>) -> Self {
        MetaMachine {
            inner: Arc::new(Mutex::new(SmInner {
                last_applied: None,
                last_membership: Default::default(),
                state: MetaState::empty(),
                snapshot: None,
                forgotten: Default::default(),
            })),
            journal,
            who,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SmInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn journal(&self, record: impl FnOnce() -> Record) -> Result<(), io::Error> {
        self.journal.as_ref().map_or(Ok(()), |j| j.write(&record()))
    }

    /// Reads the table as applied so far.
    pub fn read<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        f(&self.lock().state)
    }

    /// `node`'s entry as the table held it when a `Forget` applied here removed it.
    pub fn forgotten_entry(&self, node: &crate::meta::NodeId) -> Option<crate::meta::NodeInfo> {
        self.lock().forgotten.get(node).cloned()
    }

    /// Index of the last applied entry.
    pub fn applied_index(&self) -> Option<u64> {
        self.lock().last_applied.map(|l| l.index())
    }
}

impl RaftSnapshotBuilder<C> for MetaMachine {
    type SnapshotData = Box<MetaState>;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, Box<MetaState>>, io::Error> {
        crate::probe::hit("raft.snapshot_built");
        let mut g = self.lock();
        let meta = SnapshotMeta { last_log_id: g.last_applied, last_membership: g.last_membership.clone() };
        let data = g.state.clone();
        self.journal(|| Record::Snapshot { meta: meta.clone(), state: data.clone() })?;
        g.snapshot = Some((meta.clone(), data.clone()));
        Ok(openraft::Snapshot { meta, snapshot: Box::new(data) })
    }
}

impl RaftStateMachine<C> for MetaMachine {
    type SnapshotData = Box<MetaState>;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogIdOf<C>>, StoredMembershipOf<C>), io::Error> {
        let g = self.lock();
        Ok((g.last_applied, g.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        if super::rt::buggify("buggify.apply_delay", BUGGIFY_APPLY_CHANCE) {
            tokio::time::sleep(Duration::from_millis(BUGGIFY_APPLY_DELAY_MS)).await;
        }
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id;
            let response = {
                let mut g = self.lock();
                // Recorded before the answer goes out; replaying the file re-applies the logged entry.
                self.journal(|| Record::Applied(log_id))?;
                events::apply(self.who, &log_id, &entry.payload);
                g.apply(entry)
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

    async fn install_snapshot(&mut self, meta: &SnapshotMetaOf<C>, snapshot: Box<MetaState>) -> Result<(), io::Error> {
        crate::probe::hit("raft.snapshot_installed");
        let snapshot = *snapshot;
        if let Err(broken) = snapshot.check_invariants() {
            return Err(io::Error::other(format!("snapshot breaks an invariant: {broken}")));
        }
        let mut g = self.lock();
        self.journal(|| Record::Machine {
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership.clone(),
            state: snapshot.clone(),
        })?;
        self.journal(|| Record::Snapshot { meta: meta.clone(), state: snapshot.clone() })?;
        g.last_applied = meta.last_log_id;
        g.last_membership = meta.last_membership.clone();
        g.state = snapshot.clone();
        g.snapshot = Some((meta.clone(), snapshot));
        events::snapshot(self.who, meta.last_log_id.as_ref());
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<C, Box<MetaState>>>, io::Error> {
        Ok(self
            .lock()
            .snapshot
            .clone()
            .map(|(meta, snapshot)| openraft::Snapshot { meta, snapshot: Box::new(snapshot) }))
    }
}

/// What a node keeps across a restart: which node it is, which Raft group incarnation it belongs to, that
/// instance's log (vote, entries, committed id) and state machine (applied table, membership, snapshot), and the
/// table it showed while joining. Cheap to clone: clones share one store.
#[derive(Clone, Default)]
pub struct Disk {
    inner: Arc<Mutex<Option<Persisted>>>,
    /// The data file behind it (real nodes started with `--dir`); `None` for a disk that lives in memory only.
    journal: Option<Arc<Journal>>,
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
    /// For a joined instance: the group members' bus addresses when it joined.
    pub peers: Vec<String>,
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

    /// A disk backed by the data file in `dir` (created if missing): the stores the file records are replayed
    /// now, and every later write is appended to it and fsync'd before it returns. A file that does not read
    /// back whole is refused.
    pub fn open(dir: &std::path::Path) -> Result<Disk, JournalError> {
        let (journal, records) = Journal::open(dir)?;
        let journal = Arc::new(journal);
        let persisted = replay(records, &journal).map_err(|(offset, record, why)| JournalError::Corrupt {
            path: journal.path().to_path_buf(),
            offset,
            record,
            why,
        })?;
        Ok(Disk { inner: Arc::new(Mutex::new(persisted)), journal: Some(journal) })
    }

    /// The node the disk's instance belongs to, if it holds one.
    pub fn node_id(&self) -> Option<NodeId> {
        self.lock().as_ref().map(|p| p.me)
    }

    pub(crate) fn load(&self) -> Option<Persisted> {
        self.lock().clone()
    }

    /// Replaces what the disk holds with a new instance's fresh stores, and returns them.
    pub(crate) fn start_instance(
        &self,
        me: NodeId,
        group: GroupId,
        joined: bool,
        local: MetaState,
        peers: Vec<String>,
    ) -> io::Result<(LogStore, MetaMachine)> {
        let mut g = self.lock();
        if let Some(j) = &self.journal {
            j.write(&Record::Instance { me, group, joined, local: local.clone(), peers: peers.clone() })?;
        }
        let who = Who { me, group };
        let log = LogStore::new(who, self.journal.clone());
        let sm = MetaMachine::new(who, self.journal.clone());
        events::started(who, true);
        *g = Some(Persisted { me, group, joined, local, peers, log: log.clone(), sm: sm.clone() });
        Ok((log, sm))
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

/// Rebuilds the stores a journal's records describe. Errors are (byte offset, record number, reason) of the
/// first record that does not fit what came before it.
fn replay(records: Vec<(u64, Record)>, journal: &Arc<Journal>) -> Result<Option<Persisted>, (u64, usize, String)> {
    let mut current: Option<Persisted> = None;
    for (n, (offset, record)) in records.into_iter().enumerate() {
        let fail = |why: String| (offset, n + 1, why);
        if let Record::Instance { me, group, joined, local, peers } = record {
            let who = Who { me, group };
            let log = LogStore::new(who, Some(journal.clone()));
            let sm = MetaMachine::new(who, Some(journal.clone()));
            current = Some(Persisted { me, group, joined, local, peers, log, sm });
            continue;
        }
        let p = current.as_ref().ok_or_else(|| fail("the first record does not start an instance".to_string()))?;
        let mut log = p.log.lock();
        let mut sm = p.sm.lock();
        match record {
            Record::Instance { .. } => unreachable!("handled above"),
            Record::Vote(v) => log.vote = Some(v),
            Record::Committed(c) => log.committed = c,
            Record::Append(entries) => log.append(entries),
            Record::TruncateAfter(id) => log.truncate_after(id),
            Record::Purge(id) => log.purge(id),
            Record::Applied(id) => {
                let from = sm.last_applied.map_or(0, |l| l.index() + 1);
                for index in from..=id.index() {
                    let entry = log
                        .log
                        .get(&index)
                        .cloned()
                        .ok_or_else(|| fail(format!("applies entry {index}, which the log does not hold")))?;
                    sm.apply(entry);
                }
                if sm.last_applied != Some(id) {
                    return Err(fail(format!("applies {id}, but the log holds {:?} there", sm.last_applied)));
                }
            }
            Record::Machine { last_applied, last_membership, state } => {
                sm.last_applied = last_applied;
                sm.last_membership = last_membership;
                sm.state = state;
            }
            Record::Snapshot { meta, state } => sm.snapshot = Some((meta, state)),
        }
    }
    Ok(current)
}
