//! The nodes' Raft events of one run, typed: what the node emits under `clustersim::raft::EVENT_TARGET`
//! (src/raft/events.rs), collected apart from the trace (they are not trace lines: traces and their hashes do not
//! change) and judged by the Raft checkers (`check::election_safety`, `check::log_matching`,
//! `check::leader_completeness`, `check::monotonic_indexes`, `check::vote_monotonic`, `check::commit_bound`).
//!
//! Layer: the lowest (the trace's capture layer dispatches these events here); nothing here knows the world.
//!
//! A node's *incarnation* in a group: 0 for its first `started` instance of that group, +1 for each later
//! fresh start of the same group (a node that left and joined again); a `reopened` instance (after a restart)
//! continues the incarnation it had.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Raft log id in openraft's advanced form: the leader id that created the entry (term and leader node) and
/// the index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogId {
    pub term: u64,
    pub leader: String,
    pub index: u64,
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-T{}-{}", self.index, self.term, self.leader)
    }
}

/// A vote as openraft orders them: by leader id (term, then node), then committed (granted by a quorum).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vote {
    pub term: u64,
    pub leader: String,
    pub committed: bool,
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{}-{}{}", self.term, self.leader, if self.committed { " (committed)" } else { "" })
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A fresh instance started (a new incarnation), or the instance kept on disk reopened after a restart.
    Started { fresh: bool },
    /// A vote saved.
    Vote(Vote),
    /// The vote read back from the store (openraft reads it when an instance starts); `None`: no vote.
    VoteRead(Option<Vote>),
    /// An entry appended to the log, with the hash of its payload.
    Append { id: LogId, hash: u64 },
    /// Every entry after `after` removed (`None`: all).
    Truncate { after: Option<u64> },
    /// Entries up to `index` purged (covered by a snapshot).
    Purge { index: u64 },
    /// The committed index saved.
    Committed { index: Option<u64> },
    /// An entry applied to the state machine.
    Apply { id: LogId, hash: u64 },
    /// A snapshot installed: the state machine now holds everything up to `last`.
    Snapshot { last: Option<LogId> },
    /// A change of role, term or vote (`role`: leader, candidate, follower, learner, shutdown).
    Role { role: String, vote: Vote },
}

/// One Raft event: when (virtual time), where (host and node id), which group incarnation, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftEvent {
    pub at: Duration,
    pub host: String,
    pub node: String,
    pub group: u64,
    pub incarnation: u32,
    pub kind: Kind,
}

impl RaftEvent {
    /// Which instance it is about: (node, group, incarnation).
    pub fn instance(&self) -> (&str, u64, u32) {
        (&self.node, self.group, self.incarnation)
    }

    /// A violation's fact about this event's instance: `12.345s: <node> (group <hex>#<incarnation>) <what>`.
    pub fn fact(&self, what: &str) -> String {
        format!("{}: {} (group {:016x}#{}) {what}", secs(self.at), self.node, self.group, self.incarnation)
    }
}

impl fmt::Display for RaftEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.at.as_secs_f64();
        write!(f, "{secs:>9.3}s {} {} g{:016x}#{} ", self.host, self.node, self.group, self.incarnation)?;
        match &self.kind {
            Kind::Started { fresh: true } => write!(f, "started"),
            Kind::Started { fresh: false } => write!(f, "reopened"),
            Kind::Vote(v) => write!(f, "vote {v}"),
            Kind::VoteRead(Some(v)) => write!(f, "vote read back {v}"),
            Kind::VoteRead(None) => write!(f, "vote read back: none"),
            Kind::Append { id, hash } => write!(f, "append {id} {hash:016x}"),
            Kind::Truncate { after } => write!(f, "truncate after {after:?}"),
            Kind::Purge { index } => write!(f, "purge up to {index}"),
            Kind::Committed { index } => write!(f, "committed {index:?}"),
            Kind::Apply { id, hash } => write!(f, "apply {id} {hash:016x}"),
            Kind::Snapshot { last } => match last {
                Some(id) => write!(f, "snapshot installed up to {id}"),
                None => write!(f, "snapshot installed (empty)"),
            },
            Kind::Role { role, vote } => write!(f, "role {role} vote {vote}"),
        }
    }
}

/// The events of one run, shared by the capture layer and the run.
#[derive(Clone, Default)]
pub struct RaftEvents {
    inner: Arc<Mutex<Collected>>,
}

#[derive(Default)]
struct Collected {
    events: Vec<RaftEvent>,
    /// The current incarnation of each (node, group).
    incarnations: BTreeMap<(String, u64), u32>,
}

impl RaftEvents {
    /// Records one node event of the Raft target, stamped `at` on `host`. Events missing a field are dropped
    /// (the node emits them all; a unit test pins the field names).
    pub fn record(&self, at: Duration, host: &str, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(kind) = fields.kind() else { return };
        let mut g = self.inner.lock().expect("raft events lock");
        let key = (fields.node.clone(), fields.group);
        let incarnation = match (&kind, g.incarnations.get(&key)) {
            (Kind::Started { fresh: true }, Some(n)) => n + 1,
            (_, n) => n.copied().unwrap_or(0),
        };
        g.incarnations.insert(key, incarnation);
        let (node, group) = (fields.node, fields.group);
        g.events.push(RaftEvent { at, host: host.to_string(), node, group, incarnation, kind });
    }

    pub fn take(&self) -> Vec<RaftEvent> {
        let mut g = self.inner.lock().expect("raft events lock");
        g.incarnations.clear();
        std::mem::take(&mut g.events)
    }
}

/// The fields of one event, as the node's `tracing` call wrote them.
#[derive(Default)]
struct Fields {
    kind: String,
    node: String,
    group: u64,
    term: u64,
    leader: String,
    committed: bool,
    index: Option<i64>,
    after: i64,
    hash: u64,
    role: String,
}

impl Fields {
    fn log_id(&self) -> Option<LogId> {
        let index = u64::try_from(self.index?).ok()?;
        Some(LogId { term: self.term, leader: self.leader.clone(), index })
    }

    fn vote(&self) -> Vote {
        Vote { term: self.term, leader: self.leader.clone(), committed: self.committed }
    }

    fn kind(&self) -> Option<Kind> {
        Some(match self.kind.as_str() {
            "started" => Kind::Started { fresh: true },
            "reopened" => Kind::Started { fresh: false },
            "vote" => Kind::Vote(self.vote()),
            "vote_read" => Kind::VoteRead((!self.leader.is_empty()).then(|| self.vote())),
            "append" => Kind::Append { id: self.log_id()?, hash: self.hash },
            "apply" => Kind::Apply { id: self.log_id()?, hash: self.hash },
            "truncate" => Kind::Truncate { after: u64::try_from(self.after).ok() },
            "purge" => Kind::Purge { index: u64::try_from(self.index?).ok()? },
            "committed" => Kind::Committed { index: u64::try_from(self.index?).ok() },
            "snapshot" => Kind::Snapshot { last: self.log_id() },
            "role" => Kind::Role { role: self.role.clone(), vote: self.vote() },
            _ => return None,
        })
    }
}

impl tracing::field::Visit for Fields {
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        match field.name() {
            "index" => self.index = Some(value),
            "after" => self.after = value,
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "group" => self.group = value,
            "term" => self.term = value,
            "index" => self.index = i64::try_from(value).ok(),
            "hash" => self.hash = value,
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        if field.name() == "committed" {
            self.committed = value;
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "kind" => self.kind = value.to_string(),
            "role" => self.role = value.to_string(),
            "node" => self.node = value.to_string(),
            "leader" => self.leader = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        // `%node` and `%leader` arrive as Display wrapped in Debug.
        match field.name() {
            "node" => self.node = format!("{value:?}"),
            "leader" => self.leader = format!("{value:?}"),
            "kind" => self.kind = format!("{value:?}"),
            "role" => self.role = format!("{value:?}"),
            _ => {}
        }
    }
}

/// `12.345s`: a virtual time as violations print it.
pub fn secs(at: Duration) -> String {
    format!("{}.{:03}s", at.as_secs(), at.subsec_millis())
}

/// Hand-built event logs for the checkers' unit tests (host `h-<node>`, incarnation 0).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn ev(at_ms: u64, node: &str, group: u64, kind: Kind) -> RaftEvent {
        let at = Duration::from_millis(at_ms);
        RaftEvent { at, host: format!("h-{node}"), node: node.into(), group, incarnation: 0, kind }
    }

    pub fn vote(term: u64, leader: &str, committed: bool) -> Vote {
        Vote { term, leader: leader.into(), committed }
    }

    pub fn id(index: u64, term: u64, leader: &str) -> LogId {
        LogId { term, leader: leader.into(), index }
    }

    pub fn role(at_ms: u64, node: &str, group: u64, role: &str, vote: Vote) -> RaftEvent {
        ev(at_ms, node, group, Kind::Role { role: role.into(), vote })
    }

    pub fn saved(at_ms: u64, node: &str, group: u64, vote: Vote) -> RaftEvent {
        ev(at_ms, node, group, Kind::Vote(vote))
    }

    pub fn started(at_ms: u64, node: &str, group: u64, fresh: bool) -> RaftEvent {
        ev(at_ms, node, group, Kind::Started { fresh })
    }

    pub fn append(at_ms: u64, node: &str, group: u64, id: LogId, hash: u64) -> RaftEvent {
        ev(at_ms, node, group, Kind::Append { id, hash })
    }

    pub fn apply(at_ms: u64, node: &str, group: u64, id: LogId, hash: u64) -> RaftEvent {
        ev(at_ms, node, group, Kind::Apply { id, hash })
    }

    pub fn committed(at_ms: u64, node: &str, group: u64, index: Option<u64>) -> RaftEvent {
        ev(at_ms, node, group, Kind::Committed { index })
    }
}
